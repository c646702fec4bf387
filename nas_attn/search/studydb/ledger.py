"""The study ledger: tables next to Optuna's, in the same database, that make several drivers
on one study safe (the third, ``nas_attn_seed_runs``, claims seed trainings: ``seed_ledger.py``).

``nas_attn_drivers``: one row per live driver (host, pid, heartbeat time). A driver beats every
few seconds; a row that stops beating, or whose process is gone from this host, is a dead driver.
Those rows are read and written by ``drivers.py`` (``DriverRows``).

``nas_attn_evaluations``: one row per placement evaluation, with two unique keys per study:

- ``slot`` (0 .. target-1): a driver reserves a slot *before* it asks Optuna for a trial, so
  drivers together never start more evaluations than the target; a finished evaluation keeps
  its slot, a failed one gives it up.
- ``digest`` (``ArchConfig.digest()``): claiming the digest for a trial is the right to train
  that placement. Only one row can hold a digest, so no placement is ever trained twice.

Row states: ``reserved`` (slot held, no trial yet) -> ``running`` (digest claimed, training) ->
``done`` (the trial is COMPLETE), ``screened`` (COMPLETE but infeasible, so never trained;
slot freed, digest kept) or ``failed`` (the placement cannot be evaluated; slot freed,
digest kept so it is not retried). A lost or interrupted evaluation deletes its row, freeing
both slot and digest for its re-enqueued parameters. Only uniqueness constraints are used, so
the same code is atomic on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import optuna
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nas_attn.exceptions import NasAttnError
from nas_attn.search.studydb.drivers import forget_study_statement
from nas_attn.search.studydb.optuna_private import rdb_storage_of

__all__ = [
    "EVALUATED",
    "FAILED",
    "RESERVED",
    "RUNNING",
    "SCREENED",
    "Evaluation",
    "Ledger",
    "SlotState",
    "evaluations_table",
    "metadata",
]


from nas_attn.search.studydb._ledger_schema import (
    EVALUATED,
    FAILED,
    RESERVED,
    RUNNING,
    SCREENED,
    SEED_RUNNING,
    SlotState,
    evaluations_table,
    metadata,
    seed_runs_table,
)


@dataclass(frozen=True)
class Evaluation:
    row_id: int
    slot: int | None
    digest: str | None
    trial_number: int | None
    trial_id: int | None
    state: SlotState
    driver_id: str | None
    note: str | None


def _create_tables(engine: Engine) -> None:
    """Create the ledger tables once; a concurrent creator winning the race is fine."""
    for attempt in range(3):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
            if attempt == 2:
                raise
            time.sleep(0.2)


class Ledger:
    """The ledger rows of one study (see the module docstring)."""

    def __init__(self, storage: optuna.storages.RDBStorage, study_id: int) -> None:
        self.storage = storage
        self.engine: Engine = storage.engine
        # reads and single-statement writes need no BEGIN/COMMIT round trips: autocommit
        self.single: Engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._slots_in_use: set[int] | None = None  # as last seen (see reserve)
        self.study_id = study_id
        _create_tables(self.engine)

    @classmethod
    def of(cls, study: optuna.Study) -> Ledger:
        storage = rdb_storage_of(study)
        return cls(storage, storage.get_study_id_from_name(study.study_name))

    def reservations_statement(self, driver_id: str) -> sa.Delete:
        """The slots ``driver_id`` reserved but never used, as a delete (run when it leaves)."""
        return evaluations_table.delete().where(
            self._mine(), evaluations_table.c.driver_id == driver_id, self._state(RESERVED)
        )

    def seed_claims_statement(self, driver_id: str) -> sa.Delete:
        """The seed trainings ``driver_id`` claimed and never stored, as a delete (run when it
        leaves; see ``seed_ledger``)."""
        return seed_runs_table.delete().where(
            seed_runs_table.c.study_id == self.study_id,
            seed_runs_table.c.driver_id == driver_id,
            seed_runs_table.c.state == SEED_RUNNING,
        )

    # -- evaluations --------------------------------------------------------------------------
    def _mine(self) -> sa.ColumnElement[bool]:
        return evaluations_table.c.study_id == self.study_id

    @staticmethod
    def _state(state: SlotState) -> sa.ColumnElement[bool]:
        return evaluations_table.c.state == state

    def reserve(self, driver_id: str, target: int) -> int | None:
        """Reserve a free slot below ``target`` (the lowest this driver knows of); None when
        every slot is taken.

        The slots in use are remembered between calls, so a driver alone on a study reserves
        with one statement; the insert's unique key, not the memory, decides, and the memory is
        refreshed when a slot turns out taken or none seems free.
        """
        fresh = self._slots_in_use is None
        for _ in range(4 * target + 4):
            if self._slots_in_use is None:
                self._slots_in_use = self._read_slots_in_use()
                fresh = True
            free = next((k for k in range(target) if k not in self._slots_in_use), None)
            if free is None:
                if fresh:
                    return None
                self._slots_in_use = None  # slots freed elsewhere (failed, screened): look again
                continue
            self._slots_in_use.add(free)
            if self._insert(slot=free, state=RESERVED, driver_id=driver_id):
                return free
            self._slots_in_use = None  # another driver took it: look again
        return None  # heavy contention: behave as if full and try again later

    def reserve_many(self, driver_id: str, target: int, count: int) -> list[int]:
        """Reserve up to ``count`` free slots below ``target`` with one statement when this
        driver's memory of the slots in use holds (else one by one); [] when none is free."""
        if self._slots_in_use is None:
            self._slots_in_use = self._read_slots_in_use()
        free = [k for k in range(target) if k not in self._slots_in_use][:count]
        if len(free) > 1:
            rows = [
                {"study_id": self.study_id, "slot": k, "state": RESERVED, "driver_id": driver_id}
                for k in free
            ]
            try:
                with self.single.connect() as conn:
                    conn.execute(evaluations_table.insert(), rows)
                self._slots_in_use.update(free)
                return free
            except sa.exc.IntegrityError:
                self._slots_in_use = None  # another driver took one: one by one below
        reserved: list[int] = []
        while len(reserved) < count and (slot := self.reserve(driver_id, target)) is not None:
            reserved.append(slot)
        return reserved

    def _read_slots_in_use(self) -> set[int]:
        with self.single.connect() as conn:
            in_use = evaluations_table.c.slot.is_not(None)
            return set(conn.scalars(sa.select(evaluations_table.c.slot).where(self._mine(), in_use)))

    def _insert(self, **values: object) -> bool:
        try:
            with self.single.connect() as conn:
                conn.execute(evaluations_table.insert().values(study_id=self.study_id, **values))
        except sa.exc.IntegrityError:
            return False
        return True

    def unreserve(self, slot: int, driver_id: str) -> None:
        """Give back a reserved slot that was not used."""
        if self._slots_in_use is not None:
            self._slots_in_use.discard(slot)
        with self.single.connect() as conn:
            conn.execute(
                evaluations_table.delete().where(
                    self._mine(),
                    evaluations_table.c.slot == slot,
                    evaluations_table.c.driver_id == driver_id,
                    self._state(RESERVED),
                )
            )

    def claim(self, slot: int, digest: str, trial_number: int, trial_id: int) -> bool:
        """Turn reserved ``slot`` into the claim to train ``digest``; False if already claimed."""
        try:
            with self.single.connect() as conn:
                updated = conn.execute(
                    evaluations_table.update()
                    .where(self._mine(), evaluations_table.c.slot == slot, self._state(RESERVED))
                    .values(digest=digest, trial_number=trial_number, trial_id=trial_id, state=RUNNING)
                ).rowcount
        except sa.exc.IntegrityError:
            return False
        if updated != 1:
            raise NasAttnError(f"evaluation slot {slot} was taken from this driver; its ledger row is gone")
        return True

    def claim_many(self, claims: list[tuple[int, str, int, int]]) -> bool:
        """:meth:`claim` for each ``(slot, digest, trial_number, trial_id)``, all or none, in one
        transaction; False (nothing claimed) if any digest is claimed already."""
        statement = (
            evaluations_table.update()
            .where(
                self._mine(),
                evaluations_table.c.slot == sa.bindparam("b_slot"),
                self._state(RESERVED),
            )
            .values(
                digest=sa.bindparam("b_digest"),
                trial_number=sa.bindparam("b_number"),
                trial_id=sa.bindparam("b_trial_id"),
                state=RUNNING,
            )
        )
        rows = [{"b_slot": s, "b_digest": d, "b_number": n, "b_trial_id": t} for s, d, n, t in claims]
        try:
            with self.engine.begin() as conn:
                updated = conn.execute(statement, rows).rowcount
                if updated != len(rows):
                    raise NasAttnError(
                        "evaluation slots were taken from this driver; their ledger rows are gone"
                    )
        except sa.exc.IntegrityError:
            return False
        return True

    def lookup(self, digest: str) -> Evaluation | None:
        with self.single.connect() as conn:
            row = conn.execute(
                sa.select(evaluations_table).where(self._mine(), evaluations_table.c.digest == digest)
            ).first()
        return self._evaluation(row) if row is not None else None

    @staticmethod
    def _evaluation(row: sa.Row[tuple[object, ...]]) -> Evaluation:
        m = row._mapping
        return Evaluation(
            row_id=m["id"],
            slot=m["slot"],
            digest=m["digest"],
            trial_number=m["trial_number"],
            trial_id=m["trial_id"],
            state=m["state"],
            driver_id=m["driver_id"],
            note=m["note"],
        )

    def mark_evaluated(self, digest: str, trial_number: int) -> None:
        """The claiming trial is COMPLETE: the placement is evaluated."""
        self._update(digest, trial_number, state=EVALUATED)

    def settle_statement(self, digest: str, trial_number: int, trained: bool) -> sa.Update:
        """As a statement, to run in the transaction that completes the trial (so the two never
        disagree): :meth:`mark_evaluated` when ``trained``, else screened out by a constraint (answered,
        never trained: digest kept, slot freed)."""
        values: dict[str, object] = {"state": EVALUATED} if trained else {"state": SCREENED, "slot": None}
        return self._update_statement(digest, trial_number).values(**values)

    def fail(self, digest: str, trial_number: int, note: str) -> None:
        """The placement cannot be evaluated: keep the digest (never retried), free the slot."""
        with self.single.connect() as conn:
            conn.execute(self.fail_statement(digest, trial_number, note))

    def fail_statement(self, digest: str, trial_number: int, note: str) -> sa.Update:
        """:meth:`fail` as a statement, to run in the transaction that fails the trial."""
        return self._update_statement(digest, trial_number).values(state=FAILED, slot=None, note=note[:2000])

    def _update(self, digest: str, trial_number: int, **values: object) -> None:
        with self.single.connect() as conn:
            conn.execute(self._update_statement(digest, trial_number).values(**values))

    def _update_statement(self, digest: str, trial_number: int) -> sa.Update:
        return evaluations_table.update().where(
            self._mine(),
            evaluations_table.c.digest == digest,
            evaluations_table.c.trial_number == trial_number,
        )

    def release(self, digest: str, trial_number: int) -> bool:
        """Delete a claim (lost or interrupted evaluation); True if this call removed it."""
        with self.single.connect() as conn:
            deleted = conn.execute(
                evaluations_table.delete().where(
                    self._mine(),
                    evaluations_table.c.digest == digest,
                    evaluations_table.c.trial_number == trial_number,
                )
            ).rowcount
        return bool(deleted)

    def delete_row(self, row_id: int) -> None:
        with self.single.connect() as conn:
            conn.execute(evaluations_table.delete().where(evaluations_table.c.id == row_id))

    def rows(self, *states: SlotState) -> list[Evaluation]:
        """This study's rows in ``states`` (all rows when none are given)."""
        query = sa.select(evaluations_table).where(self._mine())
        if states:
            query = query.where(evaluations_table.c.state.in_(states))
        with self.single.connect() as conn:
            return [self._evaluation(r) for r in conn.execute(query).all()]

    def count(self, *states: SlotState) -> int:
        with self.single.connect() as conn:
            return int(
                conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(evaluations_table)
                    .where(self._mine(), evaluations_table.c.state.in_(states))
                )
                or 0
            )

    def counts(self) -> Counter[SlotState]:
        """The number of this study's rows in each state (0 for a state with none)."""
        with self.single.connect() as conn:
            rows = conn.execute(
                sa.select(evaluations_table.c.state, sa.func.count())
                .where(self._mine())
                .group_by(evaluations_table.c.state)
            ).all()
        return Counter({state: int(n) for state, n in rows})

    def record_evaluated(self, digest: str, trial_number: int, trial_id: int) -> bool:
        """Add a COMPLETE trial the ledger does not know yet (a study from before the ledger)."""
        for _ in range(100):
            with self.single.connect() as conn:
                top = conn.scalar(sa.select(sa.func.max(evaluations_table.c.slot)).where(self._mine()))
            slot = -1 if top is None else int(top)
            if self.lookup(digest) is not None:
                return False
            if self._insert(
                slot=slot + 1, digest=digest, trial_number=trial_number, trial_id=trial_id, state=EVALUATED
            ):
                return True
        return False

    def purge(self) -> None:
        """Forget every row of this study (a new study that reuses an old study id)."""
        with self.engine.begin() as conn:
            conn.execute(evaluations_table.delete().where(self._mine()))
            conn.execute(seed_runs_table.delete().where(seed_runs_table.c.study_id == self.study_id))
            conn.execute(forget_study_statement(self.study_id))
