"""Deployment files of a network: ONNX, TorchScript and safetensors.

:func:`export_onnx` / :func:`export_torchscript` write an arch's network (fresh weights unless a
model is given). For a trained one, :func:`export_trained` loads a ``nas-attn train`` checkpoint
(:func:`~nas_attn.deploy.checkpoint.load_trained`) and the ``write_*`` functions check what they
wrote: the ONNX graph runs in onnxruntime and the TorchScript module is loaded back, each on the
same input as the PyTorch model, before they are reported written; :func:`load_safetensors`
rebuilds a network from a written ``.safetensors`` file alone (its metadata carries the arch).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nas_attn.backbones import ArchConfig, build_model
from nas_attn.deploy.checkpoint import load_trained
from nas_attn.exceptions import NasAttnError
from nas_attn.outputs import write_atomic_with

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


def _example_input(arch: ArchConfig) -> torch.Tensor:
    return torch.randn(1, 3, arch.image_size, arch.image_size)


def export_onnx(arch: ArchConfig, path: str | Path, model: nn.Module | None = None, opset: int = 18) -> Path:
    """Write ``arch`` (fresh weights unless ``model`` is given) as ONNX with a dynamic batch axis."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        raise NasAttnError("ONNX export needs the 'onnx' package: pip install 'nas-attn[export]'") from None
    model = (model or build_model(arch)).eval()
    path = Path(path)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (FutureWarning, DeprecationWarning))
            torch.onnx.export(
                model,
                (_example_input(arch),),
                str(tmp),
                input_names=["images"],
                output_names=["logits"],
                dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )

    try:
        write_atomic_with(path, write, flag="--onnx")
    except NasAttnError:
        raise
    except Exception as exc:
        raise NasAttnError(f"ONNX export failed: {str(exc).splitlines()[0]}") from None
    return path


def export_torchscript(arch: ArchConfig, path: str | Path, model: nn.Module | None = None) -> Path:
    """Write ``arch`` as a traced TorchScript module."""
    model = (model or build_model(arch)).eval()
    path = Path(path)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream, still loadable
        traced = torch.jit.trace(model, (_example_input(arch),))
    write_atomic_with(path, lambda tmp: traced.save(str(tmp)), flag="--torchscript")
    return path


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
