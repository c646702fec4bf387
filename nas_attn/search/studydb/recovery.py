"""Recovering what dead drivers and lost workers leave behind: fail with a reason, re-enqueue.

A RUNNING trial belongs to the driver named in its ``driver`` attribute. When that driver is
dead (its heartbeat is stale, its process is gone from this host, or its ledger row is gone),
any live driver fails the trial with the reason and re-enqueues the same parameters, within
the per-trial retry budget. The FAIL transition is the arbiter when two live drivers recover
the same trial at once: only the one whose transition succeeds re-enqueues.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import optuna
from optuna.exceptions import StorageInternalError, UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from nas_attn.search.studydb import attrs
from nas_attn.search.studydb.drivers import DriverInfo, DriverRow, DriverRows, driver_alive
from nas_attn.search.studydb.ledger import RESERVED, RUNNING, Ledger
from nas_attn.search.studydb.optuna_private import FIXED_PARAMS, trial_id_of

RETRY_BUDGET = 2  # re-enqueues per placement after lost workers or dead drivers


@dataclass(frozen=True)
class Recovered:
    number: int
    reason: str
    requeued: bool


def can_retry(user_attrs: dict[str, Any]) -> bool:
    return int(user_attrs.get(attrs.RETRIES, 0)) < RETRY_BUDGET


def requeue(
    study: optuna.Study,
    number: int,
    params: dict[str, Any],
    user_attrs: dict[str, Any],
    count_retry: bool = True,
) -> None:
    """Enqueue the parameters of trial ``number`` again (a user's interrupt is not a retry)."""
    retries = int(user_attrs.get(attrs.RETRIES, 0)) + int(count_retry)
    carried = {k: user_attrs[k] for k in (attrs.BASELINE,) if k in user_attrs}
    study.enqueue_trial(
        params, user_attrs={attrs.RETRIES: retries, attrs.RETRY_OF: number, **carried}, skip_if_exists=False
    )


def retry_note(user_attrs: dict[str, Any], will_retry: bool) -> str:
    if will_retry:
        return f"re-enqueued (retry {int(user_attrs.get(attrs.RETRIES, 0)) + 1} of {RETRY_BUDGET})"
    return f"not re-enqueued: retry budget of {RETRY_BUDGET} spent"


def _why(owner: str | None, row: DriverRow | None, now: float) -> str:
    if owner is None:
        return "driver lost: the trial was left RUNNING by a driver that did not record itself"
    if row is None:
        return f"driver lost: driver {owner} is gone"
    age = now - row.heartbeat_at
    return f"driver lost: driver {owner} stopped (last heartbeat {age:.0f}s ago)"


def _is_waiting_duplicate(ledger: Ledger, trial: FrozenTrial) -> bool:
    digest = trial.user_attrs.get(attrs.DIGEST)
    if digest is None:
        return False
    holder = ledger.lookup(digest)
    return holder is not None and holder.trial_number != trial.number


def _params_of(trial: FrozenTrial) -> dict[str, Any]:
    """What the trial was asked to evaluate: its sampled parameters, or, if it died before
    sampling, the parameters it was enqueued with (a baseline or a retry)."""
    return dict(trial.params) or dict(trial.system_attrs.get(FIXED_PARAMS, {}))


def _fail_and_requeue(
    study: optuna.Study, ledger: Ledger, trial: FrozenTrial, reason: str
) -> Recovered | None:
    duplicate = _is_waiting_duplicate(ledger, trial)
    params = _params_of(trial)
    will_retry = bool(params) and not duplicate and can_retry(trial.user_attrs)
    note = "a duplicate waiting on another trial; not re-enqueued" if duplicate else ""
    full = f"{reason}; {note or retry_note(trial.user_attrs, will_retry)}"
    try:
        ledger.storage.set_trial_user_attr(trial_id_of(trial), attrs.FAIL_REASON, full)
        ledger.storage.set_trial_state_values(trial_id_of(trial), TrialState.FAIL)
    except (UpdateFinishedTrialError, StorageInternalError):
        return None  # finished meanwhile, or another live driver recovered it first
    digest = trial.user_attrs.get(attrs.DIGEST)
    if digest is not None and not duplicate:
        ledger.release(digest, trial.number)
    if will_retry:
        requeue(study, trial.number, params, trial.user_attrs)
    return Recovered(trial.number, full, will_retry)


def _started_seconds_ago(trial: FrozenTrial) -> float:
    if trial.datetime_start is None:
        return float("inf")
    return (datetime.now() - trial.datetime_start).total_seconds()


def recover_stale(
    study: optuna.Study, ledger: Ledger, me: DriverInfo, stale_after_s: float
) -> list[Recovered]:
    """Fail and re-enqueue the RUNNING trials of dead drivers; tidy their ledger rows."""
    now = time.time()
    rows = DriverRows(ledger)
    drivers = rows.drivers()
    alive = {me.driver_id} | {d for d, row in drivers.items() if driver_alive(row, now, stale_after_s)}
    # A trial without a driver was asked moments ago by a live driver, or by one that died before
    # it could record itself; with no other live driver it can only be the latter.
    others_alive = len(alive) > 1
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs.get(attrs.DRIVER)
        if owner in alive:
            continue
        if owner is None and others_alive and _started_seconds_ago(trial) < stale_after_s:
            continue
        row = drivers.get(owner) if owner is not None else None
        done = _fail_and_requeue(study, ledger, trial, _why(owner, row, now))
        if done is not None:
            recovered.append(done)
    for ev in ledger.rows(RESERVED, RUNNING):
        if ev.driver_id in alive:
            continue
        if ev.state == RESERVED or ev.trial_id is None:
            ledger.delete_row(ev.row_id)
            continue
        state = ledger.storage.get_trial(ev.trial_id).state
        if state == TrialState.COMPLETE and ev.digest is not None and ev.trial_number is not None:
            ledger.mark_evaluated(ev.digest, ev.trial_number)  # died between tell and the ledger update
        elif state.is_finished():
            ledger.delete_row(ev.row_id)
    rows.forget_drivers([d for d in drivers if d not in alive])
    return recovered
