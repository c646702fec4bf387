"""The study's typed records read what older code wrote as dicts and write it back byte for byte.

Each test stores an attribute the OLD way (a literal dict, as the dict-writing code wrote it) in a
real SQLite study, reads it through its record and checks that the record's write stores exactly
the JSON the old writer stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from support.finished_study import make_finished_study

from nas_attn import ArchConfig
from nas_attn.search.studydb.latency_reference import LatencyReferences
from nas_attn.search.studydb.records import (
    FidelityHistory,
    FidelityStep,
    ProxyValidationHistory,
    RacingDecision,
    RacingHistory,
    SeedRuns,
    SpaceIdentity,
    StoredResult,
    stored_objectives,
)


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    return optuna.create_study(storage=f"sqlite:///{tmp_path}/r.db", directions=["maximize", "minimize"])


def stored_json(study: optuna.Study, key: str) -> str:
    """The attribute as the storage holds it (re-read from the database)."""
    return json.dumps(optuna.load_study(study_name=study.study_name, storage=study._storage).user_attrs[key])


def test_seed_runs_read_the_old_dict_and_append_as_the_old_writer_did(study: optuna.Study) -> None:
    study.set_user_attr(
        "seed_runs:3",
        {"seeds": [1], "values": [[0.8, 2.2]], "latency_reference_ms": [1.5], "epochs": [4]},
    )
    runs = SeedRuns.read(study.user_attrs, 3)
    assert (runs.seeds, runs.values, runs.latency_reference_ms, runs.epochs) == (
        (1,),
        ((0.8, 2.2),),
        (1.5,),
        (4,),
    )
    assert len(runs) == 1 and not SeedRuns.read(study.user_attrs, 4)
    runs.append(2, [0.85, 2.4], None, 4).write(study, 3)
    old = {
        "seeds": [1, 2],
        "values": [[0.8, 2.2], [0.85, 2.4]],
        "latency_reference_ms": [1.5, None],
        "epochs": [4, 4],
    }
    assert stored_json(study, "seed_runs:3") == json.dumps(old)


def test_seed_runs_of_before_latency_and_epochs_were_kept(study: optuna.Study) -> None:
    study.set_user_attr("seed_runs:0", {"seeds": [1, 2], "values": [[0.86, 2.2], [0.88, 2.4]]})
    study.set_user_attr("seed_runs:1", {"seeds": [5], "values": [[0.5, 1.0]], "epochs": [7]})
    study.set_user_attr("unrelated", {"seeds": [9]})
    runs = SeedRuns.read(study.user_attrs, 0)
    assert runs.latency_reference_ms == (None, None) and runs.epochs == (None, None)
    assert sorted(len(r) for r in SeedRuns.every(study.user_attrs)) == [1, 2]
    runs.append(3, [0.9, 2.0], 1.25, 6).write(study, 0)
    old = {  # the old writer's setdefault order: the reference, then the epochs
        "seeds": [1, 2, 3],
        "values": [[0.86, 2.2], [0.88, 2.4], [0.9, 2.0]],
        "latency_reference_ms": [None, None, 1.25],
        "epochs": [None, None, 6],
    }
    assert stored_json(study, "seed_runs:0") == json.dumps(old)


def test_first_seed_run_is_stored_as_the_old_writer_did(study: optuna.Study) -> None:
    SeedRuns.read(study.user_attrs, 2).append(7, [0.7, 3.0], 2.5, 3).write(study, 2)
    old = {"seeds": [7], "values": [[0.7, 3.0]], "latency_reference_ms": [2.5], "epochs": [3]}
    assert stored_json(study, "seed_runs:2") == json.dumps(old)


def test_racing_history_reads_old_entries_and_appends_only_a_changed_decision(study: optuna.Study) -> None:
    old: list[dict[str, Any]] = [{"seeds": 1, "verdict": "needs a seed", "reason": "one seed", "at": 1.5}]
    study.set_user_attr("racing:4", old)
    history = RacingHistory.read(study.user_attrs, 4)
    assert history.last == RacingDecision(1, "needs a seed", "one seed", 1.5)
    assert history.last is not None and history.last.describe() == "needs a seed (one seed)"
    assert history.after(RacingDecision(1, "needs a seed", "one seed", 9.0)) is history  # unchanged
    changed = history.after(RacingDecision(2, "resolved", "", 2.5))
    changed.write(study, 4)
    old.append({"seeds": 2, "verdict": "resolved", "reason": "", "at": 2.5})
    assert stored_json(study, "racing:4") == json.dumps(old)
    assert changed.last is not None and changed.last.describe() == "resolved"
    assert RacingHistory.read(study.user_attrs, 5).last is None


def test_proxy_validation_history_keeps_every_run(study: optuna.Study) -> None:
    first = {
        "epochs": 8,
        "proxy_epochs": 2,
        "kendall_tau": 0.5,
        "spearman_rho": 0.6,
        "trials": [],
        "measured_at": 1.0,
    }
    study.set_user_attr("proxy_validation", [first])
    history = ProxyValidationHistory.read(study.user_attrs)
    assert history.latest == first
    second = {**first, "kendall_tau": 0.9, "measured_at": 2.0}
    history.append(second).write(study)
    assert stored_json(study, "proxy_validation") == json.dumps([first, second])
    assert ProxyValidationHistory.read({}).latest is None


def test_fidelity_history_reads_and_writes_the_trial_attributes() -> None:
    old = {
        "fidelity_epochs": 9,
        "fidelity_history": [
            {"epochs": 3, "accuracy": 0.5, "latency_ms": 2.0},
            {"epochs": 9, "accuracy": 0.7, "latency_ms": 2.1},
        ],
        "fidelity_epochs_spent": 12,
    }
    record = FidelityHistory.read(old)
    assert record.epochs == 9 and record.spent == 12 and record.note is None
    assert record.steps[1] == FidelityStep(9, {"accuracy": 0.7, "latency_ms": 2.1})
    assert json.dumps(record.to_attrs()) == json.dumps(old)
    noted = {**old, "fidelity_note": "the run at 27 epochs failed: lost"}
    assert json.dumps(FidelityHistory.read(noted).to_attrs()) == json.dumps(noted)
    assert FidelityHistory.read({}) == FidelityHistory()


def test_space_identity_gives_the_proxy_seed_and_epochs(study: optuna.Study) -> None:
    study.set_user_attr("nas_attn_space", {"proxy": {"seed": 7, "train_seed": None, "epochs": 4}})
    identity = SpaceIdentity.read(study.user_attrs)
    assert (identity.first_seed, identity.proxy_epochs) == (7, 4)
    assert SpaceIdentity({"proxy": {"seed": 7, "train_seed": 3}}).first_seed == 3
    assert (SpaceIdentity.read({}).first_seed, SpaceIdentity.read({}).proxy_epochs) == (0, 0)
    assert SpaceIdentity.read({}).stored is None
    stored = {"proxy": {"seed": 1, "epochs": 2}, "stages": {}}
    SpaceIdentity(stored).write(study)
    assert stored_json(study, "nas_attn_space") == json.dumps(stored)


def test_latency_references_read_and_write_the_old_dict(study: optuna.Study) -> None:
    old = {"cpu": {"device": "cpu", "median_ms": 2.0, "iqr_ms": 0.1, "trial": 3}}
    study.set_user_attr("latency_reference", old)
    references = LatencyReferences.of(study.user_attrs)
    assert references.current_ms("cpu") == 2.0
    assert json.dumps(references.to_attr()) == json.dumps(old)


def test_stored_result_types_what_a_trial_stores(tmp_path: Path) -> None:
    study = make_finished_study(tmp_path)
    assert stored_objectives(study.user_attrs) == ["accuracy", "latency_ms"]
    trial = study.trials[1]
    stored = StoredResult.of(trial)
    assert (
        stored.arch == ArchConfig.from_dict(trial.user_attrs["arch"])
        and stored.digest == stored.arch.digest()
    )
    assert (stored.accuracy, stored.latency_ms, stored.params, stored.device) == (
        0.9,
        2.0,
        11_000_000,
        "cpu test",
    )
    assert stored.metrics == {"accuracy": 0.9, "latency_ms": 2.0, "params": 11_000_000}
    assert stored.trained and stored.duplicate_of is None and stored.fidelity == FidelityHistory()
    assert stored.input_normalization == ([0.25, 0.5, 0.75], [0.2, 0.3, 0.4])
    failed = StoredResult.of(study.trials[-1])
    assert failed.arch is None and failed.fail_reason == "training diverged: loss is nan"
    assert StoredResult({"arch": {}, "trained": False, "duplicate_of": 2}).arch is None
    assert not StoredResult({"trained": False}).trained
    assert StoredResult({"duplicate_of": 2}).duplicate_of == 2
