"""Trials a test can wait for and hold: ``HeldWorker`` (the Ray actor) and ``TrialGate`` (the test).

Fault and signal tests must act while a trial is running: kill its actor, remove its node, press
Ctrl-C. A :class:`HeldWorker` is the real :class:`~nas_attn.search.execution.pool.PoolWorker`
(it really trains) that first says its trial started, then, from its ``hold_from``-th trial on,
waits for the test to open the gate. The actors run in other processes, on other Ray nodes
of the same machine, so they meet the test in a directory, not in memory:

- ``started-<n>``: created (exclusively) by the ``n``-th trial to start, counting from 0 across
  every actor that shares the directory;
- ``pretrain-<n>``: likewise, by the ``n``-th warm-start backbone pretraining to start (held
  like a trial from the ``hold_from``-th on: a test can act while a backbone "trains");
- ``open``: created by the test (:meth:`TrialGate.open`); held trials go on and later ones do
  not wait.

A held trial whose gate stays shut for ``hold_timeout_s`` fails (TimeoutError) rather than
hanging the test for ever.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typing_extensions import Unpack

from nas_attn.search.execution.pool import PoolConfig, PoolWorker
from nas_attn.worker.request import WireRequest

STARTED_PREFIX = "started-"
PRETRAIN_PREFIX = "pretrain-"
OPEN_FILE = "open"
HOLD_TIMEOUT_S = 600.0
POLL_S = 0.05


def _claim_start(directory: Path, prefix: str = STARTED_PREFIX) -> int:
    """Create the first free ``<prefix><n>`` (exclusively, so concurrent trials get distinct
    numbers) and return ``n``."""
    number = sum(1 for _ in directory.glob(f"{prefix}*"))
    while True:
        try:
            fd = os.open(directory / f"{prefix}{number}", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            number += 1
            continue
        with os.fdopen(fd, "w") as marker:
            marker.write(f"{os.getpid()}\n")
        return number


class HeldWorker(PoolWorker):
    """A PoolWorker whose trials signal their start in ``events`` and, from the ``hold_from``-th
    trial on (0: every trial), wait there until the gate is open."""

    def __init__(
        self,
        device: str,
        threads: int,
        events: str,
        hold_from: int = 0,
        hold_timeout_s: float = HOLD_TIMEOUT_S,
    ) -> None:
        super().__init__(device, threads)
        self._events = Path(events)
        self._hold_from = hold_from
        self._hold_timeout_s = hold_timeout_s

    def run(self, **request: Unpack[WireRequest]) -> dict[str, Any]:
        number = _claim_start(self._events)
        if number >= self._hold_from:
            self._wait_for_open(number)
        return super().run(**request)

    def pretrain(self, **request: Unpack[WireRequest]) -> dict[str, Any]:
        number = _claim_start(self._events, PRETRAIN_PREFIX)
        if number >= self._hold_from:
            self._wait_for_open(number)
        return super().pretrain(**request)

    def _wait_for_open(self, number: int) -> None:
        deadline = time.monotonic() + self._hold_timeout_s
        while not (self._events / OPEN_FILE).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"trial start {number} was held {self._hold_timeout_s:.0f}s: "
                    f"the test never opened the gate in {self._events}"
                )
            time.sleep(POLL_S)


class TrialGate:
    """The test's side of a :class:`HeldWorker` directory: count started trials, wait for them,
    open the gate."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def actor_args(self, config: PoolConfig, hold_from: int = 0) -> tuple[Any, ...]:
        """``HeldWorker``'s constructor arguments for a pool of ``config`` (its device, threads)."""
        return (config.device, config.threads_per_worker, str(self.directory), hold_from)

    def started(self) -> int:
        """How many trials have started so far (held or not)."""
        return sum(1 for _ in self.directory.glob(f"{STARTED_PREFIX}*"))

    def pretrainings(self) -> int:
        """How many warm-start backbone pretrainings have started so far (held or not)."""
        return sum(1 for _ in self.directory.glob(f"{PRETRAIN_PREFIX}*"))

    def open(self) -> None:
        """Let every held trial go on, and every later one start without waiting."""
        (self.directory / OPEN_FILE).touch()

    def wait_started(
        self, count: int, timeout_s: float, check: Callable[[], None] | None = None, poll_s: float = 0.1
    ) -> None:
        """Return once ``count`` trials have started; AssertionError after ``timeout_s``.

        ``check`` runs at every poll and may raise (e.g. when the process under test ended)."""
        deadline = time.monotonic() + timeout_s
        while self.started() < count:
            if check is not None:
                check()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {self.started()} of {count} trials started within {timeout_s:.0f}s "
                    f"(events in {self.directory})"
                )
            time.sleep(poll_s)
