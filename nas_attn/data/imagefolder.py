"""``imagefolder:PATH``: ``PATH/train/<class>/*.png|jpg...`` and ``PATH/val/<class>/...``.

Classes are the sorted sub-folders of ``train/`` (``val/`` may hold a subset of them). Every
image is decoded once (threads, PIL), resized on its shorter side and centre-cropped to
``image_size``, and cached as uint8 arrays (see :mod:`nas_attn.data.cache`) under a key made of
the resolved path, the image size and every file's name, byte size and mtime: the next load of
an unchanged folder reads one file, and any change to the folder rebuilds the cache.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from nas_attn.data.base import DatasetSpec, ProxyData, make_proxy_data, register_dataset_kind
from nas_attn.data.cache import cache_dir, cache_key, load_arrays, save_arrays
from nas_attn.exceptions import NasAttnError

EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
SPLITS = ("train", "val")
USAGE = "a folder holding train/ and val/, each with one sub-folder of images per class"
CACHE_FORMAT = 1
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; beyond, decoding one image can exhaust memory


@dataclass(frozen=True)
class ImageFile:
    path: Path
    label: int
    size: int
    mtime_ns: int


def _subfolders(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def list_images(root: Path, classes: tuple[str, ...]) -> dict[str, list[ImageFile]]:
    """The image files of each split with their labels, size and mtime (one ``stat`` each)."""
    index = {name: i for i, name in enumerate(classes)}
    out: dict[str, list[ImageFile]] = {}
    for split in SPLITS:
        files: list[ImageFile] = []
        for name in _subfolders(root / split):
            if name not in index:
                raise NasAttnError(
                    f"{root / split / name} is a class that train/ does not have; "
                    f"add {root / 'train' / name} or remove it"
                )
            entries = sorted(
                (e for e in os.scandir(root / split / name) if Path(e.name).suffix.lower() in EXTENSIONS),
                key=lambda e: e.name,
            )
            for e in entries:
                try:
                    st = e.stat()
                except OSError as exc:
                    raise NasAttnError(
                        f"cannot read {e.path}: {exc.strerror} (a symlink loop or broken link?); remove it"
                    ) from None
                files.append(ImageFile(Path(e.path), index[name], st.st_size, st.st_mtime_ns))
        out[split] = files
    for name in classes:
        if not any(f.label == index[name] for f in out["train"]):
            raise NasAttnError(f"{root / 'train' / name} holds no images ({', '.join(sorted(EXTENSIONS))})")
    if not out["val"]:
        raise NasAttnError(f"{root / 'val'} holds no images; add one sub-folder of images per class")
    return out


def decode_image(path: Path, size: int) -> np.ndarray:
    """One image as uint8 (3, size, size): RGB, shorter side resized, centre-cropped."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise NasAttnError(
                        f"image {path} is {width}x{height} pixels (over {MAX_PIXELS:,}: a decompression "
                        "bomb?); remove it or shrink it"
                    )
                img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when possible
                fitted = ImageOps.fit(img.convert("RGB"), (size, size), Image.Resampling.BILINEAR)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise NasAttnError(f"image {path} is refused: {exc}; remove it or shrink it") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, MemoryError) as exc:
        raise NasAttnError(f"cannot decode image {path} ({exc}); remove or replace the file") from None
    return np.asarray(fitted, dtype=np.uint8).transpose(2, 0, 1)


def _decode_all(files: list[ImageFile], size: int) -> tuple[np.ndarray, np.ndarray]:
    images = np.empty((len(files), 3, size, size), dtype=np.uint8)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        for i, array in enumerate(pool.map(lambda f: decode_image(f.path, size), files)):
            images[i] = array
    return images, np.array([f.label for f in files], dtype=np.int64)


def cache_path(root: Path, image_size: int, files: dict[str, list[ImageFile]]) -> Path:
    """The cache entry for this folder content at this size."""
    listing = {
        split: [[str(f.path.relative_to(root)), f.size, f.mtime_ns] for f in entries]
        for split, entries in files.items()
    }
    key = cache_key({"format": CACHE_FORMAT, "root": str(root), "size": image_size, "files": listing})
    return cache_dir() / f"imagefolder-{key}.npz"


def _load(name: str, root: Path, classes: tuple[str, ...], image_size: int) -> ProxyData:
    files = list_images(root, classes)
    path = cache_path(root, image_size, files)
    arrays = load_arrays(path)
    if arrays is None:
        train_x, train_y = _decode_all(files["train"], image_size)
        val_x, val_y = _decode_all(files["val"], image_size)
        arrays = {"train_x": train_x, "train_y": train_y, "val_x": val_x, "val_y": val_y}
        save_arrays(path, arrays)
    t = {k: torch.from_numpy(v) for k, v in arrays.items()}
    return make_proxy_data(
        name, (t["train_x"], t["train_y"]), (t["val_x"], t["val_y"]), len(classes), classes
    )


@register_dataset_kind("imagefolder", USAGE)
def open_imagefolder(name: str, path: Path) -> DatasetSpec:
    """Check the layout and read the class names (sub-folders of ``train/``); decode nothing."""
    try:
        root = path.resolve()
    except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13)
        raise NasAttnError(
            f"dataset '{name}': cannot resolve {path} (a symlink loop?); point imagefolder: at a real folder"
        ) from None
    missing = [s for s in SPLITS if not (root / s).is_dir()]
    if missing:
        raise NasAttnError(
            f"dataset '{name}': {root} has no {' or '.join(missing)}/ folder; make PATH {USAGE}"
        )
    classes = tuple(_subfolders(root / "train"))
    if not classes:
        raise NasAttnError(f"dataset '{name}': {root / 'train'} has no class sub-folders; make PATH {USAGE}")
    return DatasetSpec(name, len(classes), lambda size, _seed: _load(name, root, classes, size))
