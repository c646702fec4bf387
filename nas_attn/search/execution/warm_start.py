"""A pool that starts warm-started trials from their study's backbone (``proxy.warm_start``).

Before the first request that starts from a backbone (one per training seed), the backbone comes
from the study's store or, the first time, is trained once on one of the pool's workers and
stored; then every worker receives it (replacement workers too) before that request runs. So each
backbone is trained once per study, whatever the number of workers, drivers or resumes, and every
placement at a seed starts from the same weights (paired).

Ctrl-C while a backbone trains (minutes) is answered within a second, as in a driver's loop: the
first says the backbone finishes and is kept, and then starts nothing (the request that needed it
raises :class:`~nas_attn.search.interrupts.NotStarted`); the second stops the training at once
(:class:`NotStarted` too; nothing is stored, the pool's shutdown ends the worker's training).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from nas_attn.exceptions import NasAttnError
from nas_attn.search.execution.protocol import Outcome, TrialPool
from nas_attn.search.interrupts import FINISH, STOP_NOW, NotStarted, requested_level
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
        if request.proxy.warm_start is not None and self.provide(request) and requested_level() >= FINISH:
            raise NotStarted(f"not started: {STOPPED_WHILE_PRETRAINING}")  # asked while its backbone trained
        return self.inner.submit(request)

    def poll(self, timeout: float) -> list[tuple[int, Outcome]]:
        return self.inner.poll(timeout)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def provide(self, request: TrainRequest) -> bool:
        """Give every worker the backbone ``request`` starts from: stored, or trained now and
        stored; whether it was trained now."""
        key = warm_start_key(request.arch, request.proxy)
        if key in self._shared:
            return False
        data = self.store.load(key)
        trained = data is None
        if data is None:
            epochs = request.proxy.warm_start.epochs if request.proxy.warm_start else 0
            self.notice(
                f"warm start: training the plain backbone for seed {request.seed} ({epochs} epochs), "
                "once for this study"
            )
            data = self.inner.pretrain(request, self._watch(request.seed))
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
        return trained

    def _watch(self, seed: int) -> Callable[[], None]:
        """Called about every second while seed ``seed``'s backbone trains: the driver's
        keep-alive, and the user's stop requests answered (see the module docstring)."""
        told = False

        def watch() -> None:
            nonlocal told
            self.keep_alive()
            level = requested_level()
            if level >= STOP_NOW:
                raise NotStarted(f"the warm-start backbone for seed {seed} was stopped; nothing was stored")
            if level >= FINISH and not told:
                told = True
                self.notice(
                    f"stopping: the warm-start backbone for seed {seed} finishes training and is kept with "
                    "the study, then nothing new starts (press Ctrl-C again to stop it now)"
                )

        return watch


STOPPED_WHILE_PRETRAINING = "the user asked to stop while its warm-start backbone trained"
