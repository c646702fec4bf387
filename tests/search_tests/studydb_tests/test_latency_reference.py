"""Calibrated latency: the study's plain-backbone reference, and latency_ms = ratio x reference."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest
from support.search import make_study, write_space
from support.spaces import SMALL_STAGES, space_yaml

from nas_attn.backbones import ArchConfig
from nas_attn.search import run_search
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.results import pareto_rows, ranked_rows
from nas_attn.search.studydb.attrs import LATENCY_REFERENCE_ATTR as STUDY_ATTR
from nas_attn.search.studydb.latency_reference import (
    LatencyReference,
    LatencyReferences,
    rescaled_latency,
)
from nas_attn.search.studydb.reads import measured_trials
from nas_attn.testing.fakes import FakePool, fake_result, ok_outcome
from nas_attn.worker.evaluate import TrialResult


def result(ratio: float, baseline: float, baseline_iqr: float, device: str = "cpu") -> TrialResult:
    return TrialResult(
        accuracy=0.9,
        latency_ms=ratio * baseline,
        latency_iqr_ms=0.0,
        params=1,
        train_seconds=1.0,
        images_per_second=1.0,
        epochs=1,
        device=device,
        latency_ratio=ratio,
        latency_ratio_iqr=0.02,
        baseline_latency_ms=baseline,
        baseline_latency_iqr_ms=baseline_iqr,
        latency_raw_ms=ratio * baseline,
    )


def test_the_lowest_relative_noise_wins_then_the_lower_median() -> None:
    refs = LatencyReferences()
    assert refs.offer(result(1.2, 20.0, 4.0), trial=0)  # first: noise 0.2
    assert not refs.offer(result(1.2, 10.0, 3.0), trial=1)  # noise 0.3: noisier, though faster
    assert refs.offer(result(1.2, 12.0, 1.2), trial=2)  # noise 0.1
    assert refs.by_device["cpu"] == LatencyReference("cpu", 12.0, 1.2, 2)
    assert refs.offer(result(1.2, 11.0, 1.1), trial=3)  # same noise, lower median
    assert not refs.offer(result(1.2, 13.0, 1.3), trial=4)  # same noise, higher median
    assert refs.by_device["cpu"].trial == 3


@pytest.mark.parametrize(("baseline", "iqr"), [(math.nan, 0.1), (10.0, math.nan), (0.0, 0.0), (10.0, -1.0)])
def test_an_unusable_measurement_is_never_taken(baseline: float, iqr: float) -> None:
    assert not LatencyReferences().offer(result(1.0, baseline, iqr), trial=0)


def test_references_are_kept_per_device_and_round_trip_through_the_attribute() -> None:
    refs = LatencyReferences()
    refs.offer(result(1.0, 10.0, 0.5, device="cpu a"), 0)
    refs.offer(result(1.0, 2.0, 0.01, device="gpu b"), 1)
    again = LatencyReferences(refs.to_attr())
    assert again.by_device == refs.by_device
    assert again.current_ms("cpu a") == 10.0 and again.current_ms("gpu b") == 2.0
    assert again.current_ms("elsewhere") is None


def test_calibration_is_ratio_times_the_reference_and_keeps_the_raw_median() -> None:
    refs = LatencyReferences()
    refs.offer(result(1.0, 8.0, 0.08), 0)
    loaded = result(1.25, 30.0, 9.0)  # measured under load: raw 37.5 ms
    calibrated = refs.calibrate(loaded)
    assert calibrated.latency_ms == pytest.approx(10.0)
    assert calibrated.latency_iqr_ms == pytest.approx(0.02 * 8.0)
    assert calibrated.latency_reference_ms == 8.0
    assert calibrated.latency_raw_ms == pytest.approx(37.5)
    assert LatencyReferences().calibrate(loaded) == loaded  # no reference yet: unchanged


def test_rescaling_moves_a_value_to_the_current_reference() -> None:
    assert rescaled_latency(12.0, 8.0, 10.0) == pytest.approx(15.0)
    assert rescaled_latency(12.0, None, 10.0) == 12.0
    assert rescaled_latency(12.0, 8.0, None) == 12.0
    assert rescaled_latency(12.0, math.nan, 10.0) == 12.0


def test_absorbing_a_result_stores_an_improved_reference_on_the_study() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    first = LatencyReferences.of(study.user_attrs).absorb(study, result(1.5, 20.0, 2.0), trial=0)
    assert first.latency_ms == pytest.approx(30.0) and first.latency_reference_ms == 20.0
    assert study.user_attrs[STUDY_ATTR]["cpu"]["median_ms"] == 20.0
    second = LatencyReferences.of(study.user_attrs).absorb(study, result(2.0, 16.0, 0.16), trial=1)
    assert second.latency_ms == pytest.approx(32.0)
    assert study.user_attrs[STUDY_ATTR]["cpu"] == {
        "device": "cpu",
        "median_ms": 16.0,
        "iqr_ms": 0.16,
        "trial": 1,
    }


def scripted(results: dict[str, TrialResult]) -> Any:
    """A FakePool script answering each placement with its TrialResult (by the module in layer1)."""

    def script(index: int, arch: ArchConfig) -> Outcome:
        stage = arch.stages.get("layer1")
        module = stage.module if stage is not None else "none"
        base = fake_result(arch)
        return ok_outcome({**base, **results[module].to_dict(), "accuracy": base["accuracy"]})

    return script


def test_a_search_calibrates_every_trial_and_the_front_uses_one_reference(tmp_path: Path) -> None:
    """Three placements measured under different load: the raw medians would put SE below the
    plain backbone; calibrated, every value is its ratio times the least noisy plain timing."""
    space_file = write_space(tmp_path, space_yaml(SMALL_STAGES, sampler="exhaustive", baselines=False))
    study, space = make_study(f"sqlite:///{tmp_path}/s.db", space_file)
    by_module = {
        "none": result(1.0, 30.0, 6.0),  # plain, measured while the machine was busy: raw 30 ms
        "se": result(1.2, 10.0, 0.1),  # quiet machine: raw 12 ms (faster than plain's raw 30!)
        "eca": result(1.1, 20.0, 1.0),
    }
    run_search(study, space, 4, FakePool(workers=1, script=scripted(by_module)))
    trials = {
        t.user_attrs["arch"]["stages"].get("layer1", {}).get("module", "none"): t
        for t in measured_trials(study)
    }
    assert study.user_attrs[STUDY_ATTR]["cpu"]["median_ms"] == 10.0  # se's plain timing: least noisy
    rows = {r.number: r for r in ranked_rows(study)}
    for module, trial in trials.items():
        assert trial.user_attrs["latency_raw_ms"] == pytest.approx(by_module[module].latency_raw_ms)
        assert rows[trial.number].values["latency_ms"] == pytest.approx(
            by_module[module].latency_ratio * 10.0
        )
    plain = rows[trials["none"].number].values["latency_ms"]
    assert plain <= rows[trials["se"].number].values["latency_ms"]
    assert plain == pytest.approx(10.0)
    assert {r.number for r in pareto_rows(study)} >= {trials["none"].number}
