"""The driver's writes to Optuna's trial tables, one transaction per step of a trial's life.

Optuna's RDB storage commits every parameter and attribute on its own, checks each parameter's
distribution against the study with a query, and re-reads every unfinished trial on each study
read. At 64 workers on PostgreSQL that cost the driver ~130 ms per trial
(``benches/bench_orchestration.py``), four times what keeping 64 two-second trials busy allows.
The driver knows everything about the trials it owns, so it writes each step in one
transaction on Optuna's own tables (Optuna's declared models, so types and enum names match):

- :meth:`TrialStore.take_waiting`: take the oldest enqueued (WAITING) trial: RUNNING, with its
  driver recorded in the same transaction; returns what it was enqueued with.
- :meth:`TrialStore.start` / :meth:`TrialStore.start_many`: new RUNNING trials (or a taken
  one) with their parameters and attributes; trial numbers are counted under the study row
  lock, as Optuna does.
- :meth:`TrialStore.finish`: attributes, values and the final state together.

Every write refuses a finished trial exactly as Optuna does (``UpdateFinishedTrialError``).
Parameter distributions are not re-checked against the study: the study's identity check
(``study.py``) guarantees every driver samples the same space. The schema these writes assume
is checked against the one Optuna declares (``KNOWN_SCHEMA``); a newer Optuna with another
schema is refused at start with the fix, never written to blindly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.distributions import BaseDistribution, distribution_to_json
from optuna.trial import FrozenTrial, TrialState

from nas_attn.exceptions import NasAttnError
from nas_attn.search.studydb.optuna_private import (
    FINITE,
    FIXED_PARAMS,
    PARAMS,
    STUDIES,
    SYSTEM_ATTRS,
    TRIALS,
    USER_ATTRS,
    VALUES,
    check_schema,
    trial_id_of,
)

_trials, _params, _values = TRIALS, PARAMS, VALUES
_user_attrs, _system_attrs, _studies, _FINITE = USER_ATTRS, SYSTEM_ATTRS, STUDIES, FINITE


def _utc_now() -> datetime:
    """Optuna stores naive UTC datetimes."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class OwnTrial:
    """A trial this driver asked: what it knows of it without reading the storage again."""

    trial_id: int
    number: int
    params: dict[str, Any] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialDraft:
    """What a trial starts with: its sampled parameters and first attributes."""

    params: Mapping[str, Any]
    distributions: Mapping[str, BaseDistribution]
    user_attrs: Mapping[str, Any]
    system_attrs: Mapping[str, Any]

    def param_rows(self, trial_id: int) -> list[dict[str, Any]]:
        return [
            {
                "trial_id": trial_id,
                "param_name": name,
                "param_value": self.distributions[name].to_internal_repr(value),
                "distribution_json": distribution_to_json(self.distributions[name]),
            }
            for name, value in self.params.items()
        ]


@dataclass(frozen=True)
class TakenTrial:
    """An enqueued trial this driver took: its id and number and what it was enqueued with."""

    trial_id: int
    number: int
    fixed_params: dict[str, Any]
    user_attrs: dict[str, Any]
    system_attrs: dict[str, Any]


