"""``cifar10:PATH`` and ``cifar100:PATH``: the standard python-pickle batch folders.

PATH is the extracted ``cifar-10-batches-py`` (``data_batch_1..5``, ``test_batch``,
``batches.meta``) or ``cifar-100-python`` (``train``, ``test``, ``meta``) folder, or the folder
that contains it. The official test split is the validation split (fixed, independent of the
seed). The class count is read from the small meta file. Batches are Python pickles, read with a
restricted unpickler (:mod:`nas_attn.data.safe_pickle`): a file that names anything but plain
data and numpy arrays is refused unrun.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nas_attn.data.base import DatasetSpec, ProxyData, make_proxy_data, register_dataset_kind
from nas_attn.data.images import resize_uint8
from nas_attn.data.safe_pickle import UnsafePickleError, load_data_pickle
from nas_attn.exceptions import NasAttnError

SIDE = 32


@dataclass(frozen=True)
class CifarLayout:
    """File names and pickle keys of one CIFAR variant."""

    kind: str
    folder: str
    train_files: tuple[str, ...]
    val_files: tuple[str, ...]
    meta_file: str
    label_key: str
    names_key: str

    @property
    def usage(self) -> str:
        return f"the extracted {self.folder} folder ({', '.join(self.train_files + self.val_files)})"


CIFAR10 = CifarLayout(
    "cifar10",
    "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)),
    ("test_batch",),
    "batches.meta",
    "labels",
    "label_names",
)
CIFAR100 = CifarLayout(
    "cifar100", "cifar-100-python", ("train",), ("test",), "meta", "fine_labels", "fine_label_names"
)


def read_pickle(path: Path, layout: CifarLayout) -> dict[str, Any]:
    """One batch or meta file as a dict with str keys (the files hold Python 2 byte-string keys)."""
    try:
        raw = load_data_pickle(path)
    except UnsafePickleError as exc:
        raise NasAttnError(
            f"refused {path}: {exc}, so it is not a {layout.kind} batch (it was not run); "
            f"replace it with the file from the official {layout.folder} archive"
        ) from None
    except Exception as exc:  # any malformed pickle (EOF, bad opcode, bad numpy args, too deep)
        raise NasAttnError(
            f"cannot read {path}: not a {layout.kind} python pickle batch ({type(exc).__name__}); "
            f"re-extract {layout.folder}"
        ) from None
    if not isinstance(raw, dict):
        raise NasAttnError(f"{path} holds a {type(raw).__name__}, not a {layout.kind} batch; re-extract it")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in raw.items()}


def _find_folder(name: str, path: Path, layout: CifarLayout) -> Path:
    for folder in (path, path / layout.folder):
        if all((folder / f).is_file() for f in layout.train_files + layout.val_files):
            return folder
    missing = [f for f in layout.train_files + layout.val_files if not (path / f).is_file()]
    raise NasAttnError(
        f"dataset '{name}': {path} is missing {', '.join(missing)}; point {layout.kind}: at {layout.usage}"
    )


def _read_batches(
    folder: Path, files: tuple[str, ...], layout: CifarLayout, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = [], []
    for file in files:
        batch = read_pickle(folder / file, layout)
        if "data" not in batch or layout.label_key not in batch:
            raise NasAttnError(
                f"{folder / file} has no 'data'/'{layout.label_key}' entries; it is not a {layout.kind} "
                f"batch; re-extract {layout.folder}"
            )
        data = batch["data"]
        try:
            y = np.asarray(batch[layout.label_key], dtype=np.int64).reshape(-1)
        except (TypeError, ValueError):
            y = np.zeros(0, dtype=np.int64)  # unreadable labels: reported below
        shape = data.shape if isinstance(data, np.ndarray) else type(data).__name__
        if (
            not isinstance(data, np.ndarray)
            or data.ndim != 2
            or data.shape[1] != 3 * SIDE * SIDE
            or len(y) != len(data)
        ):
            raise NasAttnError(
                f"{folder / file}: data has shape {shape} with {len(y)} labels, expected "
                f"(N, {3 * SIDE * SIDE}) uint8 with N labels; re-extract {layout.folder}"
            )
        data = data.astype(np.uint8, copy=False)
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise NasAttnError(f"{folder / file}: labels outside 0..{num_classes - 1}; re-extract it")
        images.append(data.reshape(-1, 3, SIDE, SIDE))
        labels.append(y)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def _class_names(folder: Path, layout: CifarLayout) -> tuple[str, ...]:
    meta_path = folder / layout.meta_file
    if not meta_path.is_file():
        raise NasAttnError(f"{meta_path} is missing; point {layout.kind}: at {layout.usage}")
    names = read_pickle(meta_path, layout).get(layout.names_key)
    if not names:
        raise NasAttnError(f"{meta_path} has no '{layout.names_key}'; re-extract {layout.folder}")
    return tuple(n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names)


def _load(
    name: str, folder: Path, layout: CifarLayout, classes: tuple[str, ...], image_size: int
) -> ProxyData:
    train_x, train_y = _read_batches(folder, layout.train_files, layout, len(classes))
    val_x, val_y = _read_batches(folder, layout.val_files, layout, len(classes))
    return make_proxy_data(
        name,
        (resize_uint8(train_x, image_size), train_y),
        (resize_uint8(val_x, image_size), val_y),
        len(classes),
        classes,
    )


def open_cifar(layout: CifarLayout, name: str, path: Path) -> DatasetSpec:
    """Check the folder and read the class names; the batches are read only by the loader."""
    folder = _find_folder(name, path, layout)
    classes = _class_names(folder, layout)
    return DatasetSpec(name, len(classes), lambda size, _seed: _load(name, folder, layout, classes, size))


for _layout in (CIFAR10, CIFAR100):
    register_dataset_kind(_layout.kind, _layout.usage)(partial(open_cifar, _layout))
