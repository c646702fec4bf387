"""Warm start: the plain backbone trained once per training seed, every placement starting from it.

See :class:`~nas_attn.worker.config.WarmStart`. A :class:`WarmBackbone` is identified by
:func:`warm_start_key` (the plain backbone and the pretraining run, seed included), so a
placement can only start from the backbone its own request asks for. It travels and is stored as
safetensors bytes: data only, its tensors checked against the built network before use.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import torch
from torch import nn

from nas_attn.backbones import ArchConfig, build_model
from nas_attn.data import ProxyData
from nas_attn.exceptions import NasAttnError
from nas_attn.worker.config import ProxyConfig
from nas_attn.worker.trainer import train_proxy

_KEY_CHARS = 16


def warm_start_key(arch: ArchConfig, proxy: ProxyConfig) -> str:
    """What identifies the backbone ``arch`` starts from under ``proxy``: the plain backbone
    (backbone, stem, image size, classes) and the pretraining run (data, settings, epochs, seed)."""
    pretraining = proxy.pretraining().model_dump(mode="json", exclude={"train_seed", "seed"})
    payload = {
        "backbone": arch.plain().canonical(),
        "pretraining": pretraining,
        "data_seed": proxy.seed,
        "training_seed": proxy.training_seed,
    }
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:_KEY_CHARS]


@dataclass(frozen=True)
class WarmBackbone:
    """A trained plain backbone: its weights (on the CPU), and how its pretraining went."""

    key: str
    state: dict[str, torch.Tensor]
    accuracy: float
    train_seconds: float

    def to_bytes(self) -> bytes:
        """Safetensors bytes, with the key and the pretraining's figures as metadata."""
        from safetensors.torch import save

        metadata = {
            "key": self.key,
            "accuracy": repr(self.accuracy),
            "train_seconds": repr(self.train_seconds),
        }
        return save({k: v.contiguous() for k, v in self.state.items()}, metadata=metadata)

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "warm-start backbone") -> WarmBackbone:
        """The backbone in safetensors ``data``; a NasAttnError naming ``source`` if it is not one."""
        from safetensors.torch import load

        try:
            metadata = _metadata(data)
            backbone = cls(
                key=metadata["key"],
                state=load(data),
                accuracy=float(metadata["accuracy"]),
                train_seconds=float(metadata["train_seconds"]),
            )
        except Exception as exc:  # safetensors raises its own error types; any of them means unreadable
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise NasAttnError(
                f"{source} is not a readable warm-start backbone ({reason}); "
                "delete it and the search trains it again"
            ) from None
        return backbone


_MAX_HEADER = 100_000_000  # bytes; safetensors' own limit on the JSON header


def _metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of safetensors bytes (an 8-byte little-endian length, then a JSON header)."""
    length = int.from_bytes(data[:8], "little")
    if not 0 < length <= min(_MAX_HEADER, len(data) - 8):
        raise ValueError("header length out of range")
    header = json.loads(data[8 : 8 + length])
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict):
        raise ValueError("no metadata")
    return {str(k): str(v) for k, v in metadata.items()}


def pretrain_backbone(
    arch: ArchConfig, proxy: ProxyConfig, data: ProxyData, device: torch.device
) -> WarmBackbone:
    """Train ``arch``'s plain backbone (initial weights from the training seed) for
    ``proxy.warm_start.epochs`` with the proxy's data and settings."""
    plain = arch.plain()
    model = build_model(plain, num_classes=data.num_classes, seed=proxy.training_seed)
    result = train_proxy(model, data, proxy.pretraining(), device)
    state = {name: tensor.detach().to("cpu").clone() for name, tensor in model.state_dict().items()}
    return WarmBackbone(warm_start_key(arch, proxy), state, result.accuracy, result.train_seconds)


def start_from(model: nn.Module, backbone: WarmBackbone) -> int:
    """Copy every tensor of ``backbone`` into ``model``; returns how many of the model's tensors
    (its attention modules') start fresh. A NasAttnError if a tensor has no place in ``model``."""
    own = model.state_dict()
    missing = [name for name in backbone.state if name not in own]
    mismatched = [
        f"{name}: {tuple(tensor.shape)} vs {tuple(own[name].shape)}"
        for name, tensor in backbone.state.items()
        if name in own and tensor.shape != own[name].shape
    ]
    if missing or mismatched:
        problems = ([f"{name}: not in the network" for name in missing] + mismatched)[:3]
        raise NasAttnError(
            f"warm-start backbone {backbone.key} does not fit this network ({'; '.join(problems)}); "
            "it belongs to another backbone: delete it and the search trains it again"
        )
    model.load_state_dict(backbone.state, strict=False)
    return len(own) - len(backbone.state)