def _as_stored(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as a reload from the storage returns them (through JSON)."""
    return dict(json.loads(json.dumps(dict(values))))


def _json_rows(trial_id: int, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)} for k, v in values.items()]


class TrialStore:
    """One study's trials, written the way the driver needs them (see the module docstring)."""

    def __init__(self, storage: optuna.storages.RDBStorage, study_id: int) -> None:
        check_schema(storage)
        self.storage = storage
        self.engine = storage.engine
        self.single = self.engine.execution_options(isolation_level="AUTOCOMMIT")  # reads: no BEGIN
        self.study_id = study_id

    # -- reads --------------------------------------------------------------------------------
    def changes(self, after_id: int, watched: set[int]) -> list[tuple[int, TrialState]]:
        """Id and state of this study's trials created after trial ``after_id`` and of the
        ``watched`` ones, oldest first: one small query, whatever the size of the study.

        Trials of a study are created under its row lock, so their ids are committed in order:
        no trial below ``after_id`` can appear later.
        """
        seen = _trials.c.trial_id > after_id
        if watched:
            seen = sa.or_(seen, _trials.c.trial_id.in_(sorted(watched)))
        with self.single.connect() as conn:
            rows = conn.execute(
                sa.select(_trials.c.trial_id, _trials.c.state)
                .where(_trials.c.study_id == self.study_id, seen)
                .order_by(_trials.c.trial_id)
            )
            return [(int(trial_id), state) for trial_id, state in rows]

    def load(self, trial_ids: list[int]) -> list[FrozenTrial]:
        """The trials ``trial_ids`` in full (finished ones: their content no longer changes)."""
        if len(trial_ids) > 32:  # a resumed study: one bulk read beats a query per trial
            wanted = set(trial_ids)
            everything = self.storage.get_all_trials(self.study_id, deepcopy=False)
            return [t for t in everything if trial_id_of(t) in wanted]
        return [self.storage.get_trial(trial_id) for trial_id in trial_ids]

    # -- writes -------------------------------------------------------------------------------
    def take_waiting(self, candidates: list[int], user_attrs: Mapping[str, Any]) -> TakenTrial | None:
        """Take the first of the enqueued trials ``candidates`` that no other driver has taken
        meanwhile, recording ``user_attrs`` with it; None if none is left."""
        for trial_id in candidates:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    _trials.update()
                    .where(_trials.c.trial_id == trial_id, _trials.c.state == TrialState.WAITING)
                    .values(state=TrialState.RUNNING, datetime_start=_utc_now())
                ).rowcount
                if taken != 1:
                    continue  # another driver was faster
                number = conn.scalar(sa.select(_trials.c.number).where(_trials.c.trial_id == trial_id))
                stored = self._attrs(conn, _user_attrs, trial_id)
                system = self._attrs(conn, _system_attrs, trial_id)
                self._write_attrs(conn, _user_attrs, trial_id, user_attrs, stored)
            fixed = dict(system.get(FIXED_PARAMS, {}))
            return TakenTrial(trial_id, int(number or 0), fixed, {**stored, **user_attrs}, system)
        return None

    def start(self, taken: TakenTrial | None, draft: TrialDraft) -> OwnTrial:
        """Record a RUNNING trial with its parameters and attributes: ``taken`` or a new one."""
        if taken is None:
            return self.start_many([draft])[0]
        trial = OwnTrial(taken.trial_id, taken.number, {}, dict(taken.user_attrs), dict(taken.system_attrs))
        with self.engine.begin() as conn:
            self._lock_running(conn, trial.trial_id)
            rows = draft.param_rows(trial.trial_id)
            if rows:
                conn.execute(_params.insert(), rows)
            self._write_attrs(conn, _user_attrs, trial.trial_id, draft.user_attrs, trial.user_attrs)
            self._write_attrs(conn, _system_attrs, trial.trial_id, draft.system_attrs, trial.system_attrs)
        trial.params = dict(draft.params)
        return trial

    def start_many(self, drafts: Sequence[TrialDraft]) -> list[OwnTrial]:
        """New RUNNING trials, one per draft, numbered in order, all in one transaction (a few
        statements whatever their number)."""
        with self.engine.begin() as conn:
            conn.execute(  # the study lock: trial numbers count the trials before, as in Optuna
                sa.select(_studies.c.study_id).where(_studies.c.study_id == self.study_id).with_for_update()
            )
            now = _utc_now()
            ids = conn.scalars(
                _trials.insert().returning(_trials.c.trial_id, sort_by_parameter_order=True),
                [
                    {
                        "study_id": self.study_id,
                        "number": None,
                        "state": TrialState.RUNNING,
                        "datetime_start": now,
                    }
                    for _ in drafts
                ],
            ).all()
            # Counted after the insert, as Optuna does: from here no other writer can add a trial
            # to this study before the commit (the study lock; on SQLite, the database lock).
            first = int(
                conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(_trials)
                    .where(_trials.c.study_id == self.study_id, _trials.c.trial_id < ids[0])
                )
                or 0
            )
            created = [(trial_id, first + i) for i, trial_id in enumerate(ids)]
            conn.execute(
                _trials.update()
                .where(_trials.c.trial_id == sa.bindparam("b_id"))
                .values(number=sa.bindparam("b_n")),
                [{"b_id": trial_id, "b_n": number} for trial_id, number in created],
            )
            trials = [OwnTrial(int(trial_id), int(number)) for trial_id, number in created]
            params, users, systems = [], [], []
            for trial, draft in zip(trials, drafts, strict=True):
                trial.params = dict(draft.params)
                trial.user_attrs = _as_stored(draft.user_attrs)
                trial.system_attrs = _as_stored(draft.system_attrs)
                params += draft.param_rows(trial.trial_id)
                users += _json_rows(trial.trial_id, draft.user_attrs)
                systems += _json_rows(trial.trial_id, draft.system_attrs)
            for table, rows in ((_params, params), (_user_attrs, users), (_system_attrs, systems)):
                if rows:
                    conn.execute(table.insert(), rows)
        return trials

    def finish(
        self,
        trial: OwnTrial,
        state: TrialState,
        values: list[float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        also: Sequence[sa.Executable] = (),
    ) -> None:
        """Write the attributes and values of ``trial`` and finish it in ``state``, atomically,
        together with the statements ``also`` (e.g. the ledger's record of the evaluation)."""
        with self.engine.begin() as conn:
            finished = conn.execute(  # first: it locks the row, and refuses a finished trial
                _trials.update()
                .where(_trials.c.trial_id == trial.trial_id, _trials.c.state == TrialState.RUNNING)
                .values(state=state, datetime_complete=_utc_now())
            ).rowcount
            if finished != 1:
                self._lock_running(conn, trial.trial_id)  # raises Optuna's error for the state it is in
                raise NasAttnError(f"trial {trial.number} cannot be finished: it is not RUNNING")
            self._write_attrs(conn, _user_attrs, trial.trial_id, user_attrs or {}, trial.user_attrs)
            self._write_attrs(conn, _system_attrs, trial.trial_id, system_attrs or {}, trial.system_attrs)
            if values is not None:
                conn.execute(
                    _values.insert(),
                    [
                        {"trial_id": trial.trial_id, "objective": k, "value": v, "value_type": _FINITE}
                        for k, v in enumerate(values)
                    ],
                )
            for statement in also:
                conn.execute(statement)

    # -- helpers ------------------------------------------------------------------------------
    def _lock_running(self, conn: sa.Connection, trial_id: int) -> None:
        """Lock the trial's row; Optuna's refusal if it is finished (recovered by another driver)."""
        state = conn.scalar(
            sa.select(_trials.c.state).where(_trials.c.trial_id == trial_id).with_for_update()
        )
        if state is None:
            raise KeyError(f"no trial with id {trial_id}")
        self.storage.check_trial_is_updatable(trial_id, state)

    @staticmethod
    def _attrs(conn: sa.Connection, table: sa.Table, trial_id: int) -> dict[str, Any]:
        rows = conn.execute(sa.select(table.c.key, table.c.value_json).where(table.c.trial_id == trial_id))
        return {key: json.loads(value) for key, value in rows}

    @staticmethod
    def _write_attrs(
        conn: sa.Connection, table: sa.Table, trial_id: int, values: Mapping[str, Any], known: dict[str, Any]
    ) -> None:
        """Set ``values`` on the trial, whose attributes in ``table`` are ``known`` (updated here
        to what a reload returns): only new or changed keys are written, only changed ones
        deleted first."""
        changed = {k: v for k, v in _as_stored(values).items() if k not in known or known[k] != v}
        if not changed:
            return
        replaced = [k for k in changed if k in known]
        if replaced:
            conn.execute(table.delete().where(table.c.trial_id == trial_id, table.c.key.in_(replaced)))
        conn.execute(table.insert(), _json_rows(trial_id, changed))
        known.update(changed)
