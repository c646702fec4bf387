"""timm ResNet family adapter (BasicBlock / Bottleneck with the ``.se`` attention slot).

timm's ResNet blocks run ``bn2 (BasicBlock) / bn3 (Bottleneck) -> self.se -> drop_path ->
+= shortcut -> act``: the SE paper's position, after the last BN and before the residual add.
The slot is None unless the model was built with ``attn_layer``; we fill it per stage.
``stage_out`` appends a module to the stage's ``nn.Sequential`` (keys ``layerK.attn.*``).
"""

from __future__ import annotations

import re

import timm
import torch
from timm.models.resnet import ResNet
from torch import nn

from nas_attn.attention import Position
from nas_attn.backbones.adapter import BackboneAdapter, ModuleFactory, StageGeometry, register_adapter
from nas_attn.exceptions import NasAttnError

_STAGES = ("layer1", "layer2", "layer3", "layer4")
SLOT = "se"


def apply_cifar_stem(model: nn.Module) -> None:
    """3x3 stride-1 stem without max-pool, so 32px inputs keep 32/16/8/4 feature maps."""
    bn1: nn.BatchNorm2d = model.get_submodule("bn1")  # type: ignore[assignment]
    stem_out = bn1.num_features
    model.conv1 = nn.Conv2d(3, stem_out, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()


class ResNetAdapter(BackboneAdapter):
    """timm ``ResNet`` models: resnet18/34/50/101/152 and their ``d`` variants."""

    family = "timm ResNet"
    examples = ("resnet18", "resnet34", "resnet50", "resnet50d")
    _pattern = re.compile(r"^resnet(18|34|50|101|152)d?$")

    def matches(self, model_name: str) -> bool:
        return bool(self._pattern.match(model_name))

    def create(self, model_name: str, num_classes: int, stem: str) -> nn.Module:
        model = timm.create_model(model_name, pretrained=False, num_classes=num_classes)
        if not isinstance(model, ResNet):
            raise NasAttnError(f"backbone '{model_name}' is not a timm ResNet; pick another backbone")
        if stem == "cifar":
            apply_cifar_stem(model)
        return model

    def stages(self, model: nn.Module, image_size: int) -> dict[str, StageGeometry]:
        sizes: dict[str, tuple[int, int]] = {}
        hooks = [
            getattr(model, name).register_forward_hook(
                lambda _m, _i, out, name=name: sizes.__setitem__(name, tuple(out.shape[-2:]))
            )
            for name in _STAGES
        ]
        was_training = model.training
        try:
            model.eval()
            with torch.no_grad():
                model.forward_features(torch.zeros(1, 3, image_size, image_size))  # type: ignore[operator]
        finally:
            model.train(was_training)
            for hook in hooks:
                hook.remove()
        out: dict[str, StageGeometry] = {}
        for name in _STAGES:
            blocks = list(getattr(model, name).children())
            last = blocks[-1]
            channels = (last.bn3 if hasattr(last, "bn3") else last.bn2).num_features
            h, w = sizes[name]
            out[name] = StageGeometry(
                name, channels, (h, w), len(blocks), ("block", "last_block", "stage_out")
            )
        return out

    def insert(self, model: nn.Module, stage: str, position: Position, make: ModuleFactory) -> int:
        layer = getattr(model, stage)
        if position == "stage_out":
            layer.add_module("attn", make())
            return 1
        blocks = [b for name, b in layer.named_children() if name.isdigit()]
        targets = blocks if position == "block" else blocks[-1:]
        for block in targets:
            if getattr(block, SLOT, None) is not None:
                raise NasAttnError(
                    f"stages.{stage}: the backbone already has attention in the block slot; "
                    "use a plain backbone (e.g. resnet18 instead of seresnet18)"
                )
            setattr(block, SLOT, make())
        return len(targets)


register_adapter(ResNetAdapter())
