"""Search: typed spaces, the Optuna study on SQL storage, the Ray worker pool and the driver."""

from nas_attn.search.driver import SearchInterrupted, SearchObserver, SearchOutcome, run_search
from nas_attn.search.placements import baseline_params, enumerate_params, space_size
from nas_attn.search.pool import PoolConfig, WorkerPool, plan_pool, start_ray
from nas_attn.search.results import TrialRow, evaluated_trials, pareto_rows, ranked_rows
from nas_attn.search.samplers import SAMPLERS, make_sampler
from nas_attn.search.space import SearchSpace, load_space, sample_arch
from nas_attn.search.storage import DEFAULT_STORAGE, open_storage, redact_url
from nas_attn.search.study import open_study

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
