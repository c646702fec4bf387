"""The search use case: validate everything, then start Ray, open the study and run the driver.

Everything that can be wrong with the user's input (space, sampler, counts, device, storage,
study identity) is checked in :func:`prepare` without writing anything; :func:`execute` starts
the workers and checks they can load the data *before* it creates or touches the study. So a
rejected command leaves the study untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.exceptions import StorageInternalError

from nas_attn.backbones import ArchConfig
from nas_attn.defaults import DEVICE_CHOICES
from nas_attn.exceptions import NasAttnError
from nas_attn.search.claims import Claims
from nas_attn.search.driver import SearchObserver, SearchOutcome, TrialHook, run_search
from nas_attn.search.execution.pool import (
    PoolConfig,
    PoolWorker,
    plan_pool,
    ready_pool,
    start_ray,
)
from nas_attn.search.execution.protocol import TrialPool
from nas_attn.search.execution.ray_address import check_ray_address
from nas_attn.search.execution.ray_owner import clean_up_dead_drivers, local_ray_pids, owner_key, record
from nas_attn.search.results import (
    ComputeSpent,
    TrialRow,
    claims_of,
    compute_spent,
    evaluated_trials,
    first_seed,
    pareto_rows,
    ranked_rows,
    study_directions,
)
from nas_attn.search.sampling.placements import space_size
from nas_attn.search.sampling.samplers import make_sampler
from nas_attn.search.sampling.space import SearchSpace, load_space
from nas_attn.search.seeds.policy import FixedSeeds, SeedPolicy, racing_policy
from nas_attn.search.seeds.runner import run_seed_policy
from nas_attn.search.studydb import (
    check_study,
    error_reason,
    load_existing_study,
    open_storage,
    open_study,
    redact_url,
)
from nas_attn.search.studydb.artifacts import artifact_store_for, store_trial_artifacts
from nas_attn.search.usecases._claims import record_claims
from nas_attn.search.usecases._warm_start import with_warm_start
from nas_attn.worker.device import resolve_device
from nas_attn.worker.evaluate import TrialResult


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
    storage: optuna.storages.RDBStorage
    study_name: str
    sampler: str
    target: int
    evaluated: int  # placements already evaluated in the study
    size: int  # distinct placements in the space

    @property
    def safe_storage(self) -> str:
        return redact_url(self.request.storage_url)

    @property
    def remaining(self) -> int:
        return max(0, min(self.target, self.size) - self.evaluated)


def _check_counts(request: SearchRequest) -> None:
    for flag, value in (("--n-trials", request.n_trials), ("--workers", request.workers)):
        if value is not None and value < 1:
            raise NasAttnError(f"{flag} must be at least 1, got {value}")
    if request.gpus_per_trial is not None and request.gpus_per_trial <= 0:
        raise NasAttnError(f"--gpus-per-trial must be positive, got {request.gpus_per_trial}")
    if request.device not in DEVICE_CHOICES:
        raise NasAttnError(f"unknown device '{request.device}'; use {', '.join(DEVICE_CHOICES)}")
    if request.study_name is not None and not request.study_name.strip():
        raise NasAttnError("--study must not be empty; pass a name or leave it out for the space's name")


def prepare(request: SearchRequest) -> PreparedSearch:
    """Load and check the space, sampler, device and storage; read the study if it exists."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _check_counts(request)
    space = load_space(request.space_path)
    sampler = request.sampler or space.search.sampler
    make_sampler(sampler, space, space.search.seed)  # unknown name, space too big to enumerate
    if request.ray_address is None:
        resolve_device(request.device)  # CUDA asked for but absent: fail before anything starts
    storage = open_storage(request.storage_url)
    name = request.study_name or space.name
    evaluated = 0
    if check_study(storage, name, space):
        evaluated = len(evaluated_trials(optuna.load_study(study_name=name, storage=storage)))
    target = request.n_trials if request.n_trials is not None else space.search.n_trials
    return PreparedSearch(request, space, storage, name, sampler, target, evaluated, space_size(space))


def plan_workers(prepared: PreparedSearch) -> PoolConfig:
    """Start (or join) Ray and size the worker pool for its resources."""
    request = prepared.request
    owner = owner_key(request.storage_url, prepared.study_name)
    return plan_for(request.ray_address, request.workers, request.device, request.gpus_per_trial, owner)


