"""The study ledger on SQLite and on a real PostgreSQL server: slots, claims, heartbeats."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from support.search import make_study

from nas_attn.search.studydb.drivers import DriverInfo, DriverRows, driver_alive
from nas_attn.search.studydb.ledger import (
    EVALUATED,
    FAILED,
    RESERVED,
    RUNNING,
    Ledger,
)


def ledger_for(url: str, space_file: Path) -> Ledger:
    study, _ = make_study(url, space_file)
    return Ledger.of(study)


def test_slots_cap_evaluations_at_the_target(storage_url: str, tiny_space_file: Path) -> None:
    ledger = ledger_for(storage_url, tiny_space_file)
    assert [ledger.reserve("d1", 3) for _ in range(4)] == [0, 1, 2, None]
    ledger.unreserve(1, "d1")
    assert ledger.reserve("d2", 3) == 1
    assert ledger.count(RESERVED) == 3


def test_a_digest_is_claimed_once(storage_url: str, tiny_space_file: Path) -> None:
    ledger = ledger_for(storage_url, tiny_space_file)
    a, b = ledger.reserve("d1", 5), ledger.reserve("d2", 5)
    assert a is not None and b is not None
    assert ledger.claim(a, "digest-x", 0, 100)
    assert not ledger.claim(b, "digest-x", 1, 101)
    held = ledger.lookup("digest-x")
    assert held is not None and held.state == RUNNING and held.trial_number == 0
    ledger.mark_evaluated("digest-x", 0)
    assert ledger.lookup("digest-x").state == EVALUATED  # type: ignore[union-attr]
    assert ledger.count(EVALUATED) == 1


def test_failure_frees_the_slot_and_keeps_the_digest(storage_url: str, tiny_space_file: Path) -> None:
    ledger = ledger_for(storage_url, tiny_space_file)
    slot = ledger.reserve("d1", 1)
    assert slot == 0 and ledger.claim(slot, "digest-y", 3, 103)
    ledger.fail("digest-y", 3, "training diverged")
    failed = ledger.lookup("digest-y")
    assert failed is not None and failed.state == FAILED and failed.slot is None
    assert failed.note == "training diverged"
    assert ledger.reserve("d1", 1) == 0  # the slot is free again


def test_release_lets_the_digest_be_claimed_again(storage_url: str, tiny_space_file: Path) -> None:
    ledger = ledger_for(storage_url, tiny_space_file)
    slot = ledger.reserve("d1", 2)
    assert slot is not None and ledger.claim(slot, "digest-z", 4, 104)
    assert ledger.release("digest-z", 4) and not ledger.release("digest-z", 4)
    again = ledger.reserve("d2", 2)
    assert again is not None and ledger.claim(again, "digest-z", 9, 109)


def test_heartbeats_and_liveness(storage_url: str, tiny_space_file: Path) -> None:
    rows = DriverRows(ledger_for(storage_url, tiny_space_file))
    me = DriverInfo.this_process()
    rows.register(me)
    row = rows.drivers()[me.driver_id]
    assert driver_alive(row, time.time(), 60)
    assert not driver_alive(row, row.heartbeat_at + 61, 60)  # silent for longer than the limit
    time.sleep(0.01)
    assert rows.beat(me)
    assert rows.drivers()[me.driver_id].heartbeat_at > row.heartbeat_at
    rows.forget_drivers([me.driver_id])
    assert not rows.beat(me)  # the row was gone: beat registers it again
    assert me.driver_id in rows.drivers()
    rows.unregister(me.driver_id)
    assert rows.drivers() == {}


@pytest.mark.slow
def test_concurrent_reservations_never_exceed_the_target(storage_url: str, tiny_space_file: Path) -> None:
    """Eight threads, each with its own connection pool, race for five slots and one digest."""
    make_study(storage_url, tiny_space_file)
    slots: list[int | None] = []
    claims: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        ledger = ledger_for(storage_url, tiny_space_file)
        barrier.wait()
        slot = ledger.reserve(f"d{i}", 5)
        claimed = slot is not None and ledger.claim(slot, "same-digest", i, 1000 + i)
        with lock:
            slots.append(slot)
            claims.append(claimed)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [s for s in slots if s is not None]
    assert sorted(taken) == [0, 1, 2, 3, 4] and slots.count(None) == 3
    assert claims.count(True) == 1


def test_slots_reserved_and_digests_claimed_many_at_once(storage_url: str, tiny_space_file: Path) -> None:
    ledger = ledger_for(storage_url, tiny_space_file)
    assert ledger.reserve("d0", 5) == 0
    slots = ledger.reserve_many("d1", 5, 3)
    assert slots == [1, 2, 3] and ledger.count(RESERVED) == 4
    assert ledger.reserve_many("d2", 5, 3) == [4]  # only one left
    assert ledger.claim_many([(1, "a", 10, 110), (2, "b", 11, 111)])
    assert ledger.count(RUNNING) == 2 and ledger.lookup("b").trial_number == 11  # type: ignore[union-attr]
    assert not ledger.claim_many([(3, "c", 12, 112), (4, "a", 13, 113)])  # "a" is held: none claimed
    assert ledger.lookup("c") is None and ledger.count(RESERVED) == 3
