"""Ctrl-C and SIGTERM while a search or its re-runs run, escalating: finish, then stop now, then abort.

1st Ctrl-C: ask no new trials, let running ones finish. 2nd Ctrl-C or SIGTERM (what schedulers
send on pre-emption): fail running trials with a reason and re-enqueue them, at the driver's
next safe point (within a poll). 3rd Ctrl-C: KeyboardInterrupt at once, for a hung storage;
the trials it leaves RUNNING are recovered from their stale heartbeat by the next run.

Signal handlers belong to the process, so the requests being counted are too:
:func:`requested_level` tells code that waits outside a driver's loop (a warm-start backbone's
pretraining, which takes minutes) what the user asked, so it can stop within a second as well.
"""

from __future__ import annotations

import signal
import socket
import threading
from types import FrameType, TracebackType
from typing import Any

from nas_attn.exceptions import Interrupted

FINISH, STOP_NOW, ABORT = 1, 2, 3

_active: list[StopRequests] = []  # those entered in the main thread, innermost last


def requested_level() -> int:
    """What the user asked of the running command so far: 0 (nothing), FINISH or STOP_NOW (or
    more); 0 while no :class:`StopRequests` is active."""
    return _active[-1].level if _active else 0


class NotStarted(Interrupted):
    """A pool did not start a training because the user asked to stop (raised by a pool's
    ``submit``; the driver re-enqueues the trial, a seed runner gives its seed back)."""


class StopRequests:
    """Counts stop requests while active; a no-op outside the main thread (signals go there).

    Every press counts, however fast they come. Python runs a signal's handler only when the main
    thread is back in the interpreter, and presses that arrive meanwhile (the driver waits inside
    Ray's C++ ``ray.wait`` for up to half a second) trip one flag: measured, three presses 50 ms
    apart ran the handler twice, and two ran it once, so "stop now" was heard as "finish" and the
    search waited for its running trials. So the presses are counted from the signal module's
    wakeup pipe, where the C-level handler writes one byte per signal delivered, whenever
    :attr:`level` is read and whenever the handler runs."""

    def __init__(self) -> None:
        self._presses = 0  # SIGINTs counted
        self._terminated = False  # a SIGTERM came
        self._previous: dict[int, Any] = {}
        self._pipe: tuple[socket.socket, socket.socket] | None = None
        self._previous_fd = -1

    @property
    def level(self) -> int:
        """0, FINISH, STOP_NOW or ABORT (and more, for more presses): what was asked so far."""
        self._drain()
        return max(self._presses, STOP_NOW) if self._terminated else self._presses

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            self._previous = {
                signal.SIGINT: signal.signal(signal.SIGINT, self._on_sigint),
                signal.SIGTERM: signal.signal(signal.SIGTERM, self._on_sigterm),
            }
            self._open_pipe()
            _active.append(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        self._close_pipe()
        if self in _active:
            _active.remove(self)

    def _open_pipe(self) -> None:
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        try:
            self._previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):  # pragma: no cover - no wakeup fd here: one press per handler call
            reader.close()
            writer.close()
            return
        self._pipe = (reader, writer)

    def _close_pipe(self) -> None:
        if self._pipe is None:
            return
        self._drain()
        signal.set_wakeup_fd(self._previous_fd)
        for end in self._pipe:
            end.close()
        self._pipe = None

    def _drain(self) -> None:
        """Count the signals the C-level handler wrote to the wakeup pipe since the last look."""
        if self._pipe is None:
            return
        while True:
            try:
                data = self._pipe[0].recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            self._presses += data.count(signal.SIGINT)
            self._terminated = self._terminated or signal.SIGTERM in data

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._pipe is None:
            self._presses += 1  # no pipe: each call is one press (fast ones may merge)
        if self.level >= ABORT:
            raise KeyboardInterrupt

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._terminated = True
