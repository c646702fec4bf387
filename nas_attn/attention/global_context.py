"""Global Context block (GCNet).

Cao, Xu, Lin, Wei, Hu, "GCNet: Non-local Networks Meet Squeeze-Excitation Networks and Beyond",
ICCVW 2019, arXiv:1904.11492.

    context = sum_j softmax_j(W_k x_j) x_j                 W_k: Conv1x1_{C -> 1} (attention pooling)
    T(c)    = W_v2 ReLU(LN(W_v1 c))                        C -> C // r -> C, LayerNorm over (C/r, 1, 1)
    add:    y = x + T(context)                             (the paper's default fusion)
    scale:  y = x * sigmoid(T(context))                    (``fusion="scale"``)

All convs carry a bias: (C + 1) + (C^2/r + C/r) + 2C/r + (C^2/r + C) = 2C^2/r + 3C/r + 2C + 1
parameters (r = 16 by default; the paper also reports r = 4).

Where we deviate from popular copies: timm's ``gc`` is the *scale* variant with a C/8
bottleneck; we follow the paper (additive fusion, r = 16). For additive fusion the last conv is
zero-initialised, as in the official release (``last_zero_init``), so the block is the identity
at init; the scale variant keeps the default init (it is a gate).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from nas_attn.attention._registry import AttentionInfo, choice, register_attention
from nas_attn.exceptions import NasAttnError


@register_attention(
    AttentionInfo(
        name="gc",
        kind="channel",
        paper=(
            "Cao et al., GCNet: Non-local Networks Meet Squeeze-Excitation Networks and Beyond, "
            "ICCVW 2019, arXiv:1904.11492"
        ),
        uses_reduction=True,
        defaults={"reduction": 16, "fusion": "add"},
        options={"fusion": choice("add", "scale")},
    )
)
class GlobalContext(nn.Module):
    """Attention-pooled global context, transformed by a LayerNorm bottleneck, fused by add or scale."""

    def __init__(self, channels: int, reduction: int = 16, fusion: Literal["add", "scale"] = "add") -> None:
        super().__init__()
        if fusion not in ("add", "scale"):
            raise NasAttnError(f"gc: fusion must be 'add' or 'scale', got {fusion!r}")
        hidden = max(1, channels // reduction)
        self.fusion = fusion
        self.attn_pool = nn.Conv2d(channels, 1, 1, bias=True)
        self.transform = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=True),
            nn.LayerNorm([hidden, 1, 1]),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=True),
        )
        if fusion == "add":
            last = self.transform[-1]
            if isinstance(last, nn.Conv2d) and last.bias is not None:
                nn.init.zeros_(last.weight)
                nn.init.zeros_(last.bias)

    def context(self, x: torch.Tensor) -> torch.Tensor:
        """sum_j softmax_j(W_k x_j) x_j as (N, C, 1, 1)."""
        n, c = x.shape[:2]
        weights = torch.softmax(self.attn_pool(x).reshape(n, 1, -1), dim=-1)  # (N, 1, HW)
        return (x.reshape(n, c, -1) * weights).sum(dim=-1).view(n, c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.transform(self.context(x))
        return x + t if self.fusion == "add" else x * torch.sigmoid(t)
