"""Common random numbers: with one training seed, placements differ only by their placement."""

from __future__ import annotations

import pytest
import torch

from nas_attn import ArchConfig, build_model
from nas_attn.data.base import make_proxy_data
from nas_attn.data.synthetic import NUM_CLASSES, render
from nas_attn.worker import ProxyConfig, train_proxy
from nas_attn.worker.augment import BatchTransform

SE_LAYER3 = {"layer3": {"module": "se", "reduction": 16}}
CBAM_LAYER1_SE_LAYER3 = {"layer1": {"module": "cbam", "reduction": 8}, **SE_LAYER3}
ECA_EVERYWHERE = {f"layer{i}": {"module": "eca"} for i in range(1, 5)}


def arch(stages: dict[str, dict[str, object]]) -> ArchConfig:
    return ArchConfig(stem="cifar", image_size=16, stages=stages)


def backbone_tensors(model: torch.nn.Module, bare_keys: set[str]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if k in bare_keys}


BARE_KEYS = set(build_model(arch({}), num_classes=10).state_dict())


@pytest.mark.parametrize("other", [SE_LAYER3, CBAM_LAYER1_SE_LAYER3, ECA_EVERYWHERE])
def test_placements_built_with_one_seed_share_every_backbone_tensor(
    other: dict[str, dict[str, object]],
) -> None:
    plain = backbone_tensors(build_model(arch({}), num_classes=10, seed=7), BARE_KEYS)
    placed = backbone_tensors(build_model(arch(other), num_classes=10, seed=7), BARE_KEYS)
    assert plain.keys() == placed.keys() and len(plain) > 50
    for key, tensor in plain.items():
        assert torch.equal(tensor, placed[key]), key


def test_another_seed_gives_other_weights_and_the_global_rng_is_untouched() -> None:
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = backbone_tensors(build_model(arch(SE_LAYER3), num_classes=10, seed=1), BARE_KEYS)
    b = backbone_tensors(build_model(arch(SE_LAYER3), num_classes=10, seed=2), BARE_KEYS)
    assert torch.equal(torch.get_rng_state(), state)
    assert not torch.equal(a["conv1.weight"], b["conv1.weight"])


def test_a_stages_module_starts_alike_whatever_the_other_stages_hold() -> None:
    only = build_model(arch(SE_LAYER3), num_classes=10, seed=3).state_dict()
    with_more = build_model(arch(CBAM_LAYER1_SE_LAYER3), num_classes=10, seed=3).state_dict()
    se_keys = [k for k in only if k.startswith("layer3.") and ".se." in k]
    assert se_keys
    for key in se_keys:
        assert torch.equal(only[key], with_more[key]), key


def test_without_a_seed_the_global_rng_decides_as_before() -> None:
    torch.manual_seed(5)
    a = build_model(arch(SE_LAYER3), num_classes=10).state_dict()
    torch.manual_seed(5)
    b = build_model(arch(SE_LAYER3), num_classes=10).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_batch_order_and_augmentation_draws_are_identical_across_placements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(96) % NUM_CLASSES
    images = render(labels, 16, g)
    data = make_proxy_data("synthetic", (images, labels), (images[:20], labels[:20]), NUM_CLASSES)
    cfg = ProxyConfig(dataset="synthetic", image_size=16, epochs=2, batch_size=32, crop_padding=2, flip=True)
    original = BatchTransform.augment
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def recording(self: BatchTransform, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = original(self, batch, generator)
        seen.append((batch.clone(), out.clone()))
        return out

    monkeypatch.setattr(BatchTransform, "augment", recording)
    runs = []
    for stages in ({}, ECA_EVERYWHERE):
        seen.clear()
        train_proxy(build_model(arch(stages), num_classes=10, seed=0), data, cfg, torch.device("cpu"))
        runs.append(list(seen))
    plain, placed = runs
    assert len(plain) == len(placed) == 6  # 3 batches x 2 epochs
    for (batch_a, out_a), (batch_b, out_b) in zip(plain, placed, strict=True):
        assert torch.equal(batch_a, batch_b)  # the same images in the same order
        assert torch.equal(out_a, out_b)  # the same crops and flips
