"""Who a driver is and whether it is still alive (the rows of the ledger's ``nas_attn_drivers``).

A driver beats every ``HEARTBEAT_S`` seconds; one silent for ``STALE_AFTER_S``, or whose process
is gone from this host, is dead, and its RUNNING trials are recovered (``studydb/recovery.py``).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

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
