"""What the driver needs from a worker pool: requests in, tickets and outcomes out (no Ray types)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from nas_attn.worker.request import TrainRequest

OutcomeKind = Literal["ok", "failed", "lost", "error"]


@dataclass(frozen=True)
class Outcome:
    """How one submitted trial ended.

    ``ok``: ``result`` holds the TrialResult dict. ``failed``: the trial itself is bad (invalid
    placement, divergence); not worth retrying. ``lost``: the worker died (actor crash, node
    gone); worth retrying. ``error``: the worker raised unexpectedly (a bug); not retried.
    """

    kind: OutcomeKind
    result: dict[str, Any] | None = None
    reason: str = ""


class TrialPool(Protocol):
    """Workers that each run one trial at a time (``WorkerPool`` on Ray; fakes in tests)."""

    @property
    def idle(self) -> int: ...

    def submit(self, request: TrainRequest) -> int: ...

    def poll(self, timeout: float) -> list[tuple[int, Outcome]]: ...

    def shutdown(self) -> None: ...
