import pytest
import torch
from torch import nn

from nas_attn.worker import measure_latency, measure_latency_ratio
from nas_attn.worker.latency import calibrated_latency_ms, paired_ratio


class Clock:
    """Stands in for ``time.perf_counter`` in the latency module: time passes only in a pass."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        monkeypatch.setattr("nas_attn.worker.latency.time", self)

    def perf_counter(self) -> float:
        return self.now

    def spend(self, ms: float) -> None:
        self.now += ms / 1e3


class Sleepy(nn.Module):
    """Counts calls and records the mode it was called in; call ``n`` takes ``n**2`` ms on ``clock``."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.calls = 0
        self.modes: set[bool] = set()
        self.lin = nn.Linear(3, 3)
        self.clock = clock

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.modes.add(self.training)
        self.clock.spend(self.calls**2)
        return x


def test_latency_runs_warmup_plus_repeats_in_eval_mode_and_restores_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = Sleepy(Clock(monkeypatch)).train()
    result = measure_latency(model, 8, torch.device("cpu"), batch_size=2, warmup=4, repeats=10)
    assert model.calls == 14
    assert model.modes == {False}
    assert model.training
    assert result.repeats == 10 and result.batch_size == 2
    # only the timed passes 5..14 count (25, 36, ..., 196 ms): median 90.5, quartiles 52.75 and 138.25
    assert result.median_ms == pytest.approx(90.5) and result.iqr_ms == pytest.approx(85.5)


def test_heavier_model_measures_slower() -> None:
    light = nn.Conv2d(3, 8, 1)
    heavy = nn.Sequential(*[nn.Conv2d(3 if i == 0 else 64, 64, 3, padding=1) for i in range(6)])
    cpu = torch.device("cpu")
    assert (
        measure_latency(heavy, 32, cpu, repeats=10).median_ms
        > measure_latency(light, 32, cpu, repeats=10).median_ms
    )


class Logged(nn.Module):
    """Appends its name to a shared log on every call; each call takes ``ms`` on ``clock``."""

    def __init__(self, name: str, log: list[str], clock: Clock, ms: float) -> None:
        super().__init__()
        self.name, self.log = name, log
        self.clock, self.ms = clock, ms
        self.lin = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append(self.name)
        self.clock.spend(self.ms)
        return x


def test_ratio_interleaves_model_and_baseline_passes_abba(monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    clock = Clock(monkeypatch)
    a, b = Logged("a", log, clock, ms=3.0).train(), Logged("b", log, clock, ms=1.5).train()
    result = measure_latency_ratio(a, b, 8, torch.device("cpu"), warmup=2, repeats=6)
    assert log[:4] == ["a", "b", "a", "b"]  # warm-up both
    assert log[4:] == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b", "b", "a"]
    assert a.training and b.training  # timed in eval mode, modes restored
    assert result.model.repeats == result.baseline.repeats == 6
    assert result.model.median_ms == pytest.approx(3.0) and result.baseline.median_ms == pytest.approx(1.5)
    assert result.ratio == pytest.approx(2.0) and result.ratio_iqr == pytest.approx(0.0, abs=1e-9)


def test_paired_ratio_is_the_median_of_per_round_ratios() -> None:
    # round 2 is disturbed for both (shared noise): the paired ratio is unaffected
    assert paired_ratio([2.0, 20.0, 4.0, 6.0], [1.0, 10.0, 2.0, 3.0]) == (2.0, 0.0)
    ratio, iqr = paired_ratio([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    assert ratio == 2.0 and iqr == 1.0


def test_latency_leaves_the_global_random_state_alone() -> None:
    a, b = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)
    state = torch.get_rng_state()
    measure_latency(a, 8, torch.device("cpu"), warmup=1, repeats=3)
    measure_latency_ratio(a, b, 8, torch.device("cpu"), warmup=1, repeats=3)
    assert torch.equal(torch.get_rng_state(), state)


def test_calibrated_latency_is_the_ratio_times_the_plain_backbones_reference() -> None:
    assert calibrated_latency_ms(1.5, 2.0) == 3.0
    assert calibrated_latency_ms(1.0, 4.25) == 4.25  # the plain backbone is its own reference
