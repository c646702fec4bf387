"""TrainRequest: what a worker is asked to do for one training (the driver → worker message).

One placement, the proxy it trains with (which carries the epoch budget and the training seed),
how its latency is timed and the screening constraints it must meet before it is trained. The
search builds every request in one place (``nas_attn.search.sampling.space``,
``SearchSpace.train_request``); workers receive :meth:`TrainRequest.wire`, plain JSON-safe
arguments of :meth:`TrialRunner.run <nas_attn.worker.runner.TrialRunner.run>`, so a worker on
another machine needs no pickled pydantic objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from typing_extensions import NotRequired

from nas_attn.backbones import ArchConfig
from nas_attn.worker.config import Constraint, LatencyConfig, ProxyConfig


class WireRequest(TypedDict):
    """A :class:`TrainRequest` as it travels to a worker: the JSON-safe keyword arguments of every
    actor's ``run(**request)`` (:meth:`TrialRunner.run <nas_attn.worker.runner.TrialRunner.run>`
    and the pool's actors). Without ``constraints`` the placement is trained unscreened."""

    arch: dict[str, Any]
    proxy: dict[str, Any]
    latency: dict[str, Any]
    constraints: NotRequired[list[dict[str, Any]]]


@dataclass(frozen=True)
class TrainRequest:
    """Train ``arch`` with ``proxy`` and time it with ``latency`` (unless it breaks a constraint)."""

    arch: ArchConfig
    proxy: ProxyConfig
    latency: LatencyConfig
    constraints: tuple[Constraint, ...] = ()

    @property
    def epochs(self) -> int:
        """The epoch budget this training runs for."""
        return self.proxy.epochs

    @property
    def seed(self) -> int:
        """The training seed (initial weights, batch order, augmentation draws)."""
        return self.proxy.training_seed

    def wire(self) -> WireRequest:
        """The request as :meth:`TrialRunner.run`'s keyword arguments (JSON-safe)."""
        return {
            "arch": self.arch.to_dict(),
            "proxy": self.proxy.model_dump(mode="json"),
            "latency": self.latency.model_dump(mode="json"),
            "constraints": [c.model_dump(mode="json") for c in self.constraints],
        }
