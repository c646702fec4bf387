"""IDX datasets (``mnist:PATH``, ``fashion-mnist:PATH``, ``fashion-mnist``): files written here in
the official format (gzip and raw), every malformed-file case, and Debian's real copy when present."""

from __future__ import annotations

import dataclasses
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nas_attn.data import get_dataset_spec, list_datasets, load_dataset
from nas_attn.data.idx import FASHION_CLASSES, FASHION_MNIST
from nas_attn.exceptions import NasAttnError

DEBIAN_COPY = Path("/usr/share/datasets/fashion-mnist")
REQUIRE_REAL = os.environ.get("NAS_ATTN_REQUIRE_FASHION_MNIST") == "1"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAS_ATTN_CACHE_DIR", str(tmp_path / "cache"))


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8) in the IDX format: 0, 0, type 0x08, ndim, big-endian dims, values."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_split(n: int, side: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images whose brightness encodes the class (so they are recognisable), labels cycling 0..9."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    images = rng.integers(0, 20, size=(n, side, side), dtype=np.uint8)
    images[:, side // 4 : 3 * side // 4, side // 4 : 3 * side // 4] += (labels * 20)[:, None, None]
    return images, labels


def write_idx_folder(folder: Path, *, gz: bool, n_train: int = 60, n_val: int = 20, side: int = 28) -> Path:
    """The four official files in ``folder``, compressed (``.gz``) or raw."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_val, 1)):
        images, labels = make_split(n, side, seed)
        for kind, array in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            blob = idx_bytes(array)
            if gz:
                (folder / f"{kind}.gz").write_bytes(gzip.compress(blob))
            else:
                (folder / kind).write_bytes(blob)
    return folder


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("kind", ["mnist", "fashion-mnist"])
def test_both_encodings_and_kinds_load_with_shapes_labels_and_balance(
    tmp_path: Path, gz: bool, kind: str
) -> None:
    folder = write_idx_folder(tmp_path / "data", gz=gz)
    data = load_dataset(f"{kind}:{folder}", image_size=16)
    assert data.train_images.shape == (60, 3, 16, 16)
    assert data.val_images.shape == (20, 3, 16, 16)
    assert data.train_images.dtype == data.val_images.dtype == torch.uint8
    # grey replicated to 3 equal channels, as digits is
    assert (data.train_images[:, 0] == data.train_images[:, 1]).all()
    assert (data.train_images[:, 1] == data.train_images[:, 2]).all()
    # labels read in file order: the test set is the validation split, untouched by the seed
    assert data.train_labels.tolist() == [i % 10 for i in range(60)]
    assert data.val_labels.tolist() == [i % 10 for i in range(20)]
    assert np.bincount(data.train_labels.numpy(), minlength=10).tolist() == [6] * 10
    assert data.num_classes == 10
    assert data.classes == (FASHION_CLASSES if kind == "fashion-mnist" else tuple("0123456789"))
    # the class-coded square survives the resize: centre brighter for higher labels
    centre = data.train_images[:, 0, 6:10, 6:10].float().mean(dim=(1, 2))
    assert centre[9] > centre[5] > centre[0]


def test_raw_and_gzip_give_identical_pixels(tmp_path: Path) -> None:
    a = load_dataset(f"mnist:{write_idx_folder(tmp_path / 'gz', gz=True)}", image_size=28)
    b = load_dataset(f"mnist:{write_idx_folder(tmp_path / 'raw', gz=False)}", image_size=28)
    assert (a.train_images == b.train_images).all() and (a.val_images == b.val_images).all()
    expected, _ = make_split(60, 28, 0)
    assert (a.train_images[:, 0].numpy() == expected).all()  # 28 px: no resize, exact values


def test_second_load_comes_from_the_cache_and_a_changed_file_rebuilds(tmp_path: Path) -> None:
    folder = write_idx_folder(tmp_path / "data", gz=True)
    load_dataset(f"mnist:{folder}", image_size=12)
    cached = list((tmp_path / "cache").glob("idx-mnist-*.npz"))
    assert len(cached) == 1
    assert load_dataset(f"mnist:{folder}", image_size=12).train_images.shape == (60, 3, 12, 12)
    write_idx_folder(folder, gz=True, n_train=70)
    assert load_dataset(f"mnist:{folder}", image_size=12).train_images.shape == (70, 3, 12, 12)
    assert len(list((tmp_path / "cache").glob("idx-mnist-*.npz"))) == 2


def test_val_subset_cuts_the_test_split(tmp_path: Path) -> None:
    from nas_attn.data import take_subsets

    data = load_dataset(f"fashion-mnist:{write_idx_folder(tmp_path / 'd', gz=True)}", image_size=8)
    cut = take_subsets(data, 30, 10, seed=0)
    assert len(cut.train_labels) == 30 and len(cut.val_labels) == 10
    assert np.bincount(cut.val_labels.numpy(), minlength=10).tolist() == [1] * 10


def _corrupt(folder: Path, name: str, how: str) -> Path:
    path = folder / name
    blob = gzip.decompress(path.read_bytes())
    if how == "magic":
        blob = b"\x00\x00\x08\x09" + blob[4:]
    elif how == "truncated":
        blob = blob[: len(blob) - 100]
    elif how == "extra":
        blob = blob + b"\x00" * 7
    elif how == "labels_count":
        n = int.from_bytes(blob[4:8], "big") - 1
        blob = blob[:4] + n.to_bytes(4, "big") + blob[8 : 8 + n]
    elif how == "label_range":
        blob = blob[:8] + bytes([12]) + blob[9:]
    elif how == "float_type":
        blob = blob[:2] + b"\x0d" + blob[3:]
    path.write_bytes(gzip.compress(blob))
    return path


MALFORMED = [
    ("wrong_magic", "train-images-idx3-ubyte.gz", "magic", "not an IDX file"),
    ("float_values", "t10k-images-idx3-ubyte.gz", "float_type", "not an IDX file"),
    ("truncated_images", "train-images-idx3-ubyte.gz", "truncated", "truncated"),
    ("padded_images", "t10k-images-idx3-ubyte.gz", "extra", "truncated or padded"),
    ("truncated_labels", "train-labels-idx1-ubyte.gz", "truncated", "truncated"),
    ("counts_disagree", "t10k-labels-idx1-ubyte.gz", "labels_count", "labels for the 20 images"),
    ("label_out_of_range", "train-labels-idx1-ubyte.gz", "label_range", "outside 0..9"),
]


@pytest.mark.parametrize(("case", "name", "how", "fragment"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_file_is_one_line_naming_it(
    tmp_path: Path, case: str, name: str, how: str, fragment: str
) -> None:
    folder = write_idx_folder(tmp_path / "data", gz=True)
    path = _corrupt(folder, name, how)
    with pytest.raises(NasAttnError) as info:
        get_dataset_spec(f"mnist:{folder}")
    message = str(info.value)
    assert fragment in message and str(path) in message
    assert "\n" not in message and "download" in message


def test_a_cut_short_gzip_stream_is_one_line(tmp_path: Path) -> None:
    folder = write_idx_folder(tmp_path / "data", gz=True)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-40])  # the deflate stream and trailer are cut
    with pytest.raises(NasAttnError, match="train-images-idx3-ubyte.gz") as info:
        get_dataset_spec(f"fashion-mnist:{folder}")
    assert "\n" not in str(info.value)


def test_a_missing_file_names_it_and_what_the_folder_must_hold(tmp_path: Path) -> None:
    folder = write_idx_folder(tmp_path / "data", gz=False)
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(NasAttnError, match=r"has no t10k-labels-idx1-ubyte\[\.gz\].*train-images-idx3-ubyte"):
        get_dataset_spec(f"mnist:{folder}")


def test_fashion_mnist_alone_uses_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_idx_folder(tmp_path / "mine", gz=True)
    monkeypatch.setenv(FASHION_MNIST.default.env_var, str(folder))  # type: ignore[union-attr]
    assert "fashion-mnist" in list_datasets() and "fashion-mnist:PATH" in list_datasets()
    data = load_dataset("fashion-mnist", image_size=8)
    assert len(data.train_labels) == 60 and data.classes == FASHION_CLASSES


def test_fashion_mnist_alone_without_a_copy_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAS_ATTN_FASHION_MNIST", raising=False)
    from nas_attn.data import base

    kind = base._KINDS["fashion-mnist"]
    nowhere = dataclasses.replace(kind.default, paths=(Path("/nonexistent/fashion"),))
    monkeypatch.setitem(base._KINDS, "fashion-mnist", dataclasses.replace(kind, default=nowhere))
    with pytest.raises(NasAttnError, match="apt-get install dataset-fashion-mnist") as info:
        get_dataset_spec("fashion-mnist")
    assert "NAS_ATTN_FASHION_MNIST" in str(info.value) and "fashion-mnist:PATH" in str(info.value)


CLI_SPACE = """\
name: idx_bad
backbone: {{name: resnet18, stem: cifar}}
stages:
  layer1: {{module: [none, se], reduction: [16], position: [block]}}
proxy: {{dataset: "{dataset}", image_size: 8, epochs: 1}}
"""


@pytest.mark.parametrize("how", ["magic", "truncated", "labels_count"])
@pytest.mark.slow
def test_the_cli_refuses_a_malformed_file_with_one_line_and_exit_1(tmp_path: Path, how: str) -> None:
    folder = write_idx_folder(tmp_path / "data", gz=True)
    target = "t10k-labels-idx1-ubyte.gz" if how == "labels_count" else "train-images-idx3-ubyte.gz"
    _corrupt(folder, target, how)
    space = tmp_path / "space.yaml"
    space.write_text(CLI_SPACE.format(dataset=f"fashion-mnist:{folder}"))
    db = tmp_path / "study.db"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nas_attn.cli",
            "search",
            "--space",
            str(space),
            "--storage",
            f"sqlite:///{db}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and target in lines[0] and "Traceback" not in proc.stderr
    assert not db.exists()


@pytest.mark.skipif(
    not DEBIAN_COPY.is_dir() and not REQUIRE_REAL, reason="dataset-fashion-mnist not installed"
)
def test_debian_copy_loads_in_full_with_balanced_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAS_ATTN_FASHION_MNIST", raising=False)
    assert DEBIAN_COPY.is_dir(), "CI needs Debian's dataset-fashion-mnist (.ci/run installs it)"
    data = load_dataset("fashion-mnist", image_size=16)
    assert data.train_images.shape == (60000, 3, 16, 16) and data.val_images.shape == (10000, 3, 16, 16)
    assert np.bincount(data.train_labels.numpy()).tolist() == [6000] * 10
    assert np.bincount(data.val_labels.numpy()).tolist() == [1000] * 10
    assert 0.2 < data.mean[0] < 0.4  # Fashion-MNIST's mean brightness is ~0.286
