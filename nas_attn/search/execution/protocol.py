"""What the driver needs from a worker pool: requests in, tickets and outcomes out (no Ray types).

A worker answers on the wire with a dict (``TrialRunner.run``): ``{"status": "ok", "result":
<TrialResult dict>, "node_id": ...}`` or ``{"status": "failed", "reason": ...}``.
:func:`outcome_of` is the one place that reads it (every pool, the test doubles included): past
the pool, the driver sees a typed :class:`Outcome` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from nas_attn.exceptions import NasAttnError
from nas_attn.worker.evaluate import TrialResult
from nas_attn.worker.request import TrainRequest

OutcomeKind = Literal["ok", "failed", "lost", "error"]


@dataclass(frozen=True)
class Outcome:
    """How one submitted trial ended.

    ``ok``: ``result`` holds the worker's TrialResult and ``node_id`` the Ray node it ran on
    (None where the pool does not say, e.g. in-process). ``failed``: the trial itself is bad
    (invalid placement, divergence); not worth retrying. ``lost``: the worker died (actor crash,
    node gone); worth retrying. ``error``: the worker raised unexpectedly (a bug); not retried.
    """

    kind: OutcomeKind
    result: TrialResult | None = None
    reason: str = ""
    node_id: str | None = None


def outcome_of(reply: Mapping[str, Any], node_id: str | None = None) -> Outcome:
    """The typed outcome of a worker's wire ``reply``; ``node_id``: where it ran, when the reply
    does not say."""
    if reply["status"] != "ok":
        return Outcome("failed", reason=str(reply["reason"]))
    ran_on = str(reply["node_id"]) if "node_id" in reply else node_id
    return Outcome("ok", result=TrialResult.from_dict(reply["result"]), node_id=ran_on)


def backbone_of(reply: Mapping[str, Any]) -> bytes:
    """The warm-start backbone's bytes in a worker's ``pretrain`` reply, or a NasAttnError with
    the reason it could not be trained."""
    if reply["status"] != "ok":
        raise NasAttnError(f"the warm-start backbone could not be trained: {reply['reason']}")
    return bytes(reply["backbone"])


class TrialPool(Protocol):
    """Workers that each run one trial at a time (``WorkerPool`` on Ray; fakes in tests)."""

    @property
    def idle(self) -> int: ...

    def submit(self, request: TrainRequest) -> int: ...

    def poll(self, timeout: float) -> list[tuple[int, Outcome]]: ...

    def shutdown(self) -> None: ...
