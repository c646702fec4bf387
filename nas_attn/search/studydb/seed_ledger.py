"""Seed trainings claimed in the ledger, so several drivers racing one study never train the same
seed twice, and their results stored once.

``nas_attn_seed_runs`` (beside the ledger's tables): one row per ``(trial, seed)`` training, with
a unique key per study, claimed by a driver *before* it is submitted, in the spirit of the
ledger's slots and digests:

- :meth:`SeedLedger.claim` inserts the row (``running``, this driver): only one driver can. A
  row held by a live driver blocks the others; one held by a dead driver (no heartbeat, or its
  process gone from this host: ``drivers.py``) is taken over by compare-and-swap on its holder,
  so two drivers taking over the same row cannot both win. A seed already in the study's
  ``seed_runs:<trial>`` attribute (a study from before these rows) is never claimed.
- :meth:`SeedLedger.store` writes the result into ``seed_runs:<trial>`` and marks the row
  ``done`` in one transaction, under the study row's lock (so two drivers' read-modify-writes of
  the attribute never lose one another's seeds). A seed already stored is left as it is.
- :meth:`SeedLedger.release` gives a claim back (the training failed, or its worker was shut
  down): the seed may be trained again. A driver that leaves gives back every claim it still
  holds (``DriverRows.unregister``).
- :meth:`SeedLedger.held_by_others`: the trainings other live drivers hold, which the seed
  policy counts as in flight (so ``max_seeds`` is never passed).
- :meth:`SeedLedger.decide`: the racing decisions of a plan (``racing:<trial>``), appended under
  the same lock, in one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import optuna
import sqlalchemy as sa

from nas_attn.search.studydb import attrs
from nas_attn.search.studydb._ledger_schema import SEED_DONE, SEED_RUNNING, seed_runs_table
from nas_attn.search.studydb.drivers import STALE_AFTER_S, DriverInfo, DriverRows, driver_alive
from nas_attn.search.studydb.ledger import Ledger
from nas_attn.search.studydb.optuna_private import STUDIES, STUDY_USER_ATTRS
from nas_attn.search.studydb.records import RacingDecision, RacingHistory, SeedRuns

_seeds = seed_runs_table


class SeedLedger:
    """The seed-training rows of one study, as driver ``me`` claims and stores them."""

    def __init__(self, study: optuna.Study, me: DriverInfo, ledger: Ledger | None = None) -> None:
        self.ledger = ledger or Ledger.of(study)
        self.me = me
        self.study_id = self.ledger.study_id
        self.drivers = DriverRows(self.ledger)

    # -- this driver's presence (for the seed loop run outside a search driver) ---------------
    def register(self) -> None:
        self.drivers.register(self.me)

    def beat(self) -> None:
        self.drivers.beat(self.me)

    def leave(self) -> None:
        """Remove this driver's row and give back every claim it still holds."""
        self.drivers.unregister(self.me.driver_id)

    # -- claims -------------------------------------------------------------------------------
    def claim(self, trial: int, seed: int) -> bool:
        """Claim the training of ``trial`` at ``seed`` for this driver; False when another live
        driver holds it or its result is stored."""
        for _ in range(3):
            if self._insert(trial, seed):
                if seed in SeedRuns.from_attr(self._attr(attrs.seed_runs_key(trial))):
                    self._set_done(trial, seed)  # stored before the ledger kept seed rows
                    return False
                return True
            row = self._row(trial, seed)
            if row is None:
                continue  # given back meanwhile: claim it again
            state, holder = row
            if state != SEED_RUNNING or holder in self._live():
                return False
            return self._take_over(trial, seed, holder)
        return False

    def release(self, trial: int, seed: int) -> None:
        """Give back this driver's claim of ``trial`` at ``seed`` (its result never came)."""
        with self.ledger.single.connect() as conn:
            conn.execute(
                _seeds.delete().where(
                    self._at(trial, seed),
                    _seeds.c.driver_id == self.me.driver_id,
                    _seeds.c.state == SEED_RUNNING,
                )
            )

    def held_by_others(self) -> list[tuple[int, int]]:
        """``(trial, seed)`` of the trainings other live drivers hold (claims of dead drivers
        are free to take over, so they are not in flight)."""
        with self.ledger.single.connect() as conn:
            rows = conn.execute(
                sa.select(_seeds.c.trial_number, _seeds.c.seed, _seeds.c.driver_id).where(
                    _seeds.c.study_id == self.study_id,
                    _seeds.c.state == SEED_RUNNING,
                    _seeds.c.driver_id != self.me.driver_id,
                )
            ).all()
        if not rows:
            return []
        live = self._live()
        return sorted((int(t), int(s)) for t, s, holder in rows if holder in live)

    # -- results and decisions ----------------------------------------------------------------
    def store(
        self, trial: int, seed: int, values: Sequence[float], used_ms: float | None, epochs: int
    ) -> bool:
        """Add ``seed``'s result to ``seed_runs:<trial>`` and mark its row done, atomically;
        False (nothing written) when the seed was stored already."""

        def add(stored: Any) -> Any:
            runs = SeedRuns.from_attr(stored)
            return None if seed in runs else runs.append(seed, values, used_ms, epochs).to_attr()

        with self.ledger.engine.begin() as conn:
            self._lock_study(conn)
            marked = conn.execute(
                _seeds.update().where(self._at(trial, seed)).values(state=SEED_DONE)
            ).rowcount
            if not marked:  # trained without a claim (e.g. a claim given back meanwhile)
                conn.execute(_seeds.insert().values(**self._row_values(trial, seed, SEED_DONE)))
            return self._update_attr(conn, attrs.seed_runs_key(trial), add)

    def decide(self, decisions: Mapping[int, RacingDecision]) -> None:
        """Append each trial's decision to its ``racing:<trial>`` when it differs from the last
        one there (one transaction)."""

        def after(decision: RacingDecision) -> Callable[[Any], Any]:
            def change(stored: Any) -> Any:
                history = RacingHistory.from_attr(stored)
                updated = history.after(decision)
                return None if updated is history else updated.to_attr()

            return change

        if not decisions:
            return
        with self.ledger.engine.begin() as conn:
            self._lock_study(conn)
            for trial, decision in decisions.items():
                self._update_attr(conn, attrs.racing_key(trial), after(decision))

    # -- helpers ------------------------------------------------------------------------------
    def _at(self, trial: int, seed: int) -> sa.ColumnElement[bool]:
        return sa.and_(
            _seeds.c.study_id == self.study_id, _seeds.c.trial_number == trial, _seeds.c.seed == seed
        )

    def _row_values(self, trial: int, seed: int, state: str) -> dict[str, Any]:
        return {
            "study_id": self.study_id,
            "trial_number": trial,
            "seed": seed,
            "driver_id": self.me.driver_id,
            "state": state,
        }

    def _insert(self, trial: int, seed: int) -> bool:
        try:
            with self.ledger.single.connect() as conn:
                conn.execute(_seeds.insert().values(**self._row_values(trial, seed, SEED_RUNNING)))
        except sa.exc.IntegrityError:
            return False
        return True

    def _row(self, trial: int, seed: int) -> tuple[str, str] | None:
        with self.ledger.single.connect() as conn:
            query = sa.select(_seeds.c.state, _seeds.c.driver_id).where(self._at(trial, seed))
            row = conn.execute(query).first()
        return None if row is None else (str(row[0]), str(row[1]))

    def _take_over(self, trial: int, seed: int, holder: str) -> bool:
        """The claim of dead driver ``holder``, for this driver; False if another driver took it first."""
        with self.ledger.single.connect() as conn:
            taken = conn.execute(
                _seeds.update()
                .where(self._at(trial, seed), _seeds.c.driver_id == holder, _seeds.c.state == SEED_RUNNING)
                .values(driver_id=self.me.driver_id)
            ).rowcount
        return taken == 1

    def _set_done(self, trial: int, seed: int) -> None:
        with self.ledger.single.connect() as conn:
            conn.execute(_seeds.update().where(self._at(trial, seed)).values(state=SEED_DONE))

    def _live(self) -> set[str]:
        now = time.time()
        live = {d for d, row in self.drivers.drivers().items() if driver_alive(row, now, STALE_AFTER_S)}
        return live | {self.me.driver_id}

    def _attr(self, key: str) -> Any:
        with self.ledger.single.connect() as conn:
            stored = conn.scalar(self._attr_query(key))
        return None if stored is None else json.loads(stored)

    def _attr_query(self, key: str) -> sa.Select[Any]:
        return sa.select(STUDY_USER_ATTRS.c.value_json).where(
            STUDY_USER_ATTRS.c.study_id == self.study_id, STUDY_USER_ATTRS.c.key == key
        )

    def _lock_study(self, conn: sa.Connection) -> None:
        """Serialize this transaction with every other writer of the study's attributes: a write
        to the study row (a row lock on PostgreSQL; on SQLite, the database's write lock, taken
        before anything is read)."""
        conn.execute(
            STUDIES.update()
            .where(STUDIES.c.study_id == self.study_id)
            .values(study_name=STUDIES.c.study_name)
        )

    def _update_attr(self, conn: sa.Connection, key: str, change: Callable[[Any], Any]) -> bool:
        """Set study attribute ``key`` to ``change(its stored value)`` (None: leave it); True if written."""
        stored = conn.scalar(self._attr_query(key))
        updated = change(None if stored is None else json.loads(stored))
        if updated is None:
            return False
        value_json = json.dumps(updated)
        if stored is None:
            row = {"study_id": self.study_id, "key": key, "value_json": value_json}
            conn.execute(STUDY_USER_ATTRS.insert().values(**row))
        else:
            conn.execute(
                STUDY_USER_ATTRS.update()
                .where(STUDY_USER_ATTRS.c.study_id == self.study_id, STUDY_USER_ATTRS.c.key == key)
                .values(value_json=value_json)
            )
        return True
