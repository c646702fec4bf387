import math
from pathlib import Path

import pytest

from nas_attn import NasAttnError
from nas_attn.data import load_dataset, take_subsets
from nas_attn.worker import LatencyConfig, ProxyConfig, TrialRunner, load_proxy_data
from nas_attn.worker.evaluate import OBJECTIVE_NAMES, TrialResult

PROXY = ProxyConfig(image_size=8, epochs=1, batch_size=64, train_subset=256, val_subset=100).model_dump()
LATENCY = LatencyConfig(warmup=1, repeats=3).model_dump()


@pytest.mark.slow
def test_runner_reports_all_metrics_and_caches_the_dataset() -> None:
    runner = TrialRunner("cpu", threads=1)
    arch = {"image_size": 8, "stages": {"layer2": {"module": "se", "reduction": 8}}}
    reply = runner.run(arch=arch, proxy=PROXY, latency=LATENCY)
    assert reply["status"] == "ok"
    result = reply["result"]
    assert 0.0 <= result["accuracy"] <= 1.0 and result["latency_ms"] > 0
    assert result["params"] > 11_000_000 and result["epochs"] == 1
    assert result["baseline_latency_ms"] > 0 and result["latency_ratio"] > 0
    assert result["macs"] > 10_000_000 and result["peak_memory_mb"] > 0 and result["peak_memory_source"]
    assert result["epochs_completed"] == 1.0 and result["stopped_early"] is False
    assert set(result["versions"]) == {"nas_attn", "torch", "timm"}
    parsed = TrialResult.from_dict(result)
    assert all(math.isfinite(parsed.objective(name)) for name in OBJECTIVE_NAMES)
    data = runner.data_for(ProxyConfig.model_validate(PROXY))
    assert len(data.train_labels) == 256 and len(data.val_labels) == 100
    # the normalisation the proxy trained with (the subset's), which export writes into the arch YAML
    assert (result["input_mean"], result["input_std"]) == (list(data.mean), list(data.std))
    plain = runner.run(
        arch={"image_size": 8, "stages": {"layer1": {"module": "none"}}}, proxy=PROXY, latency=LATENCY
    )["result"]
    assert runner.data_for(ProxyConfig.model_validate(PROXY)) is data
    # the plain backbone is its own baseline: exactly 1, not a noisy reading of 1
    assert plain["latency_ratio"] == 1.0 and plain["baseline_latency_ms"] == plain["latency_ms"]
    assert plain["macs"] < result["macs"] and plain["params"] < result["params"]


def test_runner_turns_trial_problems_into_failed_replies() -> None:
    runner = TrialRunner("cpu", threads=1)
    bad = runner.run(
        arch={"image_size": 8, "stages": {"layer1": {"module": "se", "reduction": 512}}},
        proxy=PROXY,
        latency=LATENCY,
    )
    assert bad["status"] == "failed" and "exceed 64 channels; use a ratio <= 64" in bad["reason"]
    diverged = runner.run(
        arch={"image_size": 8}, proxy={**PROXY, "lr": 1e30, "warmup_fraction": 0.0}, latency=LATENCY
    )
    assert diverged["status"] == "failed" and "diverged" in diverged["reason"]


@pytest.mark.slow
def test_shipped_data_serves_a_dataset_whose_files_this_node_lacks(tmp_path: Path) -> None:
    elsewhere = {**PROXY, "dataset": f"cifar10:{tmp_path / 'on-the-driver-only'}"}
    runner = TrialRunner("cpu", threads=1)
    missing = runner.run(arch={"image_size": 8}, proxy=elsewhere, latency=LATENCY)
    assert missing["status"] == "failed" and "does not exist" in missing["reason"]
    shipped = take_subsets(load_dataset("digits", 8), 256, 100, seed=0)
    assert runner.set_data(elsewhere, shipped) == "digits: 256 train / 100 val on cpu"
    assert runner.run(arch={"image_size": 8}, proxy=elsewhere, latency=LATENCY)["status"] == "ok"


def test_shipped_data_of_another_size_is_refused() -> None:
    runner = TrialRunner("cpu", threads=1)
    with pytest.raises(NasAttnError, match="shipped data 'digits' is 16 px but proxy.image_size is 8"):
        runner.set_data(PROXY, load_dataset("digits", 16))
    with pytest.raises(NasAttnError, match="expected ProxyData or a Ray ObjectRef"):
        runner.set_data(PROXY, {"not": "data"})


@pytest.mark.ray
def test_data_ships_to_an_actor_through_the_object_store(tmp_path: Path) -> None:
    import ray

    from nas_attn.worker import resolve_proxy_data

    # "local": a private instance; without it ray.init joins the cluster that another test (in
    # another xdist worker) started with ray.cluster_utils.Cluster, which records its address
    # in /tmp/ray/ray_current_cluster
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        elsewhere = {**PROXY, "dataset": f"cifar10:{tmp_path / 'not-on-the-worker'}"}
        data = load_proxy_data(ProxyConfig.model_validate(PROXY))
        ref = ray.put(data)
        assert resolve_proxy_data(ref).name == "digits"  # a nested ref is fetched too
        actor = ray.remote(TrialRunner).options(num_cpus=1).remote("cpu", 1)
        assert ray.get(actor.set_data.remote(elsewhere, ref)) == "digits: 256 train / 100 val on cpu"
        reply = ray.get(actor.run.remote(arch={"image_size": 8}, proxy=elsewhere, latency=LATENCY))
        assert reply["status"] == "ok" and 0 <= reply["result"]["accuracy"] <= 1
    finally:
        ray.shutdown()
