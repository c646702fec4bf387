"""timm ConvNeXt adapter (Liu et al., "A ConvNet for the 2020s", CVPR 2022, arXiv:2201.03545).

ConvNeXt blocks have no attention slot, so only ``stage_out`` applies: the module runs on the
output of ``stages[K-1]`` (named ``stage1``..``stage4`` here, like ResNet's ``layer1``..).
The cifar stem replaces the 4x4 stride-4 patchify conv with a 3x3 stride-1 conv.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import timm
from timm.models.convnext import ConvNeXt
from torch import nn

from nas_attn.backbones.adapter import BackboneAdapter, register_adapter
from nas_attn.exceptions import NasAttnError


class ConvNeXtAdapter(BackboneAdapter):
    """timm ``ConvNeXt`` models: ``stage_out`` only, stages ``stage1``..``stage4``."""

    family = "timm ConvNeXt (stage_out only)"
    examples = ("convnext_atto", "convnext_tiny")
    timm_module = "convnext"

    def create(self, model_name: str, num_classes: int, stem: str, **timm_kwargs: Any) -> nn.Module:
        model = timm.create_model(model_name, pretrained=False, num_classes=num_classes, **timm_kwargs)
        if not isinstance(model, ConvNeXt):
            raise NasAttnError(f"backbone '{model_name}' is not a timm ConvNeXt; pick another backbone")
        if stem == "cifar":
            patchify: nn.Conv2d = model.stem[0]  # type: ignore[assignment]
            model.stem[0] = nn.Conv2d(3, patchify.out_channels, kernel_size=3, stride=1, padding=1)
        return model

    def stage_parents(self, model: nn.Module) -> OrderedDict[str, tuple[nn.Module, str]]:
        stages = model.get_submodule("stages")
        return OrderedDict(
            (f"stage{i + 1}", (stages, name)) for i, (name, _) in enumerate(stages.named_children())
        )


register_adapter(ConvNeXtAdapter())
