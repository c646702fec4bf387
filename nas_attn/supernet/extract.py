"""Extraction: one path of the supernet as a normal ``build_model`` network.

The network ``build_model(placement, seed=supernet.seed)`` builds, loaded with the supernet's
shared weights and, per slot, the chosen candidate's private last BatchNorm (weights and
running statistics) and attention modules. In eval mode it computes exactly what the supernet
computes with that path active; its state-dict keys are exactly ``build_model``'s.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.backbones import ArchConfig, build_model
from nas_attn.supernet.choices import PathIndices
from nas_attn.supernet.net import Supernet, _BlockTap, _SwitchedStage


def _prefixed(prefix: str, module: nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{key}": value for key, value in module.state_dict().items()}


def path_state_dict(supernet: Supernet, placement: ArchConfig | PathIndices) -> dict[str, torch.Tensor]:
    """The state dict of ``placement``'s standalone network, keyed as ``build_model`` keys it."""
    path = dict(zip(supernet.slots, supernet.path(placement), strict=True))
    slot_attr = supernet.adapter.slot_attr
    state = dict(supernet.net.state_dict())
    for name, module in supernet.net.named_modules():
        if isinstance(module, _BlockTap):
            candidate = module.slot.candidate(path[module.slot.choices.stage])
            state.update(_prefixed(name, candidate.norms[module.block]))
            if str(module.block) in candidate.block_attn:
                attn = candidate.block_attn[str(module.block)]
                state.update(_prefixed(f"{name.rsplit('.', 1)[0]}.{slot_attr}", attn))
        elif isinstance(module, _SwitchedStage):
            stage_attn = module.slot.candidate(path[module.slot.choices.stage]).stage_attn
            if stage_attn is not None:
                state.update(_prefixed(f"{name}.attn", stage_attn))
    return state


def extract(supernet: Supernet, placement: ArchConfig | PathIndices) -> nn.Module:
    """``build_model(placement, seed=supernet.seed)`` holding the supernet's weights for that path
    (in the supernet's train/eval mode). Raises NasAttnError for a placement the supernet lacks."""
    path = supernet.path(placement)
    model = build_model(supernet.placement(path), seed=supernet.seed)
    model.load_state_dict(path_state_dict(supernet, path), strict=True)
    return model.train(supernet.training)
