import pytest
import torch
import torch.nn.functional as F
from support.attention import bn, conv1x1, n_params, randomize

from nas_attn.attention import create_attention


@pytest.mark.parametrize(("channels", "reduction", "d"), [(64, 16, 32), (256, 4, 64)])
def test_sk_parameter_count(channels: int, reduction: int, d: int) -> None:
    module = create_attention("sk", channels, reduction)
    assert module.fc[0].out_channels == d  # d = max(C / r, 32)
    groups = 32
    expected = 18 * channels**2 // groups + 3 * channels * d + 6 * channels + 2 * d + 2 * channels
    assert n_params(module) == expected


def test_sk_branches_are_grouped_3x3_with_dilation_1_and_2() -> None:
    module = create_attention("sk", 64)
    convs = [b[0] for b in module.branches]
    assert [(c.kernel_size, c.dilation, c.groups) for c in convs] == [
        ((3, 3), (1, 1), 32),
        ((3, 3), (2, 2), 32),
    ]


def test_sk_matches_hand_computation() -> None:
    channels = 8
    module = randomize(create_attention("sk", channels, 2, groups=4, min_dim=4), seed=16)
    x = torch.randn(2, channels, 5, 5)
    u = [
        torch.relu(bn(F.conv2d(x, b[0].weight, padding=dil, dilation=dil, groups=4), b[1]))
        for b, dil in zip(module.branches, (1, 2), strict=True)
    ]
    z = torch.relu(bn(conv1x1((u[0] + u[1]).mean(dim=(2, 3), keepdim=True), module.fc[0]), module.fc[1]))
    a = torch.softmax(torch.stack([conv1x1(z, fc) for fc in module.select]), dim=0)
    out = a[0] * u[0] + a[1] * u[1]
    with torch.no_grad():
        torch.testing.assert_close(module(x), x + bn(out, module.out_bn))
