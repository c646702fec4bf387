"""Racing: extra seeds only where the front is still open, against a fake evaluator whose noise is known.

Each placement has a true accuracy and a latency; a training at seed s reports the true accuracy
plus a seed effect shared by every placement (what pairing cancels) plus the placement's own
Gaussian noise of known standard deviation.
"""

from __future__ import annotations

import os
import random
import signal
import socket
from pathlib import Path
from typing import Any

import optuna
import pytest
from support.search import make_study, write_space
from support.spaces import SMALL_STAGES, space_yaml

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import NasAttnError
from nas_attn.search import SearchInterrupted, run_search
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.results import ranked_rows
from nas_attn.search.sampling.space import SearchSpace, load_space
from nas_attn.search.seeds.policy import FixedSeeds, Racing, SeedJob, Verdict
from nas_attn.search.seeds.runner import run_seed_policy
from nas_attn.search.studydb.attrs import racing_key, seed_runs_key
from nas_attn.search.studydb.drivers import DriverInfo, DriverRows
from nas_attn.search.studydb.ledger import Ledger
from nas_attn.search.usecases.service import seed_policy_for
from nas_attn.testing.fakes import FakePool, Recorder
from nas_attn.testing.noisy import measured_outcome
from nas_attn.worker.request import TrainRequest

Truth = dict[str, tuple[float, float]]  # placement key -> (true accuracy, latency)


def key_of(arch: ArchConfig) -> str:
    stage = arch.stages.get("layer1")
    if stage is None or stage.module == "none":
        return "plain"
    return stage.module if stage.reduction is None else f"{stage.module}/{stage.reduction}"


