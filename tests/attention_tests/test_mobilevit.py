import pytest
import torch
from support.attention import n_params
from torch import nn

from nas_attn import NasAttnError
from nas_attn.attention import create_attention


@pytest.mark.parametrize(("channels", "dim", "depth"), [(32, None, 2), (32, 48, 1)])
def test_mobilevit_parameter_count(channels: int, dim: int | None, depth: int) -> None:
    c, d = channels, dim or channels
    f = 2 * d
    layer = 4 * d * d + 2 * d * f + 9 * d + f  # qkv + proj + FFN (with biases) + 2 LayerNorms
    expected = 27 * c * c + 2 * c * d + depth * layer + 6 * c + 2 * d
    assert n_params(create_attention("mobilevit", channels, dim=dim, depth=depth)) == expected


class _Recorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        self.seen.append(t.detach().clone())
        return t


def test_mobilevit_unfolds_pixels_at_the_same_patch_position_into_one_sequence() -> None:
    module = create_attention("mobilevit", 8)
    recorder = _Recorder()
    module.transformer, module.norm = recorder, nn.Identity()
    z = torch.randn(1, 8, 4, 6)
    torch.testing.assert_close(module.global_representation(z), z)  # fold inverts unfold
    tokens = recorder.seen[0]
    assert tokens.shape == (4, 6, 8)  # p*p sequences of HW/p^2 tokens of width d
    torch.testing.assert_close(tokens[0], z[0, :, 0::2, 0::2].flatten(1).T)  # patch position (0, 0)
    torch.testing.assert_close(tokens[1], z[0, :, 0::2, 1::2].flatten(1).T)  # patch position (0, 1)


def test_mobilevit_handles_sizes_not_divisible_by_the_patch_and_is_identity_at_init() -> None:
    module = create_attention("mobilevit", 16)
    x = torch.randn(2, 16, 7, 5)
    assert torch.equal(module(x), x)
    with torch.no_grad():
        module.fusion[1].weight.fill_(1.0)
    assert module(x).shape == x.shape and not torch.allclose(module(x), x)


def test_mobilevit_heads_must_divide_dim() -> None:
    with pytest.raises(NasAttnError, match="use heads in"):
        create_attention("mobilevit", 30)
