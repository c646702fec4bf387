"""Cross-stage attention: queries from this stage, keys/values from the previous stage.

Vaswani et al., "Attention Is All You Need", NeurIPS 2017, arXiv:1706.03762 (encoder-decoder
attention); Chen, Fan, Panda, "CrossViT: Cross-Attention Multi-Scale Vision Transformer for
Image Classification", ICCV 2021, arXiv:2103.14899 (cross-attention between two feature scales).

    q = W_q x                   x: (N, C, H, W), this stage's input (the query side)
    k = W_k c,  v = W_v c       c: (N, C_ctx, H', W'), the previous stage's output (any C_ctx, H', W')
    F = W_o MultiHead(q, k, v)  8 heads of C / 8, softmax(q k^T / sqrt(d)) v over the H'W' positions
    y = x + gamma * F           gamma: a learnable scalar initialised to 0

q, k, v have no bias (CrossViT's default ``qkv_bias=False``), W_o has one. Parameters:
2C^2 + 2 C C_ctx + C + 1, i.e. 4C^2 + C + 1 when C_ctx = C. The output has the query's shape.

Where we deviate: CrossViT's cross-attention uses one CLS token as the query and pre-norms the
tokens; our queries are all H x W positions of a CNN feature map (already batch-normalised), so
no LayerNorm is added. The zero-initialised gamma (as in SAGAN) makes the module the identity at
init. It needs a defined context source, so it is placed only at ``stage_out``: build it with
``context_channels=`` and call ``forward(x, context)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_attn.attention._common import divisors, require_divisible, require_positive
from nas_attn.attention._registry import AttentionInfo, integer, register_attention
from nas_attn.exceptions import NasAttnError


@register_attention(
    AttentionInfo(
        name="cross",
        kind="cross",
        paper=(
            "Vaswani et al., Attention Is All You Need, NeurIPS 2017, arXiv:1706.03762; "
            "Chen et al., CrossViT, ICCV 2021, arXiv:2103.14899"
        ),
        uses_reduction=False,
        positions=("stage_out",),
        constraints=(
            "channels divisible by heads (default 8)",
            "needs context_channels and forward(x, context)",
        ),
        needs_context=True,
        defaults={"heads": 8},
        options={"heads": integer(1, 64)},
    )
)
class CrossStageAttention(nn.Module):
    """Multi-head attention from x (queries) to a context map (keys/values), residual with gamma=0."""

    def __init__(self, channels: int, context_channels: int, heads: int = 8) -> None:
        super().__init__()
        require_positive("cross", context_channels=context_channels, heads=heads)
        require_divisible(
            "cross", channels, heads, f"heads={heads}", f"use heads in {divisors(channels)[:8]}"
        )
        self.context_channels = context_channels
        self.heads = heads
        self.q = nn.Conv2d(channels, channels, 1, bias=False)
        self.k = nn.Conv2d(context_channels, channels, 1, bias=False)
        self.v = nn.Conv2d(context_channels, channels, 1, bias=False)
        self.proj = nn.Conv2d(channels, channels, 1, bias=True)
        self.gamma = nn.Parameter(torch.zeros(1))

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        n, c = t.shape[:2]
        return t.reshape(n, self.heads, c // self.heads, -1).transpose(-1, -2)  # (N, heads, L, d)

    def attention(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """F = W_o MultiHead(W_q x, W_k context, W_v context), shaped like x."""
        if context.dim() != 4 or context.shape[1] != self.context_channels or context.shape[0] != x.shape[0]:
            raise NasAttnError(
                f"cross: context must be (N={x.shape[0]}, {self.context_channels}, H', W'), "
                f"got {tuple(context.shape)}"
            )
        n, c, h, w = x.shape
        out = F.scaled_dot_product_attention(
            self._heads(self.q(x)), self._heads(self.k(context)), self._heads(self.v(context))
        )
        return self.proj(out.transpose(-1, -2).reshape(n, c, h, w))

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        return x + self.gamma * self.attention(x, context)
