from pathlib import Path

import pytest
import torch
from support.cifar_files import write_cifar10, write_cifar100

from nas_attn import NasAttnError
from nas_attn.data import get_dataset_spec, load_dataset
from nas_attn.worker import ProxyConfig, load_proxy_data


def test_cifar10_batches_load_in_order_with_channels_and_classes(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    data = load_dataset(f"cifar10:{folder}", 32)
    assert data.train_images.shape == (20, 3, 32, 32) and data.train_images.dtype == torch.uint8
    assert data.val_images.shape == (6, 3, 32, 32)
    assert data.num_classes == 10 and data.classes[0] == "airplane" and data.classes[9] == "truck"
    assert data.train_labels.tolist() == [i % 10 for i in range(20)]
    assert data.train_labels.dtype == torch.int64
    # batches concatenated in order 1..5; R/G/B planes land in channels 0/1/2
    assert [int(x[0, 5, 5]) for x in data.train_images] == list(range(20))
    assert int(data.train_images[3, 1].unique()) == 100 and int(data.train_images[3, 2].unique()) == 200
    assert int(data.train_images[0, 0, 0, 0]) == 255 and int(data.train_images[0, 0, 0, 1]) == 0
    assert [int(x[0, 5, 5]) for x in data.val_images] == [1000 % 256 + i for i in range(6)]


def test_cifar10_accepts_the_parent_folder_and_resizes(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    data = load_dataset(f"cifar10:{tmp_path}", 16)
    assert data.train_images.shape == (20, 3, 16, 16) and data.train_images.dtype == torch.uint8
    assert int(data.train_images[7, 2].float().mean().round()) == 200


def test_cifar100_reads_fine_labels_and_its_class_count_from_meta(tmp_path: Path) -> None:
    folder = write_cifar100(tmp_path)
    name = f"cifar100:{folder}"
    assert get_dataset_spec(name).num_classes == 100
    data = load_dataset(name, 32)
    assert data.num_classes == 100 and len(data.classes) == 100 and data.classes[3] == "class3"
    assert data.train_labels.tolist() == [(7 * i) % 100 for i in range(12)]
    assert data.val_images.shape == (5, 3, 32, 32)


def test_proxy_config_validates_and_loads_a_cifar_folder_with_subsets(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    cfg = ProxyConfig(dataset=f"cifar10:{folder}", image_size=8, train_subset=10, val_subset=3)
    data = load_proxy_data(cfg)
    assert sorted(data.train_labels.tolist()) == list(range(10))  # one of each class
    assert len(data.val_labels) == 3 and data.image_size == 8


def test_a_truncated_batch_names_the_file(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path)
    blob = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(NasAttnError, match=r"cannot read .*data_batch_3: not a cifar10 python pickle batch"):
        load_dataset(f"cifar10:{folder}", 32)


def test_a_batch_with_the_wrong_shape_is_rejected(tmp_path: Path) -> None:
    import pickle

    folder = write_cifar10(tmp_path)
    with (folder / "test_batch").open("wb") as f:
        pickle.dump({b"data": bytes(10), b"labels": [0]}, f, protocol=2)
    with pytest.raises(NasAttnError, match=r"test_batch: data has shape .* expected \(N, 3072\)"):
        load_dataset(f"cifar10:{folder}", 32)


def test_missing_meta_is_reported(tmp_path: Path) -> None:
    folder = write_cifar100(tmp_path)
    (folder / "meta").unlink()
    with pytest.raises(
        NasAttnError, match=r"meta is missing; point cifar100: at the extracted cifar-100-python"
    ):
        get_dataset_spec(f"cifar100:{folder}")
