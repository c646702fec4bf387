import pytest
import torch
import torch.nn.functional as F
from support.attention import bn, conv1x1, n_params, randomize

from nas_attn.attention import create_attention


@pytest.mark.parametrize("channels", [32, 64])
def test_parnet_parameter_count(channels: int) -> None:
    assert n_params(create_attention("parnet", channels)) == 11 * channels**2 + 7 * channels


def test_parnet_matches_hand_computation_with_bn_on_the_skip() -> None:
    module = randomize(create_attention("parnet", 8), seed=5)
    x = torch.randn(2, 8, 5, 5)
    skip = bn(x, module.bn_skip)
    gate = torch.sigmoid(conv1x1(skip.mean(dim=(2, 3), keepdim=True), module.sse))
    block = F.silu(
        bn(F.conv2d(x, module.conv3.weight, padding=1), module.bn3)
        + bn(F.conv2d(x, module.conv1.weight), module.bn1)
        + skip * gate
    )
    with torch.no_grad():
        torch.testing.assert_close(module(x), x + block)
    assert isinstance(module.bn_skip, torch.nn.BatchNorm2d)


def test_parnet_branch_bns_start_at_zero() -> None:
    module = create_attention("parnet", 16)
    for layer in (module.bn3, module.bn1, module.bn_skip):
        assert torch.all(layer.weight == 0)
    x = torch.randn(2, 16, 4, 4)
    assert torch.equal(module(x), x)