class NoisyPool(FakePool):
    """A FakePool whose accuracy is ``truth + shared seed effect + own noise (sigma)``."""

    def __init__(self, truth: Truth, sigma: float, workers: int = 2) -> None:
        super().__init__(workers=workers)
        self.truth, self.sigma = truth, sigma
        self.script = self._result

    def seed_of(self, index: int) -> int:
        proxy = self.payloads[index]["proxy"]
        return int(proxy["train_seed"] if proxy.get("train_seed") is not None else proxy["seed"])

    def _result(self, index: int, arch: ArchConfig) -> Outcome:
        seed, key = self.seed_of(index), key_of(arch)
        accuracy, latency = self.truth[key]
        shared = random.Random(f"seed-{seed}").gauss(0, 0.02)  # the luck of the draw, same for all
        own = random.Random(f"{key}-{seed}").gauss(0, self.sigma)
        return measured_outcome(arch, accuracy + shared + own, latency)

    def seeds_trained(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for index, arch in enumerate(self.submitted):
            out.setdefault(key_of(arch), []).append(self.seed_of(index))
        return out


def searched(tmp_path: Path, truth: Truth, sigma: float) -> tuple[optuna.Study, SearchSpace, NoisyPool]:
    """Every placement of a 4-placement space evaluated once (seed 0) through the real driver."""
    path = write_space(tmp_path, space_yaml(SMALL_STAGES, sampler="exhaustive", baselines=False))
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", path)
    pool = NoisyPool(truth, sigma)
    run_search(study, space, 4, pool)
    assert len(pool.submitted) == 4
    return study, space, pool


SEPARATED: Truth = {"plain": (0.70, 1.0), "se/4": (0.80, 2.0), "se/16": (0.90, 3.0), "eca": (0.20, 4.0)}
NEAR_TIE: Truth = {"plain": (0.70, 1.0), "se/4": (0.800, 2.0), "se/16": (0.8005, 2.0), "eca": (0.20, 4.0)}


def test_a_clearly_separated_front_is_resolved_with_two_seeds_each(tmp_path: Path) -> None:
    study, space, pool = searched(tmp_path, SEPARATED, sigma=0.002)
    report = run_seed_policy(study, space, pool, Racing(max_seeds=5, first_seed=0))

    seeds = pool.seeds_trained()
    assert {k: sorted(v) for k, v in seeds.items()} == {
        "plain": [0, 1],
        "se/4": [0, 1],
        "se/16": [0, 1],
        "eca": [0],  # dominated even at the top of its interval: never re-run
    }
    assert report.runs == 3 and report.epochs == 3 * space.proxy.epochs
    verdicts = {key_of(r.arch): report.decisions[r.number].verdict for r in ranked_rows(study)}
    assert verdicts == {
        "plain": Verdict.RESOLVED,
        "se/4": Verdict.RESOLVED,
        "se/16": Verdict.RESOLVED,
        "eca": Verdict.OFF_FRONT,
    }


def test_a_near_tie_gets_seeds_up_to_max_seeds_and_never_more(tmp_path: Path) -> None:
    study, space, pool = searched(tmp_path, NEAR_TIE, sigma=0.01)
    report = run_seed_policy(study, space, pool, Racing(max_seeds=5, first_seed=0))

    seeds = pool.seeds_trained()
    assert sorted(seeds["se/4"]) == sorted(seeds["se/16"]) == [0, 1, 2, 3, 4]
    assert sorted(seeds["plain"]) == [0, 1, 2, 3, 4]  # paired with every seed any placement used
    assert seeds["eca"] == [0]
    assert all(len(v) == len(set(v)) <= 5 for v in seeds.values())  # no seed twice, none past 5
    rows = {key_of(r.arch): r for r in ranked_rows(study)}
    for key in ("se/4", "se/16"):
        decision = report.decisions[rows[key].number]
        assert decision.verdict is Verdict.MAX_SEEDS and decision.seeds == 5
        assert "not told apart" in decision.reason
        assert rows[key].seeds == 5 and rows[key].accuracy_ci95 is not None

    history = study.user_attrs[racing_key(rows["se/4"].number)]  # each decision kept on the trial
    assert sorted({h["seeds"] for h in history if h["verdict"] == "needs a seed"}) == [1, 2, 3, 4]
    assert [h["seeds"] for h in history] == sorted(h["seeds"] for h in history)  # in the order taken
    assert history[-1]["verdict"] == "max seeds" and history[-1]["seeds"] == 5

    before = len(pool.submitted)
    again = run_seed_policy(study, space, pool, Racing(max_seeds=5, first_seed=0))
    assert len(pool.submitted) == before and again.runs == 0  # nothing left open below max_seeds


def test_racing_never_exceeds_max_seeds_whatever_the_noise(tmp_path: Path) -> None:
    truth: Truth = {"plain": (0.70, 1.0), "se/4": (0.71, 1.5), "se/16": (0.712, 1.5), "eca": (0.705, 1.2)}
    study, space, pool = searched(tmp_path, truth, sigma=0.05)  # noise far above every gap
    run_seed_policy(study, space, pool, Racing(max_seeds=3, first_seed=0))
    counts = {k: len(v) for k, v in pool.seeds_trained().items()}
    assert max(counts.values()) == 3 and all(1 <= c <= 3 for c in counts.values())
    for row in ranked_rows(study):
        assert row.seeds <= 3 and set(row.seed_list) <= {0, 1, 2}


def test_every_extra_seed_is_counted(tmp_path: Path) -> None:
    study, space, pool = searched(tmp_path, NEAR_TIE, sigma=0.01)
    report = run_seed_policy(study, space, pool, Racing(max_seeds=3, first_seed=0))
    stored = sum(
        len(study.user_attrs.get(seed_runs_key(r.number), {}).get("seeds", [])) for r in ranked_rows(study)
    )
    assert report.runs == stored == len(pool.submitted) - 4
    epochs = [
        e
        for r in ranked_rows(study)
        for e in study.user_attrs.get(seed_runs_key(r.number), {}).get("epochs", [])
    ]
    assert sum(epochs) == report.epochs == report.runs * space.proxy.epochs


def row(
    number: int, accuracy: float, latency: float, seeds: list[float], rank: int = 1, plain: bool = False
) -> Any:
    from nas_attn.search.results import TrialRow
    from nas_attn.stats.seeds import mean_interval

    interval = mean_interval(seeds)
    spread = {"accuracy": __import__("statistics").stdev(seeds)} if len(seeds) > 1 else {}
    arch = ArchConfig.from_dict({"stages": {"layer1": {"module": "none" if plain else "se"}}})
    return TrialRow(
        number=number,
        values={"accuracy": accuracy, "latency_ms": latency},
        rank=rank,
        placement="",
        params=None,
        arch=arch,
        spread=spread,
        seeds=len(seeds),
        accuracy_ci95=interval.as_list,
        seed_list=list(range(len(seeds))),
        seed_accuracy=dict(enumerate(seeds)),
    )


DIRECTIONS = ["maximize", "minimize"]


def test_the_plain_backbone_is_paired_first_then_fewest_seeds_first() -> None:
    rows = [
        row(0, 0.70, 1.0, [0.70], plain=True),
        row(1, 0.80, 2.0, [0.80, 0.81, 0.79]),
        row(2, 0.85, 3.0, [0.85]),
    ]
    plan = Racing(max_seeds=4, first_seed=0).plan(rows, DIRECTIONS, running=[])
    assert plan.wanted[:2] == [SeedJob(0, 1), SeedJob(0, 2)]  # the plain backbone, at the seeds trial 1 used
    assert plan.wanted[2] == SeedJob(2, 1)  # one seed: the least known goes first
    assert plan.decisions[2].verdict is Verdict.NEEDS_SEED and plan.decisions[2].reason == "one seed"


def test_a_placement_already_training_a_seed_waits_for_its_result() -> None:
    rows = [row(0, 0.70, 1.0, [0.70, 0.71], plain=True), row(1, 0.85, 3.0, [0.85])]
    plan = Racing(max_seeds=4, first_seed=0).plan(rows, DIRECTIONS, running=[SeedJob(1, 1)])
    assert SeedJob(1, 2) not in plan.wanted and all(job.trial != 1 for job in plan.wanted)


def test_fixed_seeds_brings_the_front_and_the_plain_backbone_to_n() -> None:
    rows = [
        row(0, 0.70, 1.0, [0.70], rank=2, plain=True),
        row(1, 0.80, 0.5, [0.80]),
        row(2, 0.60, 2.0, [0.60], rank=3),
    ]
    plan = FixedSeeds(seeds=3, first_seed=0).plan(rows, DIRECTIONS, running=[])
    assert sorted((j.trial, j.seed) for j in plan.wanted) == [(0, 1), (0, 2), (1, 1), (1, 2)]


def test_the_search_settings_pick_the_policy(tmp_path: Path) -> None:
    racing = load_space(write_space(tmp_path, space_yaml(SMALL_STAGES, racing="{max_seeds: 4}")))
    assert seed_policy_for(racing, 0) == Racing(4, 0)
    fixed = load_space(write_space(tmp_path, space_yaml(SMALL_STAGES, final_seeds=3)))
    assert seed_policy_for(fixed, 0) == FixedSeeds(3, 0)
    assert seed_policy_for(load_space(write_space(tmp_path, space_yaml(SMALL_STAGES))), 0) is None
    with pytest.raises(NasAttnError, match="final_seeds and search.racing both add seeds"):
        load_space(write_space(tmp_path, space_yaml(SMALL_STAGES, final_seeds=3, racing="{max_seeds: 4}")))
    with pytest.raises(NasAttnError, match="max_seeds"):
        load_space(write_space(tmp_path, space_yaml(SMALL_STAGES, racing="{max_seeds: 1}")))


@pytest.mark.slow
def test_a_search_stopped_during_racing_resumes_it(tmp_path: Path) -> None:
    from nas_attn.search.usecases.service import SearchRequest, prepare, seeds_pending

    text = space_yaml(
        SMALL_STAGES, sampler="exhaustive", baselines=False, n_trials=4, racing="{max_seeds: 3}"
    )
    path = write_space(tmp_path, text)
    url = f"sqlite:///{tmp_path / 's.db'}"
    study, space = make_study(url, path)
    pool = CtrlCAtFirstSeed(NEAR_TIE, sigma=0.01)
    with pytest.raises(SearchInterrupted):
        run_search(study, space, 4, pool)
    assert len(pool.submitted) == 5  # the 4 placements, then 1 seed: it finished and is kept
    assert len(study.user_attrs[seed_runs_key(0)]["seeds"]) == 1
    request = SearchRequest(path, url, device="cpu")
    assert prepare(request).remaining == 0 and seeds_pending(prepare(request))  # racing is not done
    run_search(study, space, 4, pool)  # the target is reached: idle workers finish the racing
    assert all(i < 4 or pool.seed_of(i) > 0 for i in range(len(pool.submitted)))  # no placement again
    assert not seeds_pending(prepare(request))  # done: the same command now just shows the front


class CtrlCAtFirstSeed(NoisyPool):
    """A NoisyPool that presses Ctrl-C once when the first extra seed is submitted."""

    def submit(self, request: TrainRequest) -> int:
        ticket = super().submit(request)
        if request.proxy.train_seed is not None and not getattr(self, "pressed", False):
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)
        return ticket


