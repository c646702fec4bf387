"""The driver loop with an in-process pool on real storage: targets, duplicates, retries,
recovery of dead drivers, interrupts. (Ray and real training: test_faults.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.search import State, assert_consistent, make_study, write_space
from support.spaces import SMALL_STAGES, space_yaml

from nas_attn import NasAttnError
from nas_attn.exceptions import Interrupted
from nas_attn.search import run_search
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.studydb.drivers import DriverInfo, DriverRows, driver_alive
from nas_attn.search.studydb.ledger import EVALUATED, FAILED, Ledger
from nas_attn.search.studydb.reads import measured_trials
from nas_attn.search.studydb.recovery import RETRY_BUDGET, recover_stale
from nas_attn.testing.fakes import FakePool, Recorder, fake_result, ok_outcome


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


def test_reaches_the_target_with_baselines_first(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    pool = FakePool(workers=2)
    outcome = run_search(study, space, 6, pool)
    assert outcome.evaluated == 6 and not outcome.exhausted
    assert_consistent(study, 6)
    first = sorted(study.get_trials(), key=lambda t: t.number)[:2]
    assert [t.user_attrs.get("baseline") for t in first] == ["none", "se"]
    assert first[0].params == {"layer1.module": "none", "layer2.module": "none"}
    assert first[1].params["layer1.module"] == first[1].params["layer2.module"] == "se"
    assert first[1].params["layer1.reduction"] == 16
    assert len(pool.trained) == len(set(pool.trained)) == 6


def test_baselines_can_be_turned_off(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml(baselines=False)))
    assert study.get_trials() == []
    run_search(study, space, 2, FakePool())
    assert not [t for t in study.get_trials() if "baseline" in t.user_attrs]


def test_a_placement_already_evaluated_is_answered_not_retrained(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml(baselines=False)))
    params = {
        "layer1.module": "se",
        "layer1.reduction": 4,
        "layer1.position": "block",
        "layer2.module": "eca",
        "layer2.position": "block",
    }
    for _ in range(3):
        study.enqueue_trial(params)
    pool, recorder = FakePool(), Recorder()
    outcome = run_search(study, space, 2, pool, recorder)
    assert_consistent(study, 2)
    assert outcome.duplicates_this_run == 2
    dupes = [t for t in study.get_trials() if "duplicate_of" in t.user_attrs]
    assert [t.state for t in dupes] == [State.COMPLETE, State.COMPLETE]
    assert {t.user_attrs["duplicate_of"] for t in dupes} == {0}
    assert dupes[0].user_attrs["accuracy"] == study.trials[0].user_attrs["accuracy"]
    assert pool.trained.count(study.trials[0].user_attrs["arch_digest"]) == 1
    assert ("duplicate", 1, 0) in recorder.events


def test_a_placement_being_trained_is_answered_when_it_finishes(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml(baselines=False)))
    params = {
        "layer1.module": "none",
        "layer2.module": "cbam",
        "layer2.reduction": 16,
        "layer2.position": "block",
    }
    study.enqueue_trial(params)
    study.enqueue_trial(params)
    pool = FakePool(workers=2, polls=5)
    run_search(study, space, 2, pool)
    assert_consistent(study, 2)
    second = study.trials[1]
    assert second.user_attrs["duplicate_of"] == 0 and second.values == study.trials[0].values
    assert len(pool.trained) == 2 and len(set(pool.trained)) == 2  # trial 1 never reached a worker


def lose(digests: set[str], times: int) -> tuple[FakePool, list[int]]:
    lost: list[int] = []

    def script(index: int, arch: object) -> Outcome | None:
        digest = arch.digest()  # type: ignore[attr-defined]
        if digest in digests and lost.count(hash(digest)) < times:
            lost.append(hash(digest))
            return Outcome("lost", reason="worker lost: ActorDiedError")
        return None

    return FakePool(workers=1, script=script), lost


def test_a_lost_worker_reruns_the_same_parameters(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    none_digest = space.base_arch().digest()
    pool, _ = lose({none_digest}, times=RETRY_BUDGET)
    run_search(study, space, 3, pool)
    assert_consistent(study, 3)
    failed = [t for t in study.trials if t.state == State.FAIL]
    assert len(failed) == RETRY_BUDGET
    assert all(
        t.user_attrs["fail_reason"].startswith("worker lost: ActorDiedError; re-enqueued") for t in failed
    )
    final = next(t for t in measured_trials(study) if t.user_attrs["arch_digest"] == none_digest)
    assert final.user_attrs["retries"] == RETRY_BUDGET and final.params == failed[0].params
    assert final.user_attrs["retry_of"] == failed[-1].number


def test_a_placement_that_keeps_losing_workers_stops_after_the_budget(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    none_digest = space.base_arch().digest()
    pool, _ = lose({none_digest}, times=99)
    run_search(study, space, 3, pool)
    assert_consistent(study, 3)
    failed = [t for t in study.trials if t.state == State.FAIL]
    assert len(failed) == RETRY_BUDGET + 1
    assert "retry budget of 2 spent" in failed[-1].user_attrs["fail_reason"]
    assert Ledger.of(study).lookup(none_digest).state == FAILED  # type: ignore[union-attr]


def test_a_diverged_trial_fails_with_its_reason_and_is_not_retried(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    none_digest = space.base_arch().digest()

    def diverge(index: int, arch: object) -> Outcome | None:
        if arch.digest() == none_digest:  # type: ignore[attr-defined]
            return Outcome("failed", reason="training diverged: loss is nan at epoch 1")
        return None

    run_search(study, space, 2, FakePool(script=diverge))
    assert_consistent(study, 2)
    failed = [t for t in study.trials if t.state == State.FAIL]
    assert len(failed) == 1 and failed[0].user_attrs["fail_reason"].startswith("training diverged")
    assert not [t for t in study.trials if "retry_of" in t.user_attrs]
    # asking for that placement again is answered from the failure, not retrained
    study.enqueue_trial(failed[0].params)
    pool = FakePool()
    run_search(study, space, 3, pool)
    again = [t for t in study.trials if t.user_attrs.get("duplicate_of") == failed[0].number]
    assert again and again[0].state == State.FAIL
    assert "which failed: training diverged" in again[0].user_attrs["fail_reason"]
    assert none_digest not in pool.trained


def test_repeated_failures_stop_the_search_with_the_last_reason(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    pool = FakePool(script=lambda i, a: Outcome("failed", reason="training diverged: loss is inf"))
    with pytest.raises(NasAttnError, match="5 failed trials in a row; last reason: training diverged"):
        run_search(study, space, 3, pool)
    assert not [t for t in study.trials if t.state == State.RUNNING]


def test_exhaustive_evaluates_a_small_space_once_then_ends(tmp_path: Path) -> None:
    space_file = write_space(tmp_path, space_yaml(SMALL_STAGES, sampler="exhaustive"))
    study, space = make_study(sqlite(tmp_path), space_file)
    pool = FakePool(workers=2)
    outcome = run_search(study, space, 10, pool)
    assert outcome.exhausted and outcome.evaluated == 4
    assert_consistent(study, 4)
    assert len(pool.trained) == 4 and not [t for t in study.trials if "duplicate_of" in t.user_attrs]


def test_random_sampler_on_a_small_space_ends_when_exhausted(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml(SMALL_STAGES)))
    pool = FakePool(workers=2)
    outcome = run_search(study, space, 10, pool)
    assert outcome.exhausted and outcome.evaluated == 4
    assert_consistent(study, 4)
    assert len(pool.trained) == 4


def plant_orphan(study, space, driver: DriverInfo, heartbeat_age: float) -> int:  # type: ignore[no-untyped-def]
    """A RUNNING trial claimed by ``driver``, as a driver that died mid-trial leaves it."""
    ledger = Ledger.of(study)
    DriverRows(ledger).register(driver)
    with ledger.engine.begin() as conn:
        from nas_attn.search.studydb._ledger_schema import drivers_table

        conn.execute(
            drivers_table.update()
            .where(drivers_table.c.driver_id == driver.driver_id)
            .values(heartbeat_at=time.time() - heartbeat_age)
        )
    trial = study.ask()
    from nas_attn.search import sample_arch

    arch = sample_arch(trial, space)
    trial.set_user_attr("driver", driver.driver_id)
    trial.set_user_attr("arch_digest", arch.digest())
    slot = ledger.reserve(driver.driver_id, 10)
    assert slot is not None and ledger.claim(slot, arch.digest(), trial.number, trial._trial_id)
    return trial.number


def test_trials_of_a_driver_that_stopped_heartbeating_are_failed_and_requeued(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    ghost = DriverInfo("elsewhere:1:dead", "some-other-host", 1)
    orphan = plant_orphan(study, space, ghost, heartbeat_age=3600)
    recorder = Recorder()
    run_search(study, space, 3, FakePool(), recorder)
    assert_consistent(study, 3)
    failed = study.trials[orphan]
    assert failed.state == State.FAIL
    assert failed.user_attrs["fail_reason"].startswith("driver lost: driver elsewhere:1:dead stopped")
    retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == orphan)
    assert retry.params == failed.params and retry.state == State.COMPLETE
    assert any(f"trial {orphan} failed: driver lost" in n for n in recorder.notices())
    assert "elsewhere:1:dead" not in DriverRows(Ledger.of(study)).drivers()


def test_a_live_driver_on_another_host_is_left_alone(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    other = DriverInfo("elsewhere:1:live", "some-other-host", 1)
    orphan = plant_orphan(study, space, other, heartbeat_age=1)
    me = DriverInfo.this_process()
    assert recover_stale(study, Ledger.of(study), me, stale_after_s=60) == []
    assert study.trials[orphan].state == State.RUNNING


def test_a_driver_whose_process_is_gone_is_dead_at_once(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(gone.stdout)
    ghost = DriverInfo(f"{socket.gethostname()}:{pid}:x", socket.gethostname(), pid)
    orphan = plant_orphan(study, space, ghost, heartbeat_age=0)
    ledger = Ledger.of(study)
    assert not driver_alive(DriverRows(ledger).drivers()[ghost.driver_id], time.time(), 60)
    assert driver_alive(DriverRows(ledger).drivers()[ghost.driver_id], time.time(), 60) is False
    recovered = recover_stale(study, ledger, DriverInfo.this_process(), stale_after_s=60)
    assert [r.number for r in recovered] == [orphan] and recovered[0].requeued
    # a second recoverer finds nothing left to do: the parameters are enqueued once
    assert recover_stale(study, ledger, DriverInfo.this_process(), stale_after_s=60) == []
    assert len([t for t in study.trials if t.user_attrs.get("retry_of") == orphan]) == 1


def test_complete_trials_from_before_the_ledger_count(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml(baselines=False)))
    from nas_attn.search import sample_arch

    trial = study.ask()
    arch = sample_arch(trial, space)
    trial.set_user_attr("arch_digest", arch.digest())
    study.tell(trial, [0.5, 1.0])
    pool = FakePool()
    outcome = run_search(study, space, 3, pool)
    assert outcome.evaluated == 3 and len(pool.trained) == 2
    assert Ledger.of(study).count(EVALUATED) == 3


def kill_me_on_submit(times: int, signum: int = signal.SIGINT) -> FakePool:
    """A pool whose first submission sends this process ``signum`` ``times`` times (a real Ctrl-C)."""

    def script(index: int, arch: object) -> Outcome | None:
        return None

    pool = FakePool(workers=2, polls=20, script=script)
    original = pool.submit

    def submit(request):  # type: ignore[no-untyped-def]
        ticket = original(request)
        if len(pool.trained) == 1:
            for _ in range(times):
                os.kill(os.getpid(), signum)
        return ticket

    pool.submit = submit  # type: ignore[method-assign]
    return pool


def test_first_ctrl_c_lets_running_trials_finish(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    recorder = Recorder()
    with pytest.raises(Interrupted, match="1 evaluated trials are kept .* re-run the same command"):
        run_search(study, space, 6, kill_me_on_submit(1), recorder)
    assert [t.state for t in study.trials] == [State.COMPLETE, State.WAITING]  # the 'se' baseline waits
    assert any("stopping: no new trials" in n for n in recorder.notices())
    assert DriverRows(Ledger.of(study)).drivers() == {}


def test_second_ctrl_c_fails_running_trials_and_requeues_them(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    pool = kill_me_on_submit(2)
    recorder = Recorder()
    with pytest.raises(Interrupted, match="0 evaluated trials are kept"):
        run_search(study, space, 6, pool, recorder)
    assert pool.shut
    assert not [n for n in recorder.notices() if "stopping" in n]  # nothing is left to wait for
    first = study.trials[0]
    assert first.state == State.FAIL and first.user_attrs["fail_reason"].startswith("interrupted by the user")
    requeued = [t for t in study.trials if t.user_attrs.get("retry_of") == 0]
    assert len(requeued) == 1 and requeued[0].state == State.WAITING
    assert requeued[0].user_attrs["retries"] == 0  # a user's interrupt does not spend the budget
    assert not [t for t in study.trials if t.state == State.RUNNING]
    # the re-run resumes: the re-enqueued baseline is evaluated, the target is met
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    run_search(study, space, 3, FakePool())
    assert_consistent(study, 3)


def test_sigterm_stops_at_once_like_a_second_ctrl_c(tmp_path: Path) -> None:
    """What a scheduler sends on pre-emption: fail and re-enqueue now, exit as interrupted."""
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted):
        run_search(study, space, 6, kill_me_on_submit(1, signal.SIGTERM))
    assert signal.getsignal(signal.SIGTERM) is previous  # the handler is put back
    assert study.trials[0].state == State.FAIL
    assert [t.user_attrs.get("retry_of") for t in study.trials if t.state == State.WAITING] == [None, 0]


def test_a_trial_asked_by_a_driver_that_died_before_recording_itself(tmp_path: Path) -> None:
    study, _ = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    anonymous = study.ask()  # the baseline 'none', RUNNING, no driver recorded, nothing sampled
    ledger = Ledger.of(study)
    other = DriverInfo("elsewhere:2:live", "some-other-host", 2)
    DriverRows(ledger).register(other)  # while another driver lives, a fresh anonymous trial may be its own
    assert recover_stale(study, ledger, DriverInfo.this_process(), stale_after_s=60) == []
    DriverRows(ledger).forget_drivers([other.driver_id])  # alone, it can only be a dead driver's
    recovered = recover_stale(study, ledger, DriverInfo.this_process(), stale_after_s=60)
    assert [r.number for r in recovered] == [anonymous.number]
    assert "did not record itself" in study.trials[anonymous.number].user_attrs["fail_reason"]
    requeued = next(t for t in study.trials if t.user_attrs.get("retry_of") == anonymous.number)
    assert requeued.system_attrs["fixed_params"] == {"layer1.module": "none", "layer2.module": "none"}
    assert requeued.user_attrs["baseline"] == "none"


@pytest.mark.slow
def test_a_result_with_a_non_finite_objective_fails_the_trial(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, space_yaml()))
    none_digest = space.base_arch().digest()

    def nan_latency(index: int, arch: object) -> Outcome | None:
        if arch.digest() != none_digest:  # type: ignore[attr-defined]
            return None
        return ok_outcome({**fake_result(arch), "latency_ms": float("nan")})  # type: ignore[arg-type]

    run_search(study, space, 2, FakePool(script=nan_latency))
    assert_consistent(study, 2)
    failed = study.trials[0]
    assert failed.state == State.FAIL
    assert failed.user_attrs["fail_reason"].startswith("objective not finite: latency_ms = nan")
    assert Ledger.of(study).lookup(none_digest).state == FAILED  # type: ignore[union-attr]
