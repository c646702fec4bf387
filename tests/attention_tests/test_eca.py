import pytest
import torch

from nas_attn import NasAttnError
from nas_attn.attention import create_attention, get_attention_info
from nas_attn.attention.eca import eca_kernel_size


@pytest.mark.parametrize(("channels", "k"), [(64, 3), (128, 5), (256, 5), (512, 5), (1024, 5), (2048, 7)])
def test_eca_adaptive_kernel_size_follows_paper(channels: int, k: int) -> None:
    assert eca_kernel_size(channels) == k
    module = create_attention("eca", channels)
    assert module.conv.kernel_size == (k,)
    assert sum(p.numel() for p in module.parameters()) == k  # no bias, k weights


def test_eca_ignores_reduction_and_has_no_bias() -> None:
    assert not get_attention_info("eca").uses_reduction
    module = create_attention("eca", 64, reduction=4)
    assert module.conv.bias is None


def test_eca_computes_conv1d_gate_across_channels() -> None:
    torch.manual_seed(0)
    module = create_attention("eca", 16, kernel_size=3).eval()
    x = torch.randn(2, 16, 4, 4)
    w = module.conv.weight.flatten()
    pooled = torch.nn.functional.pad(x.mean(dim=(2, 3)), (1, 1))
    conv = w[0] * pooled[:, :-2] + w[1] * pooled[:, 1:-1] + w[2] * pooled[:, 2:]
    torch.testing.assert_close(module(x), x * torch.sigmoid(conv)[:, :, None, None])


def test_eca_even_kernel_rejected() -> None:
    with pytest.raises(NasAttnError, match="odd"):
        create_attention("eca", 64, kernel_size=4)
