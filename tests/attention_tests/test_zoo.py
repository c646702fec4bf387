"""Every registered module x ResNet stage widths x small spatial sizes: the common contract."""

from __future__ import annotations

import copy
import inspect
import re
import sys
from functools import cache

import pytest
import torch
from torch import nn

from nas_attn import NasAttnError
from nas_attn.attention import create_attention, get_attention_info, list_attentions

CHANNELS = (64, 128, 256, 512)
SIZES = (4, 7, 8, 16)
REPLACING_KINDS = {"self", "cross", "conv"}
# Modules that replace (or add to) the features rather than gate them: identity at init.
NEAR_IDENTITY = {
    "sk",
    "cot",
    "mobilevit",
    "s2",
    "parnet",
    "mhsa",
    "nonlocal",
    "sagan",
    "cross",
    "splat",
    "gc",
}
NEW_MODULES = NEAR_IDENTITY | {"bam", "simam", "shuffle", "triplet", "sam", "coord", "ge", "ese"}


def _kwargs(name: str, channels: int, size: int) -> dict[str, object]:
    info = get_attention_info(name)
    kwargs: dict[str, object] = {}
    if info.needs_feat_size:
        kwargs["feat_size"] = (size, size)
    if info.needs_context:
        kwargs["context_channels"] = channels // 2
    return kwargs


def _expected_error(name: str, channels: int) -> str | None:
    """Regex of the NasAttnError a combination must raise, or None if it must work."""
    if name == "shuffle" and channels % 128:  # paper default G = 64 needs C % 2G == 0
        return r"shuffle: channels \d+ must be divisible by 2\*groups=128; use groups in \[.*\b8\b.*\]"
    return None


@cache
def _build(name: str, channels: int, feat: int) -> nn.Module | NasAttnError:
    """Built once per (name, C) and, for feat_size modules, per size (``feat``; else 0)."""
    torch.manual_seed(0)
    try:
        return create_attention(name, channels, **_kwargs(name, channels, feat))
    except NasAttnError as exc:
        return exc


