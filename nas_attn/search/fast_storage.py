"""Two storage paths of the driver's per-trial loop, made cheap (measured: benches/bench_orchestration.py).

- :func:`write_user_attrs`: Optuna's RDB storage commits every ``set_user_attr`` on its own (~25
  commits per trial, the driver's largest cost before this). This writes them in one
  transaction on Optuna's own tables (``trials``, ``trial_user_attributes``; a stable, versioned
  schema): lock the trial row, refuse a finished trial exactly as Optuna does
  (``UpdateFinishedTrialError``), replace the keys, insert the rows in one batch. The trial
  object's cached attributes are updated too, so ``trial.user_attrs`` stays true.
- :func:`ask_trial`: ``Study.ask`` first looks for an enqueued (WAITING) trial by reading every
  unfinished trial of the study with all its rows (Optuna's cache re-reads unfinished trials):
  with W trials running that is W trials loaded per ask. This finds WAITING trial ids with one
  small query, then does what ``ask`` does.
"""

from __future__ import annotations

import json
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

_schema = sa.MetaData()
_trials = sa.Table(
    "trials",
    _schema,
    sa.Column("trial_id", sa.Integer, primary_key=True),
    sa.Column("study_id", sa.Integer),
    sa.Column("state", sa.Enum(TrialState, name="trialstate")),  # as Optuna declares it
)
_user_attrs = sa.Table(
    "trial_user_attributes",
    _schema,
    sa.Column("trial_user_attribute_id", sa.Integer, primary_key=True),
    sa.Column("trial_id", sa.Integer),
    sa.Column("key", sa.String(512)),
    sa.Column("value_json", sa.Text),
)


def write_user_attrs(
    storage: optuna.storages.RDBStorage, trial: optuna.Trial | int, values: dict[str, Any]
) -> None:
    """Set every ``key: value`` of ``values`` on ``trial`` (a Trial or a trial id) at once."""
    if not values:
        return
    trial_id = trial if isinstance(trial, int) else trial._trial_id
    rows = [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)} for k, v in values.items()]
    with storage.engine.begin() as conn:
        state = conn.scalar(
            sa.select(_trials.c.state).where(_trials.c.trial_id == trial_id).with_for_update()
        )
        if state is None:
            raise KeyError(f"no trial with id {trial_id}")
        storage.check_trial_is_updatable(trial_id, state)
        conn.execute(
            _user_attrs.delete().where(
                _user_attrs.c.trial_id == trial_id, _user_attrs.c.key.in_(list(values))
            )
        )
        conn.execute(_user_attrs.insert(), rows)
    cached = getattr(trial, "_cached_frozen_trial", None)
    if cached is not None:
        cached.user_attrs.update(json.loads(json.dumps(values)))  # as a reload would return them


def ask_trial(study: optuna.Study, storage: optuna.storages.RDBStorage, study_id: int) -> optuna.Trial:
    """``study.ask()``: the oldest enqueued trial if one can be taken, else a new trial.

    ``storage`` is the RDB storage under ``study`` and ``study_id`` the study's id there.
    """
    cache = getattr(study, "_thread_local", None)
    front = getattr(study, "_storage", None)
    if front is None or cache is None or not hasattr(cache, "cached_all_trials"):
        return study.ask()  # an Optuna whose internals moved: take the slow, safe path
    with storage.engine.connect() as conn:
        waiting = list(
            conn.scalars(
                sa.select(_trials.c.trial_id)
                .where(_trials.c.study_id == study_id, _trials.c.state == TrialState.WAITING)
                .order_by(_trials.c.trial_id)
            )
        )
    cache.cached_all_trials = None  # as ask() does: the sampler reads the study afresh
    for trial_id in waiting:
        try:
            if front.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, trial_id)
        except UpdateFinishedTrialError:
            continue  # another driver took it and finished it meanwhile
    return optuna.Trial(study, front.create_new_trial(study_id))
