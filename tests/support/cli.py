"""``nas-attn ARGS`` run in the test process (fast), returning its exit status."""

from __future__ import annotations

import sys

from nas_attn import cli


def run_cli(*args: str) -> int:
    """``nas-attn ARGS`` in this process; its exit status."""
    saved = sys.argv
    sys.argv = ["nas-attn", *args]
    try:
        cli.main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved
    raise AssertionError("cli.main() returned without exiting")
