"""Create or resume the Optuna study of a search space (driver side only)."""

from __future__ import annotations

import json

import optuna

from nas_attn.exceptions import NasAttnError
from nas_attn.search.space import SearchSpace

SPACE_ATTR = "nas_attn_space"


def make_sampler(name: str, seed: int, population_size: int) -> optuna.samplers.BaseSampler:
    """Sampler registry: nsga2 (default), tpe (multivariate, constant liar), random."""
    factories = {
        "nsga2": lambda: optuna.samplers.NSGAIISampler(seed=seed, population_size=population_size),
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
    }
    if name not in factories:
        raise NasAttnError(f"unknown sampler '{name}'; available: {', '.join(factories)}")
    return factories[name]()


def open_study(
    storage: optuna.storages.BaseStorage, study_name: str, space: SearchSpace, sampler_name: str
) -> optuna.Study:
    """Load ``study_name`` if it exists (refusing a different space), else create it.

    The sampler seed is offset by the number of trials already in the study, so a resumed run
    continues the sequence instead of replaying the first placements.
    """
    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)}
    identity = json.loads(json.dumps(space.identity()))
    if study_name in existing:
        summary = existing[study_name]
        stored = summary.user_attrs.get(SPACE_ATTR)
        if stored is None:
            raise NasAttnError(
                f"study '{study_name}' exists but was not created by nas-attn; pass --study NEW_NAME"
            )
        if stored != identity:
            raise NasAttnError(
                f"study '{study_name}' was created with a different search space; "
                f"to search this space start a new study with --study NEW_NAME"
            )
        n_existing = summary.n_trials
    else:
        n_existing = 0
    sampler = make_sampler(sampler_name, space.search.seed + n_existing, space.search.population_size)
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        directions=space.directions,
        sampler=sampler,
        load_if_exists=True,
    )
    if study_name not in existing:
        study.set_user_attr(SPACE_ATTR, identity)
        study.set_user_attr("objectives", [o.name for o in space.objectives])
    return study


def load_existing_study(storage: optuna.storages.BaseStorage, study_name: str) -> optuna.Study:
    """Load a study by name, or a NasAttnError listing the studies in that storage."""
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if study_name not in names:
        available = ", ".join(names) if names else "none yet; run nas-attn search first"
        raise NasAttnError(f"no study named '{study_name}' in this storage; studies: {available}")
    return optuna.load_study(study_name=study_name, storage=storage)


def complete_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
