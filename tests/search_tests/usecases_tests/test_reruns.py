"""Seed re-runs of the front and proxy validation, through the real study and a scripted pool."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import pytest
from support.search import make_study, write_space
from support.spaces import space_yaml

from nas_attn.exceptions import NasAttnError
from nas_attn.search import run_search
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.results import TrialRow, is_plain, pareto_rows, ranked_rows
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb.attrs import PROXY_VALIDATION_ATTR, seed_runs_key
from nas_attn.search.usecases.reseed import reseed_front
from nas_attn.search.usecases.validate_proxy import pick_spread, validate_proxy
from nas_attn.stats.ranks import kendall_tau
from nas_attn.testing.fakes import FakePool, fake_result, ok_outcome


def finished(tmp_path: Path, n: int = 10) -> tuple[optuna.Study, SearchSpace]:
    path = write_space(tmp_path, space_yaml(sampler="exhaustive", baselines=False))
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", path)
    run_search(study, space, n, FakePool(workers=2))
    return study, space


def scripted(pool: FakePool, accuracy: Callable[[dict[str, Any], float], float]) -> None:
    """Results whose accuracy is ``accuracy(proxy payload, placement's own accuracy)``."""

    def script(index: int, arch: Any) -> Outcome:
        out = fake_result(arch)
        out["accuracy"] = accuracy(pool.payloads[index]["proxy"], out["accuracy"])
        return ok_outcome(out)

    pool.script = script


def test_front_trials_are_rerun_with_more_seeds_and_ranked_by_the_mean(tmp_path: Path) -> None:
    study, space = finished(tmp_path)
    front_before = {r.number: r.values["accuracy"] for r in pareto_rows(study)}
    pool = FakePool(workers=2)
    scripted(pool, lambda proxy, own: own - 0.01 * proxy["train_seed"])
    report = reseed_front(study, space, pool, seeds=3)

    assert not report.failures
    assert {p["proxy"]["train_seed"] for p in pool.payloads} == {1, 2}
    assert {p["proxy"]["seed"] for p in pool.payloads} == {0}  # same data split
    assert all(p["proxy"]["epochs"] == space.proxy.epochs for p in pool.payloads)
    for row in report.front:
        runs = study.user_attrs[seed_runs_key(row.number)]
        assert sorted(runs["seeds"]) == [1, 2] and row.seeds == 3
        own = front_before.get(row.number, study.trials[row.number].values[0])
        expected = [own, own - 0.01, own - 0.02]
        assert row.values["accuracy"] == pytest.approx(statistics.fmean(expected))
        assert row.spread["accuracy"] == pytest.approx(statistics.stdev(expected))
    submitted = len(pool.payloads)
    reseed_front(study, space, pool, seeds=3)
    assert len(pool.payloads) == submitted  # already re-run: nothing more to do


def test_a_failed_seed_run_is_reported_not_stored(tmp_path: Path) -> None:
    study, space = finished(tmp_path, n=4)
    pool = FakePool(workers=1, script=lambda index, arch: Outcome("failed", reason="training diverged"))
    report = reseed_front(study, space, pool, seeds=2)
    assert report.failures and "training diverged" in report.failures[0]
    assert not any(k.startswith("seed_runs:") for k in study.user_attrs)


def test_validate_proxy_retrains_longer_and_correlates(tmp_path: Path) -> None:
    study, space = finished(tmp_path)
    pool = FakePool(workers=2)
    scripted(pool, lambda proxy, own: 0.5 + own / 2)  # the long budget keeps the proxy's order
    result = validate_proxy(study, space, pool, sample=6, epochs=4)

    assert {p["proxy"]["epochs"] for p in pool.payloads} == {4}
    assert len(result.rows) == 6 and result.kendall_tau == pytest.approx(1.0)
    assert result.spearman_rho == pytest.approx(1.0) and not result.misleading
    assert any(r.rank == 1 for r in result.rows) and any(r.rank > 1 for r in result.rows)
    stored = study.user_attrs[PROXY_VALIDATION_ATTR][-1]
    assert stored["kendall_tau"] == pytest.approx(1.0) and len(stored["trials"]) == 6
    assert {"kendall_tau", "spearman_rho", "ci95", "noise_ceiling_tau", "baselines", "seeds"} <= set(stored)
    assert stored["seeds"] == [0, 1] and stored["noise_ceiling_tau"] == pytest.approx(1.0)
    assert stored["ci95"]["kendall_tau"] == [pytest.approx(1.0), pytest.approx(1.0)]
    assert set(stored["baselines"]) == {"params", "latency_ms"}


def test_validate_proxy_trains_every_trial_at_paired_seeds_and_judges_against_the_noise_ceiling(
    tmp_path: Path,
) -> None:
    study, space = finished(tmp_path)
    pool = FakePool(workers=2)
    # the long budget: the proxy's order plus seed noise far larger than the placements' spread
    scripted(
        pool, lambda proxy, own: 0.5 + own / 100 + 0.05 * ((proxy["train_seed"] * 7 + int(own * 1e4)) % 5)
    )
    result = validate_proxy(study, space, pool, sample=6, epochs=4, seeds=3)
    trained = sorted((p["proxy"]["train_seed"], p["proxy"]["epochs"]) for p in pool.payloads)
    assert trained == sorted([(s, 4) for s in (0, 1, 2)] * 6)  # every trial at seeds 0, 1, 2
    assert all(p["proxy"].get("warm_start") is None for p in pool.payloads)  # from scratch
    for row in result.rows:
        assert sorted(row.long_accuracies) == [0, 1, 2]
        assert row.long_accuracy == pytest.approx(statistics.fmean(row.long_accuracies.values()))
    # seed halves: seed 0 against the mean of seeds 1 and 2
    full = result.rows
    first = [r.long_accuracies[0] for r in full]
    second = [statistics.fmean([r.long_accuracies[1], r.long_accuracies[2]]) for r in full]
    assert result.noise_ceiling_tau == pytest.approx(kendall_tau(first, second))
    ci = result.ci95["kendall_tau"]
    assert ci is not None and ci[0] <= result.kendall_tau <= ci[1]


def test_a_reference_too_noisy_to_rank_anything_is_said_not_blamed_on_the_proxy() -> None:
    from nas_attn.search.usecases.validate_proxy import ValidationRow, summarise

    rows = [
        ValidationRow(n, 1, f"p{n}", 0.70 + n / 100, None, long_accuracies={0: a, 1: b})
        for n, (a, b) in enumerate([(0.80, 0.83), (0.82, 0.80), (0.81, 0.81), (0.83, 0.79)])
    ]
    rows = [replace(r, long_accuracy=statistics.fmean(r.long_accuracies.values())) for r in rows]
    result = summarise(8, 2, rows, [0, 1])
    assert result.noise_ceiling_tau is not None and result.noise_ceiling_tau < 0.3
    assert not result.misleading and "the reference cannot rank these placements" in result.verdict()


def test_a_proxy_no_better_than_the_parameter_count_is_warned_about() -> None:
    from nas_attn.search.usecases.validate_proxy import ValidationRow, summarise

    long = [0.80, 0.81, 0.82, 0.83, 0.84]
    proxy = [0.70, 0.72, 0.71, 0.74, 0.73]  # tau 0.6
    rows = [
        ValidationRow(n, 1, f"p{n}", proxy[n], long[n], long_accuracies={0: long[n], 1: long[n]}, params=n)
        for n in range(5)
    ]
    result = summarise(8, 2, rows, [0, 1])
    assert result.baselines["params"] == pytest.approx(1.0)  # the parameter count ranks perfectly
    assert result.misleading and "no better than the params alone" in result.verdict()


def test_validate_proxy_warns_when_the_proxy_misleads(tmp_path: Path) -> None:
    study, space = finished(tmp_path)
    pool = FakePool(workers=2)
    scripted(pool, lambda proxy, own: 1.0 - own)  # the long budget reverses the order
    result = validate_proxy(study, space, pool, sample=5, epochs=4)
    proxy = [r.proxy_accuracy for r in result.rows]
    long = [r.long_accuracy or 0.0 for r in result.rows]
    assert result.kendall_tau == pytest.approx(kendall_tau(proxy, long)) == pytest.approx(-1.0)
    assert result.misleading


def test_the_sample_spreads_along_the_front_and_off_it(tmp_path: Path) -> None:
    study, _ = finished(tmp_path)
    rows = ranked_rows(study)
    chosen = pick_spread(rows, 4)
    assert len(chosen) == 4 and len({r.number for r in chosen}) == 4
    front = [r for r in rows if r.rank == 1]
    assert sum(r.rank == 1 for r in chosen) == min(len(front), 2)
    assert len(pick_spread(rows, 50)) == len(rows)


def test_validate_proxy_needs_two_trials_and_a_sample_of_two() -> None:
    row = TrialRow(number=0, values={"accuracy": 0.5}, rank=1, placement="", params=None, arch=None)
    with pytest.raises(NasAttnError, match="at least 2 evaluated|needs at least 2"):
        pick_spread([row], 3)
    with pytest.raises(NasAttnError, match="--sample must be at least 2"):
        pick_spread([row, row], 1)


def test_seed_reruns_change_the_training_not_the_data(tmp_path: Path) -> None:
    from nas_attn.worker.proxy_data import proxy_data_key

    _, space = finished(tmp_path, n=2)
    rerun = space.proxy_at(epochs=5, train_seed=3)
    assert (rerun.training_seed, rerun.seed, rerun.epochs) == (3, space.proxy.seed, 5)
    assert proxy_data_key(rerun) == proxy_data_key(space.proxy)  # workers keep their shipped data
    assert space.proxy.training_seed == space.proxy.seed
    assert "train_seed" not in space.identity()["proxy"]  # older studies keep their identity


class Counting:
    """A JobObserver that records what a progress bar would show."""

    def __init__(self) -> None:
        self.added: list[int] = []
        self.done = 0

    def jobs_added(self, count: int) -> None:
        self.added.append(count)

    def job_done(self) -> None:
        self.done += 1


def test_progress_observer_sees_every_training(tmp_path: Path) -> None:
    study, space = finished(tmp_path, n=4)
    pool = FakePool(workers=2)
    seen = Counting()
    reseed_front(study, space, pool, seeds=3, observer=seen)
    assert sum(seen.added) == seen.done == len(pool.payloads) > 0
    pool = FakePool(workers=2)
    seen = Counting()
    validate_proxy(study, space, pool, sample=3, epochs=4, observer=seen)
    assert seen.added == [6] and seen.done == 6 == len(pool.payloads)  # 3 trials x 2 seeds


def test_reseed_runs_the_plain_backbone_on_the_same_seeds_so_every_delta_is_paired(tmp_path: Path) -> None:
    path = write_space(tmp_path, space_yaml(sampler="exhaustive", baselines=True))
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", path)
    run_search(study, space, 10, FakePool(workers=2))
    rows = ranked_rows(study)
    plain = next(r for r in rows if is_plain(r.arch))
    front = {r.number for r in pareto_rows(study)}
    pool = FakePool(workers=2)
    scripted(pool, lambda proxy, own: own - 0.001 * proxy["train_seed"])
    reseed_front(study, space, pool, seeds=3)
    assert sorted(study.user_attrs[seed_runs_key(plain.number)]["seeds"]) == [1, 2]
    rerun = {number for number in range(len(study.trials)) if seed_runs_key(number) in study.user_attrs}
    assert rerun == front | {plain.number}  # the front, plus the plain backbone when it is off it
    for row in pareto_rows(study):
        if row.number != plain.number:
            assert row.delta_vs_baseline is not None and row.delta_vs_baseline.seeds == [0, 1, 2]
            assert row.accuracy_ci95 is not None
