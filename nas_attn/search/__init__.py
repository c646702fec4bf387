"""Search: typed spaces, the Optuna study on SQL storage, the Ray worker pool and the driver.

Subpackages, top to bottom (each imports only its own modules and those below it):
``usecases`` (what the CLI commands run), ``driver`` (the search loop), ``seeds`` (extra
training seeds: which, and the loop that trains them), ``results`` (reads a study's results)
and ``execution`` (the workers), ``studydb`` (the study database), ``sampling`` (the space and
its samplers); ``interrupts`` (Ctrl-C and SIGTERM) serves the driver, the seeds and the use cases.

The names below are imported lazily (PEP 562, ``nas_attn._lazy``), so ``import
nas_attn.search.results`` or ``nas_attn.search.sampling.space`` never pulls in Ray; only the
worker pool (``execution.pool``) imports it, and the driver reaches workers through a protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas_attn._lazy import lazy_exports

_HOMES: dict[str, str] = {
    "SearchInterrupted": "driver.api",
    "SearchObserver": "driver.api",
    "SearchOutcome": "driver.api",
    "run_search": "driver.loop",
    "baseline_params": "sampling.placements",
    "enumerate_params": "sampling.placements",
    "space_size": "sampling.placements",
    "PoolConfig": "execution.pool",
    "WorkerPool": "execution.pool",
    "plan_pool": "execution.pool",
    "start_ray": "execution.pool",
    "TrialRow": "results",
    "evaluated_trials": "results",
    "pareto_rows": "results",
    "ranked_rows": "results",
    "SAMPLERS": "sampling.samplers",
    "make_sampler": "sampling.samplers",
    "SearchSpace": "sampling.space",
    "load_space": "sampling.space",
    "sample_arch": "sampling.space",
    "DEFAULT_STORAGE": "studydb.storage",
    "open_storage": "studydb.storage",
    "redact_url": "studydb.storage",
    "open_study": "studydb.study",
}

__all__ = [
    "DEFAULT_STORAGE",
    "SAMPLERS",
    "PoolConfig",
    "SearchInterrupted",
    "SearchObserver",
    "SearchOutcome",
    "SearchSpace",
    "TrialRow",
    "WorkerPool",
    "baseline_params",
    "enumerate_params",
    "evaluated_trials",
    "load_space",
    "make_sampler",
    "open_storage",
    "open_study",
    "pareto_rows",
    "plan_pool",
    "ranked_rows",
    "redact_url",
    "run_search",
    "sample_arch",
    "space_size",
    "start_ray",
]


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)


if TYPE_CHECKING:
    from nas_attn.search.driver.api import SearchInterrupted, SearchObserver, SearchOutcome
    from nas_attn.search.driver.loop import run_search
    from nas_attn.search.execution.pool import PoolConfig, WorkerPool, plan_pool, start_ray
    from nas_attn.search.results import TrialRow, evaluated_trials, pareto_rows, ranked_rows
    from nas_attn.search.sampling.placements import baseline_params, enumerate_params, space_size
    from nas_attn.search.sampling.samplers import SAMPLERS, make_sampler
    from nas_attn.search.sampling.space import SearchSpace, load_space, sample_arch
    from nas_attn.search.studydb.storage import DEFAULT_STORAGE, open_storage, redact_url
    from nas_attn.search.studydb.study import open_study
