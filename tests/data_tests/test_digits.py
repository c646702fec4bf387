import numpy as np
import pytest
import torch

from nas_attn import NasAttnError
from nas_attn.data import get_dataset_spec, load_dataset


@pytest.fixture(scope="module")
def digits16():
    return load_dataset("digits", 16, seed=0)


def test_shapes_dtypes_and_classes(digits16) -> None:
    d = digits16
    assert d.train_images.dtype == torch.uint8 and d.val_images.dtype == torch.uint8
    assert d.train_images.shape[1:] == (3, 16, 16) and d.val_images.shape[1:] == (3, 16, 16)
    assert len(d.train_images) + len(d.val_images) == 1797
    assert len(d.val_images) == pytest.approx(0.2 * 1797, abs=1)
    assert d.num_classes == get_dataset_spec("digits").num_classes == 10
    # three identical channels (grey digits), full 0..255 range used
    assert torch.equal(d.train_images[:, 0], d.train_images[:, 2])
    assert int(d.train_images.max()) == 255 and int(d.train_images.min()) == 0


def test_split_is_stratified(digits16) -> None:
    train = np.bincount(digits16.train_labels.numpy(), minlength=10) / len(digits16.train_labels)
    val = np.bincount(digits16.val_labels.numpy(), minlength=10) / len(digits16.val_labels)
    assert np.abs(train - val).max() < 0.01


def test_split_is_fixed_by_the_seed_and_disjoint(digits16) -> None:
    again = load_dataset("digits", 16, seed=0)
    other = load_dataset("digits", 16, seed=1)
    assert torch.equal(again.val_images, digits16.val_images)
    assert not torch.equal(other.val_images, digits16.val_images)
    train_rows = {bytes(x.numpy()) for x in digits16.train_images}
    overlap = sum(bytes(x.numpy()) in train_rows for x in digits16.val_images)
    # sklearn's digits contain a handful of exact duplicate images; the split itself is disjoint
    assert overlap < 5


def test_native_size_keeps_pixels() -> None:
    from sklearn.datasets import load_digits

    d = load_dataset("digits", 8, seed=0)
    raw = load_digits().images
    scaled = np.round(raw * 255.0 / 16.0).astype(np.uint8)
    assert any(np.array_equal(d.train_images[0, 0].numpy(), img) for img in scaled)


def test_unknown_dataset_lists_available() -> None:
    with pytest.raises(NasAttnError, match="unknown dataset 'mnist4'.*digits"):
        load_dataset("mnist4", 16)
    with pytest.raises(NasAttnError, match="dataset 'mnist' needs a path.*digits"):
        load_dataset("mnist", 16)  # the IDX kind, written without its folder
