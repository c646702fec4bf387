import pytest
import timm
import torch
from timm.models.resnet import BasicBlock
from torch import nn

from nas_attn import ArchConfig, NasAttnError, build_model
from nas_attn.attention import create_attention
from nas_attn.backbones import stage_geometry
from nas_attn.backbones.resnet import SLOT

STAGE_CHANNELS = {"layer1": 64, "layer2": 128, "layer3": 256, "layer4": 512}


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class ZeroOut(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def test_timm_basic_block_applies_its_se_slot_before_the_residual_add() -> None:
    """Pins the timm internal we rely on: BasicBlock has a `.se` slot used after bn2, before += shortcut."""
    torch.manual_seed(0)
    block = BasicBlock(64, 64).eval()
    assert hasattr(block, SLOT) and getattr(block, SLOT) is None
    x = torch.randn(2, 64, 8, 8)
    setattr(block, SLOT, ZeroOut())
    # With the residual branch zeroed by the slot, the block output is act(shortcut) = relu(x).
    torch.testing.assert_close(block(x), torch.relu(x))


def test_cifar_stem_and_feature_sizes() -> None:
    geo = stage_geometry(ArchConfig(image_size=32))
    assert {k: (g.channels, g.feat_size, g.num_blocks) for k, g in geo.items()} == {
        "layer1": (64, (32, 32), 2),
        "layer2": (128, (16, 16), 2),
        "layer3": (256, (8, 8), 2),
        "layer4": (512, (4, 4), 2),
    }
    model = build_model(ArchConfig(image_size=32))
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)
    imagenet = stage_geometry(ArchConfig(image_size=32, stem="imagenet"))
    assert imagenet["layer4"].feat_size == (1, 1)


@pytest.mark.parametrize(
    ("stages", "per_stage_blocks"),
    [
        ({"layer1": {"module": "se", "reduction": 8}, "layer3": {"module": "cbam"}}, 2),
        (
            {
                "layer2": {"module": "eca", "position": "last_block"},
                "layer4": {"module": "se", "position": "last_block"},
            },
            1,
        ),
    ],
)
def test_block_positions_insert_the_requested_modules_and_only_their_parameters(
    stages: dict, per_stage_blocks: int
) -> None:
    arch = ArchConfig.from_dict({"image_size": 16, "stages": stages})
    model = build_model(arch)
    base = build_model(ArchConfig(image_size=16))
    expected_extra = 0
    for name, placement in arch.stages.items():
        layer = getattr(model, name)
        filled = [b for b in layer if getattr(b, SLOT) is not None]
        assert len(filled) == per_stage_blocks
        if placement.position == "last_block":
            assert getattr(layer[-1], SLOT) is not None
        reduction = placement.effective_reduction()
        probe = create_attention(placement.module, STAGE_CHANNELS[name], reduction if reduction else 16)
        expected_extra += per_stage_blocks * n_params(probe)
    for name in set(STAGE_CHANNELS) - set(arch.stages):
        assert all(getattr(b, SLOT) is None for b in getattr(model, name))
    assert n_params(model) == n_params(base) + expected_extra


def test_stage_out_appends_one_module_to_the_stage() -> None:
    model = build_model({"image_size": 16, "stages": {"layer2": {"module": "se", "position": "stage_out"}}})
    assert isinstance(model.layer2.attn, nn.Module)
    assert all(getattr(b, SLOT) is None for b in model.layer2 if not isinstance(b, type(model.layer2.attn)))
    assert "layer2.attn.fc1.weight" in model.state_dict()


def test_forward_backward_at_configured_size() -> None:
    model = build_model(
        {
            "image_size": 16,
            "stages": {
                s: {"module": m} for s, m in zip(STAGE_CHANNELS, ["se", "eca", "cbam", "se"], strict=True)
            },
        }
    )
    out = model(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 10)
    out.sum().backward()
    assert model.layer3[0].se.spatial.conv.weight.grad is not None


def test_none_everywhere_equals_plain_timm_with_the_same_weights() -> None:
    ours = build_model({"image_size": 32, "stages": {s: {"module": "none"} for s in STAGE_CHANNELS}}).eval()
    plain = timm.create_model("resnet18", num_classes=10)
    plain.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    plain.maxpool = nn.Identity()
    plain.load_state_dict(ours.state_dict())
    plain.eval()
    x = torch.randn(2, 3, 32, 32)
    assert ours.state_dict().keys() == plain.state_dict().keys()
    torch.testing.assert_close(ours(x), plain(x))


def test_num_classes_override() -> None:
    assert build_model({"image_size": 8}, num_classes=3)(torch.randn(2, 3, 8, 8)).shape == (2, 3)


def test_validation_reports_every_problem_with_its_key_path() -> None:
    bad = {"stages": {"layer1": {"module": "se", "reduction": 128}, "layer9": {"module": "se"}}}
    with pytest.raises(NasAttnError) as err:
        build_model(bad)
    message = str(err.value)
    assert "stages.layer1.reduction: [128] exceed 64 channels; use a ratio <= 64" in message
    assert "stages.layer9: unknown stage" in message


def test_unsupported_backbone_lists_supported_families() -> None:
    with pytest.raises(NasAttnError, match="unsupported backbone 'vit_base_patch16_224'.*ResNet"):
        build_model({"backbone": "vit_base_patch16_224"})
