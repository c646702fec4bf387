import pytest
import torch
import torch.nn.functional as F
from support.attention import conv1x1, n_params, randomize

from nas_attn import NasAttnError
from nas_attn.attention import create_attention
from nas_attn.attention.s2 import spatial_shift


def _shift_by_hand(x: torch.Tensor, moves: list[tuple[str, int]]) -> torch.Tensor:
    """Group g of C/4 channels moved one pixel along 'h' or 'w' by +1/-1, vacated border kept."""
    out = x.clone()
    _, c, h, w = x.shape
    q = c // 4
    for g, (axis, step) in enumerate(moves):
        for ch in range(g * q, (g + 1) * q):
            for i in range(h):
                for j in range(w):
                    si, sj = (i - step, j) if axis == "h" else (i, j - step)
                    if 0 <= si < h and 0 <= sj < w:
                        out[:, ch, i, j] = x[:, ch, si, sj]
    return out


SHIFT1 = [("w", 1), ("w", -1), ("h", 1), ("h", -1)]
SHIFT2 = [("h", 1), ("h", -1), ("w", 1), ("w", -1)]


def test_spatial_shift_directions_on_a_known_tensor() -> None:
    x = torch.arange(3 * 4.0).view(1, 1, 3, 4).repeat(1, 4, 1, 1)
    s1 = spatial_shift(x, 3)
    assert s1[0, 0].tolist() == [[0, 0, 1, 2], [4, 4, 5, 6], [8, 8, 9, 10]]  # +W, column 0 kept
    assert s1[0, 1].tolist() == [[1, 2, 3, 3], [5, 6, 7, 7], [9, 10, 11, 11]]  # -W, last column kept
    assert s1[0, 2].tolist() == [[0, 1, 2, 3], [0, 1, 2, 3], [4, 5, 6, 7]]  # +H, row 0 kept
    assert s1[0, 3].tolist() == [[4, 5, 6, 7], [8, 9, 10, 11], [8, 9, 10, 11]]  # -H, last row kept
    torch.testing.assert_close(s1, _shift_by_hand(x, SHIFT1))
    torch.testing.assert_close(spatial_shift(x, 2), _shift_by_hand(x, SHIFT2))


def test_spatial_shift_is_out_of_place_and_differentiable() -> None:
    x = torch.randn(2, 8, 5, 6, requires_grad=True)
    before = x.detach().clone()
    y = spatial_shift(x, 3)
    assert torch.equal(x.detach(), before) and y.data_ptr() != x.data_ptr()
    y.sum().backward()
    assert x.grad is not None
    # +W group: column 0 feeds columns 0 and 1, the last column feeds nothing
    assert x.grad[0, 0, 0].tolist() == [2, 1, 1, 1, 1, 0]


@pytest.mark.parametrize("channels", [64, 96, 128])
def test_s2_parameter_count_and_any_channel_count(channels: int) -> None:
    module = create_attention("s2", channels)
    assert n_params(module) == 8 * channels**2 + 4 * channels + 2 * channels  # + zero-init BN
    x = torch.randn(2, channels, 5, 7)
    assert module(x).shape == x.shape  # copies hard-code a 512-channel split attention


def test_s2_matches_hand_computation() -> None:
    channels = 8
    module = randomize(create_attention("s2", channels), seed=2)
    x = torch.randn(2, channels, 4, 5)
    t1, t2, t3 = conv1x1(x, module.expand).chunk(3, dim=1)
    branches = [_shift_by_hand(t1, SHIFT1), _shift_by_hand(t2, SHIFT2), t3]
    pooled = sum(branches).mean(dim=(2, 3))
    hidden = F.gelu(pooled @ module.attn_fc1.weight.T)
    a = torch.softmax((hidden @ module.attn_fc2.weight.T).view(2, 3, channels), dim=1)
    mixed = sum(a[:, k, :, None, None] * branches[k] for k in range(3))
    torch.testing.assert_close(module.s2(x), conv1x1(mixed, module.project))


def test_s2_needs_channels_divisible_by_4() -> None:
    with pytest.raises(NasAttnError, match="divisible by 4"):
        create_attention("s2", 66)