def plan_for(
    ray_address: str | None,
    workers: int | None,
    device: str,
    gpus_per_trial: float | None,
    owner: str | None = None,
) -> PoolConfig:
    """Start (or join) Ray at ``ray_address`` and size a worker pool for its resources.

    ``owner`` (a study's :func:`owner_key`): first stop the Ray processes a dead driver of that
    study left behind, then record the local Ray instance this driver starts."""
    check_ray_address(ray_address)  # seconds, not ray.init's minutes of retries
    if owner is not None:
        clean_up_dead_drivers(owner)
    start_ray(ray_address, workers or 1)
    if owner is not None and ray_address is None:
        record(owner, local_ray_pids())
    return plan_pool(workers, device, gpus_per_trial, remote=ray_address is not None)


def execute(
    prepared: PreparedSearch,
    plan: PoolConfig,
    observer: SearchObserver,
    *,
    actor: type = PoolWorker,
    actor_args: tuple[Any, ...] | None = None,
) -> SearchOutcome:
    """Start the workers, open (or create) the study and run the driver until the target.

    ``actor`` and ``actor_args``: the workers' actor class and its constructor arguments (see
    :class:`~nas_attn.search.execution.pool.WorkerPool`); the default trains with ``plan``'s
    device and threads."""
    try:
        with ready_pool(plan, prepared.space.proxy, actor, actor_args) as pool:
            return _search_with(prepared, pool, observer)
    except (sqlalchemy.exc.SQLAlchemyError, StorageInternalError) as exc:
        reason = error_reason(exc, prepared.request.storage_url)
        raise NasAttnError(
            f"storage '{prepared.safe_storage}' failed during the search: {reason}; "
            "completed trials are kept: re-run the same command once the storage is back"
        ) from None


def _search_with(prepared: PreparedSearch, pool: TrialPool, observer: SearchObserver) -> SearchOutcome:
    """Open (or create) the study, run the driver, then the final seed re-runs if asked."""
    study = open_study(prepared.storage, prepared.study_name, prepared.space, prepared.sampler)
    hook = artifact_uploader(prepared.request.storage_url)
    pool = with_warm_start(pool, study, prepared.space, prepared.request.storage_url, observer.notice)
    outcome = run_search(study, prepared.space, prepared.target, pool, observer, hook)
    policy = seed_policy_for(prepared.space, first_seed(study.user_attrs))
    if policy is not None:
        report = run_seed_policy(study, prepared.space, pool, policy, observer.notice)
        for failure in report.failures:
            observer.notice(f"seed re-run failed: {failure}")
        outcome.front = report.front
    outcome.claims = record_claims(study)
    return outcome


def seed_policy_for(space: SearchSpace, first: int) -> SeedPolicy | None:
    """What adds seeds after the search: racing, a fixed ``final_seeds``, or nothing."""
    racing = racing_policy(space, first)
    if racing is not None:
        return racing
    if space.search.final_seeds > 1:
        return FixedSeeds(space.search.final_seeds, first)
    return None


def seeds_pending(prepared: PreparedSearch) -> bool:
    """Whether the study's racing (or ``final_seeds``) still wants seeds: a search stopped during
    them resumes them even when its placements are all evaluated."""
    if prepared.evaluated == 0:
        return False
    study = load_existing_study(prepared.storage, prepared.study_name)
    policy = seed_policy_for(prepared.space, first_seed(study.user_attrs))
    if policy is None:
        return False
    return bool(policy.plan(ranked_rows(study), study_directions(study), []).wanted)


def artifact_uploader(storage_url: str) -> TrialHook:
    """Each evaluated trial's arch YAML and learning curve, for optuna-dashboard."""
    store = artifact_store_for(storage_url)

    def upload(number: int, arch: ArchConfig, result: TrialResult) -> dict[str, Any]:
        return dict(store_trial_artifacts(store, arch, result.train_loss_curve, result.val_accuracy_curve))

    return upload


def front(prepared: PreparedSearch) -> list[TrialRow]:
    """The Pareto front of the study as it stands."""
    return pareto_rows(load_existing_study(prepared.storage, prepared.study_name))


def claims(prepared: PreparedSearch) -> Claims:
    """The claims the study makes against its plain backbone, as it stands."""
    return claims_of(load_existing_study(prepared.storage, prepared.study_name))


def compute(prepared: PreparedSearch) -> ComputeSpent:
    """The trainings and epochs the study has spent (the search's placements and extra seeds)."""
    return compute_spent(load_existing_study(prepared.storage, prepared.study_name))
