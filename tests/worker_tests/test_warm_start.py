"""proxy.warm_start in the worker: the stored backbone is what a placement starts from, and only that."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from nas_attn import NasAttnError
from nas_attn.backbones import ArchConfig, build_model
from nas_attn.worker import LatencyConfig, ProxyConfig, TrialRunner, evaluate, load_proxy_data
from nas_attn.worker.config import WarmStart
from nas_attn.worker.warm_start import WarmBackbone, pretrain_backbone, start_from, warm_start_key

PROXY = ProxyConfig(
    image_size=8,
    epochs=1,
    batch_size=16,
    lr=0.05,
    crop_padding=1,
    train_subset=512,
    val_subset=200,
    warm_start=WarmStart(epochs=2),
)
LATENCY = LatencyConfig(warmup=1, repeats=3)
SE = ArchConfig.from_dict({"image_size": 8, "stages": {f"layer{i}": {"module": "se"} for i in range(1, 5)}})
PLAIN = SE.plain()


def _backbone_of(model: torch.nn.Module, key: str) -> WarmBackbone:
    return WarmBackbone(key, {k: v.clone() for k, v in model.state_dict().items()}, 0.5, 1.0)


def test_the_key_pairs_placements_and_tells_seeds_and_pretraining_apart() -> None:
    key = warm_start_key(SE, PROXY)
    assert warm_start_key(PLAIN, PROXY) == key  # every placement of a seed starts from one backbone
    assert warm_start_key(SE, PROXY.model_copy(update={"epochs": 5})) == key  # the fine-tune's budget
    assert warm_start_key(SE, PROXY.model_copy(update={"train_seed": 1})) != key
    assert warm_start_key(SE, PROXY.model_copy(update={"warm_start": WarmStart(epochs=4)})) != key
    assert warm_start_key(SE, PROXY.model_copy(update={"lr": 0.2})) != key
    assert warm_start_key(SE.model_copy(update={"image_size": 16}), PROXY) != key


def test_start_from_copies_every_backbone_tensor_and_leaves_attention_as_built() -> None:
    donor = build_model(PLAIN, num_classes=10, seed=7)
    backbone = _backbone_of(donor, "k")
    built = build_model(SE, num_classes=10, seed=0)
    fresh = {k: v.clone() for k, v in built.state_dict().items()}
    assert start_from(built, backbone) == len(fresh) - len(backbone.state) > 0
    after = built.state_dict()
    for name, tensor in backbone.state.items():
        assert torch.equal(after[name], tensor)
    attention = [k for k in after if k not in backbone.state]
    assert attention and all(torch.equal(after[k], fresh[k]) for k in attention)
    assert any(not torch.equal(fresh[k], backbone.state[k]) for k in backbone.state)  # it did change


def test_start_from_refuses_a_backbone_of_another_network() -> None:
    other = build_model(ArchConfig.from_dict({"image_size": 8, "backbone": "resnet34"}), num_classes=10)
    with pytest.raises(NasAttnError, match="does not fit this network"):
        start_from(build_model(SE, num_classes=10), _backbone_of(other, "k"))


def test_a_backbone_travels_as_safetensors_bytes_and_garbage_is_refused() -> None:
    backbone = _backbone_of(build_model(PLAIN, num_classes=10, seed=0), "abc")
    again = WarmBackbone.from_bytes(backbone.to_bytes())
    assert (again.key, again.accuracy, again.train_seconds) == ("abc", 0.5, 1.0)
    assert all(torch.equal(again.state[k], v) for k, v in backbone.state.items())
    for junk in (b"", b"\x00" * 8, b"not safetensors at all", backbone.to_bytes()[:100]):
        with pytest.raises(NasAttnError, match="not a readable warm-start backbone"):
            WarmBackbone.from_bytes(junk)


@pytest.mark.slow
def test_a_warm_started_placement_starts_from_the_backbone_it_is_given() -> None:
    data = load_proxy_data(PROXY)
    cpu = torch.device("cpu")
    backbone = pretrain_backbone(PLAIN, PROXY, data, cpu)
    assert backbone.key == warm_start_key(PLAIN, PROXY) and backbone.accuracy > 0.3
    # A fine-tune with a vanishing learning rate leaves the weights where they started (only the
    # BatchNorm statistics move): the plain backbone keeps about its pretrained accuracy, which the
    # same run from scratch is far from.
    still = PROXY.model_copy(update={"lr": 1e-12})
    warm = evaluate(
        PLAIN, still, LATENCY, data, cpu, warm=replace(backbone, key=warm_start_key(PLAIN, still))
    )
    cold = evaluate(PLAIN, still.model_copy(update={"warm_start": None}), LATENCY, data, cpu)
    assert warm.warm_start_key == warm_start_key(PLAIN, still) and cold.warm_start_key == ""
    assert warm.accuracy == pytest.approx(backbone.accuracy, abs=0.1)
    assert cold.accuracy < backbone.accuracy - 0.2 and cold.accuracy < warm.accuracy - 0.2
    with pytest.raises(NasAttnError, match="no warm-start backbone was given"):
        evaluate(SE, PROXY, LATENCY, data, cpu)
    with pytest.raises(NasAttnError, match="is not the one this trial starts from"):
        evaluate(SE, PROXY.model_copy(update={"train_seed": 1}), LATENCY, data, cpu, warm=backbone)


@pytest.mark.slow
def test_a_runner_given_the_backbone_never_trains_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    wire = {"arch": SE.to_dict(), "proxy": PROXY.model_dump(mode="json"), "latency": LATENCY.model_dump()}
    trained = TrialRunner("cpu", threads=1).pretrain(**wire)
    assert trained["status"] == "ok"

    def refuse(*_args: object) -> WarmBackbone:
        raise AssertionError("the runner trained a backbone it was given")

    monkeypatch.setattr("nas_attn.worker.runner.pretrain_backbone", refuse)
    runner = TrialRunner("cpu", threads=1)
    assert runner.set_backbone(trained["backbone"]) == warm_start_key(SE, PROXY)
    reply = runner.run(**wire)
    assert reply["status"] == "ok" and reply["result"]["warm_start_key"] == warm_start_key(SE, PROXY)
    other_seed = {**wire, "proxy": PROXY.model_copy(update={"train_seed": 3}).model_dump(mode="json")}
    with pytest.raises(AssertionError, match="trained a backbone it was given"):
        runner.run(**other_seed)  # another seed's backbone was not given: it would be trained
