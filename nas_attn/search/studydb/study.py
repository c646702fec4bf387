"""Create or resume the Optuna study of a search space (driver side only).

A study stores the identity of the space it was created with (``nas_attn_space``: everything
but the ``search:`` block); resuming it with a different space is refused. A new study gets
the baseline placements enqueued first (unless ``search.baselines: false``).
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from typing import Any

import optuna
from optuna.exceptions import DuplicatedStudyError, StorageInternalError

from nas_attn._types import SEED_MAX
from nas_attn.exceptions import NasAttnError
from nas_attn.search.sampling.placements import baseline_params
from nas_attn.search.sampling.samplers import make_sampler
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb import attrs
from nas_attn.search.studydb.attrs import OBJECTIVES_ATTR, SPACE_ATTR
from nas_attn.search.studydb.drivers import STALE_AFTER_S, DriverRows, driver_alive
from nas_attn.search.studydb.ledger import Ledger
from nas_attn.search.studydb.records import SpaceIdentity

_IDENTITY_WAIT_S = 2.0  # a concurrent creator may not have stored the identity yet


def _identity(space: SearchSpace) -> Any:
    return json.loads(json.dumps(space.identity()))


def _summary(storage: optuna.storages.BaseStorage, name: str) -> optuna.study.StudySummary | None:
    summaries = optuna.get_all_study_summaries(storage, include_best_trial=False)
    return next((s for s in summaries if s.study_name == name), None)


def check_study(storage: optuna.storages.BaseStorage, study_name: str, space: SearchSpace) -> int:
    """Without writing anything: the number of trials in ``study_name`` (0 if it does not exist
    yet), or a NasAttnError if it exists with a different space or was not made by nas-attn."""
    summary = _summary(storage, study_name)
    if summary is None:
        return 0
    _check_identity(study_name, SpaceIdentity.read(summary.user_attrs).stored, space, summary.n_trials)
    return summary.n_trials


def _check_identity(study_name: str, stored: Any, space: SearchSpace, n_trials: int) -> None:
    if stored is None and n_trials > 0:
        raise NasAttnError(
            f"study '{study_name}' exists but was not created by nas-attn; pass --study NEW_NAME"
        )
    if stored is not None and stored != _identity(space):
        raise NasAttnError(
            f"study '{study_name}' was created with a different search space; to search this space "
            "start a new study with --study NEW_NAME (or restore the space file it was created with)"
        )


def _create_or_load(
    storage: optuna.storages.BaseStorage, study_name: str, space: SearchSpace
) -> tuple[optuna.Study, bool]:
    try:
        study = optuna.create_study(storage=storage, study_name=study_name, directions=space.directions)
        return study, True
    except DuplicatedStudyError:
        return optuna.load_study(study_name=study_name, storage=storage), False


def _settle_identity(study: optuna.Study, space: SearchSpace) -> None:
    """Check a loaded study's identity, waiting briefly for a creator racing this driver."""
    deadline = time.monotonic() + _IDENTITY_WAIT_S
    while SPACE_ATTR not in study.user_attrs and not study.trials and time.monotonic() < deadline:
        time.sleep(0.1)
    if SPACE_ATTR not in study.user_attrs and not study.trials:
        _store_identity(study, space)
    _check_identity(study.study_name, SpaceIdentity.read(study.user_attrs).stored, space, len(study.trials))


def _store_identity(study: optuna.Study, space: SearchSpace) -> None:
    try:
        SpaceIdentity(_identity(space)).write(study)
        study.set_user_attr(OBJECTIVES_ATTR, [o.name for o in space.objectives])
    except StorageInternalError:  # a concurrent creator stored it first; the check decides
        pass


def _live_drivers(ledger: Ledger) -> int:
    now = time.time()
    return sum(driver_alive(row, now, STALE_AFTER_S) for row in DriverRows(ledger).drivers().values())


def open_study(
    storage: optuna.storages.BaseStorage, study_name: str, space: SearchSpace, sampler_name: str
) -> optuna.Study:
    """Load ``study_name`` if it exists (refusing a different space), else create it.

    The sampler seed is offset by the trials already in the study and by the drivers working
    on it now, so a resumed run or a second driver does not replay the same placements; a new
    study's first driver uses the space's seed as is (reproducible).
    """
    check_study(storage, study_name, space)
    study, created = _create_or_load(storage, study_name, space)
    ledger = Ledger.of(study)
    offset = len(study.trials) + _live_drivers(ledger)
    if created:
        ledger.purge()  # rows of a deleted study that had the same id
        _store_identity(study, space)
        if space.search.baselines:
            for name, params in baseline_params(space).items():
                study.enqueue_trial(params, user_attrs={attrs.BASELINE: name})
    else:
        _settle_identity(study, space)
    name_objectives(study, [o.name for o in space.objectives])
    study.sampler = make_sampler(sampler_name, space, (space.search.seed + offset) % (SEED_MAX + 1))
    return study


def name_objectives(study: optuna.Study, names: list[str]) -> None:
    """Label the study's values by objective name (optuna-dashboard and the ``optuna`` CLI show
    "accuracy" instead of 0); done once, also for studies created before names were stored."""
    if study.metric_names == names:
        return
    with warnings.catch_warnings(), contextlib.suppress(StorageInternalError):  # a racing driver did it
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)


def load_existing_study(storage: optuna.storages.BaseStorage, study_name: str) -> optuna.Study:
    """Load a study by name, or a NasAttnError listing the studies in that storage."""
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if study_name not in names:
        available = ", ".join(names) if names else "none yet; run nas-attn search first"
        raise NasAttnError(f"no study named '{study_name}' in this storage; studies: {available}")
    return optuna.load_study(study_name=study_name, storage=storage)