def _inputs(name: str, channels: int, size: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(channels + size)
    x = torch.randn(2, channels, size, size, generator=gen, requires_grad=True)
    if get_attention_info(name).needs_context:
        return x, torch.randn(2, channels // 2, 2 * size, 2 * size, generator=gen, requires_grad=True)
    return (x,)


def test_all_requested_modules_are_registered() -> None:
    assert NEW_MODULES | {"none", "se", "eca", "cbam"} <= set(list_attentions())


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("name", list_attentions())
def test_shape_gradient_and_finiteness(name: str, channels: int, size: int) -> None:
    built = _build(name, channels, size if get_attention_info(name).needs_feat_size else 0)
    expected_error = _expected_error(name, channels)
    if expected_error is not None:
        assert isinstance(built, NasAttnError), f"{name} at C={channels} should be rejected"
        assert re.search(expected_error, str(built)), str(built)
        return
    assert isinstance(built, nn.Module), f"{name} at C={channels}, {size}x{size}: {built}"
    built.train()
    inputs = _inputs(name, channels, size)
    y = built(*inputs)
    assert y.shape == inputs[0].shape
    assert torch.isfinite(y).all()
    weights = torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
    (y * weights).sum().backward()
    for t in inputs:
        assert t.grad is not None and torch.isfinite(t.grad).all()
    assert inputs[0].grad is not None and inputs[0].grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(NEAR_IDENTITY))
def test_feature_replacing_modules_are_near_identity_at_init(name: str) -> None:
    torch.manual_seed(0)
    module = create_attention(name, 64, **_kwargs(name, 64, 8)).train()
    inputs = _inputs(name, 64, 8)
    with torch.no_grad():
        y = module(*inputs)
    x = inputs[0]
    assert (y - x).norm() / x.norm() < 1e-3


def test_every_feature_replacing_kind_is_checked_for_identity_at_init() -> None:
    replacing = {n for n in list_attentions() if get_attention_info(n).kind in REPLACING_KINDS}
    assert replacing <= NEAR_IDENTITY, replacing - NEAR_IDENTITY


def test_unknown_name_raises_and_lists_every_available_name() -> None:
    with pytest.raises(NasAttnError) as err:
        create_attention("squeeze_excitation", 64)
    message = str(err.value)
    assert "unknown attention module 'squeeze_excitation'" in message
    for name in list_attentions():
        assert name in message


@pytest.mark.parametrize("name", [n for n in list_attentions() if n != "none"])
def test_every_module_cites_its_paper_in_info_and_docstring(name: str) -> None:
    info = get_attention_info(name)
    assert re.search(r"(19|20)\d\d", info.paper), info.paper
    ids = re.findall(r"arXiv:\d{4}\.\d{4,5}", info.paper)
    assert ids or "PMLR" in info.paper, info.paper
    module = create_attention(name, 128, **_kwargs(name, 128, 8))
    doc = sys.modules[type(module).__module__].__doc__ or ""
    for arxiv_id in ids:
        assert arxiv_id in doc, f"{name}: module docstring does not cite {arxiv_id}"


@pytest.mark.parametrize("name", list_attentions())
def test_info_defaults_are_constructor_arguments(name: str) -> None:
    info = get_attention_info(name)
    module = create_attention(name, 128, **_kwargs(name, 128, 8))
    if isinstance(module, nn.Identity):
        return
    params = inspect.signature(type(module).__init__).parameters
    for key, value in info.defaults.items():
        assert key in params, f"{name}: default {key!r} is not a constructor argument"
        assert params[key].default == value, f"{name}: {key} default {params[key].default} != info {value}"
    assert ("reduction" in params) == info.uses_reduction


def test_kinds_positions_and_special_needs() -> None:
    kinds = {"identity", "channel", "spatial", "channel+spatial", "self", "cross", "conv"}
    assert all(get_attention_info(n).kind in kinds for n in list_attentions())
    cross = get_attention_info("cross")
    assert cross.needs_context and cross.positions == ("stage_out",) and cross.kind == "cross"
    assert get_attention_info("mhsa").needs_feat_size
    others = [n for n in list_attentions() if n not in {"cross", "mhsa"}]
    assert not any(
        get_attention_info(n).needs_context or get_attention_info(n).needs_feat_size for n in others
    )


@pytest.mark.parametrize(
    ("name", "kwargs", "pattern"),
    [
        ("mhsa", {}, "feat_size"),
        ("cross", {}, "context_channels"),
        ("shuffle", {"groups": 64}, r"use groups in"),
        ("cot", {}, "divisible by 8"),
        ("s2", {}, "divisible by 4"),
        ("sk", {"groups": 32}, r"use groups in \[1, 2, 3, 6, 9, 18\]"),
    ],
)
def test_constraint_errors_say_what_is_allowed(name: str, kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(NasAttnError, match=pattern):
        create_attention(name, 18, **kwargs)


def test_module_default_reduction_is_used_when_none_is_given() -> None:
    assert create_attention("coord", 512).conv1.out_channels == 16  # r = 32 (paper), not 16
    assert create_attention("coord", 512, 16).conv1.out_channels == 32
    assert create_attention("se", 64).fc1.out_channels == 4


@pytest.mark.parametrize("channels", (64, 256))
@pytest.mark.parametrize("name", [n for n in list_attentions() if n != "none"])
def test_gradients_reach_every_parameter(name: str, channels: int) -> None:
    """With zero-initialised gammas/BNs nudged off zero (as after one step), every parameter learns."""
    built = _build(name, channels, 8 if get_attention_info(name).needs_feat_size else 0)
    if isinstance(built, NasAttnError):
        pytest.skip(str(built))
    if not list(built.parameters()):
        pytest.skip(f"{name} is parameter-free")
    module = copy.deepcopy(built).train()
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in module.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=gen))
    # batch 4 with per-channel offsets, so pooled descriptors are not all ~0 (as after a BN+shift)
    inputs = list(_inputs(name, channels, 8))
    x = torch.randn(4, channels, 8, 8, generator=gen) + torch.randn(1, channels, 1, 1, generator=gen)
    inputs[0] = x
    if len(inputs) > 1:
        inputs[1] = torch.randn(4, *inputs[1].shape[1:], generator=gen)
    y = module(*inputs)
    (y * torch.randn(y.shape, generator=gen)).sum().backward()
    dead = [n for n, p in module.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, f"{name}: no gradient reaches {dead}"


@pytest.mark.parametrize("size", (1, 2, 3, 5))
@pytest.mark.parametrize("name", list_attentions())
def test_eval_output_is_deterministic_down_to_tiny_maps(name: str, size: int) -> None:
    """Eval mode is a pure function of the input, at every spatial size the module accepts."""
    inputs = tuple(t.detach() for t in _inputs(name, 128, size))
    try:
        module = create_attention(name, 128, **_kwargs(name, 128, size)).eval()
        with torch.no_grad():
            first, second = module(*inputs), module(*inputs)
    except NasAttnError as exc:  # a constraint: the message must say what is allowed
        assert re.search(r"use|must|at least|needs", str(exc)), str(exc)
        return
    assert first.shape == inputs[0].shape
    assert torch.equal(first, second)


CHANNEL_GATES = ("se", "eca", "cbam_channel", "ese", "ge")
SPATIAL_GATES = ("cbam_spatial",)


def _gate(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The factor y / x of a gating module on a strictly positive input (no division by zero)."""
    torch.manual_seed(0)
    module = create_attention(name, 64).eval()
    x = torch.rand(2, 64, 6, 6) + 0.5
    with torch.no_grad():
        return module(x) / x, x


@pytest.mark.parametrize("name", CHANNEL_GATES)
def test_channel_gates_scale_each_channel_by_one_factor_in_0_1(name: str) -> None:
    factor, _ = _gate(name)
    per_channel = factor[:, :, :1, :1]
    torch.testing.assert_close(factor, per_channel.expand_as(factor))  # same factor at every position
    assert (factor >= 0).all() and (factor <= 1).all()
    assert per_channel.flatten(1).std(dim=1).min() > 0  # and channels really differ


@pytest.mark.parametrize("name", SPATIAL_GATES)
def test_spatial_gates_scale_each_position_by_one_factor_across_channels(name: str) -> None:
    factor, _ = _gate(name)
    per_position = factor[:, :1]
    torch.testing.assert_close(factor, per_position.expand_as(factor))  # same factor in every channel
    assert (factor > 0).all() and (factor < 1).all()
    assert per_position.flatten(1).std(dim=1).min() > 0  # and positions really differ


def test_parameter_free_modules_have_no_parameters() -> None:
    for name in ("none", "simam", "ge"):
        assert sum(p.numel() for p in create_attention(name, 64).parameters()) == 0, name
