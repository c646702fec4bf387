import pytest
import torch
from support.attention import n_params, randomize

from nas_attn import NasAttnError
from nas_attn.attention import create_attention, get_attention_info
from nas_attn.attention.shuffle import channel_shuffle


@pytest.mark.parametrize(("channels", "groups"), [(256, 64), (512, 64), (64, 8), (96, 4)])
def test_shuffle_parameter_count_is_3c_over_g(channels: int, groups: int) -> None:
    assert n_params(create_attention("shuffle", channels, groups=groups)) == 3 * channels // groups


def test_shuffle_keeps_paper_default_g64_and_explains_the_constraint() -> None:
    assert get_attention_info("shuffle").defaults["groups"] == 64
    with pytest.raises(NasAttnError) as err:
        create_attention("shuffle", 64)
    assert "divisible by 2*groups=128" in str(err.value)
    assert "use groups in [1, 2, 4, 8, 16, 32]" in str(err.value)
    with pytest.raises(NasAttnError, match="2\\*groups=16"):
        create_attention("shuffle", 72, groups=8)


def test_channel_shuffle_interleaves_the_two_halves() -> None:
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


def test_shuffle_attention_matches_hand_computation() -> None:
    channels, groups = 16, 2
    module = randomize(create_attention("shuffle", channels, groups=groups), seed=3)
    x = torch.randn(2, channels, 5, 4)
    half = channels // (2 * groups)
    cw, cb = module.c_weight.flatten(), module.c_bias.flatten()
    sw, sb = module.s_weight.flatten(), module.s_bias.flatten()
    gw, gb = module.gn.weight, module.gn.bias
    parts = []
    for g in range(groups):
        xg = x[:, g * 2 * half : (g + 1) * 2 * half]
        for j in range(half):  # channel half: sigmoid(w * GAP + b)
            x0 = xg[:, j]
            parts.append(x0 * torch.sigmoid(cw[j] * x0.mean(dim=(1, 2), keepdim=True) + cb[j]))
        for j in range(half):  # spatial half: sigmoid(w * GN(x1) + b), GN = per-channel norm
            x1 = xg[:, half + j]
            mu = x1.mean(dim=(1, 2), keepdim=True)
            var = x1.var(dim=(1, 2), unbiased=False, keepdim=True)
            gn = (x1 - mu) / torch.sqrt(var + module.gn.eps) * gw[j] + gb[j]
            parts.append(x1 * torch.sigmoid(sw[j] * gn + sb[j]))
    stacked = torch.stack(parts, dim=1)
    perm = [(o % 2) * (channels // 2) + o // 2 for o in range(channels)]
    torch.testing.assert_close(module(x), stacked[:, perm])


def test_shuffle_init_is_weight_zero_bias_one() -> None:
    module = create_attention("shuffle", 128)
    assert torch.all(module.c_weight == 0) and torch.all(module.c_bias == 1)
    assert torch.all(module.s_weight == 0) and torch.all(module.s_bias == 1)
