"""Run a timm-style script in this process with the timm model ``nas_attn`` registered.

timm's own ``train.py`` / ``validate.py`` never import :mod:`nas_attn`, so on their own they stop
with ``Unknown model (nas_attn)``. :func:`run_script` runs such a script the way ``python SCRIPT
ARGS`` (or ``python -m MODULE ARGS``) would, after the import that registers the model: the
script sees ``sys.argv`` = [SCRIPT, *ARGS] untouched and its directory first on ``sys.path``,
and its exit status is kept (``sys.exit()`` -> 0, ``sys.exit(3)`` -> 3, ``sys.exit("msg")`` ->
the message on stderr and 1, an uncaught exception -> its traceback and 1).
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import nas_attn.deploy.timm_entry  # noqa: F401  (registers the timm entrypoint "nas_attn")
from nas_attn.exceptions import NasAttnError

EXIT_INTERRUPTED = 130


def exit_status(code: object) -> int:
    """The process exit status Python gives ``SystemExit(code)``; a message is printed to stderr."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


@contextmanager
def _script_process(argv: list[str], path_entry: str) -> Iterator[None]:
    """``sys.argv`` and ``sys.path[0]`` as the interpreter sets them for a script; restored after."""
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = argv
    sys.path.insert(0, path_entry)
    try:
        yield
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def _script_frames(tb: TracebackType | None, filename: str) -> TracebackType | None:
    """The traceback from the script's first frame on (the runner's own frames dropped)."""
    start = tb
    while start is not None and start.tb_frame.f_code.co_filename != filename:
        start = start.tb_next
    return start or tb


def _resolve(target: str, as_module: bool) -> tuple[str, str]:
    """(file whose frames are the script's, sys.path entry) for a script path or a module name."""
    if as_module:
        sys.path.insert(0, str(Path.cwd()))
        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            spec = None
        finally:
            sys.path.pop(0)
        if spec is None:
            raise NasAttnError(
                f"no module named '{target}'; check the name, or give a script path without -m"
            )
        return spec.origin or target, str(Path.cwd())
    path = Path(target)
    if not path.exists():
        raise NasAttnError(
            f"script not found: {target}; give the path of a timm-style script (e.g. timm's train.py, "
            "from github.com/huggingface/pytorch-image-models) or -m MODULE"
        )
    return str(path), str(path.resolve().parent if path.is_file() else path.resolve())


def run_script(target: str, args: Sequence[str], as_module: bool = False) -> int:
    """Run the script ``target`` (a path, or a module name with ``as_module``) as ``__main__``
    with ``args``; return its exit status.

    Raises:
        NasAttnError: the script or module does not exist, or the script raised a NasAttnError
            (e.g. ``--pretrained`` for ``nas_attn``), which the CLI prints as one line.
    """
    filename, path_entry = _resolve(target, as_module)
    with _script_process([target, *args], path_entry):
        try:
            if as_module:
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(target, run_name="__main__")
        except SystemExit as exc:
            return exit_status(exc.code)
        except NasAttnError:
            raise
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Exception as exc:
            traceback.print_exception(type(exc), exc, _script_frames(exc.__traceback__, filename))
            return 1
    return 0
