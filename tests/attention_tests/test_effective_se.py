import pytest
import torch
from support.attention import conv1x1, n_params, randomize

from nas_attn.attention import create_attention, get_attention_info


@pytest.mark.parametrize("channels", [64, 512])
def test_ese_parameter_count_has_no_reduction(channels: int) -> None:
    assert n_params(create_attention("ese", channels)) == channels**2 + channels
    assert not get_attention_info("ese").uses_reduction


def test_ese_is_hard_sigmoid_of_one_fc() -> None:
    module = randomize(create_attention("ese", 8), seed=13, scale=2.0)
    x = torch.randn(2, 8, 3, 3)
    t = conv1x1(x.mean(dim=(2, 3), keepdim=True), module.fc)
    gate = torch.clamp((t + 3) / 6, 0, 1)
    with torch.no_grad():
        torch.testing.assert_close(module(x), x * gate)
        assert not torch.allclose(module(x), x * torch.sigmoid(t))  # hard sigmoid, not sigmoid
