"""``validate-proxy`` and ``reseed`` as a user runs them: a real search first, then real Ray
workers retraining its trials (subprocesses, SQLite)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from support.cli import assert_one_line_error, nas_attn

from nas_attn.search.studydb.attrs import PROXY_VALIDATION_ATTR, seed_runs_key


@pytest.mark.ray
@pytest.mark.slow
def test_validate_proxy_and_reseed_on_a_finished_study(tmp_path: Path, tiny_space_file: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    common = ("--study", "tiny", "--storage", storage, "--workers", "2", "--device", "cpu")
    search = nas_attn("search", "--space", str(tiny_space_file), "--n-trials", "4", *common, cwd=tmp_path)
    assert search.returncode == 0, search.stderr

    validate = nas_attn("validate-proxy", "--sample", "3", "--epochs", "2", *common, cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr
    assert "Kendall tau" in validate.stdout and "Spearman rho" in validate.stdout
    study = optuna.load_study(study_name="tiny", storage=storage)
    stored = study.user_attrs[PROXY_VALIDATION_ATTR][-1]
    assert stored["epochs"] == 2 and stored["proxy_epochs"] == 1 and len(stored["trials"]) == 3
    assert all(0.0 <= t["long_accuracy"] <= 1.0 for t in stored["trials"])
    assert stored["seeds"] == [0, 1] and all(
        sorted(t["long_accuracies"]) == ["0", "1"] for t in stored["trials"]
    )
    assert "noise ceiling" in validate.stdout and "free predictors" in validate.stdout
    assert set(stored["baselines"]) == {"params", "latency_ms"} and "kendall_tau" in stored["ci95"]
    assert -1.0 <= stored["kendall_tau"] <= 1.0 or stored["kendall_tau"] != stored["kendall_tau"]

    reseed = nas_attn("reseed", "--seeds", "2", *common, cwd=tmp_path)
    assert reseed.returncode == 0, reseed.stderr
    study = optuna.load_study(study_name="tiny", storage=storage)
    runs = [v for k, v in study.user_attrs.items() if k.startswith("seed_runs:")]
    assert runs and all(r["seeds"] == [1] for r in runs)
    assert "±" in reseed.stdout  # the front table shows the spread over seeds
    assert seed_runs_key(int(next(k for k in study.user_attrs if k.startswith("seed_runs:")).split(":")[1]))


@pytest.mark.slow
def test_rerun_commands_refuse_a_missing_study_or_database(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'empty.db'}"
    for command in (("validate-proxy", "--epochs", "3"), ("reseed",)):
        proc = nas_attn(*command, "--study", "nope", "--storage", storage, cwd=tmp_path)
        assert_one_line_error(proc, f"no SQLite database at '{tmp_path / 'empty.db'}'")
        assert not (tmp_path / "empty.db").exists()  # reading never creates a database
    optuna.create_study(study_name="other", storage=storage)
    for command in (("validate-proxy", "--epochs", "3"), ("reseed",)):
        proc = nas_attn(*command, "--study", "nope", "--storage", storage, cwd=tmp_path)
        assert_one_line_error(proc, "no study named 'nope' in this storage; studies: other")
