"""Terminal rendering: the plan line, screened trials, and the spread over seeds in tables."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from nas_attn.cli import console, progress, tables
from nas_attn.search.execution.pool import PoolConfig
from nas_attn.search.results import TrialRow
from nas_attn.search.sampling.space import load_space
from nas_attn.worker.evaluate import TrialResult


def rendered(renderable: object) -> str:
    out = Console(width=200, record=True)
    out.print(renderable)
    return out.export_text()


def test_the_plan_names_the_budgets_and_the_constraints(tmp_path: Path, tiny_space_file: Path) -> None:
    text = tiny_space_file.read_text().replace(
        "search: {",
        "constraints: ['params <= 12e6', 'latency_ms <= 3']\nsearch: {fidelity: {epochs: [1, 3]}, ",
    )
    path = tmp_path / "constrained.yaml"
    path.write_text(text)
    space = load_space(path)
    line = tables.describe_plan(PoolConfig(workers=2, device="cpu", threads_per_worker=1), space)
    assert "1 -> 3 epochs (successive halving, brackets of 8)" in line
    assert "screened before training: params <= 1.2e+07, latency_ms <= 3" in line


def test_a_screened_trial_is_reported_as_not_trained() -> None:
    observer = progress.RichProgressObserver()
    result = TrialResult(
        accuracy=0.0,
        latency_ms=9.0,
        latency_iqr_ms=0.1,
        params=1,
        train_seconds=0.0,
        images_per_second=0.0,
        epochs=0,
        device="cpu",
        trained=False,
        violations=["latency_ms <= 3 (measured 9)"],
    )
    with console.console.capture() as captured, observer:
        observer.started(2, 0)
        observer.trial_finished(4, result, None)
    text = captured.get()
    assert "trial    4  screened out, not trained: latency_ms <= 3 (measured 9)" in text
    assert "acc 0.0000" not in text


def test_tables_show_mean_and_spread_and_the_budget() -> None:
    row = TrialRow(
        number=3,
        values={"accuracy": 0.9512, "latency_ms": 2.5},
        rank=1,
        placement="layer1=se/16",
        params=11_000_000,
        arch=None,
        spread={"accuracy": 0.004, "latency_ms": 0.1},
        seeds=3,
        fidelity_epochs=9,
    )
    text = rendered(tables.trials_table([row], "front"))
    assert "0.9512 ± 0.0040" in text and "2.500 ± 0.100" in text
    header = next(line for line in text.splitlines() if "seeds" in line)
    assert "epochs" in header
    assert " 3 " in text and " 9 " in text
