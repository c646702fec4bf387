"""Ctrl-C while a warm-start backbone trains (minutes on a CPU) is answered within a second.

The real driver, the real ``WarmStartPool`` and SQLite; the backbone's pretraining is a fake that
calls the pool's keep-alive once per tick (as ``WorkerPool.pretrain`` does about every second
while its worker trains) and sends this process real SIGINTs at chosen ticks. Before the fix, the
driver saw neither Ctrl-C until the pretraining ended (8 epochs: 7-16 minutes on 2 cores).
"""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from support.search import State, assert_consistent, make_study, write_space
from support.spaces import space_yaml

from nas_attn.exceptions import Interrupted
from nas_attn.search import run_search
from nas_attn.search.execution.warm_start import WarmStartPool
from nas_attn.search.interrupts import StopRequests, requested_level
from nas_attn.search.seeds.policy import Racing
from nas_attn.search.seeds.runner import run_seed_policy
from nas_attn.search.studydb.drivers import DriverRows
from nas_attn.search.studydb.ledger import Ledger
from nas_attn.testing.fakes import FakePool, Recorder
from nas_attn.worker.request import TrainRequest
from nas_attn.worker.warm_start import WarmBackbone, warm_start_key

TICKS = 50  # the fake pretraining's length, in keep-alive calls


def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'study.db'}"


WARM_SPACE = space_yaml().replace("epochs: 1,", "epochs: 1, warm_start: {epochs: 2},")


class PretrainingPool(FakePool):
    """A FakePool that can train a warm-start backbone: ``TICKS`` keep-alive calls, with
    ``signals[tick]`` SIGINTs sent to this process just before the keep-alive of ``tick``."""

    def __init__(self, signals: dict[int, int], workers: int = 1) -> None:
        super().__init__(workers=workers)
        self.signals = signals
        self.ticks = 0  # keep-alive calls made, over every pretraining
        self.pretrained: list[int] = []  # seeds whose pretraining ran to the end
        self.shared = 0

    def pretrain(self, request: TrainRequest, keep_alive: Callable[[], None]) -> bytes:
        for _tick in range(TICKS):
            for _ in range(self.signals.get(self.ticks, 0)):
                os.kill(os.getpid(), signal.SIGINT)
            self.ticks += 1
            keep_alive()
        self.pretrained.append(request.seed)
        key = warm_start_key(request.arch, request.proxy)
        return WarmBackbone(key, {"weight": torch.zeros(2)}, 0.5, 1.0).to_bytes()

    def share_backbone(self, data: bytes) -> None:
        self.shared += 1


class MemoryStore:
    """A study's backbone store, in memory."""

    def __init__(self) -> None:
        self.saved: dict[str, bytes] = {}

    def load(self, key: str) -> bytes | None:
        return self.saved.get(key)

    def save(
        self, key: str, data: bytes, seed: int, epochs: int, accuracy: float, train_seconds: float
    ) -> str:
        self.saved[key] = data
        return f"memory:{key}"


def _search(tmp_path: Path, signals: dict[int, int]) -> tuple[PretrainingPool, MemoryStore, Recorder, object]:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, WARM_SPACE))
    assert space.proxy.warm_start is not None
    inner, store, recorder = PretrainingPool(signals), MemoryStore(), Recorder()
    with pytest.raises(Interrupted, match="0 evaluated trials are kept .* re-run the same command") as caught:
        run_search(study, space, 3, WarmStartPool(inner, store, recorder.notice), recorder)
    assert caught.type is Interrupted  # the driver's own message, not a pool's NotStarted
    return inner, store, recorder, study


