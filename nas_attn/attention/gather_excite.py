"""Gather-Excite.

Hu, Shen, Albanie, Sun, Vedaldi, "Gather-Excite: Exploiting Feature Context in Convolutional
Neural Networks", NeurIPS 2018, arXiv:1810.12348.

    g = gather(x) over extent e;   y = x * sigmoid(upsample_nearest(excite(g)))

- GE-theta-minus (default): parameter-free. The gather is average pooling, global (``extent=0``,
  then y = x * sigmoid(GAP(x))) or over e x e windows with stride e (``extent=e``); no excite MLP.
- GE-theta-plus (``variant="plus"``): learned gather by depthwise convs (global extent: one
  depthwise conv whose kernel is the whole map, which needs ``feat_size``; extent e = 2^k: k
  strided 3x3 depthwise convs with BN, ReLU between), followed by an SE-style excite MLP
  C -> C // mlp_reduction -> C (default 16).

Where we deviate: timm's ``GatherExcite`` (the popular copy) is broken in current releases
(v1.0.21+, TypeError at construction); we do not use it. We keep the paper's parameter-free
default. The registry does not sample ``reduction`` for ``ge`` (the default has no MLP): the
plus variant takes ``mlp_reduction`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from nas_attn.attention._common import require_positive
from nas_attn.attention._registry import AttentionInfo, choice, integer, register_attention
from nas_attn.exceptions import NasAttnError


def _depthwise_gather(channels: int, extent: int, feat_size: Sequence[int] | None) -> nn.Sequential:
    if extent == 0:
        if feat_size is None or len(feat_size) != 2:
            raise NasAttnError("ge: variant='plus' with global extent (extent=0) needs feat_size=(H, W)")
        kernel = (int(feat_size[0]), int(feat_size[1]))
        return nn.Sequential(
            nn.Conv2d(channels, channels, kernel, groups=channels, bias=False), nn.BatchNorm2d(channels)
        )
    layers: list[nn.Module] = []
    for i in range(extent.bit_length() - 1):
        if i:
            layers.append(nn.ReLU(inplace=True))
        layers += [
            nn.Conv2d(channels, channels, 3, stride=2, padding=1, groups=channels, bias=False),
            nn.BatchNorm2d(channels),
        ]
    return nn.Sequential(*layers)


@register_attention(
    AttentionInfo(
        name="ge",
        kind="channel",
        paper="Hu et al., Gather-Excite: Exploiting Feature Context in CNNs, NeurIPS 2018, arXiv:1810.12348",
        uses_reduction=False,
        constraints=(
            "extent 0 (global) or a power of 2 for variant='plus'",
            "variant='plus' with extent=0 needs feat_size and that input size",
        ),
        defaults={"extent": 0, "variant": "minus", "mlp_reduction": 16},
        options={
            "extent": integer(0, 64),
            "variant": choice("minus", "plus"),
            "mlp_reduction": integer(1, 1024),
        },
    )
)
class GatherExcite(nn.Module):
    """Gather context over an extent, redistribute it as a sigmoid gate."""

    def __init__(
        self,
        channels: int,
        extent: int = 0,
        variant: Literal["minus", "plus"] = "minus",
        mlp_reduction: int = 16,
        feat_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if variant not in ("minus", "plus"):
            raise NasAttnError(f"ge: variant must be 'minus' or 'plus', got {variant!r}")
        if not isinstance(extent, int) or extent < 0:
            raise NasAttnError(f"ge: extent must be 0 (global) or a positive integer, got {extent!r}")
        if variant == "plus" and extent & (extent - 1):
            raise NasAttnError(
                f"ge: variant='plus' needs extent 0 or a power of 2 (2, 4, 8, ...), got {extent}"
            )
        require_positive("ge", mlp_reduction=mlp_reduction)
        self.extent = extent
        self.feat_size = None if feat_size is None else (int(feat_size[0]), int(feat_size[1]))
        self.gather: nn.Module | None = None
        self.excite: nn.Module | None = None
        if variant == "plus":
            hidden = max(1, channels // mlp_reduction)
            self.gather = _depthwise_gather(channels, extent, feat_size)
            self.excite = nn.Sequential(
                nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if self.gather is not None:
            if self.extent == 0 and (h, w) != self.feat_size:
                raise NasAttnError(f"ge: built for feat_size {self.feat_size} but the input is {h}x{w}")
            g = self.gather(x)
        elif self.extent == 0:
            g = x.mean(dim=(2, 3), keepdim=True)
        else:
            g = F.avg_pool2d(x, self.extent, stride=self.extent, ceil_mode=True)
        if self.excite is not None:
            g = self.excite(g)
        if g.shape[-2] * g.shape[-1] > 1 and tuple(g.shape[-2:]) != (h, w):  # a 1x1 map broadcasts
            g = F.interpolate(g, size=(h, w), mode="nearest")
        return x * torch.sigmoid(g)
