"""The ``nas-attn`` Typer app: its commands, and exit codes (user errors: one line on stderr, exit 1;
usage errors: exit 2; Ctrl-C: exit 130). The commands live in the modules beside this one."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

import typer
from typer import Abort

from nas_attn.cli import reruns, search, study, timm, train
from nas_attn.exceptions import Interrupted, NasAttnError

try:  # typer >= 0.2x vendors click as typer._click
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer on the real click
    from click.exceptions import (  # type: ignore[assignment, no-redef, unused-ignore]
        NoArgsIsHelpError,
        UsageError,
    )

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Search which attention module, reduction and position to place in each CNN stage.",
)

EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
INTERRUPTED_LINE = "nas-attn: error: interrupted (Ctrl-C); nothing half-done was written: re-run the command"


@app.callback()
def _root() -> None:
    """Search which attention module, reduction and position to place in each CNN stage."""


def _register(app: typer.Typer) -> None:
    """Add the commands, in the order ``nas-attn --help`` lists them."""
    app.command()(search.search)
    app.command()(study.front)
    app.command()(search.modules)
    app.command()(study.export)
    app.command()(train.train)
    app.command()(study.report)
    app.command()(study.dashboard)
    reruns.register(app)  # reseed, validate-proxy
    timm.register(app)  # with-timm


_register(app)


def _usage_line(exc: UsageError) -> str:
    """Typer's usage error as one line that ends by pointing at the command's --help."""
    message = " ".join(exc.format_message().split())
    hint = f"see '{exc.ctx.command_path if exc.ctx else 'nas-attn'} --help'"
    return (
        f"{message} {hint[0].upper()}{hint[1:]}"
        if message.endswith((".", "?", "!"))
        else f"{message}; {hint}"
    )


def _error_status(exc: NasAttnError) -> int:
    """130 for a command the user stopped (:class:`Interrupted`), 1 for any other user error."""
    return EXIT_INTERRUPTED if isinstance(exc, Interrupted) else EXIT_USER_ERROR


def main() -> None:
    """Entry point: one clean stderr line for user and usage errors, and exit 0, 1, 2 or 130."""
    from nas_attn.cli import console

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _interrupt_once)  # the start-up handler's job is done
    console.reset()
    try:
        code = app(standalone_mode=False, prog_name="nas-attn")  # also under python -m and in tests
    except NoArgsIsHelpError:  # the help text is already printed
        _exit(EXIT_USAGE)
    except UsageError as exc:
        print(f"nas-attn: error: {_usage_line(exc)}", file=sys.stderr)
        _exit(EXIT_USAGE)
    except Abort:
        code = EXIT_INTERRUPTED
    except NasAttnError as exc:
        print(f"nas-attn: error: {exc}", file=sys.stderr)
        _exit(_error_status(exc))
    if code == EXIT_INTERRUPTED:  # Typer answers a KeyboardInterrupt with a silent 130
        print(INTERRUPTED_LINE, file=sys.stderr)
    _exit(code if isinstance(code, int) else 0)


def _interrupt_once(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C outside a search's or re-run's own handling (loading the space, starting Ray, printing
    the summary): one KeyboardInterrupt, which ends the command as interrupted; presses after it
    are ignored, so a second one cannot interrupt the handling of the first (a traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _exit(status: int) -> NoReturn:
    """Exit with ``status``, further Ctrl-C ignored: the command's outcome is decided, and what runs
    now is clean-up (Ray's atexit shutdown). A Ctrl-C there would print a traceback from inside
    Ray and leave its processes behind; measured by ``benches/bench_interrupts.py`` (``finished``)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)
