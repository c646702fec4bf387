"""``mnist:PATH``, ``fashion-mnist:PATH`` and ``fashion-mnist``: the IDX files of the official downloads.

PATH is the folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each gzip-compressed (``.gz``, as
downloaded) or raw (as extracted). The official test set is the validation split
(``val_subset`` cuts it), independent of the seed. ``fashion-mnist`` without a path finds the
copy Debian's ``dataset-fashion-mnist`` package installs, or the folder named by
``$NAS_ATTN_FASHION_MNIST``.

IDX (LeCun et al., "Gradient-based learning applied to document recognition", 1998): a
big-endian header (two zero bytes, a type byte, 0x08 for unsigned bytes, a dimension count,
then one uint32 per dimension) and the values. Every header and length is checked; a bad file
is one line naming it. Grey images are resized and replicated to 3 channels as ``digits`` is,
and cached decoded (see :mod:`nas_attn.data.cache`).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from nas_attn.data.base import DatasetSpec, DefaultLocation, ProxyData, make_proxy_data, register_dataset_kind
from nas_attn.data.cache import cache_dir, cache_key, load_arrays, save_arrays
from nas_attn.data.images import grey_to_rgb_uint8
from nas_attn.exceptions import NasAttnError

UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
CACHE_FORMAT = 1
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "val": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
USAGE = (
    "a folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte "
    "and t10k-labels-idx1-ubyte (.gz or raw)"
)
FASHION_CLASSES = (
    "t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot",
)  # fmt: skip
DIGIT_CLASSES = tuple(str(i) for i in range(10))


@dataclass(frozen=True)
class IdxVariant:
    """One dataset stored as IDX files: its kind name, classes and where a system copy lives."""

    kind: str
    classes: tuple[str, ...]
    default: DefaultLocation | None = None


FASHION_MNIST = IdxVariant(
    "fashion-mnist",
    FASHION_CLASSES,
    DefaultLocation(
        env_var="NAS_ATTN_FASHION_MNIST",
        paths=(Path("/usr/share/datasets/fashion-mnist"),),
        how_to_get=(
            "install Debian's copy with 'apt-get install dataset-fashion-mnist', or set "
            "NAS_ATTN_FASHION_MNIST to the folder of the official download's four .gz files, "
            "or write fashion-mnist:PATH"
        ),
    ),
)
MNIST = IdxVariant("mnist", DIGIT_CLASSES)


def find_file(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` (raw) or ``folder/stem.gz``; also the ``stem`` spelled with '.idx' (some mirrors)."""
    for name in (stem, stem.replace("-idx", ".idx")):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


MAX_IDX_BYTES = 1 << 30  # one IDX file's values: 1 GiB, 20x the official MNIST training images
GZIP_MAX_RATIO = 1032  # deflate never expands its input more than this (RFC 1951 stored/fixed blocks)


@dataclass(frozen=True)
class IdxHeader:
    """An IDX file's checked header: where it is, its dimensions, whether it is gzip-compressed."""

    path: Path
    dims: tuple[int, ...]
    gz: bool

    @property
    def header_bytes(self) -> int:
        return 4 + 4 * len(self.dims)

    @property
    def values(self) -> int:
        return math.prod(self.dims)

    def shape(self) -> str:
        return " x ".join(map(str, self.dims))


def _magic_problem(path: Path, head: bytes, ndim: int) -> None:
    magic = int.from_bytes(head[:4], "big") if len(head) >= 4 else None
    expected_magic = (UBYTE << 8) | ndim
    if magic != expected_magic:
        found = "no header" if magic is None else f"magic number 0x{magic:08x}"
        raise NasAttnError(
            f"{path}: not an IDX file of {ndim}-d unsigned bytes ({found}, expected 0x{expected_magic:08x}); "
            "check the file name or download it again"
        )
    if len(head) < 4 + 4 * ndim:
        raise NasAttnError(f"{path}: the IDX header is cut short ({len(head)} bytes); download it again")


