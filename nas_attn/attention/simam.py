"""SimAM: a simple, parameter-free attention module.

Yang, Zhang, Li, Xie, "SimAM: A Simple, Parameter-Free Attention Module for Convolutional Neural
Networks", ICML 2021 (PMLR v139).

Per channel, with n = HW - 1, mu the spatial mean and lambda = 1e-4:

    d = (x - mu)^2;  v = sum_HW(d) / n;  E_inv = d / (4 (v + lambda)) + 0.5;  y = x * sigmoid(E_inv)

E_inv is the inverse of the minimal energy of each neuron (paper Eq. 5); the module has no
parameters. lambda = 1e-4 is the paper's default and its CIFAR value (the official ImageNet
command uses 0.1: pass ``e_lambda=0.1``). Popular copies match the paper.

Placement: the official ResNets put SimAM after conv2, *before* bn2; our slot is after the last
BN (the SE position), where it gates the normalised features the same way. It needs at least two
pixels (n = HW - 1 > 0); a 1x1 map raises a NasAttnError.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention._registry import AttentionInfo, number, register_attention
from nas_attn.exceptions import NasAttnError


@register_attention(
    AttentionInfo(
        name="simam",
        kind="channel+spatial",
        paper="Yang et al., SimAM: A Simple, Parameter-Free Attention Module for CNNs, ICML 2021 (PMLR v139)",
        uses_reduction=False,
        constraints=("spatial size H*W >= 2 (the energy uses n = HW - 1)",),
        defaults={"e_lambda": 1e-4},
        min_pixels=2,
        options={"e_lambda": number(0, 1000, low_open=True)},
    )
)
class SimAM(nn.Module):
    """Full 3-D weights from the closed-form neuron energy; no parameters."""

    def __init__(self, channels: int, e_lambda: float = 1e-4) -> None:
        super().__init__()
        if not e_lambda > 0:
            raise NasAttnError(f"simam: e_lambda must be > 0, got {e_lambda}")
        self.e_lambda = float(e_lambda)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        n = h * w - 1
        if n < 1:
            raise NasAttnError(f"simam: needs a spatial size of at least 2 pixels, got {h}x{w}")
        d = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
        v = d.sum(dim=(2, 3), keepdim=True) / n
        return x * torch.sigmoid(d / (4 * (v + self.e_lambda)) + 0.5)
