import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nas_attn import NasAttnError
from nas_attn.data import get_dataset_spec, imagefolder, load_dataset
from nas_attn.worker import ProxyConfig

COLOURS = {"cat": (220, 30, 30), "dog": (30, 30, 220), "eel": (30, 200, 30)}


def write_image(path: Path, colour: tuple[int, int, int], size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)  # format from the suffix: real PNG / JPEG files


def make_folder(root: Path, per_class: int = 3) -> Path:
    for split, n in (("train", per_class), ("val", 1)):
        for name, colour in COLOURS.items():
            for i in range(n):
                suffix = ".png" if i % 2 == 0 else ".JPG"
                write_image(root / split / name / f"{i}{suffix}", colour, (20 + i, 12))
    return root


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("NAS_ATTN_CACHE_DIR", str(cache))
    return cache


def class_means(images: torch.Tensor) -> np.ndarray:
    return images.float().mean(dim=(2, 3)).numpy()


def test_png_and_jpeg_class_folders_load_resized_with_labels(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pets")
    name = f"imagefolder:{root}"
    assert get_dataset_spec(name).num_classes == 3
    data = load_dataset(name, 8)
    assert data.classes == ("cat", "dog", "eel") and data.num_classes == 3
    assert data.train_images.shape == (9, 3, 8, 8) and data.train_images.dtype == torch.uint8
    assert data.val_images.shape == (3, 3, 8, 8)
    assert data.train_labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    means = class_means(data.train_images)
    for label, colour in enumerate(COLOURS.values()):
        # PNG is exact, JPEG within a few levels
        assert np.abs(means[data.train_labels.numpy() == label] - np.array(colour)).max() < 6


def test_second_load_reads_the_cache_without_decoding(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "pets")
    first = load_dataset(f"imagefolder:{root}", 8)
    assert len(list(private_cache.glob("imagefolder-*.npz"))) == 1

    def no_decoding(path: Path, size: int) -> np.ndarray:
        raise AssertionError(f"decoded {path} although the cache is fresh")

    monkeypatch.setattr(imagefolder, "decode_image", no_decoding)
    again = load_dataset(f"imagefolder:{root}", 8)
    assert torch.equal(again.train_images, first.train_images)
    assert torch.equal(again.val_labels, first.val_labels)


def test_a_changed_file_or_size_rebuilds_the_cache(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_folder(tmp_path / "pets")
    load_dataset(f"imagefolder:{root}", 8)
    decoded: list[Path] = []
    real = imagefolder.decode_image
    monkeypatch.setattr(imagefolder, "decode_image", lambda p, s: decoded.append(p) or real(p, s))

    target = root / "train" / "dog" / "0.png"
    write_image(target, (255, 255, 0), (20, 12))  # new content, same name
    stamp = target.stat().st_mtime_ns + 5_000_000_000
    os.utime(target, ns=(stamp, stamp))
    changed = load_dataset(f"imagefolder:{root}", 8)
    assert len(decoded) == 12
    assert class_means(changed.train_images[3:4])[0].tolist() == [255.0, 255.0, 0.0]

    load_dataset(f"imagefolder:{root}", 12)  # another size is another entry
    assert len(decoded) == 24
    assert len(list(private_cache.glob("imagefolder-*.npz"))) == 3


def test_proxy_config_with_an_imagefolder_and_balanced_subset(tmp_path: Path) -> None:
    from nas_attn.worker import load_proxy_data

    root = make_folder(tmp_path / "pets")
    data = load_proxy_data(ProxyConfig(dataset=f"imagefolder:{root}", image_size=8, train_subset=6))
    assert sorted(data.train_labels.tolist()) == [0, 0, 1, 1, 2, 2]


def test_a_corrupt_image_names_the_file(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "pets")
    (root / "val" / "cat" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(
        NasAttnError, match=r"cannot decode image .*broken\.jpg .*; remove or replace the file"
    ):
        load_dataset(f"imagefolder:{root}", 8)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no_val", r"has no val/ folder; make PATH a folder holding train/ and val/"),
        ("no_classes", r"train has no class sub-folders"),
        ("empty_class", r"train/eel holds no images"),
        ("extra_val_class", r"val/fox is a class that train/ does not have; add .*train/fox or remove it"),
    ],
)
def test_malformed_folders_give_one_clear_error(tmp_path: Path, breakage: str, message: str) -> None:
    root = make_folder(tmp_path / "pets")
    if breakage == "no_val":
        for f in (root / "val").rglob("*.*"):
            f.unlink()
        for d in sorted((root / "val").iterdir()):
            d.rmdir()
        (root / "val").rmdir()
    elif breakage == "no_classes":
        root = tmp_path / "bare"
        (root / "train").mkdir(parents=True)
        (root / "val").mkdir()
    elif breakage == "empty_class":
        for f in (root / "train" / "eel").iterdir():
            f.unlink()
    else:
        write_image(root / "val" / "fox" / "0.png", (1, 2, 3), (8, 8))
    with pytest.raises(NasAttnError, match=message):
        load_dataset(f"imagefolder:{root}", 8)
