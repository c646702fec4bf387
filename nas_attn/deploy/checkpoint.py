"""The ``nas-attn train`` checkpoint format: its files, how they are written and read back.

A run folder holds ``last.pt`` (everything a resumed run needs: :data:`CHECKPOINT_KEYS`, the
arch and its digest, the class count and the settings' identity) and ``best.pt`` (the best
epoch's weights, the arch and the class count). Both hold only tensors and plain values and are
read with ``weights_only=True``, by :func:`read_resume_state` (``nas-attn train`` resuming) and
:func:`load_trained` (a checkpoint into the arch's network, for export), each refusing a file
that is not one with a line that says what to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas_attn.backbones import ArchConfig, build_model
from nas_attn.exceptions import NasAttnError
from nas_attn.outputs import make_output_dir, write_atomic_with

CHECKPOINT = "last.pt"
BEST = "best.pt"
CHECKPOINT_KEYS = ("model", "optimizer", "generator", "torch_rng", "epoch", "history", "best")
_TRAIN_RUN = "pass the best.pt or last.pt of a nas-attn train run"


def save_atomic(payload: dict[str, Any], path: Path) -> None:
    """Write a checkpoint atomically (its folder is created with the first one: a refused run
    leaves nothing)."""
    make_output_dir(path.parent)
    write_atomic_with(path, lambda tmp: torch.save(payload, tmp))


class _Unreadable(Exception):
    """torch refused the file; the message is the first line of its error."""


def _load(path: Path) -> Any:
    """What a checkpoint file holds, on CPU, tensors and plain values only."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise _Unreadable(str(exc).splitlines()[0]) from None


def read_resume_state(path: Path, arch: ArchConfig, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """``last.pt`` of a run of ``arch`` with training ``settings`` (their identity), or None when
    there is none yet; a file of another run, or no checkpoint at all, is refused."""
    if not path.is_file():
        return None
    try:
        state = _load(path)
    except _Unreadable as exc:
        raise NasAttnError(f"cannot read checkpoint {path}: {exc}; delete it to start over") from None
    if not isinstance(state, dict) or any(k not in state for k in CHECKPOINT_KEYS):
        raise NasAttnError(
            f"checkpoint {path} is not a nas-attn training checkpoint (wrong type or missing entries); "
            "delete it or use another --out directory to start over"
        )
    if state.get("arch_digest") != arch.digest() or state.get("settings") != settings:
        raise NasAttnError(
            f"checkpoint {path} was written for another arch or training settings; "
            "use another --out directory (or delete it) to start a new run"
        )
    return state


def _read_trained(path: Path) -> dict[str, Any]:
    """``best.pt`` or ``last.pt``: at least a ``model`` state dict."""
    if not path.is_file():
        raise NasAttnError(f"checkpoint not found: {path}; {_TRAIN_RUN}")
    try:
        state = _load(path)
    except _Unreadable as exc:
        raise NasAttnError(
            f"{path} is not a nas-attn train checkpoint ({str(exc)[:120]}); {_TRAIN_RUN}"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise NasAttnError(f"{path} is not a nas-attn train checkpoint (no 'model' state dict); {_TRAIN_RUN}")
    return state


def _network_identity(arch: ArchConfig) -> dict[str, Any]:
    """What must match between a checkpoint and an arch: everything but the class count and the
    backbone weights it started from (the trained weights replace those)."""
    canon = arch.canonical()
    canon.pop("num_classes")
    canon.pop("backbone_weights", None)
    return canon


def _differences(ours: dict[str, Any], theirs: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}: {_short(b)} in the checkpoint, {_short(a)} in the arch")
    return found


def _short(value: Any) -> str:
    if value is None:
        return "absent"
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)


def _classifier_key(model: nn.Module) -> str | None:
    """State-dict key of the classifier weight (its first dim is the class count)."""
    getter = getattr(model, "get_classifier", None)
    head = getter() if callable(getter) else None
    for name, module in model.named_modules():
        if module is head and isinstance(getattr(module, "weight", None), torch.Tensor):
            return f"{name}.weight"
    return None


def _check_arch(path: Path, state: dict[str, Any], arch: ArchConfig) -> None:
    if "arch" in state:
        trained = ArchConfig.from_dict(state["arch"])
        diffs = _differences(_network_identity(arch), _network_identity(trained))
        if diffs:
            raise NasAttnError(
                f"checkpoint {path} was trained for another arch ({'; '.join(diffs[:3])}); "
                "pass the arch YAML the run was trained with"
            )
    elif state.get("arch_digest") not in {arch.digest(), None}:
        raise NasAttnError(
            f"checkpoint {path} was trained for another arch (digest {str(state['arch_digest'])[:12]}, "
            f"the arch's is {arch.digest()[:12]}); pass the arch YAML the run was trained with"
        )


def load_trained(arch: ArchConfig | str | Path, checkpoint: str | Path) -> nn.Module:
    """The network of ``arch`` with the trained weights of ``checkpoint``, in eval mode on CPU."""
    cfg = ArchConfig.coerce(arch).model_copy(update={"backbone_weights": None})
    path = Path(checkpoint)
    state = _read_trained(path)
    _check_arch(path, state, cfg)
    model = build_model(cfg)
    weights: dict[str, Any] = state["model"]
    head = _classifier_key(model)
    classes = state.get("num_classes")
    if classes is None and head is not None and isinstance(weights.get(head), torch.Tensor):
        classes = int(weights[head].shape[0])
    if classes is not None and classes != cfg.num_classes:
        raise NasAttnError(
            f"checkpoint {path} has {classes} classes but the arch says num_classes: {cfg.num_classes}; "
            f"set num_classes: {classes} in the arch YAML (the run was trained on a {classes}-class dataset)"
        )
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensor(s), e.g. {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected, e.g. {', '.join(unexpected[:3])}")
        raise NasAttnError(
            f"checkpoint {path} does not fit the arch's network ({'; '.join(parts)}); "
            "pass the arch YAML the run was trained with"
        )
    shapes = [k for k, v in expected.items() if tuple(weights[k].shape) != tuple(v.shape)]
    if shapes:
        key = shapes[0]
        raise NasAttnError(
            f"checkpoint {path} does not fit the arch's network ({len(shapes)} tensor(s) differ in shape, "
            f"e.g. {key}: {tuple(weights[key].shape)} vs {tuple(expected[key].shape)}); "
            "pass the arch YAML the run was trained with"
        )
    model.load_state_dict(weights)
    return model.eval()
