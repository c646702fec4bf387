import itertools
import math
import time
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from nas_attn import ArchConfig, build_model
from nas_attn.data import load_dataset, take_subsets
from nas_attn.exceptions import TrialDivergedError
from nas_attn.worker import LatencyConfig, ProxyConfig, evaluate, train_proxy, trainer
from nas_attn.worker.augment import BatchTransform
from nas_attn.worker.device import DevicePolicy
from nas_attn.worker.trainer import lr_factor, parameter_groups

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits8():
    return load_dataset("digits", 8, seed=0)


@pytest.mark.slow
def test_proxy_training_learns_digits(digits8) -> None:
    cfg = ProxyConfig(image_size=8, epochs=2, batch_size=16, lr=0.05, crop_padding=1)
    data = take_subsets(digits8, 800, 200, seed=0)
    result = train_proxy(build_model(ArchConfig(image_size=8)), data, cfg, CPU)
    assert result.accuracy > 0.4  # chance is 0.1
    assert result.train_loss_curve[1] < result.train_loss_curve[0]
    assert len(result.val_accuracy_curve) == 2 and result.accuracy == result.val_accuracy_curve[-1]
    assert result.images_per_second > 0 and result.train_seconds > 0


@pytest.mark.slow
def test_training_is_deterministic_for_a_seed(digits8) -> None:
    cfg = ProxyConfig(image_size=8, epochs=1, batch_size=64)
    data = take_subsets(digits8, 256, 50, seed=0)
    runs = [train_proxy(build_model(ArchConfig(image_size=8)), data, cfg, CPU) for _ in range(2)]
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


class SlowNet(nn.Module):
    """A tiny classifier whose forward takes at least ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay)
        return self.head(self.conv(x).mean(dim=(2, 3)))


def test_wall_clock_budget_stops_early_and_records_it(digits8) -> None:
    data = take_subsets(digits8, 64, 50, seed=0)
    cfg = ProxyConfig(image_size=8, epochs=20, batch_size=8, max_seconds=0.3)  # 160 steps of >= 10 ms
    result = train_proxy(SlowNet(0.01), data, cfg, CPU)
    assert result.stopped_early
    assert result.stop_reason.startswith("wall-clock budget of 0.3 s reached after ")
    assert 0 < result.epochs_completed < 20 and result.epochs == 20
    assert len(result.val_accuracy_curve) == math.ceil(result.epochs_completed)
    assert result.accuracy == result.val_accuracy_curve[-1]


def test_schedule_clock_moves_by_time_when_time_runs_out_first(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(trainer.time, "perf_counter", lambda: now[0])
    clock = trainer.ScheduleClock(total_steps=1000, max_seconds=10.0)
    assert clock.position(5) == 5
    now[0] = 105.0  # half the time gone: half the schedule, whatever the step count
    assert clock.position(5) == 500 and clock.position(700) == 700
    now[0] = 110.0
    assert clock.position(5) == 1000
    assert trainer.ScheduleClock(1000, None).position(5) == 5


def test_divergence_check_reads_the_loss_only_every_check_every_steps(
    digits8, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[int] = []
    real_check = trainer._check_finite
    monkeypatch.setattr(trainer, "policy_for", lambda _d: DevicePolicy(None, torch.contiguous_format, 4))
    monkeypatch.setattr(trainer, "_check_finite", lambda s, e, i: checks.append(i) or real_check(s, e, i))
    data = take_subsets(digits8, 23 * 8, 20, seed=0)  # 23 steps of 8
    train_proxy(SlowNet(0.0), data, ProxyConfig(image_size=8, epochs=1, batch_size=8), CPU)
    assert checks == [3, 7, 11, 15, 19, 22]  # every 4th step and the epoch's end, not every step
    checks.clear()
    diverging = ProxyConfig(image_size=8, epochs=1, batch_size=8, lr=1e30, warmup_fraction=0.0)
    with pytest.raises(TrialDivergedError, match=r"loss is (nan|inf) by epoch 1, step 4; lower proxy.lr"):
        train_proxy(SlowNet(0.0), data, diverging, CPU)


@pytest.mark.slow
def test_same_arch_and_seed_give_the_same_accuracy_in_a_long_lived_worker(digits8) -> None:
    arch = ArchConfig(image_size=8, stages={"layer3": {"module": "eca"}})
    data = take_subsets(digits8, 192, 60, seed=0)
    proxy = ProxyConfig(image_size=8, epochs=1, batch_size=32)
    latency = LatencyConfig(warmup=0, repeats=3)
    first = evaluate(arch, proxy, latency, data, CPU)
    torch.manual_seed(1234)  # whatever ran before must not matter
    torch.rand(10)
    second = evaluate(arch, proxy, latency, data, CPU)
    assert first.accuracy == second.accuracy
    assert first.train_loss_curve == second.train_loss_curve
    other_seed = evaluate(arch, proxy.model_copy(update={"seed": 1}), latency, data, CPU)
    assert other_seed.train_loss_curve != first.train_loss_curve


@pytest.mark.slow
def test_torch_compile_trains_the_same_model(digits8) -> None:
    data = take_subsets(digits8, 128, 60, seed=0)
    cfg = ProxyConfig(image_size=8, epochs=2, batch_size=32, crop_padding=1)
    curves = []
    for compile_it in (False, True):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 64, 10))
        curves.append(
            train_proxy(model, data, cfg.model_copy(update={"compile": compile_it}), CPU).train_loss_curve
        )
    assert curves[1] == pytest.approx(curves[0], rel=1e-3)


@pytest.mark.slow
def test_resnet18_learns_digits_within_the_default_proxy_budget() -> None:
    space = yaml.safe_load((REPO / "search_spaces" / "resnet18_stages.yaml").read_text())
    cfg = ProxyConfig.model_validate(space["proxy"])
    assert (cfg.dataset, cfg.image_size, cfg.epochs, cfg.batch_size) == ("digits", 16, 3, 32)
    data = load_dataset(cfg.dataset, cfg.image_size, cfg.seed)
    arch = ArchConfig(stem="cifar", image_size=cfg.image_size)
    result = evaluate(arch, cfg, LatencyConfig(warmup=0, repeats=3), data, CPU)
    assert result.accuracy >= 0.95, result.val_accuracy_curve