def _stopped_before_start(study: object) -> None:
    first = study.trials[0]  # type: ignore[attr-defined]
    assert first.state == State.FAIL
    assert first.user_attrs["fail_reason"] == (
        "interrupted by the user (before it started); its parameters were re-enqueued"
    )
    requeued = [t for t in study.trials if t.user_attrs.get("retry_of") == 0]  # type: ignore[attr-defined]
    assert len(requeued) == 1 and requeued[0].state == State.WAITING
    assert requeued[0].user_attrs["retries"] == 0  # a user's stop does not spend the retry budget
    assert not [t for t in study.trials if t.state == State.RUNNING]  # type: ignore[attr-defined]
    assert DriverRows(Ledger.of(study)).drivers() == {}  # type: ignore[arg-type]


def test_one_ctrl_c_while_the_backbone_trains_keeps_it_and_starts_nothing(tmp_path: Path) -> None:
    inner, store, recorder, study = _search(tmp_path, {10: 1})
    told = [n for n in recorder.notices() if n.startswith("stopping:")]
    assert told == [
        "stopping: the warm-start backbone for seed 0 finishes training and is kept with the study, "
        "then nothing new starts (press Ctrl-C again to stop it now)"
    ]
    assert inner.ticks == TICKS and inner.pretrained == [0]  # trained to the end ...
    assert len(store.saved) == 1  # ... and kept
    assert inner.trained == []  # but the trial that needed it never went to a worker
    _stopped_before_start(study)


def test_two_ctrl_c_while_the_backbone_trains_stop_it_within_a_keep_alive(tmp_path: Path) -> None:
    inner, store, _recorder, study = _search(tmp_path, {10: 1, 20: 1})
    assert inner.ticks == 21  # the keep-alive right after the second Ctrl-C stopped it
    assert inner.pretrained == [] and store.saved == {}  # nothing half-trained is kept
    assert inner.trained == [] and inner.shut
    _stopped_before_start(study)


def test_ctrl_c_twice_at_once_while_the_backbone_trains_stops_it(tmp_path: Path) -> None:
    inner, store, _recorder, study = _search(tmp_path, {5: 2})
    assert inner.ticks == 6 and store.saved == {}
    _stopped_before_start(study)


def test_a_resumed_search_after_the_first_ctrl_c_uses_the_kept_backbone(tmp_path: Path) -> None:
    _inner, store, _recorder, _study = _search(tmp_path, {3: 1})
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, WARM_SPACE))
    resumed = PretrainingPool({})
    run_search(study, space, 3, WarmStartPool(resumed, store, lambda _: None))
    assert resumed.pretrained == [] and resumed.ticks == 0  # the backbone kept at the Ctrl-C
    assert_consistent(study, 3)


def test_stop_requests_report_their_level_only_while_active() -> None:
    assert requested_level() == 0
    with StopRequests() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.level == requested_level() == 1
        with StopRequests() as inner:  # the innermost one has the process's handler
            os.kill(os.getpid(), signal.SIGINT)
            assert inner.level == requested_level() == 1 and stop.level == 1
        assert requested_level() == 1
    assert requested_level() == 0


def test_seed_reruns_stopped_while_a_seed_backbone_trains_give_their_claim_back(tmp_path: Path) -> None:
    study, space = make_study(sqlite(tmp_path), write_space(tmp_path, WARM_SPACE))
    store = MemoryStore()
    run_search(study, space, 3, WarmStartPool(PretrainingPool({}), store, lambda _: None))
    assert len(store.saved) == 1  # seed 0's backbone
    inner = PretrainingPool({3: 2})  # seed 1's backbone is stopped at its 4th keep-alive
    policy = Racing(max_seeds=2, first_seed=0)
    with pytest.raises(Interrupted, match=r"0 seed re-run\(s\) finished and are kept"):
        run_seed_policy(study, space, WarmStartPool(inner, store, lambda _: None), policy)
    assert inner.ticks == 4 and inner.pretrained == [] and len(store.saved) == 1
    assert inner.trained == []
    with sqlite3.connect(tmp_path / "study.db") as conn:  # no seed left claimed by the stopped run
        assert conn.execute("SELECT COUNT(*) FROM nas_attn_seed_runs WHERE state = 'running'").fetchone() == (
            0,
        )
