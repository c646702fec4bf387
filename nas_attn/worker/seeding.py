"""Deterministic seeding of every random source a trial touches."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds all CUDA devices


def make_generator(seed: int, device: torch.device) -> torch.Generator:
    """A private generator on ``device`` for data order and augmentation."""
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator
