"""The ledger's schema: its tables and the states of an evaluation row (see ``ledger``), and the
seed-training claims (see ``seed_ledger``)."""

from __future__ import annotations

import enum
from typing import Any

import sqlalchemy as sa


class SlotState(str, enum.Enum):
    """The state of one evaluation row (see ``ledger``'s module docstring); stored as its value."""

    RESERVED = "reserved"  # slot held, no trial yet
    RUNNING = "running"  # digest claimed, training
    EVALUATED = "done"  # trained to a result, its trial COMPLETE (stored as "done", as older studies have)
    SCREENED = "screened"  # measured, broke a constraint, never trained: digest kept, slot freed
    FAILED = "failed"  # cannot be evaluated: slot freed, digest kept so it is not retried

    def __str__(self) -> str:
        return self.value


class _StateColumn(sa.TypeDecorator[SlotState]):
    """A ``SlotState`` in a plain string column (the schema stays what older studies have)."""

    impl = sa.String(16)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        return None if value is None else SlotState(value).value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> SlotState | None:
        return None if value is None else SlotState(value)


RESERVED, RUNNING, EVALUATED = SlotState.RESERVED, SlotState.RUNNING, SlotState.EVALUATED  # short names
SCREENED, FAILED = SlotState.SCREENED, SlotState.FAILED

metadata = sa.MetaData()

drivers_table = sa.Table(
    "nas_attn_drivers",
    metadata,
    sa.Column("driver_id", sa.String(80), primary_key=True),
    sa.Column("study_id", sa.Integer, nullable=False, index=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
)

evaluations_table = sa.Table(
    "nas_attn_evaluations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, nullable=False),
    sa.Column("slot", sa.Integer, nullable=True),
    sa.Column("digest", sa.String(64), nullable=True),
    sa.Column("trial_number", sa.Integer, nullable=True),
    sa.Column("trial_id", sa.Integer, nullable=True),
    sa.Column("state", _StateColumn(), nullable=False),
    sa.Column("driver_id", sa.String(80), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.UniqueConstraint("study_id", "slot", name="uq_nas_attn_evaluations_slot"),
    sa.UniqueConstraint("study_id", "digest", name="uq_nas_attn_evaluations_digest"),
)

#: A seed-training row's states (``seed_ledger``): claimed and training, or its result stored.
SEED_RUNNING, SEED_DONE = "running", "done"

seed_runs_table = sa.Table(
    "nas_attn_seed_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, nullable=False),
    sa.Column("trial_number", sa.Integer, nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("driver_id", sa.String(80), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.UniqueConstraint("study_id", "trial_number", "seed", name="uq_nas_attn_seed_runs_seed"),
)
