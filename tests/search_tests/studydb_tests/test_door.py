"""The study database's front door (``studydb/door.py``), one test per line of its contract (the
module docstring), on SQLite and on a real PostgreSQL server, as Optuna tests every storage
against one suite. Faults are injected with an SQLAlchemy ``after_cursor_execute`` hook: the
statement it names has run, inside its transaction, when the fault is raised."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy as sa
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from nas_attn import NasAttnError, load_space
from nas_attn.search.sampling.space import SearchSpace, sample_arch
from nas_attn.search.studydb.attrs import BOOKKEEPING
from nas_attn.search.studydb.attrs import LATENCY_REFERENCE_ATTR as STUDY_ATTR
from nas_attn.search.studydb.door import Asked, Draft, StudyDatabase, TrialReport
from nas_attn.search.studydb.drivers import DriverInfo
from nas_attn.search.studydb.ledger import EVALUATED, FAILED, RESERVED, RUNNING, SCREENED
from nas_attn.search.studydb.optuna_private import PARAMS, TRIALS, USER_ATTRS, trial_id_of
from nas_attn.search.studydb.recovery import Recovered
from nas_attn.search.studydb.storage import open_storage
from nas_attn.search.studydb.study import open_study
from nas_attn.search.studydb.trial_store import TakenTrial
from nas_attn.worker.evaluate import TrialResult

HOST = "door-test-host"  # not this host: a driver's liveness is its heartbeat alone
LEDGER_UPDATE = "UPDATE nas_attn_evaluations"


class Injected(Exception):
    """The fault a test injects."""


@dataclass
class Bench:
    """A fresh study (the tiny space, its baselines enqueued as trials 0 and 1), door ``d1`` on it."""

    study: optuna.Study
    space: SearchSpace
    door: StudyDatabase

    def other(self, driver_id: str) -> StudyDatabase:
        return StudyDatabase(self.study, DriverInfo(driver_id, HOST, 1))

    def trials(self) -> dict[int, FrozenTrial]:
        """The study's trials by number, read from the storage under Optuna's cache."""
        storage, study_id = self.door.ledger.storage, self.door.ledger.study_id
        return {t.number: t for t in storage.get_all_trials(study_id, deepcopy=False)}

    def trial(self, asked: Asked) -> FrozenTrial:
        return self.trials()[asked.number]

    def requeued(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Parameters and attributes of the WAITING trials that are retries, oldest first."""
        waiting = [t for t in self.trials().values() if t.state == TrialState.WAITING]
        return [(t.system_attrs["fixed_params"], t.user_attrs) for t in waiting if "retry_of" in t.user_attrs]

    def reference(self) -> Any:
        """The study's latency reference as stored."""
        return self.door.ledger.storage.get_study_user_attrs(self.door.ledger.study_id)[STUDY_ATTR]

    def draft(self, door: StudyDatabase, params: dict[str, Any], taken: TakenTrial | None = None) -> Draft:
        memory = door.mirror.ask(params)  # as enqueued: the placement is ``params``
        return Draft(memory, taken, sample_arch(memory, self.space))

    def started(self, door: StudyDatabase, *placements: dict[str, Any]) -> list[Asked]:
        return door.start([self.draft(door, p) for p in placements])

    def claimed(self, door: StudyDatabase, params: dict[str, Any]) -> tuple[Asked, str, int]:
        """A trial started and claimed as the driver does it: (trial, digest, slot)."""
        slot = door.reserve(8)
        (trial,) = self.started(door, params)
        digest = trial.sql.user_attrs["arch_digest"]
        assert slot is not None and door.claim(slot, trial, digest)
        return trial, digest, slot


@pytest.fixture
def bench(storage_url: str, tiny_space_file: Path) -> Bench:
    space = load_space(tiny_space_file)
    study = open_study(open_storage(storage_url), space.name, space, space.search.sampler)
    return Bench(study, space, StudyDatabase(study, DriverInfo("d1", HOST, 1)))