def read_header(path: Path, ndim: int) -> IdxHeader:
    """The header of ``path`` (decompressing only its first bytes), with the sizes it claims
    checked before anything else is read: at most :data:`MAX_IDX_BYTES` values, and no more
    than the file on disk can hold (raw: its exact size; gzip: :data:`GZIP_MAX_RATIO` x its size).
    A decompression bomb is refused here, without being decompressed."""
    head = read_head(path, 4 + 4 * ndim)
    _magic_problem(path, head, ndim)
    header = IdxHeader(
        path, tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)), _is_gzip(path)
    )
    claimed = header.header_bytes + header.values
    stored = _stored_size(path)
    if header.values > MAX_IDX_BYTES:
        raise NasAttnError(
            f"{path}: the header claims {header.shape()} values ({claimed / 2**30:.1f} GiB), more than the "
            f"{MAX_IDX_BYTES // 2**30} GiB nas-attn reads from one IDX file (a damaged file or a "
            "decompression bomb?); nothing was decompressed: download it again"
        )
    if header.gz and claimed > stored * GZIP_MAX_RATIO:
        raise NasAttnError(
            f"{path}: the header claims {header.shape()} values ({claimed} bytes) but the {stored}-byte "
            f".gz cannot hold that many (gzip expands at most {GZIP_MAX_RATIO}x): a damaged file or a "
            "decompression bomb; nothing was decompressed: download it again"
        )
    if not header.gz and claimed != stored:
        _length_problem(header, stored)
    return header


def _length_problem(header: IdxHeader, found: int) -> None:
    expected = header.header_bytes + header.values
    what = "truncated" if found < expected else "longer than its header says"
    holds = f"{found} bytes" if found < expected or not header.gz else "more (reading stopped there)"
    raise NasAttnError(
        f"{header.path}: {what}: the header promises {header.shape()} values "
        f"({expected} bytes with the header) but the file holds {holds}; download it again"
    )


def _stored_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise NasAttnError(f"{path}: cannot read it ({exc}); download it again") from None


