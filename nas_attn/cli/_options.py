"""Options that several commands declare, and the choices a typo in them is a usage error for.

``--device``, ``--sampler`` and ``--format`` take Enums whose members come from the constants
in :mod:`nas_attn.defaults`, so Typer itself refuses a value outside them (exit 2, "Invalid
value"); a command reads the chosen string as ``.value``.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from nas_attn.defaults import DEVICE_CHOICES, ROW_FORMATS, SAMPLER_NAMES

# mypy cannot list the members of an Enum built from a constant: they are typed as plain Enum members.
DeviceEnum = Enum("DeviceEnum", [(name, name) for name in DEVICE_CHOICES], type=str)  # type: ignore[misc]
SamplerEnum = Enum("SamplerEnum", [(name, name) for name in SAMPLER_NAMES], type=str)  # type: ignore[misc]
FormatEnum = Enum("FormatEnum", [(name, name) for name in ROW_FORMATS], type=str)  # type: ignore[misc]

Storage = Annotated[
    str, typer.Option("--storage", help="Optuna storage URL (sqlite:/// or postgresql+psycopg://).")
]
Study = Annotated[str, typer.Option("--study", help="Study name.")]
Workers = Annotated[int | None, typer.Option("--workers", min=1, help="Ray worker actors (one trial each).")]
RayAddress = Annotated[str | None, typer.Option("--ray-address", help="Existing Ray cluster, e.g. 'auto'.")]
GpusPerTrial = Annotated[float | None, typer.Option("--gpus-per-trial", min=0.0, help="GPU share per trial.")]
Device = Annotated[DeviceEnum, typer.Option("--device", help="Where to train; auto picks CUDA when visible.")]
Sampler = Annotated[
    SamplerEnum | None, typer.Option("--sampler", help="Optuna sampler (default: the space's).")
]
Format = Annotated[FormatEnum, typer.Option("--format", help="How to print the trials.")]

AUTO_DEVICE = DeviceEnum("auto")
TABLE = FormatEnum("table")
