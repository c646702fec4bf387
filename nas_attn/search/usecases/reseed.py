"""``reseed``: train a finished study's front (and the plain backbone) at more seeds.

Noise control: the front then ranks the mean (see ``results.trial_values``). The loop is
:mod:`nas_attn.search.seeds.runner`, shared with racing; results go to study user attributes,
because Optuna does not let a COMPLETE trial change, and the driver process stays the only writer.
"""

from __future__ import annotations

from collections.abc import Callable

import optuna

from nas_attn.search.execution.protocol import TrialPool
from nas_attn.search.results import first_seed
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.seeds.policy import FixedSeeds
from nas_attn.search.seeds.runner import JobObserver, SeedRunReport, run_seed_policy
from nas_attn.search.usecases._claims import record_claims
from nas_attn.search.usecases._finished_study import RerunRequest, run_on_study

__all__ = ["JobObserver", "RerunRequest", "reseed_front", "run_on_study"]


def reseed_front(
    study: optuna.Study,
    space: SearchSpace,
    pool: TrialPool,
    seeds: int,
    notice: Callable[[str], None] = lambda _: None,
    observer: JobObserver | None = None,
) -> SeedRunReport:
    """Re-run every front trial (and the plain backbone) until it has ``seeds`` seeds: its own
    plus ``seeds - 1`` more, training seeds ``proxy.training_seed + 1``, ``+ 2``, ... on the same
    data split, at the budget the trial's values come from. The front is ranked by the means,
    so it can change; trials that join it are re-run too. ``reseed`` and ``search.final_seeds``;
    the same loop as racing (:mod:`nas_attn.search.seeds.runner`)."""
    policy = FixedSeeds(seeds, first_seed(study.user_attrs))
    report = run_seed_policy(study, space, pool, policy, notice, observer)
    report.claims = record_claims(study)
    return report
