"""The terminal the commands write to (rich), and its two kinds of plain line."""

from __future__ import annotations

import os
import sys

from rich.console import Console

# Piped output (logs, CI) gets a wide fixed width so tables do not wrap at 80 columns.
PIPED_WIDTH = 140
console = Console(
    highlight=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else PIPED_WIDTH
)


def info(message: str) -> None:
    """A log line for the user (where the study and artifacts are, what runs where)."""
    console.print(message, markup=False)


def command_line(command: str) -> None:
    """A shell command on its own line, indented and never wrapped, so it copies as is."""
    console.print(f"  {command}", markup=False, soft_wrap=True)


def to_stderr() -> None:
    """Send log lines and tables to stderr: an output streams to stdout (``--out -``)."""
    console.stderr = True


def reset() -> None:
    """Back to stdout (each command starts there; the tests run many in one process)."""
    console.stderr = False
