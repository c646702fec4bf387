"""Deployment files of a network: ONNX, TorchScript and safetensors.

:func:`export_onnx` / :func:`export_torchscript` write an arch's network (fresh weights unless a
model is given). For a trained one, :func:`export_trained` loads a ``nas-attn train`` checkpoint
(:func:`~nas_attn.deploy.checkpoint.load_trained`) and the ``write_*`` functions check what they
wrote: the ONNX graph runs in onnxruntime and the TorchScript module is loaded back, each on the
same input as the PyTorch model, before they are reported written: the check runs on the
finished temp file, so a file that fails it never replaces anything. Every file goes through
:func:`nas_attn.outputs.write_output` (a regular file atomically; a FIFO, device or ``-``
streamed). :func:`load_safetensors` (:mod:`~nas_attn.deploy.weights_file`) rebuilds a network
from a written ``.safetensors`` file, its tensors checked against the arch in its metadata.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nas_attn.backbones import ArchConfig, build_model
from nas_attn.deploy.checkpoint import load_trained
from nas_attn.deploy.weights_file import load_safetensors, safetensors_metadata
from nas_attn.exceptions import NasAttnError
from nas_attn.outputs import write_output

TOLERANCE = 1e-4  # max abs difference allowed between an exported graph and PyTorch (per unit logit)


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


Verify = Callable[[Path], object] | None


def export_onnx(
    arch: ArchConfig,
    path: str | Path,
    model: nn.Module | None = None,
    opset: int = 18,
    flag: str = "--onnx",
    inputs: Iterable[str | Path] = (),
    verify: Verify = None,
) -> Path:
    """Write ``arch`` (fresh weights unless ``model`` is given) as ONNX with a dynamic batch axis;
    ``verify`` checks the finished file before it replaces ``path`` or is streamed there."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        raise NasAttnError("ONNX export needs the 'onnx' package: pip install 'nas-attn[export]'") from None
    model = (model or build_model(arch)).eval()

    def write(tmp: Path) -> None:
        try:
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
        except (OSError, RuntimeError):  # a full disk: write_output says so
            raise
        except Exception as exc:
            raise NasAttnError(f"ONNX export failed: {str(exc).splitlines()[0]}") from None

    return write_output(path, write, inputs, flag, streams=True, verify=verify)


def export_torchscript(
    arch: ArchConfig,
    path: str | Path,
    model: nn.Module | None = None,
    flag: str = "--torchscript",
    inputs: Iterable[str | Path] = (),
    verify: Verify = None,
) -> Path:
    """Write ``arch`` as a traced TorchScript module (``verify`` as in :func:`export_onnx`)."""
    model = (model or build_model(arch)).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream, still loadable
        traced = torch.jit.trace(model, (_example_input(arch),))
    return write_output(path, lambda tmp: traced.save(str(tmp)), inputs, flag, streams=True, verify=verify)


def _probe(arch: ArchConfig, batch: int = 2) -> torch.Tensor:
    """A fixed input (same every call) the exported file and PyTorch are compared on."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch, 3, arch.image_size, arch.image_size, generator=gen)


def _reference(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


class _Checked:
    """The check of one written file: run it (``run(tmp, x)``) and compare with PyTorch."""

    def __init__(
        self, kind: str, model: nn.Module, arch: ArchConfig, run: Callable[[Path, torch.Tensor], torch.Tensor]
    ):
        self.kind, self.model, self.arch, self.run = kind, model, arch, run
        self.diff = float("nan")

    def __call__(self, tmp: Path) -> None:
        x = _probe(self.arch)
        expected = _reference(self.model, x)
        diff = float((self.run(tmp, x) - expected).abs().max())
        limit = TOLERANCE * max(1.0, float(expected.abs().max()))
        if not diff <= limit:
            raise NasAttnError(
                f"{self.kind} output differs from PyTorch by {diff:.3g} (more than {limit:.1g}); nothing was "
                "written. Report this with the arch YAML"
            )
        self.diff = diff

    def written(self, path: Path) -> Written:
        return Written(self.kind, path, self.diff)


def _run_onnx(tmp: Path, x: torch.Tensor) -> torch.Tensor:
    import onnxruntime as ort

    session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"images": x.numpy()})
    return torch.from_numpy(got)


def _run_torchscript(tmp: Path, x: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(tmp), map_location="cpu")
    with torch.no_grad():
        return loaded(x)


def write_onnx(
    model: nn.Module,
    arch: ArchConfig,
    path: str | Path,
    flag: str = "--onnx",
    inputs: Iterable[str | Path] = (),
) -> Written:
    """Export to ONNX, run it in onnxruntime on the probe input and compare with PyTorch."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise NasAttnError("checking ONNX needs onnxruntime: pip install 'nas-attn[export]'") from None
    check = _Checked("ONNX", model, arch, _run_onnx)
    return check.written(export_onnx(arch, path, model, flag=flag, inputs=inputs, verify=check))


def write_torchscript(
    model: nn.Module,
    arch: ArchConfig,
    path: str | Path,
    flag: str = "--torchscript",
    inputs: Iterable[str | Path] = (),
) -> Written:
    """Trace to TorchScript, load the file back and compare with PyTorch."""
    check = _Checked("TorchScript", model, arch, _run_torchscript)
    return check.written(export_torchscript(arch, path, model, flag=flag, inputs=inputs, verify=check))


def write_safetensors(
    model: nn.Module,
    arch: ArchConfig,
    path: str | Path,
    flag: str = "--safetensors",
    inputs: Iterable[str | Path] = (),
) -> Written:
    """The state dict as safetensors, the arch in its metadata; read back (checked) and compared."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = safetensors_metadata(arch)
    check = _Checked("safetensors", model, arch, lambda tmp, x: _reference(load_safetensors(tmp, arch), x))
    out = write_output(
        path,
        lambda tmp: save_file(tensors, str(tmp), metadata=metadata),
        inputs,
        flag,
        streams=True,
        verify=check,
    )
    return check.written(out)


_WRITERS = (("onnx", write_onnx), ("torchscript", write_torchscript), ("safetensors", write_safetensors))


def export_trained(
    arch: ArchConfig,
    checkpoint: str | Path,
    onnx: str | Path | None = None,
    torchscript: str | Path | None = None,
    safetensors: str | Path | None = None,
    flag_prefix: str = "--",
) -> list[Written]:
    """Load ``checkpoint`` into ``arch``'s network and write each format asked for, checked
    (``flag_prefix``: how the command spells the output flags, ``--`` or ``--export-``)."""
    paths = {"onnx": onnx, "torchscript": torchscript, "safetensors": safetensors}
    if all(p is None for p in paths.values()):
        raise NasAttnError("say what to write: --onnx FILE, --torchscript FILE and/or --safetensors FILE")
    model = load_trained(arch, checkpoint)
    cfg = arch.model_copy(update={"backbone_weights": None})
    return [
        write(model, cfg, path, f"{flag_prefix}{kind}", [checkpoint])
        for kind, write in _WRITERS
        if (path := paths[kind]) is not None
    ]


__all__ = [
    "Written",
    "export_onnx",
    "export_torchscript",
    "export_trained",
    "load_safetensors",
    "write_onnx",
    "write_safetensors",
    "write_torchscript",
]
