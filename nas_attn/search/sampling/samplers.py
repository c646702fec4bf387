"""Sampler registry (nsga2, tpe, random, exhaustive), all seeded and reproducible.

Same seed, same sampler, same space, same results told in the same order: the same sequence of
suggested placements.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from nas_attn.exceptions import NasAttnError
from nas_attn.search.sampling.placements import Params, enumerate_params, space_size
from nas_attn.search.sampling.space import SearchSpace

EXHAUSTIVE_LIMIT = 100_000  # placements; beyond this, enumeration is not a sensible plan
_TAKEN_STATES = (TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL, TrialState.PRUNED)


def _key(params: Params) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


class ExhaustiveSampler(optuna.samplers.BaseSampler):
    """Every placement of a small space once, in a seeded random order.

    Each new trial takes the first placement (in that order) no trial of the study has taken
    yet, waiting (enqueued) ones included. Once all are taken it falls back to random choices,
    which the driver answers as duplicates.
    """

    def __init__(self, candidates: Sequence[Params], seed: int) -> None:
        self._order = list(candidates)
        random.Random(seed).shuffle(self._order)
        self._chosen: dict[int, Params] = {}
        self._fallback = optuna.samplers.RandomSampler(seed=seed)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        taken = {_key(t.params) for t in study.get_trials(deepcopy=False, states=_TAKEN_STATES) if t.params}
        taken |= {
            _key(t.system_attrs.get("fixed_params", {}))
            for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        }
        fresh = next((c for c in self._order if _key(c) not in taken), None)
        if fresh is not None:
            self._chosen[trial.number] = fresh

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        chosen = self._chosen.get(trial.number, {})
        if param_name in chosen:
            return chosen[param_name]
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._chosen.pop(trial.number, None)


def _exhaustive(space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    size = space_size(space)
    if size > EXHAUSTIVE_LIMIT:
        raise NasAttnError(
            f"sampler 'exhaustive' cannot enumerate {size:,} placements (limit {EXHAUSTIVE_LIMIT:,}); "
            "use --sampler nsga2 or tpe, or narrow the space's choices"
        )
    return ExhaustiveSampler(list(enumerate_params(space)), seed)


def _tpe(seed: int) -> optuna.samplers.BaseSampler:
    """Multivariate TPE; ``group`` keeps the conditional ``reduction``/``position`` parameters in
    the joint model; constant liar spreads parallel trials apart."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True, constant_liar=True)


SamplerFactory = Callable[[SearchSpace, int], optuna.samplers.BaseSampler]

SAMPLERS: dict[str, SamplerFactory] = {
    "nsga2": lambda space, seed: optuna.samplers.NSGAIISampler(
        seed=seed, population_size=space.search.population_size
    ),
    "tpe": lambda space, seed: _tpe(seed),
    "random": lambda space, seed: optuna.samplers.RandomSampler(seed=seed),
    "exhaustive": _exhaustive,
}


def check_sampler(name: str) -> None:
    """A NasAttnError naming the samplers for an unknown ``name``."""
    if name not in SAMPLERS:
        raise NasAttnError(f"unknown sampler '{name}'; use one of {', '.join(SAMPLERS)}")


def make_sampler(name: str, space: SearchSpace, seed: int) -> optuna.samplers.BaseSampler:
    """The seeded sampler ``name`` for ``space``."""
    check_sampler(name)
    return SAMPLERS[name](space, seed)
