"""Proxy training, measurement and evaluate(); the TrialRunner that Ray actors wrap."""

from nas_attn.worker.config import LatencyConfig, ProxyConfig
from nas_attn.worker.evaluate import OBJECTIVE_NAMES, TrialResult, evaluate
from nas_attn.worker.latency import LatencyComparison, LatencyResult, measure_latency, measure_latency_ratio
from nas_attn.worker.measure import count_macs, count_params
from nas_attn.worker.memory import PeakMemory
from nas_attn.worker.proxy_data import load_proxy_data, proxy_data_key, resolve_proxy_data
from nas_attn.worker.request import TrainRequest
from nas_attn.worker.runner import TrialRunner
from nas_attn.worker.trainer import TrainResult, train_proxy

__all__ = [
    "OBJECTIVE_NAMES",
    "LatencyComparison",
    "LatencyConfig",
    "LatencyResult",
    "PeakMemory",
    "ProxyConfig",
    "TrainRequest",
    "TrainResult",
    "TrialResult",
    "TrialRunner",
    "count_macs",
    "count_params",
    "evaluate",
    "load_proxy_data",
    "measure_latency",
    "measure_latency_ratio",
    "proxy_data_key",
    "resolve_proxy_data",
    "train_proxy",
]
