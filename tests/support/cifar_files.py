"""Write CIFAR python-pickle batch folders exactly as the official archives hold them."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def image_rows(labels: list[int], offset: int) -> np.ndarray:
    """(N, 3072) uint8 rows: R plane, G plane, B plane, each 32x32 row-major; values encode
    the image's global index so tests can check order and channel layout."""
    rows = np.zeros((len(labels), 3072), dtype=np.uint8)
    for i in range(len(labels)):
        k = offset + i
        rows[i, :1024] = k % 256
        rows[i, 1024:2048] = 100
        rows[i, 2048:] = 200
        rows[i, 0] = 255  # top-left red pixel
    return rows


def _dump(path: Path, obj: dict) -> None:
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=2)  # the archives are Python 2 cPickle files with byte keys


def write_cifar10(root: Path, per_batch: int = 4, test: int = 6) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    offset = 0
    for b in range(1, 6):
        labels = [(offset + i) % 10 for i in range(per_batch)]
        _dump(
            folder / f"data_batch_{b}",
            {
                b"batch_label": f"training batch {b} of 5".encode(),
                b"labels": labels,
                b"data": image_rows(labels, offset),
                b"filenames": [f"img_{offset + i}.png".encode() for i in range(per_batch)],
            },
        )
        offset += per_batch
    labels = [i % 10 for i in range(test)]
    _dump(
        folder / "test_batch",
        {
            b"batch_label": b"testing batch 1 of 1",
            b"labels": labels,
            b"data": image_rows(labels, 1000),
            b"filenames": [f"t_{i}.png".encode() for i in range(test)],
        },
    )
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    _dump(
        folder / "batches.meta", {b"num_cases_per_batch": per_batch, b"label_names": names, b"num_vis": 3072}
    )
    return folder


def write_cifar100(root: Path, train: int = 12, test: int = 5) -> Path:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for split, n, offset in (("train", train, 0), ("test", test, 500)):
        fine = [(7 * i) % 100 for i in range(n)]
        _dump(
            folder / split,
            {
                b"filenames": [f"{split}_{i}.png".encode() for i in range(n)],
                b"batch_label": f"{split} batch".encode(),
                b"fine_labels": fine,
                b"coarse_labels": [f // 5 for f in fine],
                b"data": image_rows(fine, offset),
            },
        )
    _dump(
        folder / "meta",
        {
            b"fine_label_names": [f"class{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"super{i}".encode() for i in range(20)],
        },
    )
    return folder


class CodeOnLoad:
    """A pickle payload: unpickling it calls ``exec`` (the standard unpickler would run it)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (self.source,)


def plant_payload(path: Path, marker: Path) -> None:
    """Overwrite a batch or meta file with a dict whose value runs code that creates ``marker``."""
    source = f"open({str(marker)!r}, 'w').write('ran')"
    _dump(path, {b"label_names": [b"cat"], b"payload": CodeOnLoad(source)})
