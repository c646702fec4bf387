"""Loading a user's own backbone checkpoint into an attention-augmented network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nas_attn import ArchConfig, NasAttnError, build_model
from nas_attn.backbones import weights_report

PLACED = {
    "layer1": {"module": "se", "reduction": 8},
    "layer3": {"module": "cbam", "position": "last_block"},
    "layer4": {"module": "eca", "position": "stage_out"},
}


@pytest.fixture
def plain_checkpoint(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(1)
    state = build_model({"image_size": 16}).state_dict()
    path = tmp_path / "resnet18_plain.pth"
    torch.save(state, path)
    return path, state


def test_every_backbone_tensor_loads_and_only_attention_keys_are_new(plain_checkpoint) -> None:
    path, state = plain_checkpoint
    model = build_model({"image_size": 16, "stages": PLACED, "backbone_weights": str(path)})
    report = weights_report(model)
    assert report is not None
    attention_keys = {k for k in model.state_dict() if k not in state}
    assert attention_keys and all((".se." in k or ".attn." in k) for k in attention_keys)
    assert set(report.new) == attention_keys
    assert set(report.loaded) == set(state) and not report.skipped_head and not report.unused
    for key, tensor in state.items():
        assert torch.equal(model.state_dict()[key], tensor), key


def test_nested_checkpoint_and_another_class_count_skip_only_the_head(
    tmp_path: Path, plain_checkpoint
) -> None:
    _, state = plain_checkpoint
    path = tmp_path / "nested.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    model = build_model({"image_size": 16, "num_classes": 7, "stages": PLACED, "backbone_weights": str(path)})
    report = weights_report(model)
    assert report is not None and sorted(report.skipped_head) == ["fc.bias", "fc.weight"]


def test_checkpoint_of_another_stem_is_refused_with_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "imagenet_stem.pth"
    torch.save(build_model({"image_size": 32, "stem": "imagenet"}).state_dict(), path)
    with pytest.raises(
        NasAttnError, match=r"conv1.weight: checkpoint \(64, 3, 7, 7\) vs model \(64, 3, 3, 3\)"
    ):
        build_model({"image_size": 32, "backbone_weights": str(path)})


def test_missing_weights_file_is_a_validation_problem(tmp_path: Path) -> None:
    with pytest.raises(NasAttnError, match="backbone_weights: file not found"):
        build_model({"image_size": 16, "backbone_weights": str(tmp_path / "nope.pth")})


def test_weights_path_is_part_of_the_digest() -> None:
    a = ArchConfig(image_size=16)
    assert a.digest() != ArchConfig(image_size=16, backbone_weights="/ckpt/a.pth").digest()
