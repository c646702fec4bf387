import pytest
import torch
import torch.nn.functional as F
from support.attention import conv1x1, n_params, randomize

from nas_attn import NasAttnError
from nas_attn.attention import create_attention, get_attention_info


@pytest.mark.parametrize(("channels", "reduction"), [(64, 16), (256, 4)])
def test_gc_parameter_count(channels: int, reduction: int) -> None:
    h = channels // reduction
    expected = 2 * channels * h + 3 * h + 2 * channels + 1
    assert n_params(create_attention("gc", channels, reduction)) == expected


def _transform_by_hand(x: torch.Tensor, module: torch.nn.Module) -> torch.Tensor:
    n = x.shape[0]
    weights = torch.softmax(conv1x1(x, module.attn_pool).view(n, -1), dim=-1)  # (N, HW)
    context = torch.einsum("ncp,np->nc", x.flatten(2), weights)[:, :, None, None]
    conv1, norm, _, conv2 = module.transform
    t = conv1x1(context, conv1)
    t = F.layer_norm(t, t.shape[1:], norm.weight, norm.bias, norm.eps)
    return conv1x1(torch.relu(t), conv2)


@pytest.mark.parametrize("fusion", ["add", "scale"])
def test_gc_additive_and_scale_fusion(fusion: str) -> None:
    module = randomize(create_attention("gc", 32, 4, fusion=fusion), seed=11)
    x = torch.randn(2, 32, 4, 5)
    t = _transform_by_hand(x, module)
    expected = x + t if fusion == "add" else x * torch.sigmoid(t)
    with torch.no_grad():
        torch.testing.assert_close(module(x), expected)


def test_gc_defaults_to_the_papers_additive_fusion_identity_at_init() -> None:
    info = get_attention_info("gc")
    assert info.defaults == {"reduction": 16, "fusion": "add"}
    x = torch.randn(2, 64, 4, 4)
    assert torch.equal(create_attention("gc", 64)(x), x)
    assert not torch.allclose(create_attention("gc", 64, fusion="scale")(x), x)
    with pytest.raises(NasAttnError, match="fusion"):
        create_attention("gc", 64, fusion="mul")
