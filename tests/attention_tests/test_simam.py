import math

import pytest
import torch

from nas_attn import NasAttnError
from nas_attn.attention import create_attention


def _simam_by_hand(x: torch.Tensor, lam: float) -> torch.Tensor:
    out = torch.empty_like(x)
    n_img, channels, h, w = x.shape
    n = h * w - 1
    for i in range(n_img):
        for c in range(channels):
            vals = x[i, c].flatten().tolist()
            mu = sum(vals) / len(vals)
            var = sum((v - mu) ** 2 for v in vals) / n
            for p, v in enumerate(vals):
                e_inv = (v - mu) ** 2 / (4 * (var + lam)) + 0.5
                out[i, c, p // w, p % w] = v / (1 + math.exp(-e_inv))
    return out


@pytest.mark.parametrize("lam", [1e-4, 0.1])
def test_simam_matches_the_energy_formula(lam: float) -> None:
    x = torch.randn(2, 3, 3, 4, dtype=torch.float64)
    module = create_attention("simam", 3, e_lambda=lam)
    torch.testing.assert_close(module(x), _simam_by_hand(x, lam))


def test_simam_is_parameter_free_with_paper_default_lambda() -> None:
    module = create_attention("simam", 64)
    assert sum(p.numel() for p in module.parameters()) == 0
    assert module.e_lambda == 1e-4


def test_simam_rejects_a_single_pixel() -> None:
    with pytest.raises(NasAttnError, match="at least 2 pixels"):
        create_attention("simam", 8)(torch.randn(2, 8, 1, 1))
