import pytest
import torch
from support.attention import conv1x1, n_params, randomize

from nas_attn import NasAttnError
from nas_attn.attention import create_attention


@pytest.mark.parametrize("channels", [64, 128])
def test_sagan_parameter_count(channels: int) -> None:
    module = create_attention("sagan", channels)
    assert module.f.out_channels == channels // 8
    assert n_params(module) == channels**2 // 2 + 1  # four C x C/8 maps + gamma


def test_sagan_gamma_zero_is_exact_identity() -> None:
    module = create_attention("sagan", 64)
    assert module.gamma.item() == 0.0
    x = torch.randn(2, 64, 5, 5)
    assert torch.equal(module(x), x)


def test_sagan_attention_matches_the_paper_formula() -> None:
    module = randomize(create_attention("sagan", 16), seed=8)
    with torch.no_grad():
        module.gamma.fill_(0.7)
    x = torch.randn(1, 16, 3, 3)
    f, g, h = (conv1x1(x, m)[0].flatten(1) for m in (module.f, module.g, module.h))  # (C/8, N)
    n = f.shape[1]
    o = torch.zeros(2, n)
    for j in range(n):  # beta_{j,i} = softmax_i(f(x_i) . g(x_j)); o_j = sum_i beta_{j,i} h(x_i)
        beta = torch.softmax(torch.stack([f[:, i] @ g[:, j] for i in range(n)]), dim=0)
        o[:, j] = sum(beta[i] * h[:, i] for i in range(n))
    expected = x + 0.7 * conv1x1(o.view(1, 2, 3, 3), module.v)
    with torch.no_grad():
        torch.testing.assert_close(module(x), expected)


def test_sagan_needs_eight_channels() -> None:
    with pytest.raises(NasAttnError, match="at least 8 channels"):
        create_attention("sagan", 4)
