"""timm ResNet family adapter: every model of ``timm.models.resnet`` (resnet18/26/34/50/101/152,
``d`` variants, ResNeXt, Wide ResNet, and the attention-carrying seresnet/ecaresnet variants).

timm's ResNet blocks run ``bn2 (BasicBlock) / bn3 (Bottleneck) -> self.se -> drop_path ->
+= shortcut -> act``: the SE paper's position, after the last BN and before the residual add.
The slot is None unless the model was built with ``attn_layer`` (seresnet18 fills it with SE).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import timm
from timm.models.resnet import ResNet
from torch import nn

from nas_attn.backbones.adapter import BackboneAdapter, register_adapter
from nas_attn.exceptions import NasAttnError

_STAGES = ("layer1", "layer2", "layer3", "layer4")
SLOT = "se"


def apply_cifar_stem(model: nn.Module) -> None:
    """3x3 stride-1 stem without max-pool, so 32px inputs keep 32/16/8/4 feature maps.

    Deep-stem (``d``) variants have a 3-conv stem whose output feeds ``bn1``; it is replaced by
    one 3x3 stride-1 conv to the same width.
    """
    bn1: nn.BatchNorm2d = model.get_submodule("bn1")  # type: ignore[assignment]
    model.conv1 = nn.Conv2d(3, bn1.num_features, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()


class ResNetAdapter(BackboneAdapter):
    """timm ``ResNet`` models: block slot ``layerK[i].se``, stages ``layer1``..``layer4``."""

    family = "timm ResNet"
    examples = ("resnet18", "resnet50d", "resnext50_32x4d", "wide_resnet50_2", "seresnet18")
    timm_module = "resnet"

    def create(self, model_name: str, num_classes: int, stem: str, **timm_kwargs: Any) -> nn.Module:
        model = timm.create_model(model_name, pretrained=False, num_classes=num_classes, **timm_kwargs)
        if not isinstance(model, ResNet):
            raise NasAttnError(f"backbone '{model_name}' is not a timm ResNet; pick another backbone")
        if stem == "cifar":
            apply_cifar_stem(model)
        return model

    def stage_parents(self, model: nn.Module) -> OrderedDict[str, tuple[nn.Module, str]]:
        return OrderedDict((name, (model, name)) for name in _STAGES)

    def blocks(self, stage: nn.Module) -> list[nn.Module]:
        return [block for name, block in stage.named_children() if name.isdigit()]

    def slot_channels(self, block: nn.Module) -> int:
        norm = block.get_submodule("bn3" if hasattr(block, "bn3") else "bn2")
        assert isinstance(norm, nn.BatchNorm2d)
        return norm.num_features


register_adapter(ResNetAdapter())
