"""Parameter and MAC counts, and peak memory of a block of work."""

from pathlib import Path

import pytest
import torch
from torch import nn

from nas_attn import ArchConfig, build_model
from nas_attn.worker import PeakMemory, count_macs, count_params


def test_macs_of_a_convolution_and_a_linear_layer_are_exact() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    assert count_macs(conv, 8) == 8 * 3 * 9 * 8 * 8
    net = nn.Sequential(conv, nn.Flatten(), nn.Linear(8 * 8 * 8, 10))
    assert count_macs(net, 8) == 8 * 3 * 9 * 64 + 512 * 10
    assert count_macs(net, 8, batch_size=4) == 4 * count_macs(net, 8)
    assert count_params(net) == 8 * 3 * 9 + 512 * 10 + 10


def test_resnet18_cifar_stem_costs_about_half_a_gmac_at_32px() -> None:
    model = build_model(ArchConfig(stem="cifar", image_size=32)).train()
    macs = count_macs(model, 32)
    assert 0.54e9 < macs < 0.57e9  # the well-known ~0.56 GMAC of CIFAR ResNet-18
    assert model.training  # counted in eval mode, mode restored


def test_attention_adds_macs_and_params() -> None:
    plain = build_model(ArchConfig(image_size=16))
    se = build_model(ArchConfig(image_size=16, stages={"layer4": {"module": "se", "reduction": 4}}))
    assert count_macs(se, 16) > count_macs(plain, 16)
    assert count_params(se) - count_params(plain) == 2 * (2 * 512 * 128 + 128 + 512)  # 2 blocks, fc1 + fc2


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_cpu_peak_memory_is_the_blocks_own_peak_rss() -> None:
    big = 256 * 1024 * 1024
    with PeakMemory(torch.device("cpu")) as before:
        pass
    with PeakMemory(torch.device("cpu")) as peak:
        block = torch.ones(big // 4)  # touched, so resident
        del block
    assert peak.source == "rss" and before.source == "rss"
    assert peak.megabytes - before.megabytes > 200
    with PeakMemory(torch.device("cpu")) as after:
        pass
    assert after.megabytes < peak.megabytes - 200  # reset: a later block does not inherit the peak
