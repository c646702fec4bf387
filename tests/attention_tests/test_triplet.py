import torch
import torch.nn.functional as F
from support.attention import bn, n_params, randomize

from nas_attn.attention import create_attention


def _gate(pooled: torch.Tensor, gate: torch.nn.Module) -> torch.Tensor:
    return torch.sigmoid(bn(F.conv2d(pooled, gate.conv.weight, padding=3), gate.bn))


def test_triplet_has_300_parameters_and_7x7_kernels() -> None:
    module = create_attention("triplet", 256)
    assert n_params(module) == 300
    assert all(
        g.conv.kernel_size == (7, 7) and g.conv.bias is None for g in (module.cw, module.hc, module.hw)
    )


def test_triplet_is_the_mean_of_three_rotated_branches() -> None:
    module = randomize(create_attention("triplet", 6), seed=4)
    x = torch.randn(2, 6, 5, 4)  # C, H, W all different, so a wrong rotation cannot pass
    # C-W branch: pool over H -> (N, 2, C, W) map
    g1 = _gate(torch.stack([x.amax(dim=2), x.mean(dim=2)], dim=1), module.cw)  # (N, 1, C, W)
    y1 = x * g1[:, 0, :, None, :]
    # C-H branch: pool over W -> (N, 2, H, C) map (the tensor is rotated to (N, W, H, C))
    pooled = torch.stack([x.amax(dim=3), x.mean(dim=3)], dim=1).transpose(2, 3)
    g2 = _gate(pooled, module.hc)  # (N, 1, H, C)
    y2 = x * g2[:, 0].transpose(1, 2)[:, :, :, None]
    # H-W branch: pool over C
    g3 = _gate(torch.stack([x.amax(dim=1), x.mean(dim=1)], dim=1), module.hw)
    y3 = x * g3
    with torch.no_grad():
        torch.testing.assert_close(module(x), (y1 + y2 + y3) / 3)
