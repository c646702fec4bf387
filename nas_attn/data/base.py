"""ProxyData: a whole proxy dataset as uint8 tensors, plus a registry of loaders by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from nas_attn.exceptions import NasAttnError


@dataclass(frozen=True)
class ProxyData:
    """Train/val images (N, 3, H, W) uint8 and labels int64, with per-channel statistics.

    The whole set is small enough to live on the trial's device; normalisation and augmentation
    run batched on that device, so no DataLoader workers are involved.
    """

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[-1])

    def to(self, device: torch.device | str) -> ProxyData:
        """A copy whose tensors live on ``device``."""
        return ProxyData(
            self.name,
            self.train_images.to(device),
            self.train_labels.to(device),
            self.val_images.to(device),
            self.val_labels.to(device),
            self.num_classes,
            self.mean,
            self.std,
        )


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Per-channel mean and std of uint8 images, on the 0..1 scale."""
    x = images.float().div_(255.0)
    mean = x.mean(dim=(0, 2, 3)).tolist()
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-6).tolist()
    return (mean[0], mean[1], mean[2]), (std[0], std[1], std[2])


DatasetLoader = Callable[[int, int], ProxyData]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its loader and class count (known without loading the data)."""

    name: str
    num_classes: int
    loader: DatasetLoader


_DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(name: str, num_classes: int) -> Callable[[DatasetLoader], DatasetLoader]:
    """Register ``loader(image_size, seed) -> ProxyData`` under ``name``."""

    def decorator(loader: DatasetLoader) -> DatasetLoader:
        _DATASETS[name] = DatasetSpec(name, num_classes, loader)
        return loader

    return decorator


def list_datasets() -> list[str]:
    return sorted(_DATASETS)


def get_dataset_spec(name: str) -> DatasetSpec:
    """The registered dataset ``name``, or a NasAttnError listing the available ones."""
    try:
        return _DATASETS[name]
    except KeyError:
        raise NasAttnError(f"unknown dataset '{name}'; available: {', '.join(list_datasets())}") from None


def load_dataset(name: str, image_size: int, seed: int = 0) -> ProxyData:
    """Load proxy dataset ``name`` resized to ``image_size`` with the split fixed by ``seed``."""
    return get_dataset_spec(name).loader(image_size, seed)
