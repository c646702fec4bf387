"""TrialRunner: the long-lived worker that keeps proxy data on its device across trials.

Plain Python so it is testable without Ray; the search wraps it with ``ray.remote``. Data comes
either from the runner's own files (loaded on first use per :func:`proxy_data_key`) or from the
driver through :meth:`TrialRunner.set_data` (e.g. a ``ray.put`` ObjectRef), after which trials
with that proxy config run without the dataset's files on this node.
"""

from __future__ import annotations

from typing import Any

import torch
from typing_extensions import Unpack

from nas_attn.backbones import ArchConfig
from nas_attn.data import ProxyData
from nas_attn.exceptions import NasAttnError
from nas_attn.worker.config import SKIP_FILE_CHECKS, Constraint, LatencyConfig, ProxyConfig
from nas_attn.worker.device import resolve_device
from nas_attn.worker.evaluate import evaluate
from nas_attn.worker.proxy_data import (
    ProxyKey,
    check_matches,
    load_proxy_data,
    proxy_data_key,
    resolve_proxy_data,
)
from nas_attn.worker.request import WireRequest
from nas_attn.worker.warm_start import WarmBackbone, pretrain_backbone, warm_start_key


def _proxy_config(proxy: ProxyConfig | dict[str, Any]) -> ProxyConfig:
    if isinstance(proxy, ProxyConfig):
        return proxy
    return ProxyConfig.model_validate(proxy, context=SKIP_FILE_CHECKS)


class TrialRunner:
    """Runs trials one at a time; proxy data is loaded or received once per key and kept."""

    def __init__(self, device: str = "auto", threads: int | None = None) -> None:
        if threads is not None:
            torch.set_num_threads(max(1, threads))
        self.device = resolve_device(device)
        self._data: dict[ProxyKey, ProxyData] = {}
        self._backbones: dict[str, WarmBackbone] = {}

    def set_data(self, proxy: ProxyConfig | dict[str, Any], data: Any) -> str:
        """Keep ``data`` (ProxyData or a Ray ObjectRef to it) for trials run with ``proxy``.

        The driver ships ``load_proxy_data(proxy)`` once, e.g.
        ``ref = ray.put(load_proxy_data(space.proxy))`` then
        ``actor.set_data.remote(space.proxy.model_dump(mode="json"), ref)`` for each actor.
        Returns a short description of what is now held.
        """
        cfg = _proxy_config(proxy)
        held = check_matches(resolve_proxy_data(data), cfg).to(self.device)
        self._data[proxy_data_key(cfg)] = held
        return f"{held.name}: {len(held.train_labels)} train / {len(held.val_labels)} val on {self.device}"

    def data_for(self, proxy: ProxyConfig) -> ProxyData:
        """The proxy data for ``proxy``: held already, or loaded from files now and kept."""
        key = proxy_data_key(proxy)
        if key not in self._data:
            self._data[key] = load_proxy_data(proxy).to(self.device)
        return self._data[key]

    def set_backbone(self, data: bytes) -> str:
        """Keep a warm-start backbone (its safetensors bytes; an actor handed a ``ray.put``
        reference receives the bytes) for the trials that start from it; returns its key."""
        backbone = WarmBackbone.from_bytes(data)
        self._backbones[backbone.key] = backbone
        return backbone.key

    def backbone_for(self, arch: ArchConfig, proxy: ProxyConfig) -> WarmBackbone:
        """The warm-start backbone ``arch`` starts from under ``proxy``: held, or trained now and kept
        (a search ships each one to every worker first, so it is trained once per study)."""
        key = warm_start_key(arch, proxy)
        if key not in self._backbones:
            self._backbones[key] = pretrain_backbone(arch, proxy, self.data_for(proxy), self.device)
        return self._backbones[key]

    def pretrain(self, **request: Unpack[WireRequest]) -> dict[str, Any]:
        """Train (or take the held) warm-start backbone of ``request``: ``{"status": "ok",
        "backbone": <safetensors bytes>}`` or ``{"status": "failed", "reason": ...}``."""
        try:
            proxy_cfg = _proxy_config(request["proxy"])
            backbone = self.backbone_for(ArchConfig.from_dict(request["arch"]), proxy_cfg)
        except NasAttnError as exc:
            return {"status": "failed", "reason": str(exc)}
        return {"status": "ok", "backbone": backbone.to_bytes()}

    def run(self, **request: Unpack[WireRequest]) -> dict[str, Any]:
        """Evaluate one placement (untrained if it breaks one of ``request``'s constraints).

        Returns ``{"status": "ok", "result": {...}}`` or
        ``{"status": "failed", "reason": "..."}`` for problems of the trial itself (bad config,
        divergence, missing data); anything else propagates so the driver sees the worker as
        broken."""
        try:
            proxy_cfg = _proxy_config(request["proxy"])
            arch = ArchConfig.from_dict(request["arch"])
            warm = self.backbone_for(arch, proxy_cfg) if proxy_cfg.warm_start is not None else None
            result = evaluate(
                arch,
                proxy_cfg,
                LatencyConfig.model_validate(request["latency"]),
                self.data_for(proxy_cfg),
                self.device,
                [Constraint.model_validate(c) for c in request.get("constraints") or []],
                warm,
            )
        except NasAttnError as exc:
            return {"status": "failed", "reason": str(exc)}
        return {"status": "ok", "result": result.to_dict()}
