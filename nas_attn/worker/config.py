"""Typed proxy-training and latency settings (the ``proxy:`` and ``latency:`` blocks of a space)."""

from __future__ import annotations

import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from nas_attn._types import Bool, Float, Int, Seed
from nas_attn.data import check_dataset_name, get_dataset_spec
from nas_attn.defaults import DeviceChoice

MAX_IMAGE_SIZE = 512  # proxy images: beyond this one batch of activations outgrows any machine

#: Validation context for workers that may hold shipped data and lack the dataset's files.
SKIP_FILE_CHECKS = {"check_files": False}


class WarmStart(BaseModel):
    """Start every placement from the plain backbone trained first (the ``proxy.warm_start`` block).

    Per training seed, the plain backbone (no attention; initial weights from that seed) is
    trained once for ``epochs`` epochs with the proxy's own data and settings; every placement,
    the plain backbone included, then starts from those weights, its attention modules fresh, and
    trains for ``proxy.epochs``. A short from-scratch proxy ranks gated modules by how fast they
    recover from halving (SE, ECA) or quartering (CBAM, coordinate attention) each residual
    branch at initialisation; from a trained backbone the proxy compares the placements
    themselves. A search trains each backbone once and keeps it with the study
    (``docs/architecture.md``, "Warm start").
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: Int = Field(ge=1, le=10_000)


class ProxyConfig(BaseModel):
    """A short, seeded training run that ranks placements (defaults sized for a laptop CPU).

    ``dataset`` is a fixed name (``digits``, ``mnist5k``, ``synthetic``) or ``kind:PATH``
    (``cifar10:``, ``cifar100:``, ``imagefolder:``); the files are checked at validation unless
    the context is :data:`SKIP_FILE_CHECKS`. ``train_subset`` / ``val_subset`` cut the splits to
    that many class-balanced images. ``max_seconds`` is a wall-clock budget: the schedule anneals
    by whichever of steps or time runs out first, and the result records an early stop (such a
    run depends on the machine's speed, so it is not reproducible). ``compile`` wraps the model
    in ``torch.compile`` for training (pays a compile per worker and shape; worth it on GPUs).
    ``train_seed`` varies the training alone on the same data (see :attr:`training_seed`).
    ``warm_start`` (:class:`WarmStart`) starts each placement from the plain backbone trained
    first; None (the default) trains every placement from scratch.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = "digits"
    image_size: Int = Field(default=16, ge=4, le=MAX_IMAGE_SIZE)
    epochs: Int = Field(default=3, ge=1, le=10_000)
    batch_size: Int = Field(default=32, ge=1, le=4096)
    lr: Float = Field(default=0.1, gt=0)  # finite; a too-large one diverges: a failed trial with its reason
    momentum: Float = Field(default=0.9, ge=0, lt=1)
    weight_decay: Float = Field(default=5e-4, ge=0, le=1)
    label_smoothing: Float = Field(default=0.1, ge=0, lt=1)
    warmup_fraction: Float = Field(default=0.15, ge=0, lt=1)
    crop_padding: Int = Field(default=2, ge=0, le=64)
    flip: Bool = False
    train_subset: Int | None = Field(default=None, ge=1)
    val_subset: Int | None = Field(default=None, ge=1)
    compile: Bool = False
    max_seconds: Float | None = Field(default=None, gt=0)
    seed: Seed = 0
    train_seed: Seed | None = None
    warm_start: WarmStart | None = None

    @property
    def training_seed(self) -> int:
        """The seed of the initial weights, batch order and augmentation: ``train_seed`` when
        set (seed re-runs vary it), else ``seed``, which also picks the data split and subsets."""
        return self.seed if self.train_seed is None else self.train_seed

    def pretraining(self) -> ProxyConfig:
        """The run that trains the warm-start backbone: these settings for ``warm_start.epochs``."""
        if self.warm_start is None:
            raise ValueError("this proxy has no warm_start")
        return self.model_copy(update={"epochs": self.warm_start.epochs, "warm_start": None})

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, name: str, info: ValidationInfo) -> str:
        context = info.context or {}
        if context.get("check_files", True):
            get_dataset_spec(name)
        return check_dataset_name(name)


class LatencyConfig(BaseModel):
    """Forward-pass timing in eval mode: ``warmup`` untimed passes, then the median of ``repeats``.

    Each timed pass of the placement alternates with one of the plain backbone, which gives
    ``latency_ratio`` with the machine's noise shared by both.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: DeviceChoice = "auto"
    batch_size: Int = Field(default=1, ge=1, le=1024)
    warmup: Int = Field(default=10, ge=0, le=10_000)
    repeats: Int = Field(default=50, ge=3, le=10_000)


#: Metrics known before training (measured first, so a violating placement is never trained).
ScreeningMetric = Literal["latency_ms", "latency_ratio", "params", "macs"]
SCREENING_METRICS: tuple[str, ...] = get_args(ScreeningMetric)
_CONSTRAINT_TEXT = re.compile(r"^\s*([a-z_]+)\s*(<=|>=)\s*([-+0-9.eE_]+)\s*$")


class Constraint(BaseModel):
    """A limit on a metric measured before training, e.g. ``latency_ms <= 3`` or ``params <= 12e6``.

    Written in a space as that string (or as ``{metric, op, limit}``). :meth:`violation` is the
    amount by which a value breaks the limit: positive is infeasible, zero or negative feasible
    (Optuna's constraint convention).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: ScreeningMetric
    op: Literal["<=", ">="]
    limit: Float

    @model_validator(mode="before")
    @classmethod
    def _parse_text(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        match = _CONSTRAINT_TEXT.match(data)
        if match is None:
            raise ValueError(
                f"cannot read constraint '{data}'; write METRIC <= VALUE or METRIC >= VALUE "
                f"with METRIC one of {', '.join(SCREENING_METRICS)} (e.g. 'latency_ms <= 3')"
            )
        metric, op, limit = match.groups()
        if metric not in SCREENING_METRICS:
            raise ValueError(
                f"constraint '{data}': '{metric}' is not measured before training; "
                f"constrain one of {', '.join(SCREENING_METRICS)}"
            )
        try:
            value = float(limit)
        except ValueError:
            raise ValueError(f"constraint '{data}': '{limit}' is not a number") from None
        return {"metric": metric, "op": op, "limit": value}

    def violation(self, value: float) -> float:
        """How far ``value`` is beyond the limit (> 0 infeasible, <= 0 feasible)."""
        return value - self.limit if self.op == "<=" else self.limit - value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.limit:g}"
