"""The driver against a real local Ray cluster and real SQLite storage."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import optuna
import pytest
import ray

from nas_attn import NasAttnError, load_space
from nas_attn.search import open_storage, open_study, run_search, start_ray
from nas_attn.search.pool import PoolConfig, WorkerPool

pytestmark = pytest.mark.ray
State = optuna.trial.TrialState


@pytest.fixture(scope="module")
def local_ray():
    start_ray(None, 2)
    yield
    ray.shutdown()


def make_study(tmp_path: Path, space_file: Path) -> tuple[optuna.Study, Any]:
    space = load_space(space_file)
    return open_study(open_storage(f"sqlite:///{tmp_path}/s.db"), space.name, space, "random"), space


class KillFirstActor(WorkerPool):
    """Kills the actor running the first trial one second into it, as a crashed worker would."""

    killed: list[Any]

    def submit(self, payload: dict[str, Any]) -> tuple[Any, Any]:
        ref, actor = super().submit(payload)
        if not getattr(self, "killed", None):
            self.killed = [actor]
            threading.Timer(1.0, ray.kill, args=(actor,)).start()
        return ref, actor


def test_lost_worker_fails_the_trial_and_reruns_its_parameters(
    local_ray, tmp_path: Path, tiny_space_file: Path
):
    study, space = make_study(tmp_path, tiny_space_file)
    pool = KillFirstActor(PoolConfig(workers=2, device="cpu"))
    outcome = run_search(study, space, 2, pool)
    pool.shutdown()
    trials = study.get_trials()
    assert outcome.complete == 2
    assert len([t for t in trials if t.state == State.COMPLETE]) == 2
    assert not [t for t in trials if t.state in (State.RUNNING, State.WAITING)]
    failed = [t for t in trials if t.state == State.FAIL]
    assert len(failed) == 1 and failed[0].user_attrs["fail_reason"].startswith("worker lost")
    retry = [t for t in trials if t.user_attrs.get("retry_of") == failed[0].number]
    assert len(retry) == 1 and retry[0].state == State.COMPLETE and retry[0].params == failed[0].params


def test_repeated_trial_failures_stop_the_search_with_the_reason(
    local_ray, tmp_path: Path, tiny_space_file: Path
):
    diverging = tiny_space_file.read_text().replace(
        "batch_size: 64,", "batch_size: 64, lr: 1.0e+30, warmup_fraction: 0,"
    )
    tiny_space_file.write_text(diverging)
    study, space = make_study(tmp_path, tiny_space_file)
    pool = WorkerPool(PoolConfig(workers=2, device="cpu"))
    with pytest.raises(NasAttnError, match="failed trials in a row; last reason: training diverged"):
        run_search(study, space, 3, pool)
    pool.shutdown()
    trials = study.get_trials()
    assert trials and all(t.state == State.FAIL for t in trials)
    assert all("diverged" in t.user_attrs["fail_reason"] for t in trials)
