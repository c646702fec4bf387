import pytest
import torch

from nas_attn.attention import create_attention, get_attention_info


@pytest.mark.parametrize(("channels", "reduction"), [(64, 16), (128, 4), (512, 32)])
def test_se_parameter_count_matches_paper(channels: int, reduction: int) -> None:
    module = create_attention("se", channels, reduction)
    hidden = channels // reduction
    expected = 2 * channels * hidden + hidden + channels  # 2C^2/r + C/r + C
    assert sum(p.numel() for p in module.parameters()) == expected


def test_se_hidden_width_is_exact_not_rounded_to_8() -> None:
    # timm's SEModule rounds C/16 up to a multiple of 8 (64 -> 8); the paper uses C // r = 4.
    module = create_attention("se", 64, 16)
    assert module.fc1.out_channels == 4


def test_se_computes_sigmoid_gate_of_pooled_mlp() -> None:
    torch.manual_seed(0)
    module = create_attention("se", 32, 8).eval()
    x = torch.randn(2, 32, 5, 5)
    w1, b1 = module.fc1.weight.flatten(1), module.fc1.bias
    w2, b2 = module.fc2.weight.flatten(1), module.fc2.bias
    z = x.mean(dim=(2, 3))
    gate = torch.sigmoid(torch.relu(z @ w1.T + b1) @ w2.T + b2)
    torch.testing.assert_close(module(x), x * gate[:, :, None, None])


def test_se_info() -> None:
    info = get_attention_info("se")
    assert info.uses_reduction and info.kind == "channel" and "1709.01507" in info.paper
