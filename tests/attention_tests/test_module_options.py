"""Module options (issue #32): every module declares each constructor option a config may set,
with its valid values, and a value outside them is refused when an arch is loaded (one line
naming the stage, the option and what is allowed), never later in training."""

from __future__ import annotations

import inspect

import pytest

from nas_attn import NasAttnError
from nas_attn.attention import create_attention, get_attention_info, list_attentions
from nas_attn.attention._registry import _REGISTRY, SUPPLIED
from nas_attn.backbones import ArchConfig, build_model


def _keywords(name: str) -> set[str]:
    factory, _ = _REGISTRY[name]
    params = inspect.signature(factory).parameters.values()
    named = {p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD}
    return named - {"channels", "self"} - set(SUPPLIED)


@pytest.mark.parametrize("name", list_attentions())
def test_every_constructor_option_is_declared_and_its_default_is_valid(name: str) -> None:
    info = get_attention_info(name)
    assert set(info.options) == _keywords(name)
    for key, spec in info.options.items():
        default = info.defaults.get(key)
        if default is not None:
            assert spec.accepts(default), (name, key, default)


def _arch(module: str, options: dict[str, object]) -> dict[str, object]:
    return {"image_size": 16, "stages": {"layer1": {"module": module, "options": options}}}


BAD = [
    ("eca", {"gamma": 0}, "stages.layer1: eca option gamma: must be a number > 0 and <= 64, got 0"),
    ("eca", {"gamma": -1.5}, "eca option gamma: must be a number > 0"),
    ("eca", {"kernel_size": 0}, "eca option kernel_size: must be an odd integer in 1..63, got 0"),
    ("eca", {"beta": 1.5}, "eca option beta: must be an integer in -64..64, got 1.5"),
    ("cbam", {"kernel_size": 8}, "cbam option kernel_size: must be an odd integer in 1..31, got 8"),
    ("triplet", {"kernel_size": 999}, "triplet option kernel_size: must be an odd integer in 1..31"),
    ("bam", {"dilation": 0}, "bam option dilation: must be an integer in 1..16, got 0"),
    ("shuffle", {"groups": True}, "shuffle option groups: must be an integer in 1..512, got True"),
    ("ge", {"variant": "both"}, "ge option variant: must be one of 'minus', 'plus', got 'both'"),
    ("nonlocal", {"sub_sample": "yes"}, "nonlocal option sub_sample: must be true or false, got 'yes'"),
    ("simam", {"e_lambda": 5000.0}, "simam option e_lambda: must be a number > 0 and <= 1000, got 5000.0"),
    ("splat", {"radix": 100}, "splat option radix: must be an integer in 1..8, got 100"),
    ("sk", {"groups": 0}, "sk option groups: must be an integer in 1..1024, got 0"),
    ("eca", {"feat_size": 3}, "eca: feat_size is not an option (it comes from the stage's feature map)"),
    ("se", {"reduction": 4}, "se: reduction is not an option (it comes from the stage's reduction: field)"),
    ("sam", {"k": 3}, "sam takes no options; remove 'k'"),
]


@pytest.mark.parametrize(
    ("module", "options", "fragment"), BAD, ids=[f"{m}-{sorted(o)[0]}" for m, o, _ in BAD]
)
def test_an_option_outside_its_range_is_refused_at_load(
    module: str, options: dict[str, object], fragment: str
) -> None:
    with pytest.raises(NasAttnError) as info:
        ArchConfig.from_dict(_arch(module, options))
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_create_attention_checks_the_same_ranges() -> None:
    with pytest.raises(NasAttnError, match="eca option gamma: must be a number > 0"):
        create_attention("eca", 64, gamma=0)
    with pytest.raises(
        NasAttnError, match="simam option e_lambda: must be a number > 0 and <= 1000, got nan"
    ):
        create_attention("simam", 64, e_lambda=float("nan"))
    assert create_attention("eca", 64, gamma=3, beta=0) is not None


def test_options_inside_their_ranges_load_and_build() -> None:
    arch = ArchConfig.from_dict(_arch("eca", {"gamma": 2.5, "beta": 0, "kernel_size": 5}))
    model = build_model(arch)
    assert model is not None and arch.stages["layer1"].options["kernel_size"] == 5
