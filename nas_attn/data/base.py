"""ProxyData: a whole proxy dataset as uint8 tensors, plus the registries of datasets.

Two registries: fixed names (``digits``, ``mnist5k``, ``synthetic``) map to a DatasetSpec, and
path kinds (``cifar10``, ``cifar100``, ``imagefolder``, ``mnist``, ``fashion-mnist``) map to an
opener that turns ``kind:PATH`` into a DatasetSpec after checking the files cheaply (layout and
class count are read without decoding any image). A kind with a :class:`DefaultLocation` may be
written without a path (``fashion-mnist``): it is looked up in an environment variable, then in
the system folders where a package installs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

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
    classes: tuple[str, ...] = ()

    @property
    def image_size(self) -> int:
        return int(self.train_images.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.train_images.device

    def to(self, device: torch.device | str) -> ProxyData:
        """A copy whose tensors live on ``device`` (``self`` when they already do)."""
        device = torch.device(device)
        if self.train_images.device == device:
            return self
        return replace(
            self,
            train_images=self.train_images.to(device),
            train_labels=self.train_labels.to(device),
            val_images=self.val_images.to(device),
            val_labels=self.val_labels.to(device),
        )


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Per-channel mean and std of uint8 images, on the 0..1 scale (chunked: no big float copy)."""
    total = torch.zeros(3, dtype=torch.float64)
    total_sq = torch.zeros(3, dtype=torch.float64)
    for chunk in images.split(4096):
        x = chunk.to(torch.float64).div_(255.0)
        total += x.sum(dim=(0, 2, 3))
        total_sq += x.square().sum(dim=(0, 2, 3))
    count = max(1, images.shape[0] * images.shape[2] * images.shape[3])
    mean = total / count
    var = (total_sq / count - mean.square()) * count / max(1, count - 1)
    std = var.clamp_min(1e-12).sqrt().clamp_min(1e-6)
    m, s = mean.tolist(), std.tolist()
    return (m[0], m[1], m[2]), (s[0], s[1], s[2])


def make_proxy_data(
    name: str,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    num_classes: int,
    classes: tuple[str, ...] = (),
) -> ProxyData:
    """ProxyData from (images, labels) pairs, with statistics of the training images."""
    mean, std = channel_stats(train[0])
    return ProxyData(name, train[0], train[1], val[0], val[1], num_classes, mean, std, classes)


DatasetLoader = Callable[[int, int], ProxyData]


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset ready to load: its loader and class count (known without loading the data)."""

    name: str
    num_classes: int
    loader: DatasetLoader


DatasetOpener = Callable[[str, Path], DatasetSpec]


@dataclass(frozen=True)
class DefaultLocation:
    """Where a kind's data is found when written without a path: ``$env_var``, else the first of
    ``paths`` that exists; ``how_to_get`` tells the user how to get a copy when neither is there."""

    env_var: str
    paths: tuple[Path, ...]
    how_to_get: str

    def find(self) -> Path | None:
        if value := os.environ.get(self.env_var):
            return Path(value).expanduser()
        return next((p for p in self.paths if p.is_dir()), None)


@dataclass(frozen=True)
class DatasetKind:
    """A ``kind:PATH`` family: ``open(name, path)`` checks the files and returns a DatasetSpec."""

    kind: str
    usage: str
    open: DatasetOpener
    default: DefaultLocation | None = None


_DATASETS: dict[str, DatasetSpec] = {}
_KINDS: dict[str, DatasetKind] = {}


def register_dataset(name: str, num_classes: int) -> Callable[[DatasetLoader], DatasetLoader]:
    """Register ``loader(image_size, seed) -> ProxyData`` under ``name``."""

    def decorator(loader: DatasetLoader) -> DatasetLoader:
        _DATASETS[name] = DatasetSpec(name, num_classes, loader)
        return loader

    return decorator


def register_dataset_kind(
    kind: str, usage: str, default: DefaultLocation | None = None
) -> Callable[[DatasetOpener], DatasetOpener]:
    """Register ``opener(name, path) -> DatasetSpec`` for datasets written ``kind:PATH``.

    ``usage`` says what PATH must be, e.g. ``"the extracted cifar-10-batches-py folder"``. With a
    ``default`` location the kind may also be written alone (``kind``, no path).
    """

    def decorator(opener: DatasetOpener) -> DatasetOpener:
        _KINDS[kind] = DatasetKind(kind, usage, opener, default)
        return opener

    return decorator


def list_datasets() -> list[str]:
    """Fixed dataset names (and kinds that have a default location), then ``kind:PATH`` forms."""
    alone = [kind for kind, spec in _KINDS.items() if spec.default is not None]
    return sorted([*_DATASETS, *alone]) + [f"{kind}:PATH" for kind in sorted(_KINDS)]


def _split_name(name: str) -> tuple[DatasetKind, Path | None] | None:
    """``(kind, path)`` for a ``kind:PATH`` name (path None: a kind written alone, to be found at
    its default location), None for a fixed name; errors for bad names."""
    if name in _DATASETS:
        return None
    if name in _KINDS:
        if _KINDS[name].default is not None:
            return _KINDS[name], None
        raise NasAttnError(
            f"dataset '{name}' needs a path: write {name}:PATH with PATH {_KINDS[name].usage} "
            f"(or one of: {', '.join(list_datasets())})"
        )
    kind, sep, path = name.partition(":")
    if not sep or kind not in _KINDS:
        raise NasAttnError(f"unknown dataset '{name}'; available: {', '.join(list_datasets())}")
    if not path.strip():
        raise NasAttnError(f"dataset '{name}' needs a path: write {kind}:PATH with PATH {_KINDS[kind].usage}")
    return _KINDS[kind], Path(path).expanduser()


def check_dataset_name(name: str) -> str:
    """Check that ``name`` is a known dataset or ``kind:PATH`` form, without touching files."""
    _split_name(name)
    return name


def get_dataset_spec(name: str) -> DatasetSpec:
    """The dataset ``name`` (a fixed name or ``kind:PATH``), its files checked; else NasAttnError."""
    split = _split_name(name)
    if split is None:
        return _DATASETS[name]
    kind, path = split
    if path is None:
        path = _default_path(name, kind)
    if not path.exists():
        raise NasAttnError(f"dataset '{name}': {path} does not exist; point {kind.kind}: at {kind.usage}")
    return kind.open(name, path)


def _default_path(name: str, kind: DatasetKind) -> Path:
    """The folder a kind written alone stands for; a NasAttnError saying how to get it when absent."""
    assert kind.default is not None
    found = kind.default.find()
    if found is None:
        where = ", ".join(str(p) for p in kind.default.paths)
        raise NasAttnError(
            f"dataset '{name}': no copy found (${kind.default.env_var} is unset and {where} does not exist); "
            f"{kind.default.how_to_get}"
        )
    if not found.exists():
        raise NasAttnError(
            f"dataset '{name}': ${kind.default.env_var} names {found}, which does not exist; "
            f"point it at {kind.usage}"
        )
    return found


def load_dataset(name: str, image_size: int, seed: int = 0) -> ProxyData:
    """Load proxy dataset ``name`` resized to ``image_size`` with the split fixed by ``seed``."""
    return get_dataset_spec(name).loader(image_size, seed)
