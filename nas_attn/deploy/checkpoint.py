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
from nas_attn.deploy.tensors import check_state_dict
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
        lines = str(exc).strip().splitlines()  # an empty file: EOFError with no message
        raise _Unreadable(lines[0] if lines else f"{type(exc).__name__}, empty or cut short") from None


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
    for key, kind, what in _TRAINED_ENTRIES:
        value = state.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
            raise NasAttnError(
                f"{path} is not a nas-attn train checkpoint ('{key}' is {type(value).__name__}, not {what}); "
                f"{_TRAIN_RUN}"
            )
    return state


# optional entries of a trained checkpoint and the type each must have when present
_TRAINED_ENTRIES = (
    ("arch", dict, "a mapping"),
    ("num_classes", int, "a whole number"),
    ("arch_digest", str, "text"),
)


def _network_identity(arch: ArchConfig, with_classes: bool = False) -> dict[str, Any]:
    """What must match between trained weights and an arch: everything but the backbone weights
    it started from (the trained weights replace those) and, unless asked, the class count."""
    canon = arch.canonical()
    if not with_classes:
        canon.pop("num_classes")
    canon.pop("backbone_weights", None)
    return canon


def arch_differences(
    ours: ArchConfig, theirs: ArchConfig, where: str = "in the checkpoint", with_classes: bool = False
) -> list[str]:
    """How the network of ``theirs`` (trained weights' arch) differs from ``ours``, one line each."""
    return _differences(_network_identity(ours, with_classes), _network_identity(theirs, with_classes), where)


def _differences(ours: dict[str, Any], theirs: dict[str, Any], where: str, prefix: str = "") -> list[str]:
    found = []
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key), theirs.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, where, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}: {_short(b)} {where}, {_short(a)} in the arch")
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
    if state.get("arch") is not None:
        try:
            trained = ArchConfig.from_dict(state["arch"])
        except NasAttnError as exc:
            raise NasAttnError(
                f"{path} is not a nas-attn train checkpoint (its arch is not valid: {str(exc)[:160]}); "
                f"{_TRAIN_RUN}"
            ) from None
        diffs = arch_differences(arch, trained)
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
    fitting = check_state_dict(
        model.state_dict(), weights, f"checkpoint {path}", "pass the arch YAML the run was trained with"
    )
    model.load_state_dict(fitting)
    return model.eval()
