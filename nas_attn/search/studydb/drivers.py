"""The driver rows (``nas_attn_drivers``, beside the ledger): who a driver is and whether it lives.

A driver registers a row when it starts, beats every ``HEARTBEAT_S`` seconds and removes its
row (with the slots it reserved but never used) when it leaves. One silent for ``STALE_AFTER_S``,
or whose process is gone from this host, is dead, and its RUNNING trials are recovered
(``recovery.py``). :class:`DriverRows` is the table's one reader and writer.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from nas_attn.search.studydb._ledger_schema import drivers_table

if TYPE_CHECKING:
    from nas_attn.search.studydb.ledger import Ledger

HEARTBEAT_S = 5.0  # how often a driver beats
STALE_AFTER_S = 60.0  # a driver silent this long is dead (12 missed beats)


@dataclass(frozen=True)
class DriverInfo:
    """Who a driver is: a unique id plus where it runs (for the same-host liveness check)."""

    driver_id: str
    host: str
    pid: int

    @classmethod
    def this_process(cls) -> DriverInfo:
        host, pid = socket.gethostname(), os.getpid()
        return cls(f"{host}:{pid}:{uuid.uuid4().hex[:8]}", host, pid)


@dataclass(frozen=True)
class DriverRow:
    info: DriverInfo
    started_at: float
    heartbeat_at: float


def _process_gone(pid: int) -> bool:
    """True when ``pid`` is not a live process on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def driver_alive(row: DriverRow | None, now: float, stale_after_s: float) -> bool:
    """A driver is alive while it beats, and (on this host) while its process exists."""
    if row is None or now - row.heartbeat_at > stale_after_s:
        return False
    return not (row.info.host == socket.gethostname() and _process_gone(row.info.pid))


def forget_study_statement(study_id: int) -> sa.Delete:
    """Every driver row of study ``study_id``, as a delete (run with the ledger's purge)."""
    return drivers_table.delete().where(drivers_table.c.study_id == study_id)


class DriverRows:
    """The driver rows of one study, on the engine of its ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.study_id = ledger.study_id

    def register(self, info: DriverInfo) -> None:
        now = time.time()
        with self.ledger.single.connect() as conn:
            conn.execute(
                drivers_table.insert().values(
                    driver_id=info.driver_id,
                    study_id=self.study_id,
                    host=info.host,
                    pid=info.pid,
                    started_at=now,
                    heartbeat_at=now,
                )
            )

    def beat(self, info: DriverInfo) -> bool:
        """Record that the driver is alive; False if its row was gone (it is then re-added)."""
        with self.ledger.single.connect() as conn:
            updated = conn.execute(
                drivers_table.update()
                .where(drivers_table.c.driver_id == info.driver_id)
                .values(heartbeat_at=time.time())
            ).rowcount
        if updated:
            return True
        self.register(info)
        return False

    def unregister(self, driver_id: str) -> None:
        """Remove the driver's row, the slots it reserved but never used and the seed trainings
        it claimed but never stored (one transaction)."""
        with self.ledger.engine.begin() as conn:
            conn.execute(drivers_table.delete().where(drivers_table.c.driver_id == driver_id))
            conn.execute(self.ledger.reservations_statement(driver_id))
            conn.execute(self.ledger.seed_claims_statement(driver_id))

    def drivers(self) -> dict[str, DriverRow]:
        with self.ledger.single.connect() as conn:
            rows = conn.execute(
                sa.select(drivers_table).where(drivers_table.c.study_id == self.study_id)
            ).all()
        return {
            r.driver_id: DriverRow(DriverInfo(r.driver_id, r.host, r.pid), r.started_at, r.heartbeat_at)
            for r in rows
        }

    def forget_drivers(self, driver_ids: list[str]) -> None:
        if driver_ids:
            with self.ledger.single.connect() as conn:
                conn.execute(drivers_table.delete().where(drivers_table.c.driver_id.in_(driver_ids)))
