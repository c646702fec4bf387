"""A worker pool without Ray: one TrialRunner in this process, one trial at a time.

For benchmarks, debugging and tests that want the real worker code (training, measurement,
screening) in the driver's own process. The trial runs when the driver polls.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from nas_attn.search.execution.protocol import Outcome, backbone_of, outcome_of
from nas_attn.worker.request import TrainRequest
from nas_attn.worker.runner import TrialRunner


class InProcessPool:
    """A single in-process worker (the ``TrialPool`` protocol)."""

    def __init__(self, device: str = "cpu", threads: int | None = None) -> None:
        self.runner = TrialRunner(device, threads)
        self._queue: dict[int, TrainRequest] = {}
        self._tickets = itertools.count()

    @property
    def idle(self) -> int:
        return 1 - len(self._queue)

    def submit(self, request: TrainRequest) -> int:
        ticket = next(self._tickets)
        self._queue[ticket] = request
        return ticket

    def poll(self, timeout: float) -> list[tuple[int, Outcome]]:
        done = [(ticket, self.evaluate(request)) for ticket, request in self._queue.items()]
        self._queue.clear()
        return done

    def evaluate(self, request: TrainRequest) -> Outcome:
        """Run one submission now."""
        return outcome_of(self.runner.run(**request.wire()))

    def pretrain(self, request: TrainRequest, keep_alive: Callable[[], None] = lambda: None) -> bytes:
        """Train (or take the held) warm-start backbone of ``request``: its safetensors bytes (in
        this process: ``keep_alive`` is not called; a pool for benches and tests)."""
        return backbone_of(self.runner.pretrain(**request.wire()))

    def share_backbone(self, data: bytes) -> None:
        self.runner.set_backbone(data)

    def shutdown(self) -> None:
        self._queue.clear()
