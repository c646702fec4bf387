"""A pool of long-lived Ray actors, each wrapping a TrialRunner (one per ``--workers``).

The driver sees tickets and :class:`~nas_attn.search.execution.protocol.Outcome` only (no Ray types), so
it can be tested with an in-process pool. An actor that dies or raises is replaced, and its
trial's outcome says so.

Proxy data travels through the Ray object store (``PoolConfig.ship_data``, the default): the
driver loads it once, ``ray.put``s it, and every actor (replacements included) receives the
reference before its first trial, so worker nodes need no dataset files. Without shipping,
each actor loads the data from its own node's files.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import ray
from pydantic import ValidationError
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError
from typing_extensions import Unpack

from nas_attn.exceptions import NasAttnError
from nas_attn.search.execution._local_ray import without_autoscaler
from nas_attn.search.execution.protocol import Outcome, backbone_of, outcome_of
from nas_attn.worker.config import SKIP_FILE_CHECKS, ProxyConfig
from nas_attn.worker.proxy_data import load_proxy_data
from nas_attn.worker.request import TrainRequest, WireRequest
from nas_attn.worker.runner import TrialRunner

_RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"
READY_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class PoolConfig:
    workers: int
    device: str = "auto"
    gpus_per_trial: float = 0.0
    cpus_per_trial: int = 1
    threads_per_worker: int = 1
    ship_data: bool = True  # the driver loads the proxy data once and ships it (object store)


def start_ray(address: str | None, workers: int) -> None:
    """Connect to ``address`` or start a quiet local Ray instance with a slot per worker."""
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "log_to_driver": False,
        "configure_logging": True,
    }
    if address is None:
        kwargs["num_cpus"] = max(os.cpu_count() or 1, workers)
        kwargs["address"] = "local"  # a private instance, even when another Ray runs on this host
        # A local, single-user cluster: Ray's notice that it enabled token auth is noise here.
        logging.getLogger(_RAY_AUTH_LOGGER).setLevel(logging.ERROR)
    else:
        kwargs["address"] = address
    try:
        with without_autoscaler() if address is None else contextlib.nullcontext():
            ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise NasAttnError(f"cannot start or reach Ray at '{address or 'local'}': {exc}") from None


def plan_pool(workers: int | None, device: str, gpus_per_trial: float | None, remote: bool) -> PoolConfig:
    """Worker count, GPUs and CPU threads per worker for the local machine or a cluster."""
    resources = ray.cluster_resources()
    gpus = float(resources.get("GPU", 0.0))
    use_gpu = device == "cuda" or (device == "auto" and gpus > 0)
    if device == "cuda" and gpus == 0:
        raise NasAttnError(
            "--device cuda was requested but the Ray cluster has no GPU; use --device cpu or auto"
        )
    if use_gpu:
        per_trial = gpus_per_trial if gpus_per_trial is not None else 1.0
        count = workers if workers is not None else max(1, int(gpus // per_trial))
        return PoolConfig(count, "cuda", per_trial, 1, 1)
    cpus = int(resources.get("CPU", os.cpu_count() or 1))
    count = workers if workers is not None else max(1, min(4, cpus))
    threads = 1 if remote else max(1, (os.cpu_count() or 1) // count)
    return PoolConfig(count, "cpu", 0.0, 1, threads)


class PoolWorker(TrialRunner):
    """The actor class: a TrialRunner that gets its data up front and says where it ran.

    Any actor class with the same ``warm_up`` and ``run`` can replace it (``WorkerPool(actor=...)``;
    e.g. :class:`~nas_attn.testing.simulated.SimulatedWorker` for benchmarks, or a subclass such
    as :class:`~nas_attn.testing.held_trials.HeldWorker` for tests that must act mid-trial).
    """

    def warm_up(self, proxy: dict[str, Any], data: Any = None) -> str:
        """Take the shipped ``data`` (a resolved ObjectRef) or load the proxy dataset from this
        node's files; '' when ready, else the reason it cannot be."""
        try:
            if data is None:
                self.data_for(ProxyConfig.model_validate(proxy))
            else:
                self.set_data(ProxyConfig.model_validate(proxy, context=SKIP_FILE_CHECKS), data)
        except ValidationError as exc:  # e.g. the dataset's files are not on this node
            return "; ".join(str(e["msg"]) for e in exc.errors())
        except NasAttnError as exc:
            return str(exc)
        return ""

    def run(self, **request: Unpack[WireRequest]) -> dict[str, Any]:
        return {**super().run(**request), "node_id": node_id()}


