"""MobileViT block.

Mehta, Rastegari, "MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision
Transformer", ICLR 2022, arXiv:2110.02178.

    local:  SiLU(BN(Conv_nxn(x)))  ->  Conv1x1 to d                       (n = 3)
    global: unfold p x p patches (p = 2): pixels at the same position inside every patch form a
            sequence of HW/p^2 tokens; L pre-norm transformer layers (MHSA + SiLU FFN of width
            2d), a final LayerNorm; fold back
    fuse:   SiLU(BN(Conv1x1 d -> C)), concat with x, SiLU(BN(Conv_nxn 2C -> C))

Parameters: 27C^2 + 2Cd + L(4d^2 + 2d*d_ffn + 9d + d_ffn) + 6C + 2d (convs before a BN carry
no bias). Defaults: d = C, L = 2, 4 heads, d_ffn = 2d, p = 2 (the paper's MobileViT-S uses
d = 1.5C and L = 2/4/3 per stage; d = C keeps the block neutral across stages).

Where we deviate: like the official ml-cvnets ``unfolding`` (and timm) we resize the map
bilinearly to the next multiple of p when p does not divide H or W, and back afterwards; popular
copies (patch 7, dim 512, convs without BN) require H % p == W % p == 0. In its network the block
output replaces x; in an attention slot we return ``x + F(x)`` with the last BN's gamma and beta
initialised to zero, so F(x) = SiLU(0) = 0 and the module is the identity at init.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from nas_attn.attention._common import require_positive
from nas_attn.attention._registry import AttentionInfo, integer, register_attention
from nas_attn.exceptions import NasAttnError


class _TransformerLayer(nn.Module):
    """Pre-norm transformer encoder layer: t + MHSA(LN t), then t + FFN(LN t)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.SiLU(), nn.Linear(ffn_dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        b, n, d = t.shape
        qkv = self.qkv(self.norm1(t)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (B, heads, N, d_head)
        t = t + self.proj(attn.transpose(1, 2).reshape(b, n, d))
        return t + self.ffn(self.norm2(t))


def _conv_bn_act(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU()
    )


@register_attention(
    AttentionInfo(
        name="mobilevit",
        kind="self",
        paper="Mehta & Rastegari, MobileViT, ICLR 2022, arXiv:2110.02178",
        uses_reduction=False,
        constraints=("transformer dim (default C) divisible by heads (default 4)",),
        defaults={"dim": None, "depth": 2, "heads": 4, "patch_size": 2, "kernel_size": 3},
        options={
            "dim": integer(1, 4096),
            "depth": integer(1, 12),
            "heads": integer(1, 64),
            "patch_size": integer(1, 8),
            "kernel_size": integer(1, 15, odd=True),
        },
    )
)
class MobileViTBlock(nn.Module):
    """Local conv, global transformer over unfolded patches, conv fusion; residual at init."""

    def __init__(
        self,
        channels: int,
        dim: int | None = None,
        depth: int = 2,
        heads: int = 4,
        patch_size: int = 2,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        d = channels if dim is None else dim
        require_positive("mobilevit", dim=d, depth=depth, heads=heads, patch_size=patch_size)
        if d % heads:
            allowed = [h for h in range(1, 17) if d % h == 0]
            raise NasAttnError(
                f"mobilevit: dim {d} must be divisible by heads={heads}; use heads in {allowed}"
            )
        self.patch = patch_size
        self.local = nn.Sequential(
            _conv_bn_act(channels, channels, kernel_size), nn.Conv2d(channels, d, 1, bias=False)
        )
        self.transformer = nn.Sequential(*(_TransformerLayer(d, heads, 2 * d) for _ in range(depth)))
        self.norm = nn.LayerNorm(d)
        self.proj = _conv_bn_act(d, channels, 1)
        self.fusion = _conv_bn_act(2 * channels, channels, kernel_size)
        fusion_bn = self.fusion[1]
        if isinstance(fusion_bn, nn.BatchNorm2d):  # zero-init last BN: F(x) = SiLU(0) = 0 at init
            nn.init.zeros_(fusion_bn.weight)
            nn.init.zeros_(fusion_bn.bias)

    def global_representation(self, z: torch.Tensor) -> torch.Tensor:
        """Unfold p x p patches, run the transformer, fold back (resizing if p does not divide H, W)."""
        n, d, h, w = z.shape
        p = self.patch
        nh, nw = -(-h // p), -(-w // p)
        resized = (nh * p, nw * p) != (h, w)
        if resized:
            z = F.interpolate(z, size=(nh * p, nw * p), mode="bilinear", align_corners=False)
        tokens = z.reshape(n, d, nh, p, nw, p).permute(0, 3, 5, 2, 4, 1).reshape(n * p * p, nh * nw, d)
        tokens = self.norm(self.transformer(tokens))
        z = tokens.reshape(n, p, p, nh, nw, d).permute(0, 5, 3, 1, 4, 2).reshape(n, d, nh * p, nw * p)
        if resized:
            z = F.interpolate(z, size=(h, w), mode="bilinear", align_corners=False)
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.proj(self.global_representation(self.local(x)))
        return x + self.fusion(torch.cat([x, z], dim=1))
