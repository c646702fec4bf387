"""Ctrl-C at chosen moments of a real ``nas-attn search`` process, timed and checked.

The cases of ``benches/bench_interrupts.py`` (each repeated, with timings) and of the signal tests
(``tests/search_tests/driver_tests/test_cli_interrupts.py``, once each). A run is the real CLI
(``python -m nas_attn.testing.held_cli``: its workers are
:class:`~nas_attn.testing.held_trials.HeldWorker`, whose trials and warm-start pretrainings wait
at a gate, so a press lands while they run) on a tiny digits space, in its own process group as a
terminal's foreground job: every press is a SIGINT to the whole group, as Ctrl-C is, Ray's
processes included. A run passes when the command ends within ``hang_s`` of its last press with
the case's exit code, one stderr line (no traceback), no trial left RUNNING (but where the third
press aborts on purpose) and no process of its group left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nas_attn.testing.held_trials import TrialGate

#: The space: 3 placements of one stage, exhaustive, a proxy of seconds (``{warm}``: a warm start).
SPACE = """name: tiny
backbone: {{name: resnet18, stem: cifar}}
stages:
  layer1: {{module: [none, se, eca]}}
proxy: {{dataset: digits, image_size: 8, epochs: 1, batch_size: 64, crop_padding: 1{warm}}}
latency: {{warmup: 1, repeats: 5}}
search: {{sampler: exhaustive, n_trials: 3, seed: 0}}
"""
WARM = ", warm_start: {epochs: 1}"
STOPPING = "stopping: no new trials"  # the driver's answer to the first press while trials train
PRETRAIN_STOPPING = "stopping: the warm-start backbone"  # its answer while a backbone trains
HANG_S = 300.0  # a run still going this long after its last press hangs
START_S = 600.0  # the longest a moment may take to come (a loaded machine starts Ray slowly)


@dataclass(frozen=True)
class Press:
    """One Ctrl-C: ``after`` seconds after the previous step, once ``ack`` (if any) is on stdout."""

    after: float = 0.0
    ack: str | None = None


@dataclass(frozen=True)
class Case:
    """A moment, the presses made there, and what the command must answer.

    ``moment``: ``spawn`` (``spawn_s`` after the process starts: Python, torch and Ray still
    loading), ``trial`` (a trial is running on a worker), ``pretrain`` (the warm-start backbone is
    training), ``finished`` (the search is done and printed its summary; Ray shuts down).
    ``open_gate``: let held work go on after the presses. ``exit_code`` and ``line``: the exit
    status and a fragment of the one stderr line. ``aborts``: the third press leaves trials
    RUNNING by design (the next run recovers them)."""

    name: str
    what: str
    moment: str
    presses: tuple[Press, ...]
    exit_code: int = 130
    line: str = "nas-attn: error: "
    open_gate: bool = False
    warm: bool = False
    aborts: bool = False
    spawn_s: float = 1.0
    n_trials: int = 3


CASES: tuple[Case, ...] = (
    Case("spawn", "1 press while Python and torch load", "spawn", (Press(),), line="interrupted (Ctrl-C)"),
    Case(
        "spawn-2x",
        "2 presses 0.2 s apart while torch loads",
        "spawn",
        (Press(), Press(0.2)),
        line="interrupted (Ctrl-C)",
        spawn_s=2.0,
    ),
    Case(
        "trial-1x",
        "1 press while a trial trains, which then finishes",
        "trial",
        (Press(),),
        line="search interrupted: 1 evaluated trials are kept",
        open_gate=True,
    ),
    Case(
        "trial-2x",
        "2 presses while a trial trains (the 2nd once the 1st is answered)",
        "trial",
        (Press(), Press(ack=STOPPING)),
        line="search interrupted: 0 evaluated trials are kept",
    ),
    Case(
        "trial-2x-burst",
        "2 presses 50 ms apart while a trial trains",
        "trial",
        (Press(), Press(0.05)),
        line="search interrupted: 0 evaluated trials are kept",
    ),
    Case(
        "trial-3x-burst",
        "3 presses 50 ms apart while a trial trains (abort)",
        "trial",
        (Press(), Press(0.05), Press(0.05)),
        line="search aborted",
        aborts=True,
    ),
    Case(
        "pretrain-1x",
        "1 press while the warm-start backbone trains, which then finishes",
        "pretrain",
        (Press(),),
        line="search interrupted: 0 evaluated trials are kept",
        open_gate=True,
        warm=True,
    ),
    Case(
        "pretrain-2x",
        "2 presses while the warm-start backbone trains",
        "pretrain",
        (Press(), Press(ack=PRETRAIN_STOPPING)),
        line="search interrupted: 0 evaluated trials are kept",
        warm=True,
    ),
    Case(
        "finished",
        "1 press once the search printed its summary (Ray shutting down)",
        "finished",
        (Press(),),
        exit_code=0,
        line="",
        open_gate=True,
        n_trials=1,
    ),
)


@dataclass
class CaseRun:
    """One run of a case: seconds from its last press to the command's exit, and what was wrong."""

    case: Case
    seconds: float
    exit_code: int | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class SearchProcess:
    """A ``nas-attn`` process in its own process group (a terminal's foreground job), its stdout
    and stderr in ``<name>.out`` / ``<name>.err`` in ``directory``, readable while it runs."""

    def __init__(self, args: list[str], directory: Path, name: str = "search") -> None:
        self.out_path, self.err_path = directory / f"{name}.out", directory / f"{name}.err"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen(
                args,
                cwd=directory,
                stdout=out,
                stderr=err,
                start_new_session=True,
                env={**os.environ, "COLUMNS": "200"},
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def poll(self) -> int | None:
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL to the process alone (no handler, no clean-up), as an out-of-memory kill."""
        self.proc.kill()

    def output(self) -> tuple[str, str]:
        return self.out(), self.err()

    def out(self) -> str:
        return self.out_path.read_text()

    def err(self) -> str:
        return self.err_path.read_text()

    def press(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # pragma: no cover - a reused group id of another user
            return False
        return True

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


class _Ended(Exception):
    """The search ended before the case's moment came."""


def _wait(condition: Callable[[], bool], search: SearchProcess, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if search.proc.poll() is not None:
            raise _Ended(f"the search ended (exit {search.proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise _Ended(f"no {what} within {timeout:.0f} s")
        time.sleep(0.02)


def run_case(case: Case, directory: Path, hang_s: float = HANG_S) -> CaseRun:
    """Run ``case`` once in the empty folder ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    space = directory / "space.yaml"
    space.write_text(SPACE.format(warm=WARM if case.warm else ""))
    db = directory / "study.db"
    gate = TrialGate(directory / "gate")
    args = [sys.executable, "-m", "nas_attn.testing.held_cli", "--events", str(gate.directory), "search"]
    args += ["--space", str(space), "--storage", f"sqlite:///{db}", "--n-trials", str(case.n_trials)]
    args += ["--workers", "1", "--device", "cpu"]
    if case.moment == "finished":
        gate.open()  # nothing is held: the search runs to its end
    search = SearchProcess(args, directory)
    try:
        try:
            _reach(case, search, gate)
            for press in case.presses:
                if press.ack is not None:
                    _wait(_on_stdout(search, press.ack), search, START_S, f"'{press.ack}' on stdout")
                time.sleep(press.after)
                search.press()
            last = time.monotonic()
        except _Ended as exc:
            return CaseRun(case, float("nan"), search.proc.poll(), [f"the moment never came: {exc}"])
        if case.open_gate:
            gate.open()
        try:
            code: int | None = search.proc.wait(hang_s)
        except subprocess.TimeoutExpired:
            code = None
        seconds = time.monotonic() - last
        problems = _check(case, search, code, db)
        return CaseRun(case, seconds, code, problems)
    finally:
        search.kill_group()


def _on_stdout(search: SearchProcess, text: str) -> Callable[[], bool]:
    return lambda: text in search.out()


def _reach(case: Case, search: SearchProcess, gate: TrialGate) -> None:
    """Return once ``case``'s moment has come."""
    if case.moment == "spawn":
        time.sleep(case.spawn_s)
        if search.proc.poll() is not None:
            raise _Ended(f"the search ended (exit {search.proc.returncode}) before {case.spawn_s} s")
    elif case.moment == "trial":
        _wait(lambda: gate.started() >= 1, search, START_S, "trial start")
    elif case.moment == "pretrain":
        _wait(lambda: gate.pretrainings() >= 1, search, START_S, "warm-start pretraining")
    elif case.moment == "finished":
        _wait(lambda: "compute:" in search.out(), search, START_S, "summary's last line")
    else:
        raise ValueError(f"unknown moment {case.moment!r}")


def _check(case: Case, search: SearchProcess, code: int | None, db: Path) -> list[str]:
    problems = []
    if code is None:
        return ["hang: still running after the last press"]
    if code != case.exit_code:
        problems.append(f"exit {code}, expected {case.exit_code}")
    err = search.err()
    lines = [line for line in err.splitlines() if line.strip()]
    if "Traceback" in err or "Exception ignored" in err:
        problems.append(f"a traceback on stderr: {err[-600:]!r}")
    elif case.line and (len(lines) != 1 or case.line not in lines[0]):
        problems.append(f"stderr is not one line with {case.line!r}: {err[-600:]!r}")
    elif not case.line and lines:
        problems.append(f"stderr should be empty: {err[-600:]!r}")
    if not case.aborts and "RUNNING" in trial_states(db):
        problems.append(f"trials left RUNNING: {trial_states(db)}")
    deadline = time.monotonic() + 10.0
    while search.group_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if search.group_alive():
        problems.append("processes of its group still running 10 s after it exited")
    return problems


def trial_states(db: Path) -> list[str]:
    """The states of the study's trials in ``db`` (read-only), by number; [] before it exists."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return [row[0] for row in conn.execute("SELECT state FROM trials ORDER BY number")]
    except sqlite3.OperationalError:  # no tables yet
        return []
