import pytest
import torch
from support.attention import n_params, randomize

from nas_attn import NasAttnError
from nas_attn.attention import create_attention


@pytest.mark.parametrize(("channels", "feat"), [(64, (4, 4)), (128, (7, 5))])
def test_mhsa_parameter_count(channels: int, feat: tuple[int, int]) -> None:
    h, w = feat
    d = channels // 4
    expected = 3 * channels**2 + (2 * h + 2 * w - 2) * d + 2 * channels  # + zero-init BN
    assert n_params(create_attention("mhsa", channels, feat_size=feat)) == expected


def test_mhsa_needs_feat_size_and_rejects_another_input_size() -> None:
    with pytest.raises(NasAttnError, match="feat_size"):
        create_attention("mhsa", 64)
    module = create_attention("mhsa", 64, feat_size=(8, 8))
    with pytest.raises(NasAttnError, match=r"feat_size \(8, 8\) but the input is 4x4"):
        module(torch.randn(2, 64, 4, 4))


def test_mhsa_relative_logits_match_a_direct_loop() -> None:
    channels, (h, w) = 8, (3, 2)
    module = randomize(create_attention("mhsa", channels, feat_size=(h, w)), seed=6)
    x = torch.randn(1, channels, h, w, dtype=torch.float64)
    module = module.double()
    qkv = torch.einsum("oc,nchw->nohw", module.qkv.weight.flatten(1), x)[0]
    d = channels // 4
    out = torch.zeros(channels, h, w, dtype=torch.float64)
    positions = [(i, j) for i in range(h) for j in range(w)]
    for head in range(4):
        q, k, v = (qkv[part * channels + head * d : part * channels + (head + 1) * d] for part in range(3))
        for i, j in positions:
            qv = q[:, i, j] / d**0.5
            logits = torch.stack(
                [
                    qv @ k[:, a, b] + qv @ module.rel_h[a - i + h - 1] + qv @ module.rel_w[b - j + w - 1]
                    for a, b in positions
                ]
            )
            attn = torch.softmax(logits, dim=0)
            out[head * d : (head + 1) * d, i, j] = sum(
                p * v[:, a, b] for p, (a, b) in zip(attn, positions, strict=True)
            )
    with torch.no_grad():
        torch.testing.assert_close(module.attention(x)[0], out)


def test_mhsa_is_identity_at_init() -> None:
    module = create_attention("mhsa", 32, feat_size=(4, 4))
    x = torch.randn(2, 32, 4, 4)
    assert torch.equal(module(x), x)
