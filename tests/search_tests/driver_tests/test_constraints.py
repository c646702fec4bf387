"""Latency-first screening: a placement that breaks a constraint is measured, recorded
infeasible and never trained (real worker code, real training, counted)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import optuna
import pytest
from support.search import State, make_study, write_space
from support.spaces import space_yaml

from nas_attn.backbones import ArchConfig, build_model
from nas_attn.exceptions import NasAttnError
from nas_attn.search import run_search
from nas_attn.search.execution.inprocess import InProcessPool
from nas_attn.search.results import ranked_rows, screened_trials
from nas_attn.search.sampling.placements import enumerate_params
from nas_attn.search.sampling.space import SearchSpace, load_space, sample_arch
from nas_attn.worker.config import Constraint
from nas_attn.worker.measure import count_params

evaluate_module = importlib.import_module("nas_attn.worker.evaluate")  # the package re-exports evaluate()


def params_of(space: SearchSpace, params: dict[str, Any]) -> int:
    arch: ArchConfig = sample_arch(optuna.trial.FixedTrial(params), space)
    return count_params(build_model(arch, num_classes=space.num_classes))


@pytest.mark.slow
def test_a_constrained_search_never_trains_an_infeasible_placement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stages = (
        "  layer1: {module: [none, se, eca], reduction: [4, 16]}\n"
        "  layer2: {module: [none, se], reduction: [4]}\n"
    )
    probe = load_space(write_space(tmp_path, space_yaml(stages), "probe.yaml"))
    sizes = sorted({params_of(probe, p) for p in enumerate_params(probe)})
    limit = sizes[len(sizes) // 2]  # about half the placements are too big
    text = space_yaml(stages, sampler="exhaustive", baselines=False) + f"constraints: ['params <= {limit}']\n"
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", write_space(tmp_path, text))

    trained: list[int] = []
    real_train = evaluate_module.train_proxy

    def counting_train(model: Any, *args: Any, **kwargs: Any) -> Any:
        trained.append(count_params(model))
        return real_train(model, *args, **kwargs)

    monkeypatch.setattr(evaluate_module, "train_proxy", counting_train)  # where evaluate() looks it up
    outcome = run_search(study, space, 3, InProcessPool(threads=1))

    screened = screened_trials(study)
    feasible = [t for t in study.trials if t.state == State.COMPLETE and t.user_attrs["trained"]]
    assert outcome.evaluated == 3 and len(feasible) == 3  # the target counts trained placements
    assert len(trained) == 3 and all(p <= limit for p in trained)
    assert screened, "the exhaustive order must have met an infeasible placement before 3 feasible ones"
    for t in screened:
        assert t.user_attrs["params"] > limit and t.user_attrs["epochs"] == 0
        assert t.user_attrs["violations"][0].startswith("params <=")
        assert next(iter(t.constraints.values())) == pytest.approx(t.user_attrs["params"] - limit)
    for t in feasible:
        assert next(iter(t.constraints.values())) <= 0
    assert {t.number for t in study.best_trials} <= {t.number for t in feasible}  # Optuna sees them
    assert {r.number for r in ranked_rows(study)} == {t.number for t in feasible}


def test_constraints_are_read_from_text_and_checked() -> None:
    c = Constraint.model_validate("latency_ms <= 3")
    assert (c.metric, c.op, c.limit) == ("latency_ms", "<=", 3.0)
    assert c.violation(3.5) == pytest.approx(0.5) and c.violation(2.0) < 0
    floor = Constraint.model_validate("macs >= 1e6")
    assert floor.violation(5e5) > 0 and floor.violation(2e6) < 0


@pytest.mark.parametrize(
    ("constraint", "message"),
    [
        ("accuracy >= 0.9", "not measured before training"),
        ("latency_ms < 3", "cannot read constraint"),
        ("params <= lots", "cannot read constraint"),
    ],
)
def test_bad_constraints_are_refused_at_load(tmp_path: Path, constraint: str, message: str) -> None:
    path = write_space(tmp_path, space_yaml() + f"constraints: ['{constraint}']\n")
    with pytest.raises(NasAttnError, match=message):
        load_space(path)


def test_a_space_without_constraints_keeps_the_identity_of_older_studies(tmp_path: Path) -> None:
    space = load_space(write_space(tmp_path, space_yaml()))
    assert "constraints" not in space.identity()
    constrained = load_space(
        write_space(tmp_path, space_yaml() + "constraints: ['params <= 2e7']\n", "c.yaml")
    )
    assert constrained.identity()["constraints"] == [{"metric": "params", "op": "<=", "limit": 2e7}]
