"""The nas-attn ``.safetensors`` file: trained weights plus, in the metadata, the arch they fit.

A weights file is data only. :func:`safetensors_metadata` writes the arch without
``backbone_weights``; :func:`load_safetensors` refuses metadata that names a file to open, is not
JSON (or is nested past what a parser can take), or is not a valid arch, and checks the tensors
against the network the arch builds (names, shapes, dtypes: everything present, nothing extra,
:func:`~nas_attn.deploy.tensors.check_state_dict`) before loading them. The metadata is not a
signature: a caller that knows the network it expects passes ``arch=`` and a file of another
network is refused with what differs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nas_attn.backbones import ArchConfig, build_model
from nas_attn.deploy.tensors import check_state_dict
from nas_attn.exceptions import NasAttnError

FORMAT = "nas-attn"
_REEXPORT = "re-export it with nas-attn export --arch ARCH.yaml --weights best.pt --safetensors FILE"


def safetensors_metadata(arch: ArchConfig) -> dict[str, str]:
    """The metadata of a weights file of ``arch``'s network (never a path to open)."""
    cfg = arch.model_copy(update={"backbone_weights": None})
    return {
        "format": FORMAT,
        "arch": json.dumps(cfg.to_dict(), sort_keys=True),
        "arch_digest": cfg.digest(),
        "num_classes": str(cfg.num_classes),
    }


def _read_metadata(file: Path) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:  # SafetensorError, OSError, a header that is not JSON
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise NasAttnError(f"cannot read {file} as safetensors: {reason}; {_REEXPORT}") from None
    return metadata


def _arch_of(file: Path, metadata: dict[str, str]) -> ArchConfig:
    """The arch the metadata carries, checked: valid JSON, a valid arch, no file to open."""
    if metadata.get("format") != FORMAT or "arch" not in metadata:
        raise NasAttnError(f"{file} was not written by nas-attn (no arch in its metadata); {_REEXPORT}")
    try:
        data: Any = json.loads(metadata["arch"])
    except (ValueError, RecursionError):
        raise NasAttnError(
            f"{file}: the arch in its metadata is not valid JSON (or nested too deep); {_REEXPORT}"
        ) from None
    if not isinstance(data, dict):
        raise NasAttnError(f"{file}: the arch in its metadata is not a mapping; {_REEXPORT}")
    if data.get("backbone_weights") is not None:
        raise NasAttnError(
            f"{file}: its metadata names a file to open (backbone_weights); a weights file is data only, "
            f"it is not opened: {_REEXPORT}"
        )
    try:
        arch = ArchConfig.from_dict(data)
    except (NasAttnError, RecursionError) as exc:
        reason = str(exc)[:200] if isinstance(exc, NasAttnError) else "nested too deep"
        raise NasAttnError(f"{file}: the arch in its metadata is not valid ({reason}); {_REEXPORT}") from None
    digest = metadata.get("arch_digest")
    if digest is not None and digest != arch.digest():
        raise NasAttnError(
            f"{file}: its metadata was edited (the arch does not match its digest); {_REEXPORT}"
        )
    if metadata.get("num_classes", str(arch.num_classes)) != str(arch.num_classes):
        raise NasAttnError(f"{file}: its metadata disagrees on num_classes; {_REEXPORT}")
    return arch


def _pin(file: Path, found: ArchConfig, expected: ArchConfig) -> None:
    """Refuse a file whose arch is another network than the caller's."""
    from nas_attn.deploy.checkpoint import arch_differences

    diffs = arch_differences(expected, found, "in the file", with_classes=True)
    if diffs:
        raise NasAttnError(
            f"{file} holds weights of another network ({'; '.join(diffs[:3])}); "
            "pass the weights file of this arch"
        )


def _tensors(file: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(file))
    except Exception as exc:  # truncated data, offsets out of range, an unknown dtype
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise NasAttnError(f"cannot read the tensors of {file}: {reason}; {_REEXPORT}") from None


def load_safetensors(path: str | Path, arch: ArchConfig | str | Path | None = None) -> nn.Module:
    """Rebuild the network of a ``.safetensors`` file written by nas-attn, in eval mode on CPU.

    ``arch`` (optional): the network the caller expects; a file of another one is refused."""
    file = Path(path)
    if not file.is_file():
        raise NasAttnError(f"weights file not found (or not a file): {file}; pass a .safetensors file")
    found = _arch_of(file, _read_metadata(file))
    if arch is not None:
        _pin(file, found, ArchConfig.coerce(arch))
    model = build_model(found)
    fitting = check_state_dict(
        model.state_dict(), _tensors(file), f"safetensors file {file}", "pass the weights file of this arch"
    )
    model.load_state_dict(fitting)
    return model.eval()
