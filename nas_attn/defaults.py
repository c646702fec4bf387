"""Constants that several layers share (CLI, space, worker, search), each defined once here.

Import-free apart from ``typing``, so the CLI reads them without loading Optuna, Ray or torch.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Where studies live when ``--storage`` is not given.
DEFAULT_STORAGE = "sqlite:///nas_attn.db"

#: ``--device`` / ``latency.device``: ``auto`` picks CUDA when it is visible.
DeviceChoice = Literal["auto", "cpu", "cuda"]
DEVICE_CHOICES: tuple[str, ...] = get_args(DeviceChoice)

#: Optuna samplers a space (``search.sampler``) or ``--sampler`` can name.
SamplerName = Literal["nsga2", "tpe", "random", "exhaustive"]
SAMPLER_NAMES: tuple[str, ...] = get_args(SamplerName)

#: The reduction ratio when a space or an arch does not give one: SE's paper default (Hu et al.
#: 2018, r = 16), which CBAM, BAM and GC also use.
DEFAULT_REDUCTION = 16

#: How ``nas-attn front --format`` prints the ranked trials.
RowFormat = Literal["table", "csv", "json"]
ROW_FORMATS: tuple[str, ...] = get_args(RowFormat)
