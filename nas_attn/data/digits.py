"""``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

No download: the data ships inside scikit-learn. Images are scaled from 0..16 to 0..255,
bilinearly upsampled to ``image_size``, replicated to 3 channels and split 80/20 stratified by
class with the split fixed by ``seed``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from nas_attn.data.base import ProxyData, channel_stats, register_dataset

VAL_FRACTION = 0.2


def _to_uint8_rgb(images: np.ndarray, image_size: int) -> torch.Tensor:
    x = torch.from_numpy(images.astype(np.float32) * (255.0 / 16.0)).unsqueeze(1)
    if image_size != x.shape[-1]:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


@register_dataset("digits", num_classes=10)
def load_digits_proxy(image_size: int, seed: int = 0) -> ProxyData:
    """The digits proxy set at ``image_size`` px with a stratified train/val split."""
    bunch = load_digits()
    images, labels = bunch.images, bunch.target.astype(np.int64)
    idx = np.arange(len(labels))
    train_idx, val_idx = train_test_split(idx, test_size=VAL_FRACTION, stratify=labels, random_state=seed)
    train = _to_uint8_rgb(images[train_idx], image_size)
    val = _to_uint8_rgb(images[val_idx], image_size)
    mean, std = channel_stats(train)
    return ProxyData(
        name="digits",
        train_images=train,
        train_labels=torch.from_numpy(labels[train_idx]),
        val_images=val,
        val_labels=torch.from_numpy(labels[val_idx]),
        num_classes=10,
        mean=mean,
        std=std,
    )