def test_racing_runs_during_the_search_on_workers_the_placements_leave_idle(tmp_path: Path) -> None:
    text = space_yaml(SMALL_STAGES, sampler="exhaustive", baselines=False, racing="{max_seeds: 3}")
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", write_space(tmp_path, text))
    pool = NoisyPool(NEAR_TIE, sigma=0.01, workers=3)
    pool.polls = 4
    recorder = Recorder()
    outcome = run_search(study, space, 4, pool, recorder)

    assert outcome.evaluated == 4  # --n-trials counts placements, not seed trainings
    seeds = [pool.seed_of(i) for i in range(len(pool.submitted))]
    assert seeds[:4] == [0, 0, 0, 0] and all(s > 0 for s in seeds[4:])  # placements first
    assert len(seeds) > 4
    events = [e for e in recorder.events if e[0] in ("trial_finished", "notice")]
    first_seed_at = next(i for i, e in enumerate(events) if e[0] == "notice" and "training seed" in e[1])
    last_placement_at = max(i for i, e in enumerate(events) if e[0] == "trial_finished")
    assert first_seed_at < last_placement_at  # a seed trained while a placement still did
    trained = pool.seeds_trained()
    assert all(len(v) == len(set(v)) <= 3 for v in trained.values())
    assert sorted(trained["se/4"]) == sorted(trained["se/16"]) == [0, 1, 2]  # the near-tie, to max_seeds
    rows = {key_of(r.arch): r for r in ranked_rows(study)}
    assert study.user_attrs[racing_key(rows["se/4"].number)][-1]["verdict"] == "max seeds"
    assert study.user_attrs[racing_key(rows["eca"].number)][-1]["verdict"] == "off the front"


