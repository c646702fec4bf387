"""timm RegNet adapter (RegNetX and RegNetY; Radosavovic et al., CVPR 2020, arXiv:2003.13678).

A RegNet bottleneck runs ``conv1 (1x1) -> conv2 (3x3 grouped) -> se -> conv3 (1x1) -> + shortcut``:
the slot sits at the bottleneck width after the grouped conv, where RegNetY puts its SE. RegNetX
leaves it as ``nn.Identity``; RegNetY fills it (built-in attention: keep or replace it).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import timm
from timm.models.regnet import RegNet
from torch import nn

from nas_attn.backbones.adapter import BackboneAdapter, register_adapter
from nas_attn.exceptions import NasAttnError

_STAGES = ("s1", "s2", "s3", "s4")


class RegNetAdapter(BackboneAdapter):
    """timm ``RegNet`` models: block slot ``sK.bJ.se``, stages ``s1``..``s4``."""

    family = "timm RegNet (X and Y)"
    examples = ("regnetx_002", "regnety_004", "regnety_016")
    timm_module = "regnet"

    def create(self, model_name: str, num_classes: int, stem: str, **timm_kwargs: Any) -> nn.Module:
        model = timm.create_model(model_name, pretrained=False, num_classes=num_classes, **timm_kwargs)
        if not isinstance(model, RegNet):
            raise NasAttnError(f"backbone '{model_name}' is not a timm RegNet; pick another backbone")
        if stem == "cifar":
            conv = model.get_submodule("stem.conv")
            assert isinstance(conv, nn.Conv2d)
            model.get_submodule("stem").conv = nn.Conv2d(
                3, conv.out_channels, kernel_size=3, stride=1, padding=1, bias=False
            )
        return model

    def stage_parents(self, model: nn.Module) -> OrderedDict[str, tuple[nn.Module, str]]:
        return OrderedDict((name, (model, name)) for name in _STAGES)

    def blocks(self, stage: nn.Module) -> list[nn.Module]:
        return list(stage.children())

    def slot_channels(self, block: nn.Module) -> int:
        conv = block.get_submodule("conv2.conv")
        assert isinstance(conv, nn.Conv2d)
        return conv.out_channels

    def empty_slot(self) -> nn.Module | None:
        return nn.Identity()


register_adapter(RegNetAdapter())
