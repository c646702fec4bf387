import pytest
import torch
from torch import nn

from nas_attn import NasAttnError
from nas_attn.attention import create_attention, get_attention_info, reduction_problem


def test_unknown_name_lists_available_modules() -> None:
    with pytest.raises(NasAttnError) as err:
        create_attention("squeeze", 64)
    message = str(err.value)
    assert "unknown attention module 'squeeze'" in message
    for name in ("se", "eca", "cbam", "none"):
        assert name in message


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        get_attention_info("nope")


def test_none_is_identity() -> None:
    module = create_attention("none", 64)
    x = torch.randn(2, 64, 4, 4)
    assert isinstance(module, nn.Identity)
    assert torch.equal(module(x), x)


@pytest.mark.parametrize("reduction", [0, -4, 65])
def test_impossible_reduction_is_rejected_with_the_allowed_range(reduction: int) -> None:
    with pytest.raises(NasAttnError, match="reduction"):
        create_attention("se", 64, reduction)


def test_reduction_problem_is_the_one_message_for_ratios_too_large() -> None:
    assert reduction_problem("stages.layer1.reduction", [4, 64], 64) is None
    assert reduction_problem("stages.layer1.reduction", [4, 128, 256], 64) == (
        "stages.layer1.reduction: [128, 256] exceed 64 channels; use a ratio <= 64"
    )
    with pytest.raises(NasAttnError) as err:
        create_attention("se", 64, 65)
    assert str(err.value) == reduction_problem("se.reduction", [65], 64)
