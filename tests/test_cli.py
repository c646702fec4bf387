"""The CLI as a user runs it: real subprocesses, real SQLite storage, a real local Ray cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from nas_attn import ArchConfig


def nas_attn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "nas_attn", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("nas-attn: error: ") and fragment in lines[0], lines[0]


def test_missing_space_file(tmp_path: Path) -> None:
    assert_one_line_error(
        nas_attn("search", "--space", "nope.yaml", cwd=tmp_path), "search space file not found: nope.yaml"
    )


def test_yaml_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: broken\nstages:\n  layer1: {module: [se, eca\n")
    assert_one_line_error(nas_attn("search", "--space", "broken.yaml", cwd=tmp_path), "YAML syntax error")


def test_unknown_module(tmp_path: Path, tiny_space_file: Path) -> None:
    bad = tiny_space_file.read_text().replace("[none, se, eca, cbam]", "[none, se, squeeze]", 1)
    (tmp_path / "bad.yaml").write_text(bad)
    proc = nas_attn("search", "--space", "bad.yaml", cwd=tmp_path)
    assert_one_line_error(proc, "stages.layer1.module: unknown attention module 'squeeze'")
    assert not (tmp_path / "nas_attn.db").exists()  # nothing written for a rejected space


def test_cuda_requested_without_gpu(tmp_path: Path, tiny_space_file: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = nas_attn("search", "--space", str(tiny_space_file), "--device", "cuda", cwd=tmp_path)
    assert_one_line_error(proc, "CUDA was requested but no GPU is visible")


@pytest.mark.ray
@pytest.mark.slow
def test_search_end_to_end_then_resume(tmp_path: Path, tiny_space_file: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = nas_attn(
        "search",
        "--space",
        str(tiny_space_file),
        "--storage",
        storage,
        "--n-trials",
        "3",
        "--workers",
        "2",
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    assert "Pareto front of 'tiny'" in first.stdout and "placement" in first.stdout
    assert f"study 'tiny' is stored in {storage}" in first.stdout

    study = optuna.load_study(study_name="tiny", storage=storage)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 3 and len(study.trials) == 3
    for trial in complete:
        assert len(trial.values) == 2
        accuracy, latency = trial.values
        assert 0.0 <= accuracy <= 1.0 and latency > 0
        arch = ArchConfig.from_dict(trial.user_attrs["arch"])
        assert trial.user_attrs["arch_digest"] == arch.digest()
        assert arch.stages["layer1"].module == trial.params["layer1.module"]
        assert trial.user_attrs["accuracy"] == accuracy and trial.user_attrs["params"] > 11_000_000

    second = nas_attn(
        "search",
        "--space",
        str(tiny_space_file),
        "--storage",
        storage,
        "--n-trials",
        "4",
        "--workers",
        "2",
        cwd=tmp_path,
    )
    assert second.returncode == 0, second.stderr
    assert "3 complete trials, target 4" in second.stdout
    summaries = optuna.get_all_study_summaries(storage)
    assert [s.study_name for s in summaries] == ["tiny"]
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 4

    third = nas_attn(
        "search", "--space", str(tiny_space_file), "--storage", storage, "--n-trials", "4", cwd=tmp_path
    )
    assert third.returncode == 0 and "target already reached" in third.stdout


def test_front_on_a_missing_study_lists_what_exists(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'empty.db'}"
    optuna.create_study(study_name="other", storage=storage)
    proc = nas_attn("front", "--storage", storage, "--study", "tiny", cwd=tmp_path)
    assert_one_line_error(proc, "no study named 'tiny' in this storage; studies: other")


def test_front_formats(tmp_path: Path, tiny_space_file: Path) -> None:
    """`front` ranks trials written by a search (here told directly, without training)."""
    import json

    from nas_attn import load_space
    from nas_attn.search import open_storage, open_study, sample_arch

    storage = f"sqlite:///{tmp_path / 'ranked.db'}"
    space = load_space(tiny_space_file)
    study = open_study(open_storage(storage), "tiny", space, "random")
    for accuracy, latency in [(0.9, 2.0), (0.8, 1.0), (0.7, 3.0)]:
        trial = study.ask()
        trial.set_user_attr("arch", sample_arch(trial, space).to_dict())
        trial.set_user_attr("params", 11_200_000)
        study.tell(trial, [accuracy, latency])
    records = json.loads(
        nas_attn("front", "--storage", storage, "--study", "tiny", "--format", "json", cwd=tmp_path).stdout
    )
    assert [(r["trial"], r["rank"]) for r in records] == [(0, 1), (1, 1), (2, 2)]
    assert records[0]["accuracy"] == 0.9 and records[0]["latency_ms"] == 2.0 and records[0]["placement"]
    csv_out = nas_attn(
        "front", "--storage", storage, "--study", "tiny", "--format", "csv", cwd=tmp_path
    ).stdout
    assert csv_out.splitlines()[0] == "trial,rank,accuracy,latency_ms,params,placement"
    assert len(csv_out.splitlines()) == 4
    table = nas_attn("front", "--storage", storage, "--study", "tiny", cwd=tmp_path)
    assert table.returncode == 0 and "rank" in table.stdout
    bad = nas_attn("front", "--storage", storage, "--study", "tiny", "--format", "xml", cwd=tmp_path)
    assert_one_line_error(bad, "unknown format 'xml'")


def test_modules_lists_the_zoo_with_costs(tmp_path: Path) -> None:
    from nas_attn.attention import list_attentions

    proc = nas_attn("modules", "--channels", "64", "--size", "8", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("│")}
    assert set(list_attentions()) <= set(rows)
    se = [cell.strip() for cell in rows["se"].split("│")]
    assert se[2:5] == ["channel", "16", "580"]  # kind, r, params = 2*64*4 + 4 + 64
    assert "n/a: shuffle: channels 64 must be divisible" in rows["shuffle"]
