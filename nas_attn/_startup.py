"""Ctrl-C while the ``nas-attn`` command starts: one line and exit 130, not an import traceback.

Importing the package takes seconds (torch, timm); a Ctrl-C meanwhile would otherwise surface as a
``KeyboardInterrupt`` traceback from deep inside torch's import. When, and only when, this process
is the ``nas-attn`` command (its console script, or ``python -m nas_attn...``), the package's
first import installs a handler that exits quietly; :func:`nas_attn.cli.app.main` puts Python's
own handler back as soon as it runs. A program that imports nas_attn as a library is untouched.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
from types import FrameType

EXIT_INTERRUPTED = 130
STARTUP_LINE = "nas-attn: error: interrupted (Ctrl-C) while starting; nothing was started: re-run the command"


def running_the_cli() -> bool:
    """Whether this process is the ``nas-attn`` command (not a program importing the package)."""
    if sys.argv and os.path.basename(sys.argv[0]) == "nas-attn":
        return True
    argv = getattr(sys, "orig_argv", [])
    for flag, module in itertools.pairwise(argv):
        if flag == "-m":
            return module == "nas_attn" or module.startswith("nas_attn.")
    return False


def quiet_ctrl_c_while_starting() -> None:
    """Install the start-up handler (see the module docstring) if this process is the CLI."""
    if running_the_cli() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _exit_quietly)


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    """Print the line and end the process now. Nothing has been started or written yet (modules
    are importing), so there is nothing to clean up; unwinding a half-done import of torch
    instead (an exception from here) was measured to hang the interpreter's exit at times."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second press while exiting changes nothing
    print(STARTUP_LINE, file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(EXIT_INTERRUPTED)
