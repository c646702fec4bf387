import pytest
import torch
from support.attention import n_params, randomize

from nas_attn import NasAttnError
from nas_attn.attention import create_attention


@pytest.mark.parametrize("channels", [64, 128])
def test_cot_parameter_count(channels: int) -> None:
    c, a = channels, max(channels // 2, 32)
    key = 9 * c * c // 4 + 2 * c  # 3x3 conv, groups 4, + BN
    value = c * c + 2 * c  # 1x1 conv + BN
    embed = 2 * c * (c // 2) + c + (c // 2) * (9 * c // 8) + 9 * c // 8 + 2 * (9 * c // 8)  # + BN, GN
    fuse = c * a + a + 2 * a + a * 2 * c + 2 * c  # SK-style radix-2 attention
    expected = key + value + embed + 2 * c + fuse + 2 * c  # + BN after aggregation, zero-init BN
    assert n_params(create_attention("cot", channels)) == expected


def test_cot_local_aggregation_matches_a_direct_loop() -> None:
    module = create_attention("cot", 16)
    heads, k, h, w = 2, 3, 4, 5
    v = torch.randn(1, 16, h, w)
    a = torch.randn(1, heads * k * k, h, w)
    expected = torch.zeros_like(v)
    for c in range(16):
        head = c % heads
        for i in range(h):
            for j in range(w):
                total = torch.tensor(0.0)
                for di in range(k):
                    for dj in range(k):
                        si, sj = i + di - 1, j + dj - 1
                        if 0 <= si < h and 0 <= sj < w:  # zero padding outside the map
                            total = total + a[0, head * k * k + di * k + dj, i, j] * v[0, c, si, sj]
                expected[0, c, i, j] = total
    torch.testing.assert_close(module.local_aggregation(v, a), expected)


def test_cot_aggregation_is_local_not_global() -> None:
    module = create_attention("cot", 16)
    v, a = torch.randn(1, 16, 6, 6), torch.randn(1, 18, 6, 6)
    moved = v.clone()
    moved[..., 5, 5] += 10.0  # far outside the 3x3 window of pixel (0, 0)
    out, out_moved = module.local_aggregation(v, a), module.local_aggregation(moved, a)
    torch.testing.assert_close(out[..., 0, 0], out_moved[..., 0, 0])
    assert not torch.allclose(out[..., 4, 4], out_moved[..., 4, 4])


def test_cot_fuses_static_and_dynamic_context_with_softmax_weights() -> None:
    module = randomize(create_attention("cot", 16), seed=17)
    x = torch.randn(2, 16, 5, 5)
    with torch.no_grad():
        k1 = module.key_embed(x)
        k2 = torch.nn.functional.silu(
            module.dyn_bn(
                module.local_aggregation(module.value_embed(x), module.attn_embed(torch.cat([x, k1], 1)))
            )
        )
        logits = module.fuse((k1 + k2).mean(dim=(2, 3), keepdim=True)).view(2, 2, 16, 1, 1)
        w = torch.softmax(logits, dim=1)
        torch.testing.assert_close(module.contextual(x), w[:, 0] * k2 + w[:, 1] * k1)


def test_cot_needs_channels_divisible_by_8() -> None:
    with pytest.raises(NasAttnError, match="divisible by 8"):
        create_attention("cot", 60)
