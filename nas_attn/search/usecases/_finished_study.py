"""Work on a finished study with the search's worker pool: seed re-runs and proxy validation.

The study's own space is read back from the study (it stores everything but the ``search:``
block), so these commands need no space file and cannot mix spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import optuna
from pydantic import ValidationError

from nas_attn.exceptions import NasAttnError
from nas_attn.search.execution.protocol import TrialPool
from nas_attn.search.sampling.space import STORED_SPACE_KEY, SearchSpace
from nas_attn.search.studydb import load_existing_study, open_existing_storage
from nas_attn.search.studydb.records import SpaceIdentity
from nas_attn.search.usecases._warm_start import with_warm_start
from nas_attn.worker.device import resolve_device


@dataclass(frozen=True)
class RerunRequest:
    storage_url: str
    study_name: str
    workers: int | None = None
    ray_address: str | None = None
    device: str = "auto"
    gpus_per_trial: float | None = None


def open_study_and_space(request: RerunRequest) -> tuple[optuna.Study, SearchSpace]:
    """The study and the space it was created with, or a NasAttnError naming the problem."""
    if request.workers is not None and request.workers < 1:
        raise NasAttnError(f"--workers must be at least 1, got {request.workers}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_existing_study(open_existing_storage(request.storage_url), request.study_name)
    identity = SpaceIdentity.read(study.user_attrs).stored
    if identity is None:
        raise NasAttnError(
            f"study '{request.study_name}' was not created by nas-attn search; nothing to re-run"
        )
    try:
        space = SearchSpace.model_validate(identity, context={STORED_SPACE_KEY: True})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise NasAttnError(
            f"the space stored in study '{request.study_name}' cannot be used here: {where}: {first['msg']}"
        ) from None
    return study, space


@contextmanager
def worker_pool(request: RerunRequest, space: SearchSpace) -> Iterator[TrialPool]:
    """Start (or join) Ray, start the workers and load their data; shut them down after."""
    from nas_attn.search.execution.pool import ready_pool  # Ray: only once workers are wanted
    from nas_attn.search.execution.ray_owner import owner_key
    from nas_attn.search.usecases.service import plan_for

    if request.ray_address is None:
        resolve_device(request.device)  # CUDA asked for but absent: before Ray starts
    owner = owner_key(request.storage_url, request.study_name)
    plan = plan_for(request.ray_address, request.workers, request.device, request.gpus_per_trial, owner)
    with ready_pool(plan, space.proxy) as pool:
        yield pool


Result = TypeVar("Result")


def run_on_study(
    request: RerunRequest,
    work: Callable[[optuna.Study, SearchSpace, TrialPool], Result],
    check: Callable[[optuna.Study, SearchSpace], object] | None = None,
    notice: Callable[[str], None] = lambda _: None,
) -> Result:
    """Open the study and its space, ``check`` them (before Ray starts), start the workers, run
    ``work`` with them (warm-started trials from the study's backbones), stop them."""
    study, space = open_study_and_space(request)
    if check is not None:
        check(study, space)
    with worker_pool(request, space) as pool:
        return work(study, space, with_warm_start(pool, study, space, request.storage_url, notice))
