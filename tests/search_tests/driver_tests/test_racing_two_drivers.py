"""Racing with two drivers on one study: no seed trained twice, none counted twice, ``max_seeds`` held.

Unit tests of the seed-training claims (``studydb/seed_ledger.py``: atomic, a dead driver's claim
taken over, a result stored once, ``SeedRuns`` holding each seed once), then the issue's case:
two drivers (two processes, the real driver and racing on noisy fake pools, no Ray) started
0-3 s apart on one SQLite study, ten times.

This module is imported by the spawned driver processes too: it imports nothing heavy (no Ray).
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import random
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy as sa
from support.spaces import SMALL_STAGES, space_yaml

from nas_attn.search import open_storage, open_study, run_search
from nas_attn.search.results import compute_spent, first_seed, ranked_rows
from nas_attn.search.sampling.space import SearchSpace, load_space
from nas_attn.search.seeds.policy import Racing
from nas_attn.search.seeds.runner import run_seed_policy
from nas_attn.search.studydb.attrs import racing_key, seed_runs_key
from nas_attn.search.studydb.drivers import DriverInfo, DriverRows
from nas_attn.search.studydb.ledger import Ledger
from nas_attn.search.studydb.records import RacingDecision, SeedRuns
from nas_attn.search.studydb.seed_ledger import SeedLedger
from nas_attn.search.usecases.service import seed_policy_for
from nas_attn.testing.noisy import NoisyPool, NoisyWorld

SIX_STAGES = "  layer1: {module: [none, se, eca, cbam], reduction: [4, 16]}\n"  # 6 placements
MAX_SEEDS = 3
PRELOAD = ["nas_attn.search", "nas_attn.search.usecases.service", "nas_attn.testing.noisy"]  # torch, timm
TIES = NoisyWorld(noise=0.5, paired_noise=0.5)  # every placement alike: racing wants every seed it may


_SPACES: dict[str, SearchSpace] = {}  # by YAML text: a driver process loads each space once


def study_at(
    folder: Path, stages: str = SMALL_STAGES, url: str | None = None, **search: Any
) -> tuple[optuna.Study, SearchSpace]:
    """A study of ``stages`` at ``url``, by default SQLite file ``folder/s.db`` (created, or
    opened as it is)."""
    text = space_yaml(stages, sampler="exhaustive", baselines=False, **search)
    if text not in _SPACES:
        path = folder / "space.yaml"
        path.write_text(text)
        _SPACES[text] = load_space(path)
    space = _SPACES[text]
    storage = open_storage(url or f"sqlite:///{folder / 's.db'}")
    return open_study(storage, space.name, space, "exhaustive"), space


def driver(study: optuna.Study, name: str, alive: bool = True) -> SeedLedger:
    """A driver's seed claims; ``alive``: its heartbeat row registered (this process), else none."""
    seeds = SeedLedger(study, DriverInfo(name, socket.gethostname(), os.getpid()))
    if alive:
        seeds.register()
    return seeds


@pytest.fixture
def study(tmp_path: Path) -> optuna.Study:
    return study_at(tmp_path)[0]


def seed_rows(study: optuna.Study) -> list[tuple[int, int, str, str]]:
    with Ledger.of(study).single.connect() as conn:
        rows = conn.execute(sa.text("SELECT trial_number, seed, driver_id, state FROM nas_attn_seed_runs"))
        return sorted((int(t), int(s), str(d), str(st)) for t, s, d, st in rows)


# -- the claim ---------------------------------------------------------------------------------
def test_a_live_drivers_claim_blocks_every_other_driver(study: optuna.Study) -> None:
    a, b = driver(study, "a"), driver(study, "b")
    assert a.claim(2, 1) is True
    assert b.claim(2, 1) is False and a.claim(2, 1) is False  # held: by another, or already by itself
    assert b.claim(2, 2) is True  # another seed of the same trial is free
    assert b.held_by_others() == [(2, 1)] and a.held_by_others() == [(2, 2)]
    assert seed_rows(study) == [(2, 1, "a", "running"), (2, 2, "b", "running")]


