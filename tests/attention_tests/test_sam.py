import pytest
import torch
from support.attention import bn, conv1x1, n_params, randomize

from nas_attn.attention import create_attention


@pytest.mark.parametrize("channels", [64, 256])
def test_sam_parameter_count(channels: int) -> None:
    assert n_params(create_attention("sam", channels)) == channels**2 + 2 * channels


def test_sam_is_pointwise_sigmoid_of_bn_conv() -> None:
    module = randomize(create_attention("sam", 8), seed=10)
    x = torch.randn(2, 8, 3, 3)
    with torch.no_grad():
        torch.testing.assert_close(module(x), x * torch.sigmoid(bn(conv1x1(x, module.conv), module.bn)))
    assert module.conv.kernel_size == (1, 1) and module.conv.bias is None
