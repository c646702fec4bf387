"""TrialRunner: the long-lived worker that keeps proxy data on its device across trials.

Plain Python so it is testable without Ray; the search wraps it with ``ray.remote``.
"""

from __future__ import annotations

from typing import Any

import torch

from nas_attn.backbones import ArchConfig
from nas_attn.data import ProxyData, load_dataset
from nas_attn.exceptions import NasAttnError
from nas_attn.worker.config import LatencyConfig, ProxyConfig
from nas_attn.worker.device import resolve_device
from nas_attn.worker.evaluate import evaluate


class TrialRunner:
    """Runs trials one at a time; datasets are loaded once per (name, size, seed) and cached."""

    def __init__(self, device: str = "auto", threads: int | None = None) -> None:
        if threads is not None:
            torch.set_num_threads(max(1, threads))
        self.device = resolve_device(device)
        self._data: dict[tuple[str, int, int], ProxyData] = {}

    def data_for(self, proxy: ProxyConfig) -> ProxyData:
        key = (proxy.dataset, proxy.image_size, proxy.seed)
        if key not in self._data:
            self._data[key] = load_dataset(*key).to(self.device)
        return self._data[key]

    def run(self, arch: dict[str, Any], proxy: dict[str, Any], latency: dict[str, Any]) -> dict[str, Any]:
        """Evaluate one placement. Returns ``{"status": "ok", "result": {...}}`` or
        ``{"status": "failed", "reason": "..."}`` for problems of the trial itself (bad config,
        divergence); anything else propagates so the driver sees the worker as broken."""
        try:
            proxy_cfg = ProxyConfig.model_validate(proxy)
            result = evaluate(
                ArchConfig.from_dict(arch),
                proxy_cfg,
                LatencyConfig.model_validate(latency),
                self.data_for(proxy_cfg),
                self.device,
            )
        except NasAttnError as exc:
            return {"status": "failed", "reason": str(exc)}
        return {"status": "ok", "result": result.to_dict()}

    def ping(self) -> str:
        return str(self.device)
