"""Ctrl-C at chosen moments of a real ``nas-attn search`` (nas_attn/testing/interrupt_cases.py),
once each: the command ends with its exit code and one stderr line, leaves no trial RUNNING and
no process of its group behind. ``benches/bench_interrupts.py`` repeats them (20 times each, timed).

Ctrl-C once and twice at a steady pace while a trial trains are in ``test_cli_signals.py``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from nas_attn.testing.interrupt_cases import CASES, Case, run_case

pytestmark = [pytest.mark.ray, pytest.mark.slow]
TESTED = ("spawn", "trial-2x-burst", "trial-3x-burst", "pretrain-1x", "pretrain-2x", "finished")


def _states(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT state FROM trials ORDER BY number")]


def _attr(db: Path, key: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [
            row[0] for row in conn.execute("SELECT key FROM study_user_attributes WHERE key LIKE ?", (key,))
        ]


@pytest.mark.parametrize("case", [c for c in CASES if c.name in TESTED], ids=lambda c: c.name)
def test_ctrl_c_at_this_moment_ends_the_search_cleanly(tmp_path: Path, case: Case) -> None:
    run = run_case(case, tmp_path)
    assert run.ok, run.problems
    db = tmp_path / "study.db"
    out = (tmp_path / "search.out").read_text()
    if case.name == "trial-2x-burst":  # both presses heard: the trial was stopped, not waited for
        assert _states(db)[:2] == ["FAIL", "WAITING"]
    if case.name == "trial-3x-burst":
        assert "aborted" in (tmp_path / "search.err").read_text()
    if case.name == "pretrain-1x":  # the backbone finished and is kept; its trial never started
        assert "stopping: the warm-start backbone for seed 0 finishes training" in out
        assert _attr(db, "warm_start:%") and _states(db)[:2] == ["FAIL", "WAITING"]
    if case.name == "pretrain-2x":  # stopped at once: nothing kept
        assert not _attr(db, "warm_start:%") and _states(db)[:2] == ["FAIL", "WAITING"]
    if case.name == "finished":
        assert _states(db) == ["COMPLETE", "WAITING"]  # --n-trials 1: the enqueued baseline waits
