"""Load a user's own backbone checkpoint into a built network; report exactly what was new.

All backbone tensors must load (same names, same shapes); only the attention modules the
placement added start fresh. A classifier head of another class count is skipped and reported,
so ImageNet-style checkpoints fine-tune on a new dataset. Nothing is downloaded.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from nas_attn.exceptions import NasAttnError

log = logging.getLogger(__name__)
_NESTED_KEYS = ("state_dict", "model", "model_state_dict", "state_dict_ema")


@dataclass(frozen=True)
class WeightLoadReport:
    """What a checkpoint load did, key by key."""

    path: str
    loaded: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    skipped_head: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.loaded)} tensors loaded from {self.path}; {len(self.new)} new (attention) tensors "
            f"start fresh; {len(self.skipped_head)} classifier tensors skipped; {len(self.unused)} unused"
        )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.pth``/``.pt`` (weights_only) or ``.safetensors``; nested dicts unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise NasAttnError(f"backbone_weights file not found: {path}; give the path of a local checkpoint")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            raw: object = load_file(str(path))
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise NasAttnError(f"cannot read backbone_weights {path}: {str(exc).splitlines()[0]}") from None
    for key in _NESTED_KEYS:
        if isinstance(raw, dict) and isinstance(raw.get(key), dict):
            raw = raw[key]
            break
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise NasAttnError(f"backbone_weights {path} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in raw.items()}


def load_backbone_weights(
    model: nn.Module, path: str | Path, new_keys: Collection[str], head_prefixes: tuple[str, ...] = ()
) -> WeightLoadReport:
    """Copy every backbone tensor of ``path`` into ``model``.

    Args:
        new_keys: state-dict keys of the modules the placement added (they may be missing).
        head_prefixes: classifier key prefixes, skipped when their shape differs (another class count).

    Raises:
        NasAttnError: a backbone tensor is missing from the checkpoint or has another shape.
    """
    checkpoint = read_state_dict(path)
    own = model.state_dict()
    report = WeightLoadReport(path=str(path))
    mismatched: list[str] = []
    missing: list[str] = []
    to_load: dict[str, torch.Tensor] = {}
    for key, tensor in own.items():
        is_new = key in new_keys
        if key not in checkpoint:
            (report.new if is_new else missing).append(key)
        elif checkpoint[key].shape != tensor.shape:
            if key.startswith(head_prefixes):
                report.skipped_head.append(key)
            else:
                mismatched.append(
                    f"{key}: checkpoint {tuple(checkpoint[key].shape)} vs model {tuple(tensor.shape)}"
                )
        else:
            to_load[key] = checkpoint[key]
            report.loaded.append(key)
    report.unused.extend(k for k in checkpoint if k not in own)
    if mismatched or missing:
        problems = mismatched[:3] + [f"{k}: missing from checkpoint" for k in missing[:3]]
        more = len(mismatched) + len(missing) - len(problems)
        raise NasAttnError(
            f"backbone_weights {path} does not fit the built backbone ({'; '.join(problems)}"
            f"{f'; and {more} more' if more > 0 else ''}); use a checkpoint of the same backbone and stem"
        )
    model.load_state_dict(to_load, strict=False)
    log.info(report.summary())
    return report
