"""A pool that starts warm-started trials from their study's backbone (``proxy.warm_start``).

Before the first request that starts from a backbone (one per training seed), the backbone comes
from the study's store or, the first time, is trained once on one of the pool's workers and
stored; then every worker receives it (replacement workers too) before that request runs. So each
backbone is trained once per study, whatever the number of workers, drivers or resumes, and every
placement at a seed starts from the same weights (paired).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from nas_attn.exceptions import NasAttnError
from nas_attn.search.execution.protocol import Outcome, TrialPool
from nas_attn.worker.request import TrainRequest
from nas_attn.worker.warm_start import WarmBackbone, warm_start_key


class BackboneStore(Protocol):
    """Where a study keeps its backbones (``search.studydb.warm_backbones.StudyBackbones``)."""

    def load(self, key: str) -> bytes | None: ...

    def save(
        self, key: str, data: bytes, seed: int, epochs: int, accuracy: float, train_seconds: float
    ) -> object: ...


class BackbonePool(TrialPool, Protocol):
    """A pool whose workers can train a warm-start backbone and receive one."""

    def pretrain(self, request: TrainRequest, keep_alive: Callable[[], None]) -> bytes: ...

    def share_backbone(self, data: bytes) -> None: ...


class WarmStartPool:
    """``inner`` (the ``TrialPool`` protocol), with each request's backbone given to the workers first.

    ``keep_alive`` is called about every second while a backbone trains (the driver beats its
    heartbeat there, so a second driver does not take a pretraining driver for dead)."""

    def __init__(self, inner: BackbonePool, store: BackboneStore, notice: Callable[[str], None]) -> None:
        self.inner = inner
        self.store = store
        self.notice = notice
        self.keep_alive: Callable[[], None] = lambda: None
        self._shared: set[str] = set()

    @property
    def idle(self) -> int:
        return self.inner.idle

    def submit(self, request: TrainRequest) -> int:
        if request.proxy.warm_start is not None:
            self.provide(request)
        return self.inner.submit(request)

    def poll(self, timeout: float) -> list[tuple[int, Outcome]]:
        return self.inner.poll(timeout)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def provide(self, request: TrainRequest) -> None:
        """Give every worker the backbone ``request`` starts from: stored, or trained now and stored."""
        key = warm_start_key(request.arch, request.proxy)
        if key in self._shared:
            return
        data = self.store.load(key)
        if data is None:
            epochs = request.proxy.warm_start.epochs if request.proxy.warm_start else 0
            self.notice(
                f"warm start: training the plain backbone for seed {request.seed} ({epochs} epochs), "
                "once for this study"
            )
            data = self.inner.pretrain(request, self.keep_alive)
            backbone = WarmBackbone.from_bytes(data)
            if backbone.key != key:
                raise NasAttnError(f"a worker trained warm-start backbone {backbone.key}, not {key} as asked")
            path = self.store.save(key, data, request.seed, epochs, backbone.accuracy, backbone.train_seconds)
            self.notice(
                f"warm start: seed {request.seed}'s backbone reached accuracy {backbone.accuracy:.4f} in "
                f"{backbone.train_seconds:.0f} s; kept with the study at {path}"
            )
        self.inner.share_backbone(data)
        self._shared.add(key)
