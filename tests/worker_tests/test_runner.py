from nas_attn.worker import LatencyConfig, ProxyConfig, TrialRunner

PROXY = ProxyConfig(image_size=8, epochs=1, batch_size=64).model_dump()
LATENCY = LatencyConfig(warmup=1, repeats=3).model_dump()


def test_runner_reports_all_metrics_and_caches_the_dataset() -> None:
    runner = TrialRunner("cpu", threads=1)
    arch = {"image_size": 8, "stages": {"layer2": {"module": "se", "reduction": 8}}}
    reply = runner.run(arch, PROXY, LATENCY)
    assert reply["status"] == "ok"
    result = reply["result"]
    assert 0.0 <= result["accuracy"] <= 1.0 and result["latency_ms"] > 0
    assert result["params"] > 11_000_000 and result["epochs"] == 1
    assert set(result["versions"]) == {"nas_attn", "torch", "timm"}
    data = runner.data_for(ProxyConfig.model_validate(PROXY))
    runner.run({"image_size": 8}, PROXY, LATENCY)
    assert runner.data_for(ProxyConfig.model_validate(PROXY)) is data


def test_runner_turns_trial_problems_into_failed_replies() -> None:
    runner = TrialRunner("cpu", threads=1)
    bad = runner.run(
        {"image_size": 8, "stages": {"layer1": {"module": "se", "reduction": 512}}}, PROXY, LATENCY
    )
    assert bad["status"] == "failed" and "exceeds 64 channels" in bad["reason"]
    diverged = runner.run({"image_size": 8}, {**PROXY, "lr": 1e30, "warmup_fraction": 0.0}, LATENCY)
    assert diverged["status"] == "failed" and "diverged" in diverged["reason"]
