"""Proxy training, latency measurement and evaluate(); the TrialRunner that Ray actors wrap."""

from nas_attn.worker.config import LatencyConfig, ProxyConfig
from nas_attn.worker.evaluate import OBJECTIVE_NAMES, TrialResult, evaluate
from nas_attn.worker.latency import LatencyResult, measure_latency
from nas_attn.worker.runner import TrialRunner
from nas_attn.worker.trainer import TrainResult, train_proxy

__all__ = [
    "OBJECTIVE_NAMES",
    "LatencyConfig",
    "LatencyResult",
    "ProxyConfig",
    "TrainResult",
    "TrialResult",
    "TrialRunner",
    "evaluate",
    "measure_latency",
    "train_proxy",
]
