"""A ``nas-attn train`` checkpoint to deployment formats: ONNX, TorchScript, safetensors.

:func:`load_trained` rebuilds the arch YAML's network and loads a checkpoint's weights into it,
refusing (one line, naming what differs) a file that is not a checkpoint, or one trained for
another placement, class count or set of tensors. The writers check what they wrote: the ONNX
graph runs in onnxruntime and the TorchScript module is loaded back, each on the same input as
the PyTorch model, before they are reported written; :func:`load_safetensors` rebuilds a network
from a written ``.safetensors`` file alone (its metadata carries the arch).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas_attn.backbones import ArchConfig, build_model
from nas_attn.exceptions import NasAttnError
from nas_attn.export import export_onnx, export_torchscript

TOLERANCE = 1e-4  # max abs difference allowed between an exported graph and PyTorch (per unit logit)
SAFETENSORS_FORMAT = "nas-attn"


@dataclass(frozen=True)
class Written:
    """One deployment file and the largest output difference against PyTorch it was checked at."""

    kind: str
    path: Path
    max_abs_diff: float

    def line(self) -> str:
        return f"{self.kind} -> {self.path} (max abs diff vs PyTorch {self.max_abs_diff:.2e})"


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


def _read_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise NasAttnError(
            f"checkpoint not found: {path}; pass the best.pt or last.pt of a nas-attn train run"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise NasAttnError(
            f"{path} is not a nas-attn train checkpoint ({str(exc).splitlines()[0][:120]}); "
            "pass the best.pt or last.pt of a nas-attn train run"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise NasAttnError(
            f"{path} is not a nas-attn train checkpoint (no 'model' state dict); "
            "pass the best.pt or last.pt of a nas-attn train run"
        )
    return state


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
    state = _read_checkpoint(path)
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


def _probe(arch: ArchConfig, batch: int = 2) -> torch.Tensor:
    """A fixed input (same every call) the exported file and PyTorch are compared on."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch, 3, arch.image_size, arch.image_size, generator=gen)


def _reference(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def _check(kind: str, path: Path, got: torch.Tensor, expected: torch.Tensor) -> Written:
    diff = float((got - expected).abs().max())
    limit = TOLERANCE * max(1.0, float(expected.abs().max()))
    if not diff <= limit:
        path.unlink(missing_ok=True)
        raise NasAttnError(
            f"{kind} output differs from PyTorch by {diff:.3g} (more than {limit:.1g}); {path} was removed. "
            "Report this with the arch YAML"
        )
    return Written(kind, path, diff)


def write_onnx(model: nn.Module, arch: ArchConfig, path: str | Path) -> Written:
    """Export to ONNX, run it in onnxruntime on the probe input and compare with PyTorch."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise NasAttnError("checking ONNX needs onnxruntime: pip install 'nas-attn[export]'") from None
    out = export_onnx(arch, path, model=model)
    x = _probe(arch)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"images": x.numpy()})
    return _check("ONNX", out, torch.from_numpy(got), _reference(model, x))


def write_torchscript(model: nn.Module, arch: ArchConfig, path: str | Path) -> Written:
    """Trace to TorchScript, load the file back and compare with PyTorch."""
    out = export_torchscript(arch, path, model=model)
    x = _probe(arch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(out), map_location="cpu")
    with torch.no_grad():
        got = loaded(x)
    return _check("TorchScript", out, got, _reference(model, x))


def write_safetensors(model: nn.Module, arch: ArchConfig, path: str | Path) -> Written:
    """The state dict as safetensors, the arch in its metadata; read back and compared."""
    from safetensors.torch import save_file

    out = Path(path)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {
        "format": SAFETENSORS_FORMAT,
        "arch": json.dumps(arch.model_copy(update={"backbone_weights": None}).to_dict(), sort_keys=True),
        "num_classes": str(arch.num_classes),
    }
    save_file(tensors, str(out), metadata=metadata)
    x = _probe(arch)
    return _check("safetensors", out, _reference(load_safetensors(out), x), _reference(model, x))


def load_safetensors(path: str | Path) -> nn.Module:
    """Rebuild the network of a ``.safetensors`` file written by nas-attn, in eval mode."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    file = Path(path)
    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:
        raise NasAttnError(f"cannot read {file} as safetensors: {str(exc).splitlines()[0]}") from None
    if metadata.get("format") != SAFETENSORS_FORMAT or "arch" not in metadata:
        raise NasAttnError(f"{file} was not written by nas-attn (no arch in its metadata)")
    model = build_model(ArchConfig.from_dict(json.loads(metadata["arch"])))
    model.load_state_dict(load_file(str(file)))
    return model.eval()


def export_trained(
    arch: ArchConfig,
    checkpoint: str | Path,
    onnx: str | Path | None = None,
    torchscript: str | Path | None = None,
    safetensors: str | Path | None = None,
) -> list[Written]:
    """Load ``checkpoint`` into ``arch``'s network and write each format asked for, checked."""
    if onnx is None and torchscript is None and safetensors is None:
        raise NasAttnError("say what to write: --onnx FILE, --torchscript FILE and/or --safetensors FILE")
    model = load_trained(arch, checkpoint)
    cfg = arch.model_copy(update={"backbone_weights": None})
    written = []
    if onnx is not None:
        written.append(write_onnx(model, cfg, onnx))
    if torchscript is not None:
        written.append(write_torchscript(model, cfg, torchscript))
    if safetensors is not None:
        written.append(write_safetensors(model, cfg, safetensors))
    return written
