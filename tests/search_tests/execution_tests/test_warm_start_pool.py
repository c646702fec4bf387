"""WarmStartPool with the study's store: one backbone per seed, trained once, kept, reused on resume."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
import torch

from nas_attn import NasAttnError
from nas_attn.backbones import ArchConfig
from nas_attn.search.execution.inprocess import InProcessPool
from nas_attn.search.execution.warm_start import WarmStartPool
from nas_attn.search.studydb.warm_backbones import StudyBackbones, stored_backbones
from nas_attn.worker import LatencyConfig, ProxyConfig, TrainRequest
from nas_attn.worker.config import WarmStart
from nas_attn.worker.warm_start import WarmBackbone, warm_start_key

PROXY = ProxyConfig(
    image_size=8, epochs=1, batch_size=64, train_subset=128, val_subset=64, warm_start=WarmStart(epochs=1)
)
LATENCY = LatencyConfig(warmup=1, repeats=3)
PLACEMENTS = [
    ArchConfig.from_dict({"image_size": 8, "stages": {"layer1": {"module": module}}})
    for module in ("none", "se", "eca")
]


class CountingPool(InProcessPool):
    """The in-process pool, counting the backbones it trains."""

    def __init__(self) -> None:
        super().__init__("cpu", threads=1)
        self.pretrained: list[int] = []

    def pretrain(self, request: TrainRequest, keep_alive: Callable[[], None] = lambda: None) -> bytes:
        self.pretrained.append(request.seed)
        return super().pretrain(request, keep_alive)


def _request(arch: ArchConfig, seed: int = 0, warm: bool = True) -> TrainRequest:
    proxy = PROXY.model_copy(update={"train_seed": seed, "warm_start": PROXY.warm_start if warm else None})
    return TrainRequest(arch=arch, proxy=proxy, latency=LATENCY)


def _run(pool: WarmStartPool, request: TrainRequest) -> dict[str, object]:
    ticket = pool.submit(request)
    [(done, outcome)] = pool.poll(0)
    assert done == ticket and outcome.kind == "ok" and outcome.result is not None
    return {"key": outcome.result.warm_start_key, "accuracy": outcome.result.accuracy}


@pytest.mark.slow
def test_one_backbone_per_seed_trained_once_stored_and_reused_on_resume(tmp_path: Path) -> None:
    study = optuna.create_study()
    notices: list[str] = []
    inner = CountingPool()
    pool = WarmStartPool(inner, StudyBackbones(study, tmp_path, notices.append), notices.append)
    first = [_run(pool, _request(arch)) for arch in PLACEMENTS]
    assert inner.pretrained == [0]  # one backbone for every placement at seed 0 (paired)
    assert {r["key"] for r in first} == {warm_start_key(PLACEMENTS[0], _request(PLACEMENTS[0]).proxy)}
    _run(pool, _request(PLACEMENTS[1], seed=1))
    assert inner.pretrained == [0, 1]  # a new seed, a new backbone
    stored = {b.seed: b for b in stored_backbones(study.user_attrs)}
    assert set(stored) == {0, 1} and all(b.epochs == 1 for b in stored.values())
    for backbone in stored.values():
        data = (tmp_path / "warm_start" / backbone.file).read_bytes()
        assert WarmBackbone.from_bytes(data).key == backbone.key
    assert any("kept with the study" in n for n in notices)

    # Resume: a fresh pool (new workers) on the same study trains nothing and starts from the same weights.
    resumed_inner = CountingPool()
    resumed = WarmStartPool(resumed_inner, StudyBackbones(study, tmp_path, notices.append), notices.append)
    again = [_run(resumed, _request(arch)) for arch in PLACEMENTS]
    assert resumed_inner.pretrained == []
    assert again == first  # same backbone, same seed: the same trainings, bit for bit


@pytest.mark.slow
def test_a_stored_backbone_that_is_gone_or_altered_is_trained_again_and_said(tmp_path: Path) -> None:
    study = optuna.create_study()
    WarmStartPool(CountingPool(), StudyBackbones(study, tmp_path, print), print).provide(
        _request(PLACEMENTS[0])
    )
    [stored] = stored_backbones(study.user_attrs)
    path = tmp_path / "warm_start" / stored.file
    path.write_bytes(path.read_bytes()[:-1] + b"\x01")
    said: list[str] = []
    inner = CountingPool()
    WarmStartPool(inner, StudyBackbones(study, tmp_path, said.append), said.append).provide(
        _request(PLACEMENTS[1])
    )
    assert inner.pretrained == [0]
    assert said and "fails its checksum" in said[0]  # the user is told why it trains again


@pytest.mark.slow
def test_from_scratch_requests_never_touch_the_store(tmp_path: Path) -> None:
    study = optuna.create_study()
    inner = CountingPool()
    pool = WarmStartPool(inner, StudyBackbones(study, tmp_path, print), print)
    assert _run(pool, _request(PLACEMENTS[1], warm=False))["key"] == ""
    assert inner.pretrained == [] and stored_backbones(study.user_attrs) == []


@pytest.mark.slow
def test_a_pretraining_that_fails_is_a_clear_error(tmp_path: Path) -> None:
    bad = _request(PLACEMENTS[0]).proxy.model_copy(update={"lr": 1e30, "warmup_fraction": 0.0})
    pool = WarmStartPool(CountingPool(), StudyBackbones(optuna.create_study(), tmp_path, print), print)
    with pytest.raises(NasAttnError, match="warm-start backbone could not be trained: training diverged"):
        pool.submit(TrainRequest(arch=PLACEMENTS[0], proxy=bad, latency=LATENCY))


class _SlowPretrainPool:
    """A pool whose backbone takes three waits to train (nothing else is asked of it)."""

    idle = 1

    def __init__(self, backbone: bytes) -> None:
        self.backbone = backbone
        self.shared: list[bytes] = []

    def pretrain(self, request: TrainRequest, keep_alive: Callable[[], None]) -> bytes:
        for _ in range(3):
            keep_alive()
        return self.backbone

    def share_backbone(self, data: bytes) -> None:
        self.shared.append(data)


def test_the_driver_keeps_beating_while_a_backbone_trains(tmp_path: Path) -> None:
    request = _request(PLACEMENTS[1])
    key = warm_start_key(request.arch, request.proxy)
    backbone = WarmBackbone(key, {"w": torch.zeros(2)}, 0.5, 1.0).to_bytes()
    inner = _SlowPretrainPool(backbone)
    pool = WarmStartPool(inner, StudyBackbones(optuna.create_study(), tmp_path, print), print)  # type: ignore[arg-type]
    beats: list[int] = []
    pool.keep_alive = lambda: beats.append(1)
    pool.provide(request)
    pool.provide(_request(PLACEMENTS[2]))  # same seed: shared already, nothing trained or sent again
    assert len(beats) == 3 and inner.shared == [backbone]
