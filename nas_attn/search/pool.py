"""A pool of long-lived Ray actors, each wrapping a TrialRunner (one per ``--workers``)."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Any

import ray

from nas_attn.exceptions import NasAttnError
from nas_attn.worker.runner import TrialRunner

_RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


@dataclass(frozen=True)
class PoolConfig:
    workers: int
    device: str = "auto"
    gpus_per_trial: float = 0.0
    cpus_per_trial: int = 1
    threads_per_worker: int = 1


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
        # A local, single-user cluster: Ray's notice that it enabled token auth is noise here.
        logging.getLogger(_RAY_AUTH_LOGGER).setLevel(logging.ERROR)
    else:
        kwargs["address"] = address
    try:
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


class WorkerPool:
    """Actors that each run one trial at a time; dead actors are replaced on demand."""

    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self._remote_cls = ray.remote(TrialRunner).options(
            num_cpus=config.cpus_per_trial, num_gpus=config.gpus_per_trial, max_restarts=0
        )
        self.idle: list[Any] = [self._spawn() for _ in range(config.workers)]

    def _spawn(self) -> Any:
        return self._remote_cls.remote(self.config.device, self.config.threads_per_worker)

    def submit(self, payload: dict[str, Any]) -> tuple[ray.ObjectRef, Any]:
        actor = self.idle.pop()
        return actor.run.remote(payload["arch"], payload["proxy"], payload["latency"]), actor

    def release(self, actor: Any) -> None:
        self.idle.append(actor)

    def replace(self, actor: Any) -> None:
        """Drop a broken actor and start a fresh one in its place."""
        with contextlib.suppress(Exception):  # already gone
            ray.kill(actor, no_restart=True)
        self.idle.append(self._spawn())

    def shutdown(self) -> None:
        for actor in self.idle:
            ray.kill(actor, no_restart=True)
        self.idle.clear()
