import pytest
import torch
from support.attention import conv1x1, n_params, randomize

from nas_attn import NasAttnError
from nas_attn.attention import create_attention, get_attention_info


@pytest.mark.parametrize(("channels", "context"), [(64, 32), (128, 128)])
def test_cross_parameter_count(channels: int, context: int) -> None:
    module = create_attention("cross", channels, context_channels=context)
    assert n_params(module) == 2 * channels**2 + 2 * channels * context + channels + 1
    if context == channels:
        assert n_params(module) == 4 * channels**2 + channels + 1


def test_cross_is_stage_out_only_and_needs_context_channels() -> None:
    info = get_attention_info("cross")
    assert info.positions == ("stage_out",) and info.needs_context and info.kind == "cross"
    with pytest.raises(NasAttnError, match="context_channels"):
        create_attention("cross", 64)


def test_cross_uses_the_context_once_gamma_is_nonzero() -> None:
    torch.manual_seed(0)
    module = create_attention("cross", 64, context_channels=32)
    x, c1, c2 = torch.randn(2, 64, 4, 4), torch.randn(2, 32, 8, 8), torch.randn(2, 32, 8, 8)
    assert torch.equal(module(x, c1), x) and torch.equal(module(x, c2), x)  # gamma = 0
    with torch.no_grad():
        module.gamma.fill_(1.0)
        assert not torch.allclose(module(x, c1), module(x, c2))
        assert not torch.allclose(module(x, c1), x)


def test_cross_attention_matches_hand_computation() -> None:
    channels, ctx_channels, heads = 16, 8, 8
    module = randomize(create_attention("cross", channels, context_channels=ctx_channels), seed=9)
    x, context = torch.randn(1, channels, 2, 3), torch.randn(1, ctx_channels, 4, 5)
    q = conv1x1(x, module.q)[0].flatten(1)  # (C, 6)
    k, v = (conv1x1(context, m)[0].flatten(1) for m in (module.k, module.v))  # (C, 20)
    d = channels // heads
    out = torch.zeros(channels, 6)
    for hd in range(heads):
        s = slice(hd * d, (hd + 1) * d)
        attn = torch.softmax(q[s].T @ k[s] / d**0.5, dim=-1)  # (6, 20), over context positions
        out[s] = (attn @ v[s].T).T
    expected = x + module.gamma * conv1x1(out.view(1, channels, 2, 3), module.proj)
    with torch.no_grad():
        torch.testing.assert_close(module(x, context), expected)


def test_cross_rejects_a_context_with_wrong_channels() -> None:
    module = create_attention("cross", 64, context_channels=32)
    with pytest.raises(NasAttnError, match="context must be"):
        module(torch.randn(2, 64, 4, 4), torch.randn(2, 64, 8, 8))
