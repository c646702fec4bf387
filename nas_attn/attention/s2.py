"""S2 (spatial-shift) attention of S2-MLPv2.

Yu, Xu, Wang, Li, "S2-MLPv2: Improved Spatial-Shift MLP Architecture for Vision",
arXiv:2108.01072 (the spatial shift comes from S2-MLP, arXiv:2106.07477).

    t = Linear_{C -> 3C}(x);  split into t1, t2, t3 (C channels each)
    t1 = shift1(t1);  t2 = shift2(t2)                  (t3 unshifted)
    a  = softmax_over_3(W2 GELU(W1 GAP(t1 + t2 + t3)))    W1: C -> C, W2: C -> 3C, no bias
    F  = Linear_{C -> C}(a_1 t1 + a_2 t2 + a_3 t3)

Each shift moves four groups of C/4 channels by one pixel: shift1 moves group 0 to +W, group 1
to -W, group 2 to +H, group 3 to -H; shift2 moves groups 0/1 along H and 2/3 along W. The row or
column a shift vacates keeps its original value (the paper's slice assignment). Parameters:
8C^2 + 4C. Linear layers act on channels (1x1 convs). Works at any H, W; needs C % 4 == 0.

Where we deviate from popular copies: the shift builds a NEW tensor by concatenation; the
widespread in-place overlapping slice copy (``x[:, 1:] = x[:, :-1]``) is undefined behaviour in
PyTorch (pytorch/pytorch#144861: an error or silently wrong values on CPU). The split attention
is built for the actual C (a well-known copy hard-codes 512 channels). The paper's block is
pre-norm residual ``x + S2(LN(x))``; in an attention slot we return ``x + BN0(F(x))`` with a
zero-initialised BN (see ``_common``): the identity at init, 2C extra parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_attn.attention._common import require_divisible, zero_init_bn
from nas_attn.attention._registry import AttentionInfo, register_attention


def _shift(x: torch.Tensor, dim: int, step: int) -> torch.Tensor:
    """Shift ``x`` by one pixel (+1 or -1) along ``dim``, keeping the vacated border, out of place."""
    size = x.shape[dim]
    if step > 0:  # out[i] = x[i - 1] for i >= 1, out[0] = x[0]
        return torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, size - 1)], dim=dim)
    return torch.cat([x.narrow(dim, 1, size - 1), x.narrow(dim, size - 1, 1)], dim=dim)


def spatial_shift(x: torch.Tensor, first_dim: int) -> torch.Tensor:
    """Four channel groups shifted +/- along ``first_dim`` then +/- along the other spatial dim.

    ``first_dim=3`` (W first) is S2-MLPv2's shift1, ``first_dim=2`` (H first) its shift2.
    """
    second_dim = 2 if first_dim == 3 else 3
    groups = x.chunk(4, dim=1)
    moves = ((first_dim, 1), (first_dim, -1), (second_dim, 1), (second_dim, -1))
    return torch.cat([_shift(g, d, s) for g, (d, s) in zip(groups, moves, strict=True)], dim=1)


@register_attention(
    AttentionInfo(
        name="s2",
        kind="conv",
        paper=(
            "Yu et al., S2-MLPv2: Improved Spatial-Shift MLP Architecture for Vision, arXiv 2021, "
            "arXiv:2108.01072"
        ),
        uses_reduction=False,
        constraints=("channels divisible by 4 (four shift directions)",),
    )
)
class S2Attention(nn.Module):
    """Expand to three branches, shift two of them, fuse by split attention; residual at init."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        require_divisible("s2", channels, 4, "4", "the shift moves four equal channel groups")
        self.expand = nn.Conv2d(channels, 3 * channels, 1, bias=True)
        self.attn_fc1 = nn.Linear(channels, channels, bias=False)
        self.attn_fc2 = nn.Linear(channels, 3 * channels, bias=False)
        self.project = nn.Conv2d(channels, channels, 1, bias=True)
        self.out_bn = zero_init_bn(channels)

    def split_attention(self, branches: torch.Tensor) -> torch.Tensor:
        """Softmax-over-branches weighted sum of (N, 3, C, H, W) branches."""
        n, k, c = branches.shape[:3]
        pooled = branches.sum(dim=1).mean(dim=(2, 3))  # (N, C)
        logits = self.attn_fc2(F.gelu(self.attn_fc1(pooled))).view(n, k, c)
        return (branches * torch.softmax(logits, dim=1)[..., None, None]).sum(dim=1)

    def s2(self, x: torch.Tensor) -> torch.Tensor:
        """The S2 attention output F(x) (before the zero-init residual BN)."""
        t1, t2, t3 = self.expand(x).chunk(3, dim=1)
        branches = torch.stack([spatial_shift(t1, 3), spatial_shift(t2, 2), t3], dim=1)
        return self.project(self.split_attention(branches))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out_bn(self.s2(x))
