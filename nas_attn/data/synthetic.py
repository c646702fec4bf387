"""``synthetic``: generated, learnable images for tests and benchmarks (no files, any size).

Each of the 10 classes is a colour grating with its own orientation, frequency and colour;
every image draws a random phase, brightness and pixel noise, so a model must learn the
pattern rather than memorise pixels. The class patterns are fixed; ``seed`` fixes the samples.
"""

from __future__ import annotations

import math

import torch

from nas_attn.data.base import ProxyData, make_proxy_data, register_dataset

NUM_CLASSES = 10
TRAIN_PER_CLASS = 256
VAL_PER_CLASS = 64
PATTERN_SEED = 1_000_003
NOISE = 0.08


def _class_patterns() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class orientation (radians), frequency (cycles per image) and RGB amplitude."""
    g = torch.Generator().manual_seed(PATTERN_SEED)
    k = torch.arange(NUM_CLASSES, dtype=torch.float32)
    angles = k * math.pi / NUM_CLASSES
    freqs = 1.0 + (k % 3)
    colors = 0.3 + 0.7 * torch.rand(NUM_CLASSES, 3, generator=g)
    return angles, freqs, colors


def render(labels: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """uint8 (N, 3, size, size) images of the classes in ``labels``."""
    angles, freqs, colors = _class_patterns()
    n = len(labels)
    grid = torch.arange(size, dtype=torch.float32) / size
    ys, xs = grid[:, None], grid[None, :]
    theta, freq = angles[labels][:, None, None], freqs[labels][:, None, None]
    phase = 2 * math.pi * torch.rand(n, 1, 1, generator=generator)
    wave = torch.cos(2 * math.pi * freq * (xs * torch.cos(theta) + ys * torch.sin(theta)) + phase)
    brightness = 0.4 + 0.2 * torch.rand(n, 1, 1, 1, generator=generator)
    x = brightness + 0.4 * colors[labels][:, :, None, None] * wave[:, None]
    x = x + NOISE * torch.randn(n, 3, size, size, generator=generator)
    return (x * 255).round_().clamp_(0, 255).to(torch.uint8)


def _labels(per_class: int, generator: torch.Generator) -> torch.Tensor:
    labels = torch.arange(NUM_CLASSES).repeat_interleave(per_class)
    return labels[torch.randperm(len(labels), generator=generator)]


@register_dataset("synthetic", num_classes=NUM_CLASSES)
def load_synthetic(image_size: int, seed: int = 0) -> ProxyData:
    """2,560 training and 640 validation images at ``image_size`` px, fixed by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    train_labels = _labels(TRAIN_PER_CLASS, generator)
    val_labels = _labels(VAL_PER_CLASS, generator)
    train = render(train_labels, image_size, generator)
    val = render(val_labels, image_size, generator)
    return make_proxy_data("synthetic", (train, train_labels), (val, val_labels), NUM_CLASSES)
