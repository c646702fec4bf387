"""``nas-attn`` console script (Typer). User errors: one line on stderr, non-zero exit."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer import Abort

from nas_attn import cli_export, cli_reruns, cli_timm
from nas_attn.defaults import DEFAULT_STORAGE, DEVICE_HELP, SAMPLER_NAMES
from nas_attn.exceptions import NasAttnError

try:  # typer >= 0.2x vendors click as typer._click
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer on the real click
    from click.exceptions import (  # type: ignore[assignment, no-redef, unused-ignore]
        NoArgsIsHelpError,
        UsageError,
    )

if TYPE_CHECKING:
    from nas_attn.backbones import ArchConfig
    from nas_attn.worker.evaluate import TrialResult

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


@app.command()
def search(
    space: Path = typer.Option(
        ..., "--space", help="Search-space YAML, e.g. search_spaces/resnet18_stages.yaml"
    ),
    storage: str = typer.Option(
        DEFAULT_STORAGE, "--storage", help="Optuna storage URL (sqlite:/// or postgresql+psycopg://)."
    ),
    study: str | None = typer.Option(None, "--study", help="Study name (default: the space's name)."),
    n_trials: int | None = typer.Option(
        None,
        "--n-trials",
        min=1,
        help="Evaluated placements wanted in the study, in total (default: the space's).",
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Ray worker actors (one trial each)."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Existing Ray cluster, e.g. 'auto'."),
    gpus_per_trial: float | None = typer.Option(
        None, "--gpus-per-trial", min=0.0, help="GPU share per trial."
    ),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    sampler: str | None = typer.Option(
        None, "--sampler", help=f"{' | '.join(SAMPLER_NAMES)} (default: the space's)."
    ),
) -> None:
    """Run (or resume) a search until the study holds --n-trials evaluated placements."""
    from nas_attn import console
    from nas_attn.search.usecases import service

    prepared = service.prepare(
        service.SearchRequest(
            space, storage, study, n_trials, workers, ray_address, gpus_per_trial, device, sampler
        )
    )
    name, url = prepared.study_name, prepared.safe_storage
    console.info(f"study '{name}' in {url}: {prepared.evaluated} complete trials, target {prepared.target}")
    if prepared.target > prepared.size:
        console.info(
            f"the space has only {prepared.size} distinct placements; the search ends when all are evaluated"
        )
    if prepared.remaining == 0 and not service.seeds_pending(prepared):
        console.info("target already reached; pass a larger --n-trials to continue this study")
        front = service.front(prepared)
    else:
        plan = service.plan_workers(prepared)
        console.info(console.describe_plan(plan, prepared.space))
        with console.RichProgressObserver() as progress:
            outcome = service.execute(prepared, plan, _SearchObserver(progress, console.info))
        front = outcome.front
        if outcome.exhausted:
            evaluated = f"{outcome.evaluated} of {prepared.size}"
            console.info(f"every placement of the space is evaluated ({evaluated})")
        if outcome.duplicates_this_run:
            console.info(f"{outcome.duplicates_this_run} duplicate placement(s) answered without training")
    console.print_front(front, name)
    console.info(f"compute: {service.compute(prepared).describe()}")
    console.info(f"study '{name}' is stored in {url}")
    console.info(
        f"inspect it: nas-attn dashboard --storage {url}   or: nas-attn report --study {name} --storage {url}"
    )


class _SearchObserver:
    """The progress bar's observer plus one line per duplicate and per driver notice."""

    def __init__(self, progress: Any, info: Callable[[str], None]) -> None:
        self._progress = progress
        self._info = info

    def started(self, target: int, evaluated: int) -> None:
        self._progress.started(target, evaluated)

    def trial_started(self, number: int, arch: ArchConfig) -> None:
        self._progress.trial_started(number, arch)

    def trial_finished(self, number: int, result: TrialResult | None, reason: str | None) -> None:
        self._progress.trial_finished(number, result, reason)

    def trial_duplicate(self, number: int, of: int) -> None:
        self._info(f"trial {number:>4}  same placement as trial {of}: answered from its result")

    def notice(self, message: str) -> None:
        self._info(message)


