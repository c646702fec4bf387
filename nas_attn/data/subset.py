"""Class-balanced, seeded subsets of a ProxyData (``proxy.train_subset`` / ``proxy.val_subset``)."""

from __future__ import annotations

from dataclasses import replace

import torch

from nas_attn.data.base import ProxyData, channel_stats
from nas_attn.exceptions import NasAttnError


def balanced_indices(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` indices drawn round-robin over the classes (counts differ by at most one while
    every class has images left), random within each class, fixed by ``seed``, in sorted order."""
    labels = labels.cpu()
    if n > len(labels):
        raise ValueError(f"asked for {n} of {len(labels)} items")
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=g)
    shuffled = labels[order]
    # rank of each item within its class, in shuffled order: 0 for the first of each class, ...
    sorted_labels, by_class = torch.sort(shuffled, stable=True)
    starts = torch.searchsorted(sorted_labels, sorted_labels, right=False)
    rank = torch.empty_like(by_class)
    rank[by_class] = torch.arange(len(labels)) - starts
    # within a rank, classes come in a seeded random order, so ties at the cut are fair
    class_order = torch.randperm(int(labels.max()) + 1, generator=g)
    key = rank * (len(class_order) + 1) + class_order[shuffled]
    chosen = order[torch.argsort(key, stable=True)[:n]]
    return torch.sort(chosen).values


def _take(
    images: torch.Tensor, labels: torch.Tensor, n: int | None, seed: int, what: str, name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    if n is None:
        return images, labels
    if n > len(labels):
        raise NasAttnError(
            f"proxy.{what} is {n} but dataset '{name}' has only {len(labels)} {what.split('_')[0]} images; "
            f"lower proxy.{what} or remove it"
        )
    idx = balanced_indices(labels, n, seed).to(labels.device)
    return images[idx], labels[idx]


def take_subsets(data: ProxyData, train: int | None, val: int | None, seed: int) -> ProxyData:
    """``data`` cut to ``train`` / ``val`` class-balanced images (None keeps a split whole)."""
    if train is None and val is None:
        return data
    train_x, train_y = _take(data.train_images, data.train_labels, train, seed, "train_subset", data.name)
    val_x, val_y = _take(data.val_images, data.val_labels, val, seed + 1, "val_subset", data.name)
    mean, std = channel_stats(train_x.cpu()) if train is not None else (data.mean, data.std)
    return replace(
        data,
        train_images=train_x,
        train_labels=train_y,
        val_images=val_x,
        val_labels=val_y,
        mean=mean,
        std=std,
    )
