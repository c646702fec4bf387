"""Multi-head self-attention with 2-D relative position logits (BoTNet).

Srinivas, Lin, Parmar, Shlens, Abbeel, Vaswani, "Bottleneck Transformers for Visual
Recognition", CVPR 2021, arXiv:2101.11605.

    q, k, v = Conv1x1_{C -> 3C}(x), no bias, split into 4 heads of d = C / 4
    q = q / sqrt(d)
    logits[p, p'] = q_p . k_p' + q_p . R_h[h' - h] + q_p . R_w[w' - w]    p = (h, w), p' = (h', w')
    F = softmax_p'(logits) v                    (all-to-all over the H x W positions)

R_h (2H - 1 rows) and R_w (2W - 1 rows) are learned relative embeddings of width d shared by the
heads, as in BoTNet's reference ``relpos_self_attention`` (the scaled q multiplies both the keys
and the relative embeddings). Parameters: 3C^2 + (2H + 2W - 2) d. There is no output projection
(the bottleneck's next 1x1 conv plays that role).

The embeddings fix H and W: build with ``feat_size=(H, W)``; an input of another size raises a
NasAttnError (timm asserts). MHSA replaces the 3x3 conv of BoTNet's last bottlenecks; in an
attention slot we return ``x + BN0(F(x))`` with a zero-initialised BN (our addition, the zero-init
last-BN trick: the identity at init, 2C extra parameters, see ``_common``). The strided first
block's 2x2 average pooling does not apply (the module is shape-preserving). Memory grows as (HW)^2.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nas_attn.attention._common import divisors, require_divisible, require_positive, zero_init_bn
from nas_attn.attention._registry import AttentionInfo, integer, register_attention
from nas_attn.exceptions import NasAttnError


def _relative_index(size: int) -> torch.Tensor:
    """idx[i, j] = j - i + size - 1: the row of the relative table for query i and key j."""
    pos = torch.arange(size)
    return pos[None, :] - pos[:, None] + size - 1


@register_attention(
    AttentionInfo(
        name="mhsa",
        kind="self",
        paper="Srinivas et al., Bottleneck Transformers for Visual Recognition, CVPR 2021, arXiv:2101.11605",
        uses_reduction=False,
        constraints=(
            "channels divisible by heads (default 4)",
            "input H, W fixed at construction (feat_size)",
        ),
        needs_feat_size=True,
        defaults={"heads": 4},
        options={"heads": integer(1, 64)},
    )
)
class BottleneckMHSA(nn.Module):
    """All-to-all multi-head self-attention with relative height/width logits; residual at init."""

    rel_index_h: torch.Tensor
    rel_index_w: torch.Tensor

    def __init__(self, channels: int, feat_size: Sequence[int], heads: int = 4) -> None:
        super().__init__()
        if len(feat_size) != 2 or any(not isinstance(s, int) or s < 1 for s in feat_size):
            raise NasAttnError(f"mhsa: feat_size must be two positive integers (H, W), got {feat_size!r}")
        require_positive("mhsa", heads=heads)
        require_divisible("mhsa", channels, heads, f"heads={heads}", f"use heads in {divisors(channels)[:8]}")
        self.feat_size = (int(feat_size[0]), int(feat_size[1]))
        self.heads = heads
        self.head_dim = channels // heads
        h, w = self.feat_size
        self.qkv = nn.Conv2d(channels, 3 * channels, 1, bias=False)
        self.rel_h = nn.Parameter(torch.randn(2 * h - 1, self.head_dim) * self.head_dim**-0.5)
        self.rel_w = nn.Parameter(torch.randn(2 * w - 1, self.head_dim) * self.head_dim**-0.5)
        self.register_buffer("rel_index_h", _relative_index(h), persistent=False)
        self.register_buffer("rel_index_w", _relative_index(w), persistent=False)
        self.out_bn = zero_init_bn(channels)

    def relative_logits(self, q: torch.Tensor) -> torch.Tensor:
        """q (N, heads, H, W, d) -> logits (N, heads, H*W, H*W) from R_h and R_w."""
        n, heads, h, w, _ = q.shape
        table_h = self.rel_h[self.rel_index_h]  # (H, H', d)
        table_w = self.rel_w[self.rel_index_w]  # (W, W', d)
        logits_h = torch.einsum("nxijd,ikd->nxijk", q, table_h)  # (N, heads, H, W, H')
        logits_w = torch.einsum("nxijd,jld->nxijl", q, table_w)  # (N, heads, H, W, W')
        logits = logits_h[..., :, None] + logits_w[..., None, :]
        return logits.reshape(n, heads, h * w, h * w)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The MHSA output F(x) (before the zero-init residual BN)."""
        n, c, h, w = x.shape
        if (h, w) != self.feat_size:
            raise NasAttnError(
                f"mhsa: built for feat_size {self.feat_size} but the input is {h}x{w}; "
                f"rebuild it with feat_size=({h}, {w})"
            )
        q, k, v = self.qkv(x).view(n, 3, self.heads, self.head_dim, h * w).unbind(dim=1)
        q = q.transpose(-1, -2) * self.head_dim**-0.5  # (N, heads, HW, d)
        logits = q @ k + self.relative_logits(q.reshape(n, self.heads, h, w, self.head_dim))
        out = torch.softmax(logits, dim=-1) @ v.transpose(-1, -2)  # (N, heads, HW, d)
        return out.transpose(-1, -2).reshape(n, c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out_bn(self.attention(x))