def node_id() -> str:
    """The Ray node this process runs on."""
    return str(ray.get_runtime_context().get_node_id())


def _root_cause(text: str) -> str:
    """The innermost ``SomeError: message`` line of a Ray error's text (else its first line)."""
    causes = [line.strip() for line in text.splitlines() if "Error: " in line]
    return causes[-1] if causes else _first_line(text)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


class WorkerPool:
    """Actors that each run one trial at a time; dead actors are replaced on demand.

    ``actor`` is the actor class (default :class:`PoolWorker`, built with the config's device
    and threads) and ``actor_args`` its constructor arguments for another class.
    """

    def __init__(
        self, config: PoolConfig, actor: type = PoolWorker, actor_args: tuple[Any, ...] | None = None
    ) -> None:
        self.config = config
        self._remote_cls: Any = ray.remote(actor).options(
            num_cpus=config.cpus_per_trial, num_gpus=config.gpus_per_trial, max_restarts=0
        )
        default_args = (config.device, config.threads_per_worker)
        self._actor_args = actor_args if actor_args is not None else default_args
        self._warm_up: tuple[dict[str, Any], Any] | None = None  # (proxy, data ref) for new actors
        self._backbones: list[ray.ObjectRef] = []  # warm-start backbones every actor holds
        self._idle: list[Any] = [self._spawn() for _ in range(config.workers)]
        self._busy: dict[ray.ObjectRef, tuple[int, Any]] = {}
        self._tickets = itertools.count()

    def _spawn(self) -> Any:
        actor = self._remote_cls.remote(*self._actor_args)
        if self._warm_up is not None:  # runs before the actor's first trial (actor tasks are ordered)
            actor.warm_up.remote(*self._warm_up)
        for backbone in self._backbones:
            actor.set_backbone.remote(backbone)
        return actor

    @property
    def idle(self) -> int:
        """How many workers wait for a trial."""
        return len(self._idle)

    @property
    def busy(self) -> int:
        return len(self._busy)

    def check_ready(self, proxy: ProxyConfig) -> None:
        """Start every worker and give it its data; a NasAttnError if any cannot (before any trial).

        With ``ship_data`` the data is loaded here once (a missing dataset fails here) and put in
        the object store; the reference is kept for the pool's lifetime (replacement actors get it).
        """
        data = ray.put(load_proxy_data(proxy)) if self.config.ship_data else None
        wire = proxy.model_dump(mode="json")  # workers get plain JSON, as with every request
        self._warm_up = (wire, data)
        refs = [actor.warm_up.remote(wire, data) for actor in self._idle]
        try:
            reasons = ray.get(refs, timeout=READY_TIMEOUT_S)
        except RayActorError as exc:
            cause = _root_cause(str(exc)) or type(exc).__name__
            raise NasAttnError(
                f"a Ray worker could not start: {cause}; check --device and the cluster"
            ) from None
        except GetTimeoutError:
            raise NasAttnError(
                f"Ray workers did not start within {READY_TIMEOUT_S:.0f}s; check the cluster's free resources"
            ) from None
        problems = sorted({r for r in reasons if r})
        if problems:
            raise NasAttnError(f"workers cannot load the proxy data: {problems[0]}")

    def submit(self, request: TrainRequest) -> int:
        """Start one training on an idle worker; returns its ticket."""
        actor = self._idle.pop()
        ref = actor.run.remote(**request.wire())
        ticket = next(self._tickets)
        self._busy[ref] = (ticket, actor)
        return ticket

    def pretrain(self, request: TrainRequest, keep_alive: Callable[[], None] = lambda: None) -> bytes:
        """Train the warm-start backbone of ``request`` on an idle worker and return its
        safetensors bytes (``keep_alive`` is called about every second meanwhile); a NasAttnError
        if it cannot be trained."""
        actor = self._idle[-1]
        try:
            ref = actor.pretrain.remote(**request.wire())
            while not ray.wait([ref], timeout=1.0)[0]:
                keep_alive()
            reply = ray.get(ref)
        except RayError as exc:
            self._idle.remove(actor)
            self._replace(actor)
            raise NasAttnError(
                f"the worker training the warm-start backbone failed ({_first_line(str(exc))}); "
                "re-run the same command"
            ) from None
        return backbone_of(reply)

    def share_backbone(self, data: bytes) -> None:
        """Give every worker (and every later replacement) the backbone in ``data``; each takes it
        before its next trial."""
        ref = ray.put(data)
        self._backbones.append(ref)
        for actor in [actor for _ticket, actor in self._busy.values()] + self._idle:
            actor.set_backbone.remote(ref)

    def poll(self, timeout: float) -> list[tuple[int, Outcome]]:
        """Outcomes of the trials that ended within ``timeout`` seconds (maybe none)."""
        if not self._busy:
            time.sleep(timeout)
            return []
        done, rest = ray.wait(list(self._busy), num_returns=1, timeout=timeout)
        if done and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            done += more
        return [self._outcome(ref) for ref in done]

    def worker_for(self, ticket: int) -> Any:
        """The Ray actor running ``ticket`` (fault tests kill it), or None."""
        return next((actor for t, actor in self._busy.values() if t == ticket), None)

    def _outcome(self, ref: ray.ObjectRef) -> tuple[int, Outcome]:
        ticket, actor = self._busy.pop(ref)
        try:
            reply = ray.get(ref)
        except RayActorError as exc:
            self._replace(actor)
            return ticket, Outcome("lost", reason=f"worker lost: {type(exc).__name__}")
        except RayTaskError as exc:
            self._replace(actor)
            cause = exc.cause if exc.cause is not None else exc
            reason = _first_line(f"worker error: {type(cause).__name__}: {cause}")
            return ticket, Outcome("error", reason=reason)
        except RayError as exc:  # object lost with its node, and the like
            self._replace(actor)
            return ticket, Outcome("lost", reason=f"worker lost: {type(exc).__name__}")
        self._idle.append(actor)
        return ticket, outcome_of(reply, node_id="")

    def _replace(self, actor: Any) -> None:
        """Drop a broken actor and start a fresh one in its place."""
        with contextlib.suppress(Exception):  # already gone
            ray.kill(actor, no_restart=True)
        self._idle.append(self._spawn())

    def shutdown(self) -> None:
        """Kill every worker, busy ones included (their trials are abandoned)."""
        for actor in [actor for _ticket, actor in self._busy.values()] + self._idle:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
        self._busy.clear()
        self._idle.clear()


@contextlib.contextmanager
def ready_pool(
    config: PoolConfig,
    proxy: ProxyConfig,
    actor: type = PoolWorker,
    actor_args: tuple[Any, ...] | None = None,
) -> Iterator[WorkerPool]:
    """A started pool whose workers hold their data (:meth:`WorkerPool.check_ready`); all its
    actors are killed on the way out. ``actor``, ``actor_args``: as for :class:`WorkerPool`."""
    pool = WorkerPool(config, actor, actor_args)
    try:
        pool.check_ready(proxy)
        yield pool
    finally:
        pool.shutdown()
