"""Search: typed spaces, the Optuna study on SQL storage, the Ray worker pool and the driver."""

from nas_attn.search.driver import SearchInterrupted, SearchObserver, SearchOutcome, run_search
from nas_attn.search.pool import PoolConfig, WorkerPool, plan_pool, start_ray
from nas_attn.search.results import TrialRow, pareto_rows, ranked_rows
from nas_attn.search.space import SearchSpace, load_space, sample_arch
from nas_attn.search.storage import DEFAULT_STORAGE, open_storage, redact_url
from nas_attn.search.study import make_sampler, open_study

__all__ = [
    "DEFAULT_STORAGE",
    "PoolConfig",
    "SearchInterrupted",
    "SearchObserver",
    "SearchOutcome",
    "SearchSpace",
    "TrialRow",
    "WorkerPool",
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
    "start_ray",
]
