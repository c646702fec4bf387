import torch
from torch import nn

from nas_attn.worker import measure_latency, measure_latency_ratio
from nas_attn.worker.latency import calibrated_latency_ms, paired_ratio


class Sleepy(nn.Module):
    """Counts calls and records the mode it was called in."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.modes: set[bool] = set()
        self.lin = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.modes.add(self.training)
        return x


def test_latency_runs_warmup_plus_repeats_in_eval_mode_and_restores_mode() -> None:
    model = Sleepy().train()
    result = measure_latency(model, 8, torch.device("cpu"), batch_size=2, warmup=4, repeats=10)
    assert model.calls == 14
    assert model.modes == {False}
    assert model.training
    assert result.repeats == 10 and result.batch_size == 2
    assert result.median_ms >= 0 and result.iqr_ms >= 0


def test_heavier_model_measures_slower() -> None:
    light = nn.Conv2d(3, 8, 1)
    heavy = nn.Sequential(*[nn.Conv2d(3 if i == 0 else 64, 64, 3, padding=1) for i in range(6)])
    cpu = torch.device("cpu")
    assert (
        measure_latency(heavy, 32, cpu, repeats=10).median_ms
        > measure_latency(light, 32, cpu, repeats=10).median_ms
    )


class Logged(nn.Module):
    """Appends its name to a shared log on every call."""

    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name, self.log = name, log
        self.lin = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append(self.name)
        return x


def test_ratio_interleaves_model_and_baseline_passes_abba() -> None:
    log: list[str] = []
    a, b = Logged("a", log).train(), Logged("b", log).train()
    result = measure_latency_ratio(a, b, 8, torch.device("cpu"), warmup=2, repeats=6)
    assert log[:4] == ["a", "b", "a", "b"]  # warm-up both
    assert log[4:] == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b", "b", "a"]
    assert a.training and b.training  # timed in eval mode, modes restored
    assert result.model.repeats == result.baseline.repeats == 6
    assert result.ratio > 0 and result.ratio_iqr >= 0


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