@app.command()
def front(
    storage: str = typer.Option(DEFAULT_STORAGE, "--storage", help="Optuna storage URL."),
    study: str = typer.Option(..., "--study", help="Study name."),
    output_format: str = typer.Option("table", "--format", help="table | csv | json"),
) -> None:
    """The study's complete trials ranked by non-dominated sorting (rank 1 = Pareto front)."""
    from nas_attn import console
    from nas_attn.search.results import compute_spent, front_summary, ranked_rows
    from nas_attn.search.studydb.storage import open_existing_storage
    from nas_attn.search.studydb.study import load_existing_study

    if output_format not in console.ROW_FORMATS:
        raise NasAttnError(f"unknown format '{output_format}'; use {', '.join(console.ROW_FORMATS)}")
    the_study = load_existing_study(open_existing_storage(storage), study)
    rows = sorted(ranked_rows(the_study), key=lambda r: (r.rank, -r.crowding, r.number))
    console.print_rows(
        rows,
        output_format,
        f"trials of '{study}' by Pareto rank",
        front_summary(the_study, rows),
        compute_spent(the_study),
    )


@app.command()
def modules(
    channels: int = typer.Option(256, "--channels", min=1, max=4096, help="Input channels C."),
    size: int = typer.Option(16, "--size", min=1, max=64, help="Feature map height = width."),
    reduction: int | None = typer.Option(
        None, "--reduction", min=1, max=4096, help="Ratio r (default: each module's)."
    ),
) -> None:
    """The attention zoo: kind, paper, extra params/MACs and latency overhead at one shape."""
    from nas_attn import console
    from nas_attn.attention import describe_zoo

    console.print_zoo(describe_zoo(channels, size, reduction=reduction), channels, size)


cli_export.register(app)  # export, train, report, dashboard
cli_reruns.register(app)  # reseed, validate-proxy
cli_timm.register(app)  # with-timm


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
    """130 for a search the user stopped, 1 for any other user error. The driver and re-run
    modules are looked up, not imported: only a command that ran one can have raised their
    interruption, and ``with-timm`` must leave a user's script a process without the search in it."""
    driver = sys.modules.get("nas_attn.search.driver.loop")
    rerun = sys.modules.get("nas_attn.search.usecases.seed_runs")  # seed re-runs / validate-proxy stopped
    interrupted = (driver is not None and isinstance(exc, driver.SearchInterrupted)) or (
        rerun is not None and isinstance(exc, rerun.RerunInterrupted)
    )
    return EXIT_INTERRUPTED if interrupted else EXIT_USER_ERROR


def main() -> None:
    """Entry point: one clean stderr line for user and usage errors, and exit 1, 2 or 130."""
    try:
        code = app(standalone_mode=False, prog_name="nas-attn")  # also under python -m and in tests
    except NoArgsIsHelpError:  # the help text is already printed
        sys.exit(EXIT_USAGE)
    except UsageError as exc:
        print(f"nas-attn: error: {_usage_line(exc)}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except Abort:
        code = EXIT_INTERRUPTED
    except NasAttnError as exc:
        print(f"nas-attn: error: {exc}", file=sys.stderr)
        status = _error_status(exc)
        if status == EXIT_INTERRUPTED:
            _exit_interrupted()
        sys.exit(status)
    if code == EXIT_INTERRUPTED:  # Typer answers a KeyboardInterrupt with a silent 130
        print(INTERRUPTED_LINE, file=sys.stderr)
        _exit_interrupted()
    sys.exit(code if isinstance(code, int) else 0)


def _exit_interrupted() -> None:
    """Exit 130 with further Ctrl-C ignored, so Ray's atexit shutdown runs to the end: no
    traceback from an interrupted cleanup, and no Ray processes left behind by it."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
