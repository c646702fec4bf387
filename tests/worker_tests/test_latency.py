import torch
from torch import nn

from nas_attn.worker import measure_latency


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
