"""The exact ``nas-attn with-timm train.py ...`` line that trains an exported arch as the proxy saw it.

:func:`timm_command` gives the input size, class count and the proxy data's normalisation as
timm's own flags; :func:`model_kwarg` quotes the arch path for timm's ``--model-kwargs``.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

from nas_attn.backbones import ArchConfig

DATA_DIR_PLACEHOLDER = "DATA_DIR"
NORM_DECIMALS = 4  # what export keeps of the proxy data's mean/std (0..1 scale)


def model_kwarg(key: str, value: str) -> str:
    """``key=value`` as one argument that timm's ``--model-kwargs`` (ParseKwargs) reads back as the
    string ``value``: it evaluates each value as a Python literal and keeps the text if that fails,
    so a value that *is* a literal (e.g. ``123``) is given quoted."""
    try:
        ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return f"{key}={value}"
    return f"{key}={value!r}"


def _numbers(values: tuple[float, ...]) -> list[str]:
    return [repr(round(v, NORM_DECIMALS)) for v in values]


def timm_command(
    arch: ArchConfig, arch_path: str | Path, script: str = "train.py", data_dir: str = DATA_DIR_PLACEHOLDER
) -> str:
    """The shell command that runs timm's ``script`` on ``arch_path`` as the proxy saw it."""
    parts = ["nas-attn", "with-timm", script, "--data-dir", data_dir, "--model", "nas_attn"]
    parts += ["--model-kwargs", model_kwarg("arch", str(arch_path)), "--num-classes", str(arch.num_classes)]
    parts += ["--input-size", "3", str(arch.image_size), str(arch.image_size)]
    if arch.normalization is not None:
        parts += ["--mean", *_numbers(arch.normalization.mean), "--std", *_numbers(arch.normalization.std)]
    return shlex.join(parts)
