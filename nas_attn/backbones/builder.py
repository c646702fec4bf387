"""``build_model``: ArchConfig -> nn.Module, validating the whole config before building.

Steps: create the bare timm backbone (with the chosen stem) -> read each stage's real geometry
at ``image_size`` -> check every stage placement, collecting all problems with their key paths
-> handle built-in attention (keep or replace) -> insert modules -> load the user's backbone
weights if given (only the added modules start fresh).
"""

from __future__ import annotations

import contextlib
import hashlib
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas_attn.attention import create_attention, get_attention_info, reduction_problem
from nas_attn.backbones.adapter import BackboneAdapter, StageGeometry, get_adapter
from nas_attn.backbones.arch_config import ArchConfig, StagePlacement
from nas_attn.backbones.weights import WeightLoadReport, load_backbone_weights
from nas_attn.exceptions import NasAttnError

WEIGHTS_REPORT_ATTR = "nas_attn_weights_report"


def module_channels(stage: StagePlacement, geometry: StageGeometry) -> int:
    """Channels the module sees: the block slot's width, or the stage output for ``stage_out``."""
    if stage.position == "stage_out" or geometry.slot_channels is None:
        return geometry.channels
    return geometry.slot_channels


def module_kwargs(stage: StagePlacement, geometry: StageGeometry) -> dict[str, Any]:
    """Constructor arguments: reduction, user options, and what the stage supplies."""
    info = get_attention_info(stage.module)
    kwargs: dict[str, Any] = dict(stage.options)
    reduction = stage.effective_reduction()
    if reduction is not None:
        kwargs["reduction"] = reduction
    if info.needs_feat_size:
        kwargs["feat_size"] = geometry.feat_size
    if info.needs_context:
        kwargs["context_channels"] = geometry.in_channels
    return kwargs


def stage_problems(arch: ArchConfig, name: str, stage: StagePlacement, geo: StageGeometry) -> list[str]:
    """Every reason ``stage`` cannot be placed in stage ``name`` (empty list: it can)."""
    where = f"stages.{name}"
    if stage.position not in geo.positions:
        available = ", ".join(geo.positions)
        return [f"{where}.position: '{stage.position}' is not available on {arch.backbone}; use {available}"]
    problems = []
    if stage.position != "stage_out" and geo.builtin and arch.existing_attention == "keep":
        problems.append(
            f"{where}: {arch.backbone} already has attention in {geo.builtin} block slot(s); "
            "set existing_attention: replace (in a search space: backbone: {existing_attention: replace}), "
            "or use position stage_out"
        )
    height, width = geo.feat_size
    needs = get_attention_info(stage.module).min_pixels
    if height * width < needs:
        problems.append(
            f"{where}: {stage.module} needs a feature map of at least {needs} pixels, but {name} gives "
            f"{height}x{width} at image_size {arch.image_size}; use another module there or a larger "
            "image_size"
        )
    channels = module_channels(stage, geo)
    reduction = stage.effective_reduction()
    too_big = reduction_problem(f"{where}.reduction", [] if reduction is None else [reduction], channels)
    if too_big is not None:
        return [*problems, too_big]
    try:
        create_attention(stage.module, channels, **module_kwargs(stage, geo))
    except NasAttnError as exc:
        problems.append(f"{where}: {exc}")
    return problems


def _validate(arch: ArchConfig, geometry: dict[str, StageGeometry]) -> None:
    """Collect every problem with its key path; raise one NasAttnError listing them all."""
    problems: list[str] = []
    for name, stage in arch.stages.items():
        if name not in geometry:
            problems.append(
                f"stages.{name}: unknown stage for {arch.backbone}; stages are {', '.join(geometry)}"
            )
        elif stage.module != "none":
            problems.extend(stage_problems(arch, name, stage, geometry[name]))
    if arch.backbone_weights is not None and not Path(arch.backbone_weights).is_file():
        problems.append(f"backbone_weights: file not found: {arch.backbone_weights}")
    if problems:
        raise NasAttnError("invalid arch config: " + "; ".join(problems))


