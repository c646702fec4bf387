"""The next run stops the Ray processes a dead driver of the same study started, and only those
(issue #17, class 8). Plain ``sleep`` processes stand in for Ray's GCS and raylet."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from nas_attn.search.execution.ray_owner import (
    clean_up_dead_drivers,
    owner_key,
    record,
    records_dir,
    start_time,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def dead(proc: subprocess.Popen[bytes]) -> bool:
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return True


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAS_ATTN_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.slow
def test_a_dead_drivers_processes_are_stopped_and_only_those() -> None:
    study = owner_key("sqlite:///nas_attn.db", "tiny")
    other_study = owner_key("sqlite:///nas_attn.db", "other")
    dead_driver, alive_driver, other_driver = sleeper(), sleeper(), sleeper()
    left, kept, foreign = sleeper(), sleeper(), sleeper()
    try:
        record(study, [left.pid], driver=dead_driver.pid)
        record(study, [kept.pid], driver=alive_driver.pid)  # a second driver on the study, still running
        record(other_study, [foreign.pid], driver=other_driver.pid)
        dead_driver.kill()
        other_driver.kill()
        dead_driver.wait()
        other_driver.wait()
        assert clean_up_dead_drivers(study) == 1
        assert dead(left)
        assert not dead(kept) and not dead(foreign)  # a live driver's, and another study's
        assert len(list(records_dir(study).glob("*.json"))) == 1  # the live driver's record stays
    finally:
        for proc in (dead_driver, alive_driver, other_driver, left, kept, foreign):
            proc.kill()
            proc.wait()


def test_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    study = owner_key("sqlite:///x.db", "tiny")
    driver, innocent = sleeper(), sleeper()
    try:
        path = record(study, [innocent.pid], driver=driver.pid)
        assert path is not None
        text = path.read_text().replace(
            f'[{innocent.pid}, "{start_time(innocent.pid)}"]', f'[{innocent.pid}, "1"]'
        )
        path.write_text(text)  # as if the recorded process had exited and its pid been reused
        driver.kill()
        driver.wait()
        assert clean_up_dead_drivers(study) == 0
        time.sleep(0.2)
        assert innocent.poll() is None and not path.exists()
    finally:
        for proc in (driver, innocent):
            proc.kill()
            proc.wait()


def test_owner_keys_hide_the_password_and_separate_studies() -> None:
    key = owner_key("postgresql+psycopg://a:hunter2@db/nas", "tiny")
    assert key == owner_key("postgresql+psycopg://a:other@db/nas", "tiny")  # from the redacted URL
    assert key != owner_key("postgresql+psycopg://a:hunter2@db/nas", "tiny2") and "hunter2" not in key
