"""Two drivers on one PostgreSQL study at once: the target exactly, nothing lost or trained twice.

In-process (threads, each driver with its own storage connection pool and in-process workers)
so the race is hard and fast; test_faults.py runs two real CLI drivers on a shared Ray cluster.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from support.search import assert_consistent, make_study, reload, write_space
from support.spaces import SMALL_STAGES, space_yaml

from nas_attn.search import run_search
from nas_attn.search.driver import SearchOutcome
from nas_attn.search.studydb.drivers import DriverRows
from nas_attn.search.studydb.ledger import EVALUATED, Evaluation, Ledger
from nas_attn.testing.fakes import FakePool


@pytest.fixture(autouse=True)
def wide_race_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ledger lookup that finds no row for a placement sleeps 50 ms before returning.

    A driver claims a placement first (the ledger's unique digest key decides who wins) and looks
    it up only after losing that claim (to answer or park its trial) or while a parked duplicate
    waits. Such a lookup finds nothing only when the winner's claim was released in between (its
    trial lost, interrupted or recovered from a dead driver), and the loser then waits 50 ms
    before it claims again. The FakePools here lose no trial, so these tests never take that
    path: the claims race unslowed."""
    lookup = Ledger.lookup

    def slow_lookup(self: Ledger, digest: str) -> Evaluation | None:
        found = lookup(self, digest)
        if found is None:
            time.sleep(0.05)
        return found

    monkeypatch.setattr(Ledger, "lookup", slow_lookup)


def run_two(
    url: str, space_file: Path, target: int, workers: int = 2
) -> tuple[list[SearchOutcome], list[FakePool]]:
    pools = [FakePool(workers=workers, seconds=0.05), FakePool(workers=workers, seconds=0.05)]
    outcomes: list[SearchOutcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def drive(pool: FakePool) -> None:
        try:
            study, space = make_study(url, space_file)
            barrier.wait()
            outcomes.append(run_search(study, space, target, pool))
        except BaseException as exc:
            errors.append(exc)

    make_study(url, space_file)  # created first: both drivers then seed their samplers alike
    threads = [threading.Thread(target=drive, args=(pool,)) for pool in pools]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(outcomes) == 2
    return outcomes, pools


def test_two_drivers_same_seed_share_the_work(postgres_url: str, tmp_path: Path) -> None:
    """Same space, same seed: both samplers propose the same placements in the same order,
    the hardest case for the claims."""
    space_file = write_space(tmp_path, space_yaml(sampler="random", seed=3))
    outcomes, pools = run_two(postgres_url, space_file, target=8)
    study = reload(postgres_url)
    assert_consistent(study, 8)
    trained = pools[0].trained + pools[1].trained
    assert len(trained) == len(set(trained)) == 8, "a placement was trained twice or an extra one"
    assert all(o.evaluated == 8 for o in outcomes)
    assert pools[0].trained and pools[1].trained, "one driver did all the work"
    assert Ledger.of(study).count(EVALUATED) == 8 and DriverRows(Ledger.of(study)).drivers() == {}


def test_two_drivers_exhaust_a_small_space_without_retraining(postgres_url: str, tmp_path: Path) -> None:
    space_file = write_space(tmp_path, space_yaml(SMALL_STAGES, sampler="random"))
    outcomes, pools = run_two(postgres_url, space_file, target=10, workers=1)
    study = reload(postgres_url)
    assert_consistent(study, 4)
    trained = pools[0].trained + pools[1].trained
    assert len(trained) == len(set(trained)) == 4
    assert all(o.exhausted for o in outcomes)
