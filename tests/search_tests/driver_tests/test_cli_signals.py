"""Real signals to a real `nas-attn search` process (its own process group, as a terminal's
foreground job): Ctrl-C once and twice, and SIGKILL mid-search followed by a re-run.

Trials really train. The searches run through ``python -m nas_attn.testing.held_cli``: the real
CLI whose workers (``HeldWorker``) say when a trial starts and hold it at a gate, so each signal
is sent once the trial is running (and the next once the driver has answered the first), and
the gate opens only when a test wants the trial to finish. The checks read the SQLite file
directly, and the output as it is written, while the search runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support.search import State, assert_consistent, reload, write_space
from support.spaces import space_yaml

from nas_attn.search.studydb.drivers import DriverRows
from nas_attn.search.studydb.ledger import Ledger
from nas_attn.testing.held_trials import TrialGate
from nas_attn.testing.interrupt_cases import SearchProcess as Search
from nas_attn.testing.interrupt_cases import trial_states as states

pytestmark = [pytest.mark.ray, pytest.mark.slow]
WAIT_S = 600.0  # a hang guard, not a timing check: a loaded CI machine has needed over 300 s
STOPPING = "stopping: no new trials"  # the driver's answer to the first Ctrl-C


def start(
    space: Path, db: Path, n_trials: int, workers: int, gate: TrialGate | None, hold_from: int = 0
) -> Search:
    """``nas-attn search`` on ``db``; with ``gate``, its workers hold trials from the
    ``hold_from``-th on until the gate opens."""
    args = ["search", "--space", str(space), "--storage", f"sqlite:///{db}", "--n-trials", str(n_trials)]
    args += ["--workers", str(workers), "--device", "cpu"]
    if gate is None:
        entry = ["nas_attn"]
        name = "search"
    else:
        entry = ["nas_attn.testing.held_cli", "--events", str(gate.directory), "--hold-from", str(hold_from)]
        name = "held-search"
    runs = len(list(db.parent.glob(f"{name}-*.out")))
    return Search([sys.executable, "-m", *entry, *args], db.parent, f"{name}-{runs}")


def wait_for(condition: Callable[[], bool], proc: Search, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if proc.poll() is not None:
            out, err = proc.output()
            pytest.fail(f"the search ended early (exit {proc.returncode}): {err[-2000:]} {out[-2000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the search never reached the expected state: {what} within {WAIT_S:.0f}s")
        time.sleep(0.2)


def finish(proc: Search) -> tuple[str, str]:
    try:
        proc.wait(timeout=WAIT_S)
        return proc.output()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of its local Ray is left


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def space(tmp_path: Path) -> Path:
    return write_space(tmp_path, space_yaml(sampler="exhaustive"))


def test_ctrl_c_once_finishes_the_running_trial(tmp_path: Path, space: Path) -> None:
    db = tmp_path / "study.db"
    gate = TrialGate(tmp_path / "gate")
    proc = start(space, db, n_trials=3, workers=1, gate=gate)
    wait_for(lambda: gate.started() >= 1, proc, "a trial started on the worker")
    os.killpg(proc.pid, signal.SIGINT)
    wait_for(lambda: STOPPING in proc.out(), proc, f"'{STOPPING}' on stdout")
    gate.open()  # the running trial may finish now
    out, err = finish(proc)
    assert proc.returncode == 130, err
    assert "stopping: no new trials; waiting for 1 running trial(s) to finish" in out
    line = error_line(err)
    assert line.startswith("nas-attn: error: search interrupted: 1 evaluated trials are kept in study 'tiny'")
    assert line.endswith("re-run the same command to resume") and "Traceback" not in err
    assert states(db) == ["COMPLETE", "WAITING"]  # the running trial finished; the 'se' baseline waits


def test_ctrl_c_twice_fails_and_requeues_the_running_trial(tmp_path: Path, space: Path) -> None:
    db = tmp_path / "study.db"
    gate = TrialGate(tmp_path / "gate")  # never opened: the trial runs until stopped
    proc = start(space, db, n_trials=3, workers=1, gate=gate)
    wait_for(lambda: gate.started() >= 1, proc, "a trial started on the worker")
    os.killpg(proc.pid, signal.SIGINT)
    wait_for(lambda: STOPPING in proc.out(), proc, f"'{STOPPING}' on stdout")  # the first one counted
    os.killpg(proc.pid, signal.SIGINT)
    out, err = finish(proc)
    assert proc.returncode == 130, err
    assert out.count(STOPPING) == 1, out  # said at the first Ctrl-C, not again at the second
    assert error_line(err).startswith("nas-attn: error: search interrupted: 0 evaluated trials are kept")
    study = reload(f"sqlite:///{db}")
    first = study.trials[0]
    assert first.state == State.FAIL
    assert (
        first.user_attrs["fail_reason"]
        == "interrupted by the user (stopped); its parameters were re-enqueued"
    )
    requeued = [t for t in study.trials if t.user_attrs.get("retry_of") == 0]
    assert len(requeued) == 1 and requeued[0].state == State.WAITING
    assert not [t for t in study.trials if t.state == State.RUNNING]
    rerun = start(space, db, n_trials=2, workers=1, gate=None)  # the waiting 'se' baseline, then the retry
    _, err = finish(rerun)
    assert rerun.returncode == 0, err
    study = reload(f"sqlite:///{db}")
    assert_consistent(study, 2)
    assert requeued[0].number in {t.number for t in study.get_trials(states=(State.COMPLETE,))}


def test_a_driver_killed_mid_search_is_resumed_by_a_rerun(tmp_path: Path, space: Path) -> None:
    db = tmp_path / "study.db"
    gate = TrialGate(tmp_path / "gate")  # never opened: the first trial trains, later ones wait
    proc = start(space, db, n_trials=4, workers=2, gate=gate, hold_from=1)
    wait_for(
        lambda: "COMPLETE" in states(db) and "RUNNING" in states(db), proc, "a COMPLETE and a RUNNING trial"
    )
    proc.kill()  # SIGKILL: no handler, no cleanup
    proc.wait()
    finish(proc)
    orphans = [i for i, s in enumerate(states(db)) if s == "RUNNING"]
    assert orphans, "the kill did not land mid-trial"
    rerun = start(space, db, n_trials=4, workers=2, gate=None)
    out, err = finish(rerun)
    assert rerun.returncode == 0, err
    for number in orphans:
        assert f"trial {number} failed: driver lost: driver " in out
    study = reload(f"sqlite:///{db}")
    assert_consistent(study, 4)
    assert len(study.get_trials(states=(State.COMPLETE,))) == 4  # exhaustive: no duplicates either
    for number in orphans:
        lost = study.trials[number]
        assert lost.state == State.FAIL and lost.user_attrs["fail_reason"].startswith("driver lost: driver ")
        retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == number)
        assert retry.params == lost.params and retry.state == State.COMPLETE
    assert DriverRows(Ledger.of(study)).drivers() == {}
