"""``build_model``: ArchConfig -> nn.Module, validating the whole config before building."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from torch import nn

from nas_attn.attention import create_attention, get_attention_info
from nas_attn.backbones.adapter import StageGeometry, get_adapter
from nas_attn.backbones.arch_config import ArchConfig, StagePlacement
from nas_attn.exceptions import NasAttnError


def _module_kwargs(stage: StagePlacement, geometry: StageGeometry) -> dict[str, Any]:
    info = get_attention_info(stage.module)
    kwargs: dict[str, Any] = {}
    reduction = stage.effective_reduction()
    if reduction is not None:
        kwargs["reduction"] = reduction
    if info.needs_feat_size:
        kwargs["feat_size"] = geometry.feat_size
    return kwargs


def _validate(arch: ArchConfig, geometry: dict[str, StageGeometry]) -> None:
    """Collect every problem with its key path; raise one NasAttnError listing them all."""
    problems: list[str] = []
    for name, stage in arch.stages.items():
        where = f"stages.{name}"
        if name not in geometry:
            problems.append(f"{where}: unknown stage for {arch.backbone}; stages are {', '.join(geometry)}")
            continue
        if stage.module == "none":
            continue
        geo = geometry[name]
        if stage.position not in geo.positions:
            problems.append(f"{where}.position: '{stage.position}' is not available; use {geo.positions}")
        reduction = stage.effective_reduction()
        if reduction is not None and reduction > geo.channels:
            problems.append(f"{where}.reduction: {reduction} exceeds {geo.channels} channels")
            continue
        try:
            create_attention(stage.module, geo.channels, **_module_kwargs(stage, geo))
        except NasAttnError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        raise NasAttnError("invalid arch config: " + "; ".join(problems))


def build_model(arch: ArchConfig | dict[str, Any] | str | Path, num_classes: int | None = None) -> nn.Module:
    """Build the timm backbone of ``arch`` with its attention placements.

    Args:
        arch: an ArchConfig, a dict, or a path to an arch YAML.
        num_classes: overrides ``arch.num_classes`` (e.g. to fine-tune on another dataset).
    """
    cfg = ArchConfig.coerce(arch)
    adapter = get_adapter(cfg.backbone)
    model = adapter.create(
        cfg.backbone, num_classes if num_classes is not None else cfg.num_classes, cfg.stem
    )
    geometry = adapter.stages(model, cfg.image_size)
    _validate(cfg, geometry)
    for name, stage in cfg.stages.items():
        if stage.module == "none":
            continue
        geo = geometry[name]
        adapter.insert(
            model,
            name,
            stage.position,
            partial(create_attention, stage.module, geo.channels, **_module_kwargs(stage, geo)),
        )
    return model


def stage_geometry(arch: ArchConfig) -> dict[str, StageGeometry]:
    """Stage geometry of ``arch``'s bare backbone at its image size (for spaces and previews)."""
    adapter = get_adapter(arch.backbone)
    model = adapter.create(arch.backbone, arch.num_classes, arch.stem)
    return adapter.stages(model, arch.image_size)
