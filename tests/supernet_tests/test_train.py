"""Supernet training: unsampled candidates take no step, resume continues exactly, milestones, scores."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from support.supernet import IMAGE_SIZE, make_space

from nas_attn.data import ProxyData, load_dataset, take_subsets
from nas_attn.exceptions import NasAttnError
from nas_attn.supernet import (
    PathIndices,
    SamplerState,
    ScoringSet,
    Supernet,
    SupernetTrainConfig,
    extract,
    load_checkpoint,
    score,
    train_supernet,
)
from nas_attn.worker.augment import BatchTransform

STAGES = {
    "layer1": {"module": ["none", "se"], "reduction": [4]},
    "layer3": {"module": ["eca", "gc"], "reduction": [8]},
}


@pytest.fixture(scope="module")
def data() -> ProxyData:
    return take_subsets(load_dataset("digits", IMAGE_SIZE, 0), 16, 20, 0)


@pytest.fixture(autouse=True)
def deterministic() -> Iterator[None]:
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)


def config(**update: object) -> SupernetTrainConfig:
    space = make_space(STAGES, batch_size=8)
    return SupernetTrainConfig.model_validate({"proxy": space.proxy, "epochs": 2, **update})


def fresh() -> Supernet:
    return Supernet(make_space(STAGES), seed=0)


class FixedPaths:
    """Always the same paths: the candidates they leave out are never sampled."""

    def __init__(self, paths: list[PathIndices]) -> None:
        self.paths = paths

    def step(self) -> list[PathIndices]:
        return list(self.paths)

    def state(self) -> SamplerState:
        return SamplerState("fixed", torch.zeros(1))

    def restore(self, state: SamplerState) -> None:
        pass


def test_candidates_no_path_samples_keep_their_weights_bit_for_bit(data: ProxyData) -> None:
    net = fresh()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cfg = config(epochs=1)  # momentum 0.9, weight decay 5e-4: both would move a stale parameter
    assert cfg.proxy.momentum > 0 and cfg.proxy.weight_decay > 0
    result = train_supernet(net, data, cfg, sampler=FixedPaths([(0, 0), (1, 0)]))  # gc in layer3 never
    assert result.steps == 2 and len(result.loss_curve) == 2
    after = net.state_dict()
    never = [k for k in after if k.startswith("slots.layer3.candidates.1.")]
    trained = [k for k in after if k.startswith("slots.layer1.candidates.1.") and k.endswith("weight")]
    assert len(never) > 10 and all(torch.equal(before[k], after[k]) for k in never)
    assert trained and all(not torch.equal(before[k], after[k]) for k in trained)
    assert not torch.equal(before["net.conv1.weight"], after["net.conv1.weight"])


@pytest.mark.slow  # 5-10 s on 2 shared cores: three short runs and five 90 MB checkpoints
def test_a_resumed_run_ends_with_exactly_the_weights_of_an_uninterrupted_one(
    data: ProxyData, tmp_path: Path
) -> None:
    cfg = config()
    whole = fresh()
    full = train_supernet(whole, data, cfg)
    assert full.steps == full.total_steps == 4
    interrupted = train_supernet(fresh(), data, cfg, checkpoint_dir=tmp_path / "cut", stop_after=3)
    assert interrupted.steps == 3 and not interrupted.finished
    assert interrupted.checkpoint == tmp_path / "cut" / "resume.pt"
    assert load_checkpoint(interrupted.checkpoint).step == 3
    resumed_net = fresh()
    resumed = train_supernet(resumed_net, data, cfg, checkpoint_dir=tmp_path / "cut", resume=True)
    assert resumed.steps == 4 and resumed.loss_curve == full.loss_curve
    assert resumed.loss_curve[:3] == interrupted.loss_curve
    expected, got = whole.state_dict(), resumed_net.state_dict()
    assert list(got) == list(expected)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    with pytest.raises(NasAttnError, match="another supernet run"):
        train_supernet(fresh(), data, config(epochs=3), checkpoint_dir=tmp_path / "cut", resume=True)


@pytest.mark.slow  # 5-8 s on 2 shared cores: six 90 MB checkpoints
def test_milestone_snapshots_at_fractions_of_the_configured_epochs(data: ProxyData, tmp_path: Path) -> None:
    cfg = config(epochs=1, milestones=[2, 0.25, 0.5, 1], sampler="uniform")  # 2 steps per epoch
    assert cfg.milestones == (0.25, 0.5, 1.0, 2.0)
    result = train_supernet(fresh(), data, cfg, checkpoint_dir=tmp_path)
    assert result.total_steps == result.steps == 4  # the run lasts 2x the configured epochs
    assert {m: p.name for m, p in result.milestones.items()} == {
        0.25: "supernet-0.25x.pt",
        0.5: "supernet-0.5x.pt",
        1.0: "supernet-1x.pt",
        2.0: "supernet-2x.pt",
    }
    assert [load_checkpoint(p).step for p in result.milestones.values()] == [1, 1, 2, 4]


def test_scores_are_finite_repeatable_and_read_refitted_statistics_only(data: ProxyData) -> None:
    net = fresh()
    train_supernet(net, data, config(epochs=1))
    fixed = ScoringSet.from_data(data, refit=16, seed=3)
    transform = BatchTransform(data.mean, data.std, torch.device("cpu"))
    refit, val = fixed.refit_images, fixed.val_images
    assert torch.equal(val, transform.normalize(data.val_images)) and len(refit) == 16
    assert not torch.equal(refit, transform.normalize(data.train_images))  # shuffled
    assert torch.equal(refit.sort(dim=0).values, transform.normalize(data.train_images).sort(dim=0).values)
    first = score(net, (1, 1), refit, val, data.val_labels, batch_size=8)
    assert math.isfinite(first.cross_entropy) and 0 <= first.accuracy <= 1
    with torch.no_grad():  # spoil the running statistics: re-fitting must not read them
        for buffer_name, buffer in net.named_buffers():
            if buffer_name.endswith("running_var"):
                buffer.fill_(1e4)
    assert score(net, (1, 1), refit, val, data.val_labels, batch_size=8) == first
    model = extract(net, (1, 1)).eval()  # the extracted network carries the re-fitted statistics
    with torch.no_grad():
        loss = F.cross_entropy(model(val), data.val_labels).item()
    assert loss == pytest.approx(first.cross_entropy, rel=1e-5)


def test_config_checks_its_milestones_and_budget() -> None:
    with pytest.raises(ValueError, match="milestones"):
        config(milestones=[0.5, 0])
    cfg = config(epochs=3, milestones=[0.25, 1.5])
    assert cfg.total_steps(16) == round(2 * 3 * 1.5)  # 2 steps per epoch at batch 8
    assert cfg.milestone_steps(16) == {0.25: 2, 1.5: 9}
    assert config(epochs=3).total_steps(17) == 9


def test_foreign_or_missing_checkpoints_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NasAttnError, match="not found"):
        load_checkpoint(tmp_path / "resume.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(NasAttnError, match="cannot read"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"format": 99}, tmp_path / "other.pt")
    with pytest.raises(NasAttnError, match="not a supernet checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
