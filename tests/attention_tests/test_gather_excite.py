import pytest
import torch
from support.attention import n_params

from nas_attn import NasAttnError
from nas_attn.attention import create_attention


def test_ge_default_is_parameter_free_global_gather() -> None:
    module = create_attention("ge", 64)
    assert n_params(module) == 0
    x = torch.randn(2, 64, 5, 5)
    torch.testing.assert_close(module(x), x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True)))


def test_ge_minus_with_extent_2_gathers_2x2_windows_and_upsamples_nearest() -> None:
    module = create_attention("ge", 3, extent=2)
    x = torch.randn(1, 3, 5, 5)
    expected = torch.empty_like(x)
    for i in range(5):
        for j in range(5):
            bi, bj = (i // 2) * 2, (j // 2) * 2
            window = x[:, :, bi : bi + 2, bj : bj + 2]  # the last window is clipped
            expected[:, :, i, j] = x[:, :, i, j] * torch.sigmoid(window.mean(dim=(2, 3)))
    torch.testing.assert_close(module(x), expected)


def test_ge_plus_global_uses_a_full_size_depthwise_gather_and_an_mlp() -> None:
    channels, h, w = 32, 6, 5
    module = create_attention("ge", channels, variant="plus", feat_size=(h, w))
    hidden = channels // 16
    expected = channels * h * w + 2 * channels + 2 * channels * hidden + hidden + channels
    assert n_params(module) == expected
    assert module(torch.randn(2, channels, h, w)).shape == (2, channels, h, w)
    with pytest.raises(NasAttnError, match="feat_size"):
        module(torch.randn(2, channels, 4, 4))
    with pytest.raises(NasAttnError, match="needs feat_size"):
        create_attention("ge", channels, variant="plus")


def test_ge_plus_with_extent_uses_strided_depthwise_convs() -> None:
    module = create_attention("ge", 16, variant="plus", extent=4)
    convs = [m for m in module.gather.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.stride, c.groups) for c in convs] == [((2, 2), 16)] * 2
    assert module(torch.randn(2, 16, 7, 7)).shape == (2, 16, 7, 7)
    with pytest.raises(NasAttnError, match="power of 2"):
        create_attention("ge", 16, variant="plus", extent=3)
