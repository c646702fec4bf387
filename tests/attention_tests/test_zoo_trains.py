"""Every module, placed in ResNet-18 stage 3 (cifar stem), keeps a fresh network trainable.

Two proxy epochs on 704 of the bundled digits at 8 px (stage 3 sees 2x2 maps; 44 steps) must get
clearly above chance (10 classes: 0.1); measured (2026-12-07), all 25 reached 0.50-0.84. About 15 s per
module on 2 CPU cores (0.35 s a training step); the file is marked slow. (The full 1,437 images
took twice as long and showed nothing more.)
"""

from __future__ import annotations

import pytest
import torch

from nas_attn import ArchConfig, build_model
from nas_attn.attention import get_attention_info, list_attentions
from nas_attn.data import load_dataset
from nas_attn.data.subset import take_subsets
from nas_attn.worker import ProxyConfig, train_proxy

PROXY = ProxyConfig(dataset="digits", image_size=8, epochs=2, batch_size=32, lr=0.1, crop_padding=1, seed=0)
TRAIN_IMAGES = 704
CHANCE = 0.1


@pytest.fixture(scope="module")
def digits8():
    return take_subsets(load_dataset("digits", 8, seed=0), TRAIN_IMAGES, None, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", list_attentions())
def test_module_in_stage3_trains_above_chance(name: str, digits8) -> None:
    position = get_attention_info(name).positions[0]
    arch = ArchConfig(image_size=8, stages={"layer3": {"module": name, "position": position}})
    torch.manual_seed(0)
    result = train_proxy(build_model(arch), digits8, PROXY, torch.device("cpu"))
    assert result.accuracy > 3 * CHANCE, f"{name}: {result.val_accuracy_curve}"
    assert result.train_loss_curve[-1] < result.train_loss_curve[0]
