import itertools
import math

import pytest
import torch

from nas_attn import ArchConfig, build_model
from nas_attn.data import load_dataset
from nas_attn.exceptions import TrialDivergedError
from nas_attn.worker import ProxyConfig, train_proxy
from nas_attn.worker.augment import BatchTransform
from nas_attn.worker.trainer import lr_factor, parameter_groups

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits8():
    return load_dataset("digits", 8, seed=0)


def test_proxy_training_learns_digits(digits8) -> None:
    cfg = ProxyConfig(image_size=8, epochs=2, batch_size=32, lr=0.1, crop_padding=1)
    result = train_proxy(build_model(ArchConfig(image_size=8)), digits8, cfg, CPU)
    assert result.accuracy > 0.4  # chance is 0.1
    assert result.train_loss_curve[1] < result.train_loss_curve[0]
    assert len(result.val_accuracy_curve) == 2 and result.accuracy == result.val_accuracy_curve[-1]
    assert result.images_per_second > 0 and result.train_seconds > 0


def test_training_is_deterministic_for_a_seed(digits8) -> None:
    cfg = ProxyConfig(image_size=8, epochs=1, batch_size=64)
    runs = [train_proxy(build_model(ArchConfig(image_size=8)), digits8, cfg, CPU) for _ in range(2)]
    torch.manual_seed(123)  # the trainer seeds itself; outside state must not matter
    assert runs[0].train_loss_curve == runs[1].train_loss_curve


def test_divergence_stops_the_trial_with_a_reason(digits8) -> None:
    cfg = ProxyConfig(image_size=8, epochs=1, batch_size=64, lr=1e30, warmup_fraction=0.0)
    with pytest.raises(TrialDivergedError, match="diverged"):
        train_proxy(build_model(ArchConfig(image_size=8)), digits8, cfg, CPU)


def test_schedule_warms_up_then_anneals_to_zero() -> None:
    total, warmup = 100, 10
    factors = [lr_factor(s, total, warmup) for s in range(total)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(factors[9:]))
    assert lr_factor(total, total, warmup) == 0.0
    assert factors[-1] == pytest.approx(1 / 90)


def test_no_weight_decay_on_norms_and_biases() -> None:
    model = build_model(ArchConfig(image_size=8, stages={"layer1": {"module": "se"}}))
    decay, no_decay = parameter_groups(model, 5e-4)
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim <= 1 for p in no_decay["params"])
    assert no_decay["weight_decay"] == 0.0
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_augmentation_translates_within_padding_and_normalises() -> None:
    images = torch.zeros(64, 3, 8, 8, dtype=torch.uint8)
    images[:, :, 4, 4] = 255  # one bright pixel
    t = BatchTransform((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), CPU, crop_padding=2, flip=False)
    out = t.augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    rows, cols = torch.nonzero(out[:, 0] > 0.5, as_tuple=True)[1:]
    assert rows.min() >= 2 and rows.max() <= 6 and cols.min() >= 2 and cols.max() <= 6
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) > 5  # really random per image
    torch.testing.assert_close(t.normalize(images), images.float() / 255)
    assert math.isclose(float(out.max()), 1.0)
