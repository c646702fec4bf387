"""Ctrl-C and SIGTERM while a search or its re-runs run, escalating: finish, then stop now, then abort.

1st Ctrl-C: ask no new trials, let running ones finish. 2nd Ctrl-C or SIGTERM (what schedulers
send on pre-emption): fail running trials with a reason and re-enqueue them, at the driver's
next safe point (within a poll). 3rd Ctrl-C: KeyboardInterrupt at once, for a hung storage;
the trials it leaves RUNNING are recovered from their stale heartbeat by the next run.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

FINISH, STOP_NOW, ABORT = 1, 2, 3


class StopRequests:
    """Counts stop requests while active; a no-op outside the main thread (signals go there)."""

    def __init__(self) -> None:
        self.level = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            self._previous = {
                signal.SIGINT: signal.signal(signal.SIGINT, self._on_sigint),
                signal.SIGTERM: signal.signal(signal.SIGTERM, self._on_sigterm),
            }
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.level += 1
        if self.level >= ABORT:
            raise KeyboardInterrupt

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.level = max(self.level, STOP_NOW)