def test_claims_are_atomic_across_connections(storage_url: str, tmp_path: Path) -> None:
    """Eight drivers, each on its own connection pool, claim the same ten trainings at once."""
    study = study_at(tmp_path, url=storage_url)[0]
    names = [f"d{i}" for i in range(8)]
    ledgers = [driver(study_at(tmp_path, url=storage_url)[0], name) for name in names]
    won: dict[str, list[tuple[int, int]]] = {name: [] for name in names}
    barrier = threading.Barrier(len(ledgers))

    def claim_all(seeds: SeedLedger) -> None:
        barrier.wait()
        for trial in range(5):
            for seed in (1, 2):
                if seeds.claim(trial, seed):
                    won[seeds.me.driver_id].append((trial, seed))

    threads = [threading.Thread(target=claim_all, args=(s,)) for s in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    winners = Counter(job for jobs in won.values() for job in jobs)
    assert sorted(winners) == [(t, s) for t in range(5) for s in (1, 2)] and set(winners.values()) == {1}
    assert [(t, s, d) for t, s, d, _ in seed_rows(study)] == sorted(
        (t, s, name) for name, jobs in won.items() for t, s in jobs
    )


def test_results_stored_at_once_are_all_kept(storage_url: str, tmp_path: Path) -> None:
    """Six drivers store six seeds of one trial at once: each read-modify-write of the
    attribute waits for the others (the study row's lock), so none is lost."""
    ledgers = [driver(study_at(tmp_path, url=storage_url)[0], f"d{i}") for i in range(6)]
    barrier = threading.Barrier(len(ledgers))
    stored: list[bool] = []

    def store(seed: int, seeds: SeedLedger) -> None:
        assert seeds.claim(0, seed)
        barrier.wait()
        stored.append(seeds.store(0, seed, [seed / 10, 1.0], 1.0, 1))

    threads = [threading.Thread(target=store, args=(i + 1, s)) for i, s in enumerate(ledgers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    study = study_at(tmp_path, url=storage_url)[0]
    runs = SeedRuns.read(study.user_attrs, 0)
    assert stored == [True] * 6 and sorted(runs.seeds) == [1, 2, 3, 4, 5, 6]
    assert all(values == (seed / 10, 1.0) for seed, values in zip(runs.seeds, runs.values, strict=True))
    assert [state for *_, state in seed_rows(study)] == ["done"] * 6


def test_a_dead_drivers_claim_is_taken_over_once(study: optuna.Study) -> None:
    dead = driver(study, "dead", alive=False)  # no heartbeat row: dead
    assert dead.claim(0, 1) is True and dead.claim(0, 2) is True
    b, c = driver(study, "b"), driver(study, "c")
    assert b.held_by_others() == []  # a dead driver's claims are not in flight
    assert b.claim(0, 1) is True  # taken over
    assert c.claim(0, 1) is False  # now held by a live driver
    assert seed_rows(study)[0] == (0, 1, "b", "running")
    assert b._take_over(0, 2, "dead") is True and c._take_over(0, 2, "dead") is False  # compare-and-swap


def test_a_driver_whose_process_is_gone_is_dead(study: optuna.Study) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    holder = SeedLedger(study, DriverInfo("gone", socket.gethostname(), gone.pid))
    holder.register()  # a fresh heartbeat, but its process is gone from this host
    assert holder.claim(1, 1) is True
    assert driver(study, "b").claim(1, 1) is True


def test_a_claim_given_back_or_left_behind_is_free_again(study: optuna.Study) -> None:
    a, b = driver(study, "a"), driver(study, "b")
    assert a.claim(0, 1) and a.claim(0, 2) and a.claim(1, 1)
    a.release(0, 1)
    b.release(0, 2)  # not b's: nothing happens
    assert b.claim(0, 1) is True and b.claim(0, 2) is False
    assert a.store(1, 1, [0.5, 1.0], 1.0, 1) is True
    a.leave()  # gives back what it still holds (seed 2 of trial 0), keeps what it stored
    assert seed_rows(study) == [(0, 1, "b", "running"), (1, 1, "a", "done")]
    assert b.claim(0, 2) is True and b.claim(1, 1) is False


def test_a_result_is_stored_once_with_its_row_done(study: optuna.Study) -> None:
    a, b = driver(study, "a"), driver(study, "b")
    assert a.claim(3, 1) and a.store(3, 1, [0.8, 1.5], 1.0, 2) is True
    assert b.store(3, 1, [0.1, 9.0], 2.0, 5) is False  # the seed is stored already: no-op
    assert a.claim(3, 2) and a.store(3, 2, [0.7, 1.4], None, 2) is True
    assert study.user_attrs[seed_runs_key(3)] == {
        "seeds": [1, 2],
        "values": [[0.8, 1.5], [0.7, 1.4]],
        "latency_reference_ms": [1.0, None],
        "epochs": [2, 2],
    }
    assert seed_rows(study) == [(3, 1, "a", "done"), (3, 2, "a", "done")]
    assert b.claim(3, 1) is False  # stored: never trained again


def test_a_seed_stored_before_the_ledger_kept_seeds_is_not_claimed(study: optuna.Study) -> None:
    SeedRuns().append(1, [0.8, 1.5], 1.0, 1).write(study, 0)  # an older study: no seed rows
    assert driver(study, "a").claim(0, 1) is False
    assert seed_rows(study) == [(0, 1, "a", "done")]


def test_decisions_append_only_when_they_change(study: optuna.Study) -> None:
    a = driver(study, "a")
    first = RacingDecision(1, "needs a seed", "one seed", 1.0)
    a.decide({0: first, 1: first})
    a.decide({0: RacingDecision(1, "needs a seed", "one seed", 2.0)})  # the same decision, later
    a.decide({0: RacingDecision(2, "resolved", "told apart from its neighbours", 3.0)})
    assert [d["seeds"] for d in study.user_attrs[racing_key(0)]] == [1, 2]
    assert study.user_attrs[racing_key(0)][0] == first.to_dict()
    assert study.user_attrs[racing_key(1)] == [first.to_dict()]


# -- each seed counted once ------------------------------------------------------------------
def test_seed_runs_hold_each_seed_once() -> None:
    stored = {"seeds": [1, 2, 1], "values": [[0.8], [0.7], [0.9]], "latency_reference_ms": [1.0, 1.0, 2.0]}
    runs = SeedRuns.from_attr(stored)
    assert runs.seeds == (1, 2) and runs.values == ((0.8,), (0.7,)) and len(runs) == 2
    assert runs.latency_reference_ms == (1.0, 1.0) and runs.epochs == (None, None)
    assert runs.append(2, [0.1], None, 3) is runs  # a seed already held: no-op
    assert runs.append(3, [0.1], None, 3).seeds == (1, 2, 3)


def test_an_old_study_with_a_duplicated_seed_counts_it_once(tmp_path: Path) -> None:
    """The issue's study: "seeds: 3" with max_seeds 2, the duplicate a second sample."""
    study, space = study_at(tmp_path)
    run_search(study, space, 4, NoisyPool(TIES, workers=2))
    number = ranked_rows(study)[0].number
    study.set_user_attr(
        seed_runs_key(number),
        {"seeds": [1, 1], "values": [list(study.trials[number].values)] * 2, "epochs": [1, 1]},
    )
    row = next(r for r in ranked_rows(study) if r.number == number)
    assert row.seeds == 2 and row.seed_list == [0, 1] and len(row.seed_accuracy) == 2
    assert compute_spent(study).seed_runs == 1


def test_racing_runs_beside_a_live_driver_without_its_claimed_seeds(tmp_path: Path) -> None:
    """During the search and after it, another live driver's claims count as in flight: a
    placement with a seed held elsewhere gets none here; once that driver is dead, they are taken over."""
    study, space = study_at(tmp_path, racing=f"{{max_seeds: {MAX_SEEDS}}}")
    other = driver(study, "other")
    for trial in range(4):
        assert other.claim(trial, 1)
    pool = NoisyPool(TIES, workers=3)
    run_search(study, space, 4, pool)
    assert pool.seeds_trained() and all(s == [0] for s in pool.seeds_trained().values())
    run_seed_policy(study, space, pool, Racing(MAX_SEEDS, first_seed(study.user_attrs)))
    assert len(pool.submitted) == 4  # each placement has a seed in flight elsewhere: one at a time
    DriverRows(other.ledger).forget_drivers(["other"])  # it died
    run_seed_policy(study, space, pool, Racing(MAX_SEEDS, first_seed(study.user_attrs)))
    trained = pool.seeds_trained()
    assert 1 in trained["layer1=none"] and all(len(s) == len(set(s)) <= MAX_SEEDS for s in trained.values())
    assert all(state == "done" for _, _, holder, state in seed_rows(study) if holder != "other")


# -- two drivers racing one study, ten times ---------------------------------------------------
def warm(seconds: float) -> int:
    """A driver process, once it has imported this module: its pid (after ``seconds``)."""
    time.sleep(seconds)
    return os.getpid()


def drive(folder: str, start_at: float) -> dict[str, Any]:
    """One driver process: the search and then its racing, as ``nas-attn search`` runs them,
    started at ``start_at`` (time.time()); what its pool trained, ``(digest, label, seed)`` each."""
    study, space = study_at(Path(folder), SIX_STAGES, n_trials=6, racing=f"{{max_seeds: {MAX_SEEDS}}}")
    pool = NoisyPool(TIES, workers=2)
    pool.seconds = 0.1
    time.sleep(max(0.0, start_at - time.time()))
    run_search(study, space, 6, pool)
    policy = seed_policy_for(space, first_seed(study.user_attrs))
    assert policy is not None
    run_seed_policy(study, space, pool, policy)
    trained = [(arch.digest(), arch.label(), pool.training_seed(i)) for i, arch in enumerate(pool.submitted)]
    out = {"pid": os.getpid(), "trained": trained}
    Path(folder, f"trained-{os.getpid()}-{start_at}.json").write_text(json.dumps(out))
    return out


def check_race(folder: Path, runs: list[dict[str, Any]], delay: float) -> None:
    trained = [tuple(t) for run in runs for t in run["trained"]]
    twice = [job for job, n in Counter(trained).items() if n > 1]
    assert not twice, f"trained twice (second driver {delay:.2f}s later): {twice}"
    seeds: dict[str, set[int]] = {}
    for digest, _, seed in trained:
        seeds.setdefault(digest, set()).add(seed)
    assert len(seeds) == 6 and max(len(s) for s in seeds.values()) <= MAX_SEEDS, seeds
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{folder / 's.db'}")
    stored_runs = 0
    for row in ranked_rows(study):
        stored = study.user_attrs.get(seed_runs_key(row.number), {}).get("seeds", [])
        assert len(stored) == len(set(stored)), f"trial {row.number} stores a seed twice: {stored}"
        assert row.arch is not None
        assert {first_seed(study.user_attrs), *stored} == seeds[row.arch.digest()]  # each training stored
        assert row.seeds == 1 + len(stored) <= MAX_SEEDS
        stored_runs += len(stored)
    assert stored_runs == len(trained) - 6
    assert all(state == "done" for *_, state in seed_rows(study))


@pytest.mark.slow
def test_two_drivers_racing_one_study_never_train_a_seed_twice(tmp_path: Path) -> None:
    """Two driver processes on one SQLite study, the second started 0-3 s after the first, ten
    times: across both pools no ``(placement, seed)`` twice, no placement past ``max_seeds``, and
    the stored ``seed_runs`` hold each seed once, every training counted."""
    draw = random.Random(32)
    context = multiprocessing.get_context("forkserver")  # fresh processes (not forks of pytest's),
    context.set_forkserver_preload(PRELOAD)  # forked from one that imported nas_attn once
    with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as drivers:
        pids: set[int] = set()
        while len(pids) < 2:  # both processes up, this module imported, before any race
            pids |= set(drivers.map(warm, [1.0, 1.0]))
        both_raced = 0
        for rep in range(10):
            folder = tmp_path / f"rep{rep}"
            folder.mkdir()
            study_at(folder, SIX_STAGES, n_trials=6, racing=f"{{max_seeds: {MAX_SEEDS}}}")  # created first
            delay = draw.uniform(0.0, 3.0)
            start = time.time() + 0.3
            futures = [
                drivers.submit(drive, str(folder), start),
                drivers.submit(drive, str(folder), start + delay),
            ]
            runs = [f.result(timeout=120) for f in futures]
            assert runs[0]["pid"] != runs[1]["pid"], "both drivers ran in one process"
            check_race(folder, runs, delay)
            both_raced += all(any(seed > 0 for *_, seed in run["trained"]) for run in runs)
    assert both_raced >= 3, f"both drivers trained extra seeds in only {both_raced} of 10 runs"
