"""A command's output flags, checked together before any work (see :mod:`nas_attn.outputs`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from nas_attn.cli import console
from nas_attn.outputs import Target, check_outputs


def claim_outputs(
    outputs: Mapping[str, Path | None],
    inputs: Iterable[str | Path | None] = (),
    pending_dirs: Iterable[Path] = (),
) -> dict[str, Target]:
    """Check every output flag (``flag -> path``) against the command's ``inputs`` and each other;
    when one streams to stdout, the command's own lines go to stderr instead."""
    targets = check_outputs(
        outputs, [p for p in inputs if p is not None], streams=True, pending_dirs=pending_dirs
    )
    if any(target.to_stdout for target in targets.values()):
        console.to_stderr()
    return targets
