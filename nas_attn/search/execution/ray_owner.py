"""Ray processes a driver started, recorded so the next run can stop those of a dead driver.

A local search starts its own Ray instance (GCS, raylet, agents). When its driver is killed
(SIGKILL, an out-of-memory kill) Ray's own atexit shutdown never runs and those processes stay.
Each driver therefore records, per study, its own pid and the pids of the Ray processes it
started, each with its start time (``/proc``), and removes the record when it exits normally.
The next run of the same study stops the processes of records whose driver is gone, and only
those: a pid whose start time differs (reused by another program) is left alone, and so is every
process of a driver that is still alive (several drivers may share a study). Linux only; a no-op
where ``/proc`` is missing.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import signal
from pathlib import Path
from typing import Any

from nas_attn.data.cache import cache_dir
from nas_attn.redact import redact_url

Process = tuple[int, str]  # pid, start time (clock ticks since boot, as /proc/PID/stat says)


def records_dir(owner: str) -> Path:
    """The folder of one study's driver records."""
    return cache_dir() / "ray-owners" / owner


def owner_key(storage_url: str, study: str) -> str:
    """A file-name-safe key for one study in one storage (no secret in it)."""
    return hashlib.sha256(f"{redact_url(storage_url)}\0{study}".encode()).hexdigest()[:24]


def start_time(pid: int) -> str | None:
    """The process's start time from /proc, or None when it is not running (or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None  # field 22 of stat; not zombies


def _alive(process: Process) -> bool:
    return start_time(process[0]) == process[1]


def record(owner: str, pids: list[int], driver: int | None = None) -> Path | None:
    """Record ``pids`` as started by ``driver`` (this process); removed again at a normal exit."""
    driver = os.getpid() if driver is None else driver
    me = (driver, start_time(driver))
    if me[1] is None:
        return None
    processes = [(pid, t) for pid in pids if (t := start_time(pid)) is not None]
    folder = records_dir(owner)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{driver}-{me[1]}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"driver": me, "processes": processes}))
    os.replace(tmp, path)
    if driver == os.getpid():
        atexit.register(path.unlink, missing_ok=True)
    return path


def clean_up_dead_drivers(owner: str) -> int:
    """Stop the recorded processes of this study's dead drivers; how many were stopped."""
    stopped = 0
    folder = records_dir(owner)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
            driver = (int(data["driver"][0]), str(data["driver"][1]))
            processes = [(int(p), str(t)) for p, t in data["processes"]]
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            path.unlink(missing_ok=True)  # unreadable: nothing can be matched safely
            continue
        if _alive(driver):
            continue
        for process in processes:
            if _alive(process):
                with contextlib.suppress(OSError):
                    os.kill(process[0], signal.SIGKILL)
                    stopped += 1
        path.unlink(missing_ok=True)
    return stopped


def local_ray_pids() -> list[int]:
    """Pids of the processes of the Ray instance this driver started (empty when unknown)."""
    try:
        from ray._private import worker

        node: Any = getattr(worker, "_global_node", None)
        if node is None:
            return []
        return [info.process.pid for infos in node.all_processes.values() for info in infos]
    except Exception:  # a private API: without it there is just no record
        return []
