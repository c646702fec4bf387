"""Supernet training checkpoints: everything a resumed run needs to continue identically.

A checkpoint holds the supernet's weights and buffers, the optimizer's state (momentum buffers),
the sampler's state, the number of steps done and the loss curve so far, with the training
config, seed and slot candidates it belongs to, so a run never resumes from another run's file.
Written with ``torch.save`` (atomically: a temporary file, then a rename) and read back with
``weights_only=True`` (plain tensors and containers only, no pickled code).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nas_attn.exceptions import NasAttnError
from nas_attn.supernet.sampling import SamplerState

FORMAT = 1


@dataclass
class SupernetCheckpoint:
    """One point of a supernet training run."""

    step: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    sampler: SamplerState
    config: dict[str, Any]
    seed: int
    slots: list[list[str]]
    loss_curve: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "step": self.step,
            "model": self.model,
            "optimizer": self.optimizer,
            "sampler": self.sampler.to_dict(),
            "config": self.config,
            "seed": self.seed,
            "slots": self.slots,
            "loss_curve": self.loss_curve,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> SupernetCheckpoint:
        if data.get("format") != FORMAT:
            raise NasAttnError(f"{where}: not a supernet checkpoint of format {FORMAT}")
        return cls(
            step=int(data["step"]),
            model=data["model"],
            optimizer=data["optimizer"],
            sampler=SamplerState.from_dict(data["sampler"]),
            config=data["config"],
            seed=int(data["seed"]),
            slots=[list(s) for s in data["slots"]],
            loss_curve=[float(v) for v in data["loss_curve"]],
        )


def save_checkpoint(checkpoint: SupernetCheckpoint, path: str | Path) -> Path:
    """Write ``checkpoint`` to ``path`` atomically; return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    torch.save(checkpoint.to_dict(), tmp)
    os.replace(tmp, target)
    return target


def load_checkpoint(path: str | Path) -> SupernetCheckpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (NasAttnError if missing or foreign)."""
    source = Path(path)
    if not source.is_file():
        raise NasAttnError(f"supernet checkpoint not found: {source}")
    try:
        data = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: torch raises many kinds
        raise NasAttnError(f"cannot read supernet checkpoint {source}: {exc}") from None
    if not isinstance(data, dict):
        raise NasAttnError(f"{source}: not a supernet checkpoint")
    return SupernetCheckpoint.from_dict(data, str(source))