@contextlib.contextmanager
def fault_after(door: StudyDatabase, prefix: str) -> Iterator[list[str]]:
    """Raise :class:`Injected` just after the first statement starting with ``prefix`` has run
    (in its transaction); yields the statements it fired on."""
    fired: list[str] = []

    def hook(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not fired and statement.lstrip().upper().startswith(prefix.upper()):
            fired.append(statement)
            raise Injected(statement)

    sa.event.listen(door.ledger.engine, "after_cursor_execute", hook)
    try:
        yield fired
    finally:
        sa.event.remove(door.ledger.engine, "after_cursor_execute", hook)


def placement(layer1: str, layer2: str = "none") -> dict[str, Any]:
    """Every parameter of one placement (so its digest is fixed)."""
    params: dict[str, Any] = {}
    for stage, module in (("layer1", layer1), ("layer2", layer2)):
        params[f"{stage}.module"] = module
        if module != "none":
            params |= {f"{stage}.reduction": 16, f"{stage}.position": "block"}
    return params


def result(**changes: Any) -> TrialResult:
    """A worker's result with every field finite (so attributes compare exactly)."""
    fields: dict[str, Any] = {
        **{"accuracy": 0.8, "latency_ms": 2.0, "latency_iqr_ms": 0.1, "params": 1000, "train_seconds": 3.0},
        **{"images_per_second": 50.0, "epochs": 1, "device": "cpu", "latency_ratio": 0.5},
        **{"latency_ratio_iqr": 0.25, "baseline_latency_ms": 4.0, "baseline_latency_iqr_ms": 0.2},
        **{"latency_raw_ms": 2.1, "latency_raw_iqr_ms": 0.1, "latency_reference_ms": 4.0},
    }
    return TrialResult(**{**fields, **changes})


def own_attrs(trial: Asked) -> dict[str, Any]:
    """What the door wrote when the trial started."""
    return {k: trial.sql.user_attrs[k] for k in ("driver", "arch", "arch_digest")}


def mirror_state(door: StudyDatabase, trial: Asked) -> TrialState:
    return door.mirror.memory.trials[trial.memory.number].state


def slot_rows(door: StudyDatabase) -> list[tuple[int | None, str | None, int | None, str, str | None]]:
    rows = sorted(door.ledger.rows(), key=lambda r: r.row_id)
    return [(r.slot, r.digest, r.trial_number, r.state.value, r.driver_id) for r in rows]


# -- driver and slot rows ---------------------------------------------------------------------
def test_register_beat_and_leave_keep_this_drivers_heartbeat_row(bench: Bench) -> None:
    door = bench.door
    door.register()
    row = door.driver_reads.drivers()["d1"]
    assert row.info == door.me and row.started_at == row.heartbeat_at
    time.sleep(0.02)
    assert door.beat() is True
    beaten = door.driver_reads.drivers()["d1"]
    assert beaten.heartbeat_at > row.heartbeat_at and beaten.started_at == row.started_at
    reserved = door.reserve(8)
    trial, digest, slot = bench.claimed(door, placement("se"))
    door.leave()  # its row and its unused reservation go; the claimed slot stays
    assert door.driver_reads.drivers() == {}
    assert reserved == 0 and slot_rows(door) == [(slot, digest, trial.number, "running", "d1")]
    assert door.beat() is False  # the row was gone: added again
    assert list(door.driver_reads.drivers()) == ["d1"]


def test_reserve_holds_slots_of_the_target_and_unreserve_gives_one_back(bench: Bench) -> None:
    door, other = bench.door, bench.other("d2")
    assert [door.reserve(3) for _ in range(4)] == [0, 1, 2, None]  # past the target: None
    assert other.reserve(3) is None
    other.unreserve(1)  # not its slot: nothing given back
    assert door.ledger_reads.counts() == {RESERVED: 3}
    door.unreserve(1)
    assert other.reserve(3) == 1
    assert door.reserve_many(5, 4) == [3, 4]  # up to the target, skipping the slot d2 took meanwhile
    assert door.reserve_many(5, 4) == [] and other.reserve_many(5, 1) == []
    owners = [(s, d) for s, _, _, _, d in slot_rows(door)]
    assert owners == [(0, "d1"), (2, "d1"), (1, "d2"), (3, "d1"), (4, "d1")]


# -- starting ---------------------------------------------------------------------------------
def test_take_enqueued_turns_the_oldest_enqueued_trial_running_for_this_driver(bench: Bench) -> None:
    door = bench.door
    with fault_after(door, f"INSERT INTO {USER_ATTRS.name}") as fired, pytest.raises(Injected):
        door.take_enqueued()  # the driver's attribute fails: the trial is not taken either (one transaction)
    untouched = bench.trials()[0]
    assert fired and (untouched.state, untouched.user_attrs) == (TrialState.WAITING, {"baseline": "none"})
    taken, mine = door.take_enqueued(), {"baseline": "none", "driver": "d1"}
    assert taken is not None and (taken.number, taken.user_attrs) == (0, mine)
    assert taken.fixed_params == placement("none")
    stored = bench.trials()
    assert (stored[0].state, stored[0].user_attrs) == (TrialState.RUNNING, mine)
    assert stored[1].state == TrialState.WAITING
    second = bench.other("d2").take_enqueued()
    assert second is not None and second.number == 1 and bench.trials()[1].user_attrs["driver"] == "d2"
    assert door.take_enqueued() is None


def test_start_writes_running_trials_in_order_and_adopts_them_in_the_mirror(bench: Bench) -> None:
    door = bench.door
    taken = door.take_enqueued()
    assert taken is not None
    drafts = [bench.draft(door, taken.fixed_params, taken)]
    drafts += [bench.draft(door, placement(m)) for m in ("se", "cbam")]
    asked = door.start(drafts)
    assert [a.number for a in asked] == [0, 2, 3]  # the taken one, then new ones after the baselines
    stored = bench.trials()
    for a, d in zip(asked, drafts, strict=True):
        t = stored[a.number]
        assert (t.state, t.params, a.sql.params) == (TrialState.RUNNING, d.memory.params, d.memory.params)
        assert (t.user_attrs["driver"], t.user_attrs["arch"]) == ("d1", d.arch.to_dict())  # type: ignore[union-attr]
        assert t.user_attrs["arch_digest"] == d.digest and t.user_attrs == a.sql.user_attrs
        assert door.mirror.sql_numbers[a.memory.number] == a.number and trial_id_of(t) in door.mirror.mirrored
    assert door.mirror.waiting == [trial_id_of(stored[1])]
    held = len(door.mirror.memory.trials)
    door.mirror.sync()
    assert len(door.mirror.memory.trials) == held  # adopted: never added again
    more = [bench.draft(door, placement(m, m)) for m in ("se", "cbam")]
    with fault_after(door, f"INSERT INTO {PARAMS.name}") as fired, pytest.raises(Injected):
        door.start(more)  # new trials go in one transaction: none of them is written
    assert fired and sorted(bench.trials()) == [0, 1, 2, 3]


def test_claim_turns_a_reserved_slot_into_the_right_to_train_once(bench: Bench) -> None:
    door, other = bench.door, bench.other("d2")
    first, second = bench.started(door, placement("se"), placement("se"))
    digest = first.sql.user_attrs["arch_digest"]
    assert second.sql.user_attrs["arch_digest"] == digest  # the same placement, twice
    mine, theirs = door.reserve(4), other.reserve(4)
    assert mine is not None and theirs is not None
    assert door.claim(mine, first, digest) is True
    held = door.ledger_reads.lookup(digest)
    assert held is not None and (held.state, held.trial_id) == (RUNNING, first.sql.trial_id)
    assert other.claim(theirs, second, digest) is False  # the placement is known
    door.unreserve(mine)  # it started something: not given back
    rows = [(mine, digest, first.number, "running", "d1"), (theirs, None, None, "reserved", "d2")]
    assert slot_rows(door) == rows
    with pytest.raises(NasAttnError, match="slot 7 was taken from this driver"):
        door.claim(7, second, "another-digest")


def test_claim_all_claims_all_or_none(bench: Bench) -> None:
    door, other = bench.door, bench.other("d2")
    trials = bench.started(door, placement("se"), placement("cbam"), placement("none", "se"))
    digests = [t.sql.user_attrs["arch_digest"] for t in trials]
    slots = door.reserve_many(5, 3)
    assert slots == [0, 1, 2]
    (rival,) = bench.started(other, placement("cbam"))
    rival_slot = other.reserve(5)
    assert rival_slot == 3 and other.claim(rival_slot, rival, digests[1])
    assert door.claim_all(list(zip(slots, trials, digests, strict=True))) is False
    rival_row = (3, digests[1], rival.number, "running", "d2")
    assert slot_rows(door) == [(s, None, None, "reserved", "d1") for s in slots] + [rival_row]
    assert door.claim_all([(0, trials[0], digests[0]), (2, trials[2], digests[2])]) is True
    claimed = [(s, digests[s], trials[s].number, "running", "d1") for s in (0, 2)]
    assert slot_rows(door) == [claimed[0], (1, None, None, "reserved", "d1"), claimed[1], rival_row]


# -- finishing --------------------------------------------------------------------------------
def test_complete_writes_values_attributes_state_and_the_evaluated_row_together(bench: Bench) -> None:
    door = bench.door
    trial, digest, slot = bench.claimed(door, placement("se"))
    door.sent(trial, slot)
    report = TrialReport(result(), node_id="node-7", fidelity={"budget_epochs": 3})
    door.complete(trial, digest, report, [0.8, 2.0], {"artifacts:model": "runs/2"})
    t = bench.trial(trial)
    assert t.state == TrialState.COMPLETE and t.values == [0.8, 2.0]
    expected = {**own_attrs(trial), **result().to_dict(), "worker_node": "node-7", "budget_epochs": 3}
    assert t.user_attrs == {**expected, "evaluation_slot": slot}
    sampler_attrs = door.mirror.system_attrs(trial.memory)  # e.g. the enqueue on the mirror
    assert "fixed_params" in sampler_attrs
    assert t.system_attrs == {**sampler_attrs, "artifacts:model": "runs/2"}
    assert slot_rows(door) == [(slot, digest, trial.number, "done", "d1")]
    told = door.mirror.memory.trials[trial.memory.number]
    assert (told.state, told.values, told.user_attrs) == (TrialState.COMPLETE, [0.8, 2.0], t.user_attrs)


def test_a_screened_result_settles_its_row_screened_slot_freed_digest_kept(bench: Bench) -> None:
    door = bench.door
    trial, digest, slot = bench.claimed(door, placement("se"))
    screened = result(trained=False, accuracy=0.0, violations=["params <= 1"])
    door.complete(trial, digest, TrialReport(screened), [0.0, 2.0])
    t = bench.trial(trial)
    assert t.state == TrialState.COMPLETE and t.user_attrs["trained"] is False
    assert slot_rows(door) == [(None, digest, trial.number, "screened", "d1")]
    assert door.ledger_reads.counts() == {SCREENED: 1} and door.reserve(1) == slot


@pytest.mark.parametrize("finisher", ["complete", "fail_give_up"])
def test_a_fault_between_the_trial_row_and_its_ledger_row_leaves_neither_written(
    bench: Bench, finisher: str
) -> None:
    door = bench.door
    trial, digest, slot = bench.claimed(door, placement("se"))
    before = bench.trial(trial)
    with fault_after(door, LEDGER_UPDATE) as fired, pytest.raises(Injected):
        if finisher == "complete":
            door.complete(trial, digest, TrialReport(result()), [0.8, 2.0], {"artifacts:model": "runs/2"})
        else:
            door.fail(trial, "training diverged", give_up=digest, report=TrialReport(result()))
    assert fired  # the ledger's statement ran after the trial's, in the same transaction
    after = bench.trial(trial)
    assert (after.state, after.values, after.user_attrs) == (TrialState.RUNNING, None, before.user_attrs)
    assert after.system_attrs == before.system_attrs
    assert slot_rows(door) == [(slot, digest, trial.number, "running", "d1")]
    assert mirror_state(door, trial) == TrialState.RUNNING  # the mirror is told only after the commit


def test_fail_giving_up_fails_the_ledger_row_in_the_same_transaction(bench: Bench) -> None:
    door = bench.door
    trial, digest, _ = bench.claimed(door, placement("se"))
    door.fail(trial, "training diverged", give_up=digest, report=TrialReport(result(accuracy=0.1)))
    t = bench.trial(trial)
    assert t.state == TrialState.FAIL and t.values is None
    reason = {"fail_reason": "training diverged"}
    assert t.user_attrs == {**own_attrs(trial), **result(accuracy=0.1).to_dict(), **reason}
    failed = door.ledger_reads.lookup(digest)
    assert failed is not None and (failed.state, failed.slot) == (FAILED, None)
    assert (failed.digest, failed.note) == (digest, "training diverged")
    assert mirror_state(door, trial) == TrialState.FAIL


def test_fail_without_giving_up_leaves_the_ledger_row_as_it_was(bench: Bench) -> None:
    door = bench.door
    trial, digest, slot = bench.claimed(door, placement("se"))
    door.fail(trial, "same placement as trial 0, which failed", duplicate_of=0)
    t = bench.trial(trial)
    assert t.state == TrialState.FAIL
    reason = "same placement as trial 0, which failed"
    assert t.user_attrs == {**own_attrs(trial), "duplicate_of": 0, "fail_reason": reason}
    assert slot_rows(door) == [(slot, digest, trial.number, "running", "d1")]  # slot and digest still held
    assert mirror_state(door, trial) == TrialState.FAIL


def test_duplicate_completes_as_the_evaluating_trial_without_a_ledger_row(bench: Bench) -> None:
    door = bench.door
    source, digest, _ = bench.claimed(door, placement("se"))
    door.constrain(source, [("params <= 1", 2.0)])
    door.complete(source, digest, TrialReport(result(), node_id="node-7"), [0.8, 2.0])
    (copy,) = bench.started(door, placement("se"))
    rows = slot_rows(door)
    known = door.ledger_reads.lookup(digest)
    assert known is not None
    door.duplicate(copy, known)
    original, t = bench.trial(source), bench.trial(copy)
    assert t.state == TrialState.COMPLETE and t.values == original.values == [0.8, 2.0]
    assert t.constraints == original.constraints == {"params <= 1": 2.0}
    results = {k: v for k, v in original.user_attrs.items() if k not in BOOKKEEPING}
    assert results == result().to_dict()  # the node it ran on is the source's bookkeeping: not copied
    assert t.user_attrs == {**own_attrs(copy), **results, "duplicate_of": source.number}
    assert slot_rows(door) == rows  # no ledger row written
    assert mirror_state(door, copy) == TrialState.COMPLETE


@pytest.mark.parametrize("finisher", ["complete", "fail"])
def test_attributes_staged_by_sent_and_constrain_are_written_when_the_trial_finishes(
    bench: Bench, finisher: str
) -> None:
    door = bench.door
    trial, digest, slot = bench.claimed(door, placement("se"))
    door.sent(trial, slot)
    door.constrain(trial, [("params <= 1", 0.5), ("macs <= 2", -1.0)])
    staged = bench.trial(trial)
    assert "evaluation_slot" not in staged.user_attrs and staged.constraints == {}  # not written yet
    if finisher == "complete":
        door.complete(trial, digest, TrialReport(result()), [0.8, 2.0])
    else:
        door.fail(trial, "worker lost")
    t = bench.trial(trial)
    assert t.user_attrs["evaluation_slot"] == slot
    assert t.constraints == {"params <= 1": 0.5, "macs <= 2": -1.0}


def test_a_trial_failed_by_another_driver_is_failed_in_the_mirror(bench: Bench) -> None:
    door = bench.door
    trial, digest, slot = bench.claimed(door, placement("se"))
    door.ledger.storage.set_trial_state_values(trial.sql.trial_id, TrialState.FAIL)  # recovered elsewhere
    with pytest.raises(UpdateFinishedTrialError):
        door.complete(trial, digest, TrialReport(result()), [0.8, 2.0])
    t = bench.trial(trial)
    assert (t.state, t.values, "accuracy" in t.user_attrs) == (TrialState.FAIL, None, False)
    assert slot_rows(door) == [(slot, digest, trial.number, "running", "d1")]  # not settled either
    assert mirror_state(door, trial) == TrialState.FAIL


# -- giving a placement back ------------------------------------------------------------------
def test_release_frees_slot_and_digest_and_requeues_before_the_trial_is_failed(bench: Bench) -> None:
    door = bench.door
    trial, digest, _ = bench.claimed(door, placement("se"))
    door.release(trial, digest)
    assert slot_rows(door) == [] and door.ledger_reads.lookup(digest) is None
    assert bench.trial(trial).state == TrialState.RUNNING  # release itself fails nothing
    retry = {"retries": 1, "retry_of": trial.number}
    assert bench.requeued() == [(trial.sql.params, retry)]
    with fault_after(door, f"UPDATE {TRIALS.name}") as fired, pytest.raises(Injected):
        door.fail(trial, "worker lost; re-enqueued (retry 1 of 2)")  # the driver dies in its fail
    assert fired and bench.trial(trial).state == TrialState.RUNNING
    recovered = bench.other("d2").recover(60.0)  # d1 has no driver row: it is dead
    reason = "driver lost: driver d1 is gone; re-enqueued (retry 1 of 2)"
    assert recovered == [Recovered(trial.number, reason, True)]
    t = bench.trial(trial)
    assert (t.state, t.user_attrs["fail_reason"]) == (TrialState.FAIL, reason)
    # Recovery redoes the re-enqueue: the parameters are enqueued a second time (see the report).
    assert bench.requeued() == [(trial.sql.params, retry), (trial.sql.params, retry)]
    stopped, stopped_digest, _ = bench.claimed(door, placement("cbam"))
    door.release(stopped, stopped_digest, count_retry=False)  # a user's stop is not a retry
    assert bench.requeued()[2:] == [(stopped.sql.params, {"retries": 0, "retry_of": stopped.number})]


# -- the study row ----------------------------------------------------------------------------
def test_calibrate_rewrites_the_reference_only_for_a_less_noisy_plain_backbone(bench: Bench) -> None:
    door = bench.door
    trial, digest, _ = bench.claimed(door, placement("se"))
    first = door.calibrate(trial.number, result(baseline_latency_ms=10.0, baseline_latency_iqr_ms=1.0))
    assert (first.latency_ms, first.latency_iqr_ms, first.latency_reference_ms) == (5.0, 2.5, 10.0)
    reference = {"cpu": {"device": "cpu", "median_ms": 10.0, "iqr_ms": 1.0, "trial": trial.number}}
    assert bench.reference() == reference  # its own statement: the trial is RUNNING
    noisier = door.calibrate(9, result(baseline_latency_ms=8.0, baseline_latency_iqr_ms=2.0))
    unusable = door.calibrate(9, result(baseline_latency_ms=float("nan")))
    assert noisier.latency_ms == unusable.latency_ms == 5.0  # still on the stored reference
    assert bench.reference() == reference
    with fault_after(door, LEDGER_UPDATE), pytest.raises(Injected):
        calmer = door.calibrate(11, result(baseline_latency_ms=12.0, baseline_latency_iqr_ms=0.6))
        door.complete(trial, digest, TrialReport(calmer), [0.8, 2.0])  # the trial's write fails ...
    assert calmer.latency_ms == 6.0 and bench.trial(trial).state == TrialState.RUNNING
    calm = {"device": "cpu", "median_ms": 12.0, "iqr_ms": 0.6, "trial": 11}
    assert bench.reference() == {"cpu": calm}  # ... the reference stays written


# -- others' trials ---------------------------------------------------------------------------
def test_recover_fails_and_requeues_a_dead_drivers_trials_and_tidies_its_rows(bench: Bench) -> None:
    door, dead = bench.door, bench.other("dead")
    dead.register()
    lost, lost_digest, _ = bench.claimed(dead, placement("se"))
    (unclaimed,) = bench.started(dead, placement("cbam"))  # died between start and claim
    assert dead.reserve(8) == 1 and dead.reserve(8) == 2  # the unclaimed trial's slot, and one unused
    done, done_digest, done_slot = bench.claimed(dead, placement("none", "se"))
    dead.complete(done, done_digest, TrialReport(result()), [0.8, 2.0])
    (mine,) = bench.started(door, placement("cbam", "cbam"))
    door.register()
    time.sleep(0.05)
    recovered = door.recover(0.01)  # dead's heartbeat is older than that; this driver is alive
    reason = recovered[0].reason
    stopped = r"driver lost: driver dead stopped \(last heartbeat \d+s ago\)"
    assert re.fullmatch(stopped + r"; re-enqueued \(retry 1 of 2\)", reason)
    assert recovered == [Recovered(lost.number, reason, True), Recovered(unclaimed.number, reason, True)]
    stored = bench.trials()
    states = [stored[t.number].state.name for t in (lost, unclaimed, done, mine)]
    assert states == ["FAIL", "FAIL", "COMPLETE", "RUNNING"]
    assert stored[lost.number].user_attrs["fail_reason"] == reason
    assert bench.requeued() == [
        (lost.sql.params, {"retries": 1, "retry_of": lost.number}),
        (unclaimed.sql.params, {"retries": 1, "retry_of": unclaimed.number}),
    ]
    assert slot_rows(door) == [(done_slot, done_digest, done.number, "done", "dead")]
    assert list(door.driver_reads.drivers()) == ["d1"] and door.ledger_reads.lookup(lost_digest) is None


def test_adopt_untracked_enters_the_complete_trials_of_a_study_older_than_the_ledger(bench: Bench) -> None:
    door = bench.door

    def old(digest: str | None, **extra: Any) -> FrozenTrial:
        user_attrs = {"arch_digest": digest, **extra} if digest else extra
        bench.study.add_trial(optuna.trial.create_trial(values=[0.5, 1.0], user_attrs=user_attrs))
        return bench.trials()[max(bench.trials())]

    first, second = old("digest-a"), old("digest-b", trained=False)
    old("digest-a", duplicate_of=first.number)  # a duplicate measured nothing
    old(None)  # no placement recorded
    door.adopt_untracked()
    door.adopt_untracked()  # the ledger knows them now: nothing twice
    rows = sorted(door.ledger.rows(), key=lambda r: r.row_id)
    assert [(r.slot, r.digest, r.trial_number, r.trial_id, r.state) for r in rows] == [
        (0, "digest-a", first.number, trial_id_of(first), EVALUATED),
        # A screened old trial (trained False) is entered as evaluated, slot kept (see the report).
        (1, "digest-b", second.number, trial_id_of(second), EVALUATED),
    ]


def test_seed_ledger_claims_a_training_once_and_stores_its_result_once(bench: Bench) -> None:
    bench.door.register()
    other = bench.other("d2")
    other.register()
    mine, theirs = bench.door.seed_ledger(), other.seed_ledger()
    assert mine.claim(0, 1) is True and theirs.claim(0, 1) is False  # held by a live driver
    assert mine.store(0, 1, [0.5, 1.0], 1.0, 1) is True
    assert theirs.store(0, 1, [0.1, 2.0], 1.0, 1) is False  # stored once
    stored = bench.door.ledger.storage.get_study_user_attrs(bench.door.ledger.study_id)["seed_runs:0"]
    assert stored["seeds"] == [1] and stored["values"] == [[0.5, 1.0]]
    assert theirs.claim(0, 2) is True
    other.leave()  # gives back the claim it still holds
    assert mine.claim(0, 2) is True
