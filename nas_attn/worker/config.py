"""Typed proxy-training and latency settings (the ``proxy:`` and ``latency:`` blocks of a space)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nas_attn.data import list_datasets

DeviceChoice = Literal["auto", "cpu", "cuda"]


class ProxyConfig(BaseModel):
    """A short, seeded training run that ranks placements (defaults sized for a laptop CPU)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = "digits"
    image_size: int = Field(default=16, ge=4, le=1024)
    epochs: int = Field(default=3, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=0.1, gt=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    weight_decay: float = Field(default=5e-4, ge=0)
    label_smoothing: float = Field(default=0.1, ge=0, lt=1)
    warmup_fraction: float = Field(default=0.15, ge=0, lt=1)
    crop_padding: int = Field(default=2, ge=0)
    flip: bool = False
    seed: int = 0

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, name: str) -> str:
        if name not in list_datasets():
            raise ValueError(f"unknown dataset '{name}'; available: {', '.join(list_datasets())}")
        return name


class LatencyConfig(BaseModel):
    """Forward-pass timing in eval mode: ``warmup`` untimed passes, then the median of ``repeats``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: DeviceChoice = "auto"
    batch_size: int = Field(default=1, ge=1)
    warmup: int = Field(default=10, ge=0)
    repeats: int = Field(default=50, ge=3)
