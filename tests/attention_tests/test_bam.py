import pytest
import torch
from support.attention import bn, conv1x1, n_params, randomize

from nas_attn.attention import create_attention, get_attention_info


@pytest.mark.parametrize(("channels", "reduction"), [(64, 16), (256, 8)])
def test_bam_parameter_count_matches_paper(channels: int, reduction: int) -> None:
    h = channels // reduction
    # paper: ~3C^2/r + 18(C/r)^2; exact with the FC biases and the BNs of both branches
    expected = 3 * channels * h + 18 * h * h + 8 * h + 3 * channels + 2
    assert n_params(create_attention("bam", channels, reduction)) == expected


def test_bam_adds_channel_and_spatial_maps_before_the_sigmoid() -> None:
    module = randomize(create_attention("bam", 32, 4), seed=1)
    x = torch.randn(2, 32, 9, 9)
    cg, sg = module.channel_gate, module.spatial_gate
    # channel branch: BN(W1 ReLU(W0 GAP + b0) + b1)
    mc = bn(conv1x1(torch.relu(conv1x1(x.mean(dim=(2, 3), keepdim=True), cg[0])), cg[2]), cg[3])
    # spatial branch: 1x1 -> BN ReLU -> (3x3 d4 -> BN ReLU) x2 -> 1x1 -> BN
    t = torch.relu(bn(conv1x1(x, sg[0]), sg[1]))
    for i in (3, 6):
        t = torch.relu(bn(torch.nn.functional.conv2d(t, sg[i].weight, padding=4, dilation=4), sg[i + 1]))
    ms = bn(conv1x1(t, sg[9]), sg[10])
    with torch.no_grad():
        y = module(x)
    torch.testing.assert_close(y, x * (1 + torch.sigmoid(mc + ms)))
    assert not torch.allclose(y, x * (1 + torch.sigmoid(mc * ms)), atol=1e-3)  # official-code bug


def test_bam_dilated_convs_keep_the_map_size_and_mlp_has_one_hidden_layer() -> None:
    module = create_attention("bam", 64)
    dilated = [m for m in module.spatial_gate if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert [(m.dilation, m.padding) for m in dilated] == [((4, 4), (4, 4))] * 2
    assert sum(isinstance(m, torch.nn.Conv2d) for m in module.channel_gate) == 2
    for size in (4, 7, 16):  # copies with pad 1 / dilation 2 only work at 7x7
        assert module.spatial_gate(torch.randn(2, 64, size, size)).shape == (2, 1, size, size)


def test_bam_is_residual_gate_between_one_and_two_times_x() -> None:
    torch.manual_seed(0)
    module = create_attention("bam", 64).train()
    x = torch.randn(2, 64, 8, 8).abs() + 0.1
    ratio = module(x) / x
    assert ratio.min() > 1.0 and ratio.max() < 2.0
    assert get_attention_info("bam").uses_reduction