def test_racing_runs_during_the_search_beside_another_live_driver(tmp_path: Path) -> None:
    """Seeds are claimed in the ledger, so another live driver no longer stops racing during the
    search (test_racing_two_drivers.py races two real drivers)."""
    text = space_yaml(SMALL_STAGES, sampler="exhaustive", baselines=False, racing="{max_seeds: 3}")
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", write_space(tmp_path, text))
    other = DriverInfo("another-driver", socket.gethostname(), os.getpid())  # alive: this process
    DriverRows(Ledger.of(study)).register(other)
    pool = NoisyPool(NEAR_TIE, sigma=0.01, workers=3)
    run_search(study, space, 4, pool)
    trained = pool.seeds_trained()
    assert len(pool.submitted) > 4 and all(len(v) == len(set(v)) <= 3 for v in trained.values())


def test_the_exported_config_says_what_racing_decided(tmp_path: Path) -> None:
    from nas_attn.deploy.select import export_arch

    study, space, pool = searched(tmp_path, NEAR_TIE, sigma=0.01)
    run_seed_policy(study, space, pool, Racing(max_seeds=3, first_seed=0))
    tied = next(r for r in ranked_rows(study) if key_of(r.arch) == "se/16")
    provenance = export_arch(study, study.trials[tied.number], "sqlite:///s.db").provenance or {}
    assert provenance["racing"].startswith("max seeds (not told apart from trial")
    assert provenance["seeds"] == 3 and len(provenance["accuracy_ci95"]) == 2
