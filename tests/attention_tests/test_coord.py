import pytest
import torch
import torch.nn.functional as F
from support.attention import bn, conv1x1, n_params, randomize

from nas_attn.attention import create_attention, get_attention_info
from nas_attn.attention.coord import coord_mip


@pytest.mark.parametrize(("channels", "mip"), [(64, 8), (256, 8), (512, 16), (1024, 32)])
def test_coord_mip_is_max_8_c_over_32(channels: int, mip: int) -> None:
    assert coord_mip(channels) == mip
    assert get_attention_info("coord").defaults["reduction"] == 32
    module = create_attention("coord", channels)
    assert module.conv1.out_channels == mip
    assert n_params(module) == 3 * channels * mip + 3 * mip + 2 * channels


def test_coord_matches_hand_computation_on_a_non_square_map() -> None:
    module = randomize(create_attention("coord", 16, 2), seed=12)
    x = torch.randn(2, 16, 5, 7)
    z_h = x.mean(dim=3)  # (N, C, H)
    z_w = x.mean(dim=2)  # (N, C, W)
    f = F.hardswish(bn(conv1x1(torch.cat([z_h, z_w], dim=2)[..., None], module.conv1), module.bn1))
    f_h, f_w = f[:, :, :5], f[:, :, 5:]
    a_h = torch.sigmoid(conv1x1(f_h, module.conv_h))[:, :, :, 0]  # (N, C, H)
    a_w = torch.sigmoid(conv1x1(f_w, module.conv_w))[:, :, :, 0]  # (N, C, W)
    with torch.no_grad():
        torch.testing.assert_close(module(x), x * a_h[:, :, :, None] * a_w[:, :, None, :])