def read_values(header: IdxHeader) -> np.ndarray:
    """The uint8 values of a checked header's file, decompressed in bounded steps: never more
    than the header's count (plus one byte, to tell a longer file) is held in memory."""
    path, expected = header.path, header.header_bytes + header.values
    try:
        with gzip.open(path, "rb") if header.gz else path.open("rb") as f:
            blob = f.read(header.header_bytes)
            blob += f.read(header.values + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise NasAttnError(
            f"{path}: cannot read it ({type(exc).__name__}: {exc}); the file is damaged or cut short, "
            "download it again"
        ) from None
    if len(blob) != expected:
        _length_problem(header, len(blob))
    return np.frombuffer(blob, dtype=np.uint8, offset=header.header_bytes).reshape(header.dims)


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The uint8 array of the IDX file ``path`` with ``ndim`` dimensions; else one line naming it."""
    return read_values(read_header(path, ndim))


def _split_paths(folder: Path, split: str) -> tuple[Path, Path]:
    images_stem, labels_stem = SPLIT_FILES[split]
    images_path, labels_path = (find_file(folder, s) for s in (images_stem, labels_stem))
    if images_path is None or labels_path is None:
        missing = images_stem if images_path is None else labels_stem
        raise NasAttnError(f"{folder} has no {missing}[.gz]; it must be {USAGE}")
    return images_path, labels_path


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == GZIP_MAGIC


def _check_labels(
    images_path: Path, labels_path: Path, n_images: int, labels: np.ndarray, n_classes: int
) -> None:
    if len(labels) != n_images:
        raise NasAttnError(
            f"{labels_path}: {len(labels)} labels for the {n_images} images of {images_path.name}; "
            "the files come from different downloads: download both again"
        )
    if n_images == 0:
        raise NasAttnError(f"{images_path}: holds no images; download it again")
    if int(labels.max()) >= n_classes:
        raise NasAttnError(
            f"{labels_path}: label {int(labels.max())} is outside 0..{n_classes - 1}; download it again"
        )


def read_split(folder: Path, split: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, H, W), labels (N,) int64) of ``split``, with counts and labels checked (both
    headers first, so neither file is decompressed when they disagree)."""
    images_path, labels_path = _split_paths(folder, split)
    images_header, labels_header = read_header(images_path, 3), read_header(labels_path, 1)
    _check_counts(images_header, labels_header)
    images, labels = read_values(images_header), read_values(labels_header)
    _check_labels(images_path, labels_path, len(images), labels, num_classes)
    return images, labels.astype(np.int64)


def _files_key(folder: Path) -> list[list[object]]:
    listing: list[list[object]] = []
    for stems in SPLIT_FILES.values():
        for stem in stems:
            path = find_file(folder, stem)
            if path is not None:
                st = path.stat()
                listing.append([str(path), st.st_size, st.st_mtime_ns])
    return listing


def _load(name: str, folder: Path, variant: IdxVariant, image_size: int) -> ProxyData:
    num_classes = len(variant.classes)
    key = cache_key(
        {"format": CACHE_FORMAT, "kind": variant.kind, "size": image_size, "files": _files_key(folder)}
    )
    path = cache_dir() / f"idx-{variant.kind}-{key}.npz"
    arrays = load_arrays(path)
    if arrays is None:
        arrays = {}
        for split in SPLIT_FILES:
            images, labels = read_split(folder, split, num_classes)
            arrays[f"{split}_x"] = grey_to_rgb_uint8(images, 1.0, image_size)[:, 0].numpy()
            arrays[f"{split}_y"] = labels
        save_arrays(path, arrays)

    def rgb(split: str) -> torch.Tensor:
        return torch.from_numpy(arrays[f"{split}_x"]).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()

    return make_proxy_data(
        name,
        (rgb("train"), torch.from_numpy(arrays["train_y"])),
        (rgb("val"), torch.from_numpy(arrays["val_y"])),
        num_classes,
        variant.classes,
    )


def payload_size(path: Path) -> int:
    """The file's content length without reading it all: its size, or for gzip the trailer's
    ISIZE (the uncompressed length modulo 2**32; a cut-short file has a wrong one)."""
    try:
        if not _is_gzip(path):
            return path.stat().st_size
        with path.open("rb") as f:
            f.seek(-4, os.SEEK_END)
            return int.from_bytes(f.read(4), "little")
    except OSError as exc:
        raise NasAttnError(f"{path}: cannot read it ({exc}); download it again") from None


def read_head(path: Path, nbytes: int) -> bytes:
    """The first ``nbytes`` of the content (decompressing only those for gzip)."""
    try:
        with path.open("rb") as raw:
            gz = raw.read(2) == GZIP_MAGIC
        with gzip.open(path, "rb") if gz else path.open("rb") as f:
            return f.read(nbytes)
    except (OSError, EOFError, zlib.error) as exc:
        raise NasAttnError(f"{path}: cannot read it ({type(exc).__name__}); download it again") from None


def _check_counts(images: IdxHeader, labels: IdxHeader) -> None:
    if labels.dims[0] != images.dims[0]:
        raise NasAttnError(
            f"{labels.path}: {labels.dims[0]} labels for the {images.dims[0]} images of {images.path.name}; "
            "the files come from different downloads: download both again"
        )


def check_split(folder: Path, split: str, num_classes: int) -> None:
    """Headers, lengths, counts and labels of one split, reading only the headers and the small
    label file (a validation pass: what a search checks before it starts). Every size is checked
    against its header and the caps before a byte is decompressed."""
    images_path, labels_path = _split_paths(folder, split)
    images, labels_header = read_header(images_path, 3), read_header(labels_path, 1)
    expected = images.header_bytes + images.values
    wanted = expected % 2**32 if images.gz else expected  # gzip's ISIZE wraps at 4 GiB
    if payload_size(images_path) != wanted:
        raise NasAttnError(
            f"{images_path}: truncated or padded: the header promises {images.shape()} values "
            f"({expected} bytes with the header) but the file holds a different amount; download it again"
        )
    _check_counts(images, labels_header)
    labels = read_values(labels_header)
    _check_labels(images_path, labels_path, images.dims[0], labels, num_classes)


def open_idx(variant: IdxVariant, name: str, path: Path) -> DatasetSpec:
    """Check the four files (headers, lengths, counts, labels); the images are decoded by the loader."""
    for split in SPLIT_FILES:
        try:
            check_split(path, split, len(variant.classes))
        except NasAttnError as exc:
            raise NasAttnError(f"dataset '{name}': {exc}") from None
    return DatasetSpec(name, len(variant.classes), lambda size, _seed: _load(name, path, variant, size))


for _variant in (FASHION_MNIST, MNIST):
    register_dataset_kind(_variant.kind, USAGE, default=_variant.default)(partial(open_idx, _variant))
