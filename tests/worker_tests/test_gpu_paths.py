"""The CUDA code paths (bf16 autocast, channels_last, CUDA events, allocator peak); skipped
without a GPU (see conftest.py)."""

import pytest
import torch

from nas_attn import ArchConfig, build_model
from nas_attn.data import load_dataset, take_subsets
from nas_attn.worker import (
    LatencyConfig,
    PeakMemory,
    ProxyConfig,
    TrialRunner,
    measure_latency_ratio,
    train_proxy,
)
from nas_attn.worker.device import policy_for

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


def test_cuda_policy_is_bf16_channels_last_with_sparse_checks() -> None:
    policy = policy_for(CUDA)
    assert policy.autocast_dtype == torch.bfloat16 and policy.memory_format == torch.channels_last
    assert policy.check_every > 1


def test_training_on_cuda_learns_and_runs_forward_in_bf16() -> None:
    dtypes: set[torch.dtype] = set()
    model = build_model(ArchConfig(image_size=16))
    model.fc.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))
    data = take_subsets(load_dataset("synthetic", 16), 1280, 320, seed=0).to(CUDA)
    cfg = ProxyConfig(dataset="synthetic", image_size=16, epochs=2, batch_size=128, crop_padding=2)
    result = train_proxy(model, data, cfg, CUDA)
    assert result.accuracy > 0.5 and result.images_per_second > 0
    assert torch.bfloat16 in dtypes
    assert next(model.parameters()).dtype == torch.float32  # master weights stay fp32
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_cuda_divergence_is_caught_by_the_periodic_check() -> None:
    from nas_attn.exceptions import TrialDivergedError

    data = take_subsets(load_dataset("synthetic", 8), 640, 64, seed=0).to(CUDA)
    cfg = ProxyConfig(dataset="synthetic", image_size=8, epochs=1, batch_size=8, lr=1e30, warmup_fraction=0)
    with pytest.raises(TrialDivergedError, match="diverged"):
        train_proxy(build_model(ArchConfig(image_size=8)), data, cfg, CUDA)


def test_cuda_latency_ratio_and_allocator_peak() -> None:
    model = build_model(ArchConfig(image_size=32)).to(CUDA)
    result = measure_latency_ratio(model, model, 32, CUDA, warmup=5, repeats=20)
    assert result.model.median_ms > 0 and 0.5 < result.ratio < 2.0
    with PeakMemory(CUDA) as peak:
        block = torch.empty(64 * 1024 * 1024, dtype=torch.uint8, device=CUDA)
        del block
    assert peak.source == "cuda_allocator" and peak.megabytes >= 64


def test_runner_on_cuda_reports_a_gpu_trial() -> None:
    runner = TrialRunner("cuda")
    proxy = ProxyConfig(dataset="synthetic", image_size=16, epochs=1, batch_size=128, train_subset=512)
    reply = runner.run(
        arch={"image_size": 16},
        proxy=proxy.model_dump(),
        latency=LatencyConfig(warmup=2, repeats=5).model_dump(),
    )
    assert reply["status"] == "ok"
    assert reply["result"]["peak_memory_source"] == "cuda_allocator"
