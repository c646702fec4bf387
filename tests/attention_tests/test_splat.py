import pytest
import torch
import torch.nn.functional as F
from support.attention import bn, conv1x1, n_params, randomize

from nas_attn.attention import create_attention, get_attention_info


@pytest.mark.parametrize(("channels", "inter"), [(64, 32), (256, 128)])
def test_splat_parameter_count(channels: int, inter: int) -> None:
    module = create_attention("splat", channels)  # paper reduction factor 4: inter = max(2C/4, 32)
    assert module.fc2.in_channels == inter
    expected = 9 * channels**2 + 3 * channels * inter + 3 * inter + 6 * channels + 2 * channels
    assert n_params(module) == expected


def test_splat_default_reduction_is_the_papers_factor_4() -> None:
    assert get_attention_info("splat").defaults["reduction"] == 4


def test_splat_radix2_matches_hand_computation() -> None:
    channels = 8
    module = randomize(create_attention("splat", channels), seed=14)
    x = torch.randn(2, channels, 4, 4)
    conv, conv_bn = module.conv[0], module.conv[1]
    u = torch.relu(bn(F.conv2d(x, conv.weight, padding=1, groups=2), conv_bn))
    u1, u2 = u[:, :channels], u[:, channels:]
    s = (u1 + u2).mean(dim=(2, 3), keepdim=True)
    z = torch.relu(bn(conv1x1(s, module.fc1[0]), module.fc1[1]))
    logits = conv1x1(z, module.fc2).view(2, 2, channels)
    a = torch.softmax(logits, dim=1)[..., None, None]  # softmax over the radix
    with torch.no_grad():
        torch.testing.assert_close(module.split_attention(x), a[:, 0] * u1 + a[:, 1] * u2)


def test_splat_radix1_uses_a_sigmoid() -> None:
    module = randomize(create_attention("splat", 8, radix=1), seed=15)
    x = torch.randn(2, 8, 3, 3)
    u = module.conv(x)
    z = module.fc1(u.mean(dim=(2, 3), keepdim=True))
    with torch.no_grad():
        torch.testing.assert_close(module.split_attention(x), u * torch.sigmoid(conv1x1(z, module.fc2)))
