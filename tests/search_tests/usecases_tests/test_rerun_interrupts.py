"""Ctrl-C during seed re-runs / proxy validation behaves as in a search (issue #17, classes 7-8):
the first lets running jobs finish and submits nothing new, the second stops at once, and the
CLI exits 130 with Ctrl-C ignored while Ray shuts down."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from nas_attn import load_space
from nas_attn.exceptions import Interrupted
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.usecases.validate_proxy import Job, run_jobs
from nas_attn.testing.fakes import FakePool
from nas_attn.worker.request import TrainRequest


def _jobs(tiny_space_file: Path, n: int) -> tuple[list[Job], object]:
    space = load_space(tiny_space_file)
    return [Job(i, space.train_request(space.base_arch(), seed=i + 1)) for i in range(n)], space


@pytest.mark.parametrize(("signals", "finished"), [(1, 2), (2, 0)])
def test_ctrl_c_finishes_or_stops_the_reruns(tiny_space_file: Path, signals: int, finished: int) -> None:
    jobs, space = _jobs(tiny_space_file, 5)
    done: list[int] = []

    class Interrupting(FakePool):
        def submit(self, request: TrainRequest) -> int:
            ticket = super().submit(request)
            if len(self.trained) == 2:  # both workers busy: the user presses Ctrl-C
                for _ in range(signals):
                    os.kill(os.getpid(), signal.SIGINT)
            return ticket

    pool = Interrupting(workers=2, polls=3)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Interrupted, match=f"interrupted: {finished} of 5 re-runs finished and are kept"):
        run_jobs(pool, jobs, space, lambda job, outcome: done.append(job.trial))  # type: ignore[arg-type]
    assert len(pool.trained) == 2  # nothing submitted after the Ctrl-C
    assert sorted(done) == [0, 1][:finished]
    assert signal.getsignal(signal.SIGINT) is before


def test_reruns_without_ctrl_c_all_finish(tiny_space_file: Path) -> None:
    jobs, space = _jobs(tiny_space_file, 3)
    done: list[Outcome] = []
    run_jobs(FakePool(workers=2), jobs, space, lambda job, outcome: done.append(outcome))  # type: ignore[arg-type]
    assert [o.kind for o in done] == ["ok"] * 3


@pytest.mark.parametrize("status", [0, 1, 130])
def test_every_command_ignores_further_ctrl_c_while_it_exits(status: int) -> None:
    """Done, failed or interrupted: what runs after is clean-up (Ray's atexit shutdown)."""
    from nas_attn.cli.app import _exit

    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as exit_info:
            _exit(status)
        assert exit_info.value.code == status
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_outside_a_drivers_handling_interrupts_once_then_is_ignored() -> None:
    from nas_attn.cli.app import _interrupt_once

    before = signal.signal(signal.SIGINT, _interrupt_once)
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the handler runs here
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGINT)  # a second press while the first is handled: nothing
        time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, before)
