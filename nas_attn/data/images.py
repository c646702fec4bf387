"""Array helpers shared by the loaders: resizing uint8 batches, grey to RGB, stratified splits."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split

CHUNK = 2048


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinearly resize uint8 (N, C, H, W) images to ``size`` px (antialiased when shrinking)."""
    if images.shape[-2:] == (size, size):
        return images.contiguous()
    shrink = size < min(images.shape[-2:])
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], CHUNK):
        x = images[start : start + CHUNK].float()
        y = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
        out[start : start + CHUNK] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out


def grey_to_rgb_uint8(images: np.ndarray, scale: float, size: int) -> torch.Tensor:
    """(N, H, W) grey values times ``scale`` -> uint8 (N, 3, size, size) with equal channels."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) * scale).unsqueeze(1)
    if x.shape[-2:] != (size, size):
        shrink = size < min(x.shape[-2:])
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)
    return x.round_().clamp_(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and val indices with the class proportions kept, fixed by ``seed``."""
    idx = np.arange(len(labels))
    train_idx, val_idx = train_test_split(idx, test_size=val_fraction, stratify=labels, random_state=seed)
    return np.asarray(train_idx), np.asarray(val_idx)
