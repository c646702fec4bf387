import pytest
import torch
from support.attention import bn, conv1x1, n_params, randomize

from nas_attn.attention import create_attention


@pytest.mark.parametrize("channels", [64, 128])
def test_nonlocal_parameter_count_and_half_bottleneck(channels: int) -> None:
    module = create_attention("nonlocal", channels)
    assert module.theta.out_channels == channels // 2
    assert n_params(module) == 2 * channels**2 + 9 * channels // 2  # 2C^2 + 4.5C


def test_nonlocal_embedded_gaussian_matches_hand_computation() -> None:
    module = randomize(create_attention("nonlocal", 8), seed=7)
    x = torch.randn(2, 8, 3, 4)
    theta, phi, g = (conv1x1(x, m).flatten(2) for m in (module.theta, module.phi, module.g))
    attn = torch.softmax(torch.einsum("nci,ncj->nij", theta, phi), dim=-1)  # unscaled, over j
    y = torch.einsum("nij,ncj->nci", attn, g).reshape(2, 4, 3, 4)
    with torch.no_grad():
        torch.testing.assert_close(module(x), x + bn(conv1x1(y, module.w_z), module.bn))


def test_nonlocal_bn_gamma_starts_at_zero_and_subsampling_works() -> None:
    module = create_attention("nonlocal", 32)
    assert torch.all(module.bn.weight == 0)
    x = torch.randn(2, 32, 8, 8)
    assert torch.equal(module(x), x)
    assert create_attention("nonlocal", 32, sub_sample=True)(x).shape == x.shape
