"""A worker pool without Ray: one TrialRunner in this process, one trial at a time.

For benchmarks, debugging and tests that want the real worker code (training, measurement,
screening) in the driver's own process. The trial runs when the driver polls.
"""

from __future__ import annotations

import itertools
from typing import Any

from nas_attn.search.dispatch import Outcome
from nas_attn.worker.runner import TrialRunner


class InProcessPool:
    """A single in-process worker (the ``TrialPool`` protocol)."""

    def __init__(self, device: str = "cpu", threads: int | None = None) -> None:
        self.runner = TrialRunner(device, threads)
        self._queue: dict[int, dict[str, Any]] = {}
        self._tickets = itertools.count()

    @property
    def idle(self) -> int:
        return 1 - len(self._queue)

    def submit(self, payload: dict[str, Any]) -> int:
        ticket = next(self._tickets)
        self._queue[ticket] = payload
        return ticket

    def poll(self, timeout: float) -> list[tuple[int, Outcome]]:
        done = [(ticket, self.evaluate(payload)) for ticket, payload in self._queue.items()]
        self._queue.clear()
        return done

    def evaluate(self, payload: dict[str, Any]) -> Outcome:
        """Run one submission now."""
        reply = self.runner.run(
            payload["arch"], payload["proxy"], payload["latency"], payload.get("constraints")
        )
        if reply["status"] == "ok":
            return Outcome("ok", result=reply["result"])
        return Outcome("failed", reason=str(reply["reason"]))

    def shutdown(self) -> None:
        self._queue.clear()