def stage_seed(seed: int, stage: str) -> int:
    """The seed of the attention modules placed in ``stage`` for training seed ``seed``: the same
    for every placement, so a module in a stage starts alike whatever the other stages hold."""
    digest = hashlib.sha256(f"nas-attn/attention/{seed}/{stage}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 2**63


def _seeded(seed: int | None) -> contextlib.AbstractContextManager[object]:
    """Draw from ``seed`` inside (global RNG state restored afterwards); no-op for None."""
    if seed is None:
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    stack.enter_context(torch.random.fork_rng(devices=[]))
    torch.manual_seed(seed)
    return stack


def _place(
    model: nn.Module,
    adapter: BackboneAdapter,
    arch: ArchConfig,
    geometry: dict[str, StageGeometry],
    seed: int | None = None,
) -> None:
    if arch.existing_attention == "replace":
        for name in geometry:
            adapter.clear_builtin(model, name)
    for name, stage in arch.stages.items():
        if stage.module == "none":
            continue
        geo = geometry[name]
        make = partial(
            create_attention, stage.module, module_channels(stage, geo), **module_kwargs(stage, geo)
        )
        with _seeded(None if seed is None else stage_seed(seed, name)):
            adapter.insert(
                model,
                name,
                stage.position,
                make,
                needs_context=get_attention_info(stage.module).needs_context,
            )


def build_model(
    arch: ArchConfig | dict[str, Any] | str | Path,
    num_classes: int | None = None,
    *,
    seed: int | None = None,
    **timm_kwargs: Any,
) -> nn.Module:
    """Build the timm backbone of ``arch`` with its attention placements.

    Args:
        arch: an ArchConfig, a dict, or a path to an arch YAML.
        num_classes: overrides ``arch.num_classes`` (e.g. to fine-tune on another dataset).
        seed: with a seed, the backbone's initial weights depend only on the backbone and the
            seed, never on the placement, and each stage's attention modules draw from their own
            generator (:func:`stage_seed`): placements trained with one seed differ only by their
            placement (common random numbers). The global RNG is left as it was. None draws
            from the global RNG.
        timm_kwargs: passed to ``timm.create_model`` for the backbone (e.g. ``drop_path_rate``).

    When ``arch.backbone_weights`` is set, the returned model carries the load report (which
    tensors loaded, which attention tensors are new) as ``model.nas_attn_weights_report``.
    """
    cfg = ArchConfig.coerce(arch)
    adapter = get_adapter(cfg.backbone)
    with _seeded(seed):
        model = adapter.create(
            cfg.backbone, num_classes if num_classes is not None else cfg.num_classes, cfg.stem, **timm_kwargs
        )
        geometry = adapter.stages(model, cfg.image_size)
        _validate(cfg, geometry)
    bare_keys = set(model.state_dict())
    _place(model, adapter, cfg, geometry, seed)
    if cfg.backbone_weights is not None:
        new_keys = set(model.state_dict()) - bare_keys
        pretrained_cfg = getattr(model, "pretrained_cfg", None)
        head = pretrained_cfg.get("classifier", "") if isinstance(pretrained_cfg, dict) else ""
        report = load_backbone_weights(model, cfg.backbone_weights, new_keys, (f"{head}.",) if head else ())
        setattr(model, WEIGHTS_REPORT_ATTR, report)
    return model


def weights_report(model: nn.Module) -> WeightLoadReport | None:
    """The backbone-weights load report of a model built with ``backbone_weights``, if any."""
    report = getattr(model, WEIGHTS_REPORT_ATTR, None)
    return report if isinstance(report, WeightLoadReport) else None


def stage_geometry(arch: ArchConfig) -> dict[str, StageGeometry]:
    """Stage geometry of ``arch``'s bare backbone at its image size (for spaces and previews)."""
    adapter = get_adapter(arch.backbone)
    model = adapter.create(arch.backbone, arch.num_classes, arch.stem)
    return adapter.stages(model, arch.image_size)
