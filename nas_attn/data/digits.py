"""``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

No download: the data ships inside scikit-learn. Images are scaled from 0..16 to 0..255,
bilinearly upsampled to ``image_size``, replicated to 3 channels and split 80/20 stratified by
class with the split fixed by ``seed``.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from nas_attn.data.base import ProxyData, make_proxy_data, register_dataset
from nas_attn.data.images import grey_to_rgb_uint8, stratified_split

VAL_FRACTION = 0.2


@register_dataset("digits", num_classes=10)
def load_digits_proxy(image_size: int, seed: int = 0) -> ProxyData:
    """The digits proxy set at ``image_size`` px with a stratified train/val split."""
    bunch = load_digits()
    images, labels = bunch.images, bunch.target.astype(np.int64)
    train_idx, val_idx = stratified_split(labels, VAL_FRACTION, seed)
    return make_proxy_data(
        "digits",
        (grey_to_rgb_uint8(images[train_idx], 255.0 / 16.0, image_size), torch.from_numpy(labels[train_idx])),
        (grey_to_rgb_uint8(images[val_idx], 255.0 / 16.0, image_size), torch.from_numpy(labels[val_idx])),
        num_classes=10,
    )
