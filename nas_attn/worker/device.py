"""Device selection and description for trials."""

from __future__ import annotations

import os
import platform

import torch

from nas_attn.exceptions import NasAttnError


def resolve_device(choice: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is a user error."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise NasAttnError("CUDA was requested but no GPU is visible here; use --device cpu or auto")
    if choice not in {"cpu", "cuda"}:
        raise NasAttnError(f"unknown device '{choice}'; use auto, cpu or cuda")
    return torch.device(choice)


def describe_device(device: torch.device) -> str:
    """Human-readable device name recorded with every trial."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine() or "cpu"
    return f"cpu {cpu} ({torch.get_num_threads()} threads of {os.cpu_count()})"
