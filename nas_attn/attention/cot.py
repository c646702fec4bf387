"""Contextual Transformer (CoT) block.

Li, Yao, Pan, Mei, "Contextual Transformer Networks for Visual Recognition", TPAMI 2022,
arXiv:2107.12292.

    K1 = ReLU(BN(GroupConv_kxk(x, groups=4)))                        static context
    V  = BN(Conv1x1(x))
    A  = GN(W_delta ReLU(BN(W_theta [x; K1])))      2C -> C/2 -> k^2 C/8, GroupNorm with C/8 groups
    K2 = Swish(BN(local_k x k_aggregation(V, A)))                    dynamic context
    F  = a_1 * K2 + a_2 * K1,   (a_1, a_2) = softmax_radix(SK-style attention on GAP(K1 + K2))

A holds one k x k weight map per head of 8 channels (``share_planes = 8``); channel c uses head
c mod (C/8), the official kernel's layout. The SK fusion MLP is C -> max(2C/4, 32) -> 2C with
BN + ReLU, the hidden widths (C/2 and 2C/4) as in the official release.

Where we deviate: the official local aggregation is a CuPy kernel; we compute the same k x k
*local* weighted sum with ``unfold`` (pure PyTorch). Popular simplified copies replace it by a
mean over k^2 plus a *global* softmax over HW and drop the SK fusion; we follow the paper.
CoT replaces the 3x3 conv of a bottleneck; in an attention slot we return ``x + BN0(F(x))``
with a zero-initialised BN (our addition: the identity at init, 2C extra parameters, see
``_common``). Needs C % 8 == 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_attn.attention._common import require_divisible, require_positive, zero_init_bn
from nas_attn.attention._registry import AttentionInfo, integer, register_attention
from nas_attn.exceptions import NasAttnError

_SHARE = 8  # channels sharing one local attention map (the paper's heads are C / 8)


@register_attention(
    AttentionInfo(
        name="cot",
        kind="conv",
        paper=(
            "Li et al., Contextual Transformer Networks for Visual Recognition, TPAMI 2022, arXiv:2107.12292"
        ),
        uses_reduction=False,
        constraints=(
            "channels divisible by 8 (heads of 8 channels, key conv groups=4)",
            "training needs batch size > 1 (BN after global pooling)",
        ),
        defaults={"kernel_size": 3},
        options={"kernel_size": integer(1, 15, odd=True)},
    )
)
class ContextualTransformer(nn.Module):
    """Static (k x k conv) and dynamic (local attention) context fused by a radix-2 softmax."""

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        require_positive("cot", kernel_size=kernel_size)
        if kernel_size % 2 == 0:
            raise NasAttnError(f"cot: kernel_size must be odd, got {kernel_size}")
        require_divisible("cot", channels, _SHARE, "8", "CoT works on heads of 8 channels")
        self.k = kernel_size
        heads = channels // _SHARE
        self.key_embed = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=4, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        )
        self.value_embed = nn.Sequential(
            nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels)
        )
        self.attn_embed = nn.Sequential(
            nn.Conv2d(2 * channels, channels // 2, 1, bias=False),
            nn.BatchNorm2d(channels // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // 2, kernel_size**2 * heads, 1, bias=True),
            nn.GroupNorm(heads, kernel_size**2 * heads),
        )
        self.dyn_bn = nn.BatchNorm2d(channels)
        attn = max(channels * 2 // 4, 32)
        self.fuse = nn.Sequential(
            nn.Conv2d(channels, attn, 1, bias=True),
            nn.BatchNorm2d(attn),
            nn.ReLU(inplace=True),
            nn.Conv2d(attn, 2 * channels, 1, bias=True),
        )
        self.out_bn = zero_init_bn(channels)

    def local_aggregation(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """out[c, p] = sum_j a[c mod heads, j, p] * v[c, p + offset_j] over the k x k window."""
        n, c, h, w = v.shape
        heads = c // _SHARE
        patches = F.unfold(v, self.k, padding=self.k // 2)  # (N, C*k*k, H*W), zero padded
        patches = patches.view(n, _SHARE, heads, self.k * self.k, h * w)
        weights = a.view(n, 1, heads, self.k * self.k, h * w)
        return (patches * weights).sum(dim=3).view(n, c, h, w)

    def contextual(self, x: torch.Tensor) -> torch.Tensor:
        """The CoT block output F(x) (before the zero-init residual BN)."""
        k1 = self.key_embed(x)
        a = self.attn_embed(torch.cat([x, k1], dim=1))
        k2 = F.silu(self.dyn_bn(self.local_aggregation(self.value_embed(x), a)))
        both = torch.stack([k2, k1], dim=1)  # (N, 2, C, H, W)
        logits = self.fuse(both.sum(dim=1).mean(dim=(2, 3), keepdim=True))
        weights = torch.softmax(logits.view(x.shape[0], 2, x.shape[1], 1, 1), dim=1)
        return (both * weights).sum(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out_bn(self.contextual(x))
