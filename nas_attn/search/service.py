"""The search use case: validate everything, then start Ray and run the driver.

Everything that can be wrong with the user's input (space, device, storage, study identity) is
checked in :func:`prepare` before Ray starts or a trial is asked, so a rejected command leaves
the study untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna

from nas_attn.exceptions import NasAttnError
from nas_attn.search.driver import SearchObserver, run_search
from nas_attn.search.pool import PoolConfig, WorkerPool, plan_pool, start_ray
from nas_attn.search.results import TrialRow
from nas_attn.search.space import SearchSpace, load_space
from nas_attn.search.storage import open_storage, redact_url
from nas_attn.search.study import complete_trials, open_study
from nas_attn.worker.device import resolve_device

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class SearchRequest:
    space_path: Path
    storage_url: str
    study_name: str | None = None
    n_trials: int | None = None
    workers: int | None = None
    ray_address: str | None = None
    gpus_per_trial: float | None = None
    device: str = "auto"
    sampler: str | None = None


@dataclass(frozen=True)
class PreparedSearch:
    request: SearchRequest
    space: SearchSpace
    study: optuna.Study
    target: int
    complete: int

    @property
    def safe_storage(self) -> str:
        return redact_url(self.request.storage_url)

    @property
    def remaining(self) -> int:
        return max(0, self.target - self.complete)


def prepare(request: SearchRequest) -> PreparedSearch:
    """Load and check the space, the device and the storage; open (or resume) the study."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(request.space_path)
    if request.device not in DEVICES:
        raise NasAttnError(f"unknown device '{request.device}'; use {', '.join(DEVICES)}")
    if request.ray_address is None:
        resolve_device(request.device)  # CUDA asked for but absent: fail before anything starts
    study = open_study(
        open_storage(request.storage_url),
        request.study_name or space.name,
        space,
        request.sampler or space.search.sampler,
    )
    target = request.n_trials if request.n_trials is not None else space.search.n_trials
    return PreparedSearch(request, space, study, target, len(complete_trials(study)))


def plan_workers(prepared: PreparedSearch) -> PoolConfig:
    """Start (or join) Ray and size the worker pool for its resources."""
    request = prepared.request
    start_ray(request.ray_address, request.workers or 1)
    return plan_pool(
        request.workers, request.device, request.gpus_per_trial, remote=request.ray_address is not None
    )


def execute(prepared: PreparedSearch, plan: PoolConfig, observer: SearchObserver) -> list[TrialRow]:
    """Run the driver until the target is met; return the Pareto front."""
    pool = WorkerPool(plan)
    try:
        outcome = run_search(prepared.study, prepared.space, prepared.target, pool, observer)
    finally:
        pool.shutdown()
    return outcome.front
