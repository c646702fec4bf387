"""What a timm pipeline needs to treat an exported arch as the proxy did.

- :func:`data_config` is the arch's input as timm describes it (``input_size``, ``mean``, ``std``,
  ``crop_pct``, ``interpolation``); the ``nas_attn`` entrypoint puts it in the model's
  ``pretrained_cfg``, so timm's ``resolve_data_config`` picks it up when a script gives no
  ``--input-size`` / ``--mean`` / ``--std`` of its own.
- :func:`timm_command` is the exact ``nas-attn with-timm train.py ...`` line for an arch file.
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path
from typing import Any

from torch import nn

from nas_attn.backbones import ArchConfig

DATA_DIR_PLACEHOLDER = "DATA_DIR"
NORM_DECIMALS = 4  # what export keeps of the proxy data's mean/std (0..1 scale)


def data_config(arch: ArchConfig) -> dict[str, Any]:
    """timm data-config keys for ``arch``: the proxy fed whole images (shorter side resized,
    centre-cropped to ``image_size``, bilinear), normalised with the arch's ``normalization``."""
    config: dict[str, Any] = {
        "input_size": (3, arch.image_size, arch.image_size),
        "crop_pct": 1.0,
        "interpolation": "bilinear",
    }
    if arch.normalization is not None:
        config["mean"] = tuple(arch.normalization.mean)
        config["std"] = tuple(arch.normalization.std)
    return config


_KEPT_BACKBONE_KEYS = ("first_conv", "classifier", "crop_mode", "fixed_input_size")


def apply_data_config(model: nn.Module, arch: ArchConfig) -> None:
    """Replace ``model.pretrained_cfg`` (and its alias ``default_cfg``) with one describing ``arch``:
    its input, no hub weights, and the backbone's layer names (no 224-px test sizes left over)."""
    base = getattr(model, "pretrained_cfg", None)
    base = base if isinstance(base, dict) else {}
    cfg: dict[str, Any] = {"architecture": "nas_attn"}
    cfg |= {key: base[key] for key in _KEPT_BACKBONE_KEYS if key in base}
    cfg |= data_config(arch)
    cfg["num_classes"] = getattr(model, "num_classes", arch.num_classes)
    # nn.Module types unknown attributes as tensors or modules; timm models hold dicts there
    model.pretrained_cfg = cfg  # type: ignore[assignment]
    model.default_cfg = cfg  # type: ignore[assignment]


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
