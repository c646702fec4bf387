"""Test doubles for the driver: an in-process worker pool with scripted outcomes.

The driver only needs the ``TrialPool`` protocol, so these run the real driver, the real
ledger and real storage without Ray: fast, deterministic, and able to fake any fault.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from nas_attn.backbones import ArchConfig
from nas_attn.search.execution.protocol import Outcome, outcome_of
from nas_attn.testing.simulated import simulated_fields
from nas_attn.worker.evaluate import TrialResult
from nas_attn.worker.request import TrainRequest, WireRequest


def fake_result(arch: ArchConfig) -> dict[str, Any]:
    """A TrialResult dict that depends only on the placement (whatever fields TrialResult has)."""
    return TrialResult(**simulated_fields(arch.to_dict())).to_dict()


def ok_outcome(result: dict[str, Any]) -> Outcome:
    """The outcome of a worker that answered with the TrialResult dict ``result`` (read the way
    every pool reads a worker's reply)."""
    return outcome_of({"status": "ok", "result": result})


Script = Callable[[int, ArchConfig], Outcome | None]


class FakePool:
    """``workers`` in-process workers; a trial ends after ``polls`` polls (or ``seconds``).

    ``script(submission_index, arch)`` may return an Outcome to end that trial differently
    (lost worker, divergence); None means a normal result. ``trained`` lists every placement
    digest sent to a worker, in order.
    """

    def __init__(self, workers: int = 1, polls: int = 1, seconds: float = 0.0, script: Script | None = None):
        self.workers = workers
        self.polls = polls
        self.seconds = seconds
        self.script = script
        self.trained: list[str] = []
        self.submitted: list[ArchConfig] = []
        self.payloads: list[WireRequest] = []  # each submission as sent to a worker (index order)
        self._running: dict[int, tuple[ArchConfig, int, float, int]] = {}
        self._tickets = itertools.count()
        self._lock = threading.Lock()
        self.shut = False

    @property
    def idle(self) -> int:
        return self.workers - len(self._running)

    def submit(self, request: TrainRequest) -> int:
        arch = request.arch
        ticket = next(self._tickets)
        with self._lock:
            index = len(self.trained)
            self.trained.append(arch.digest())
            self.submitted.append(arch)
            self.payloads.append(request.wire())
            self._running[ticket] = (arch, self.polls, time.monotonic() + self.seconds, index)
        return ticket

    def poll(self, timeout: float) -> list[tuple[int, Outcome]]:
        time.sleep(min(timeout, 0.01))
        finished = []
        for ticket, (arch, left, due, index) in list(self._running.items()):
            if left > 1 or time.monotonic() < due:
                self._running[ticket] = (arch, left - 1, due, index)
                continue
            del self._running[ticket]
            scripted = self.script(index, arch) if self.script else None
            finished.append((ticket, scripted or ok_outcome(fake_result(arch))))
        return finished

    def shutdown(self) -> None:
        self.shut = True
        self._running.clear()


class Recorder:
    """A SearchObserver that records what the driver reports."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def started(self, target: int, evaluated: int) -> None:
        self.events.append(("started", target, evaluated))

    def trial_started(self, number: int, arch: ArchConfig) -> None:
        self.events.append(("trial_started", number, arch.label()))

    def trial_finished(self, number: int, result: Any, reason: str | None) -> None:
        self.events.append(("trial_finished", number, reason))

    def trial_duplicate(self, number: int, of: int) -> None:
        self.events.append(("duplicate", number, of))

    def notice(self, message: str) -> None:
        self.events.append(("notice", message))

    def notices(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "notice"]
