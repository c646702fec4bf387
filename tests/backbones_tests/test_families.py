"""Every supported family x every position: counts, parameters, forward/backward, built-ins."""

from __future__ import annotations

import pytest
import timm
import torch
from torch import nn

from nas_attn import ArchConfig, NasAttnError, build_model
from nas_attn.attention import create_attention
from nas_attn.backbones import get_adapter, stage_geometry
from nas_attn.backbones.builder import module_channels, module_kwargs

FAMILIES = {  # model -> (positions, module, image size)
    "resnet18": (("block", "last_block", "stage_out"), "se", 16),
    "resnet26d": (("block", "last_block", "stage_out"), "cbam", 16),
    "resnext50_32x4d": (("block", "stage_out"), "eca", 16),
    "regnetx_002": (("block", "last_block", "stage_out"), "se", 32),
    "convnext_atto": (("stage_out",), "eca", 32),
}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def expected_count(position: str, num_blocks: int) -> int:
    return {"block": num_blocks, "last_block": 1, "stage_out": 1}[position]


def count_added(model: nn.Module, module_type: type) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, module in model.named_modules():
        if type(module) is module_type:
            stage = (
                name.split(".")[0]
                if not name.startswith("stages.")
                else f"stage{int(name.split('.')[1]) + 1}"
            )
            counts[stage] = counts.get(stage, 0) + 1
    return counts


@pytest.mark.parametrize(
    ("backbone", "position"), [(b, p) for b, (positions, _, _) in FAMILIES.items() for p in positions]
)
def test_each_family_and_position(backbone: str, position: str) -> None:
    _, module, size = FAMILIES[backbone]
    base_arch = ArchConfig(backbone=backbone, image_size=size, num_classes=10)
    geometry = stage_geometry(base_arch)
    arch = ArchConfig(
        backbone=backbone,
        image_size=size,
        num_classes=10,
        stages={name: {"module": module, "position": position} for name in geometry},
    )
    model = build_model(arch)
    probe_type = type(create_attention(module, 64))
    counts = count_added(model, probe_type)
    expected_extra = 0
    for name, geo in geometry.items():
        placement = arch.stages[name]
        want = expected_count(position, geo.num_blocks)
        assert counts.get(name, 0) == want, (name, counts)
        probe = create_attention(module, module_channels(placement, geo), **module_kwargs(placement, geo))
        expected_extra += want * n_params(probe)
    assert n_params(model) == n_params(build_model(base_arch)) + expected_extra
    out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_regnet_slot_sits_at_the_bottleneck_width() -> None:
    geo = stage_geometry(ArchConfig(backbone="regnetx_002", image_size=32))
    assert [g.slot_channels for g in geo.values()] == [24, 56, 152, 368]
    assert [g.channels for g in geo.values()] == [24, 56, 152, 368]  # regnetx_002: group width = out
    assert [g.feat_size for g in geo.values()] == [(16, 16), (8, 8), (4, 4), (2, 2)]


def test_convnext_has_no_block_slot() -> None:
    with pytest.raises(
        NasAttnError, match="stages.stage2.position: 'block' is not available on convnext_atto"
    ):
        build_model({"backbone": "convnext_atto", "image_size": 32, "stages": {"stage2": {"module": "se"}}})


@pytest.mark.parametrize(("backbone", "builtin"), [("seresnet18", 8), ("regnety_002", 13)])
def test_builtin_attention_is_never_doubled(backbone: str, builtin: int) -> None:
    geo = stage_geometry(ArchConfig(backbone=backbone, image_size=32))
    assert sum(g.builtin for g in geo.values()) == builtin
    first = next(iter(geo))
    with pytest.raises(
        NasAttnError, match=f"stages.{first}: {backbone} already has attention.*existing_attention: replace"
    ):
        build_model({"backbone": backbone, "image_size": 32, "stages": {first: {"module": "eca"}}})
    replaced = build_model(
        {
            "backbone": backbone,
            "image_size": 32,
            "existing_attention": "replace",
            "stages": {first: {"module": "eca"}},
        }
    )
    eca_type = type(create_attention("eca", 64))
    se_slots = [
        m for n, m in replaced.named_modules() if n.endswith(".se") and not isinstance(m, nn.Identity)
    ]
    assert all(type(m) is eca_type for m in se_slots) and len(se_slots) == geo[first].num_blocks
    kept = build_model(
        {
            "backbone": backbone,
            "image_size": 32,
            "stages": {first: {"module": "eca", "position": "stage_out"}},
        }
    )
    assert (
        sum(1 for n, _ in kept.named_modules() if n.endswith(".se") and "Identity" not in type(_).__name__)
        == builtin
    )


def test_seresnet_with_none_everywhere_is_plain_timm() -> None:
    ours = build_model({"backbone": "seresnet18", "stem": "imagenet", "image_size": 32}).eval()
    plain = timm.create_model("seresnet18", num_classes=10).eval()
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(ours(x), plain(x))


def test_cross_attention_gets_the_previous_stage_output() -> None:
    model = build_model(
        {"image_size": 16, "stages": {"layer3": {"module": "cross", "position": "stage_out"}}}
    ).eval()
    seen: dict[str, torch.Size] = {}
    model.layer3.attn.register_forward_hook(
        lambda _m, inputs, _o: seen.update(x=inputs[0].shape, context=inputs[1].shape)
    )
    with torch.no_grad():
        model.layer3.attn.gamma.fill_(1.0)
        model(torch.randn(2, 3, 16, 16))
    assert seen == {"x": torch.Size([2, 256, 4, 4]), "context": torch.Size([2, 128, 8, 8])}
    assert "layer3.attn.gamma" in model.state_dict() and "layer3.0.conv1.weight" in model.state_dict()


@pytest.mark.parametrize("size", [16, 32])
def test_feature_size_modules_receive_the_real_stage_size(size: int) -> None:
    model = build_model(
        {"image_size": size, "stages": {"layer3": {"module": "mhsa"}, "layer4": {"module": "mhsa"}}}
    )
    assert model(torch.randn(2, 3, size, size)).shape == (2, 10)
    with pytest.raises(NasAttnError):  # the size is fixed at construction: another input size is refused
        model(torch.randn(2, 3, size * 2, size * 2))


def test_module_options_reach_the_module_and_the_digest() -> None:
    with pytest.raises(NasAttnError, match="stages.layer1: shuffle: channels 64 must be divisible"):
        build_model({"image_size": 16, "stages": {"layer1": {"module": "shuffle"}}})
    arch = ArchConfig.from_dict(
        {"image_size": 16, "stages": {"layer1": {"module": "shuffle", "options": {"groups": 8}}}}
    )
    model = build_model(arch)
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert (
        arch.digest()
        != ArchConfig.from_dict(
            {**arch.to_dict(), "stages": {"layer1": {"module": "shuffle", "options": {"groups": 4}}}}
        ).digest()
    )
    assert arch.stages["layer1"].label() == "shuffle@block(groups=8)".replace("@block", "")


def test_unknown_module_option_is_reported_with_its_stage() -> None:
    with pytest.raises(NasAttnError, match="stages.layer2: se takes no options; remove 'bogus'"):
        build_model({"image_size": 16, "stages": {"layer2": {"module": "se", "options": {"bogus": 1}}}})


def test_adapter_registry_error_lists_every_family() -> None:
    with pytest.raises(NasAttnError) as err:
        get_adapter("efficientnet_b0")
    for family in ("ResNet", "RegNet", "ConvNeXt"):
        assert family in str(err.value)
