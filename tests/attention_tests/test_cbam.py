import pytest
import torch

from nas_attn.attention import create_attention


@pytest.mark.parametrize(("channels", "reduction"), [(64, 16), (256, 8)])
def test_cbam_parameter_count_matches_paper(channels: int, reduction: int) -> None:
    hidden = channels // reduction
    channel_part = 2 * channels * hidden + hidden + channels  # shared MLP with biases
    spatial_part = 7 * 7 * 2 + 2  # 7x7 conv over [max; mean] without bias, plus BN(1)
    module = create_attention("cbam", channels, reduction)
    assert sum(p.numel() for p in module.parameters()) == channel_part + spatial_part


def test_cbam_spatial_kernel_is_7_with_bn_and_no_conv_bias() -> None:
    module = create_attention("cbam", 64)
    assert module.spatial.conv.kernel_size == (7, 7)  # popular copies default to 49
    assert module.spatial.conv.bias is None
    assert isinstance(module.spatial.bn, torch.nn.BatchNorm2d)


def test_cbam_is_channel_then_spatial_without_extra_residual() -> None:
    torch.manual_seed(0)
    module = create_attention("cbam", 32, 8).eval()
    x = torch.randn(2, 32, 6, 6)
    mlp = module.channel.mlp
    mc = torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))
    x1 = x * mc[:, :, None, None]
    pooled = torch.cat([x1.amax(dim=1, keepdim=True), x1.mean(dim=1, keepdim=True)], dim=1)
    ms = torch.sigmoid(module.spatial.bn(module.spatial.conv(pooled)))
    expected = x1 * ms
    torch.testing.assert_close(module(x), expected)
    assert not torch.allclose(module(x), expected + x)  # no "out + residual" inside the module


def test_cbam_parts_are_registered_separately() -> None:
    x = torch.randn(1, 64, 4, 4)
    assert create_attention("cbam_channel", 64)(x).shape == x.shape
    assert create_attention("cbam_spatial", 64)(x).shape == x.shape
