"""Device selection, description, and the per-device training policy (precision, layout, syncs)."""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass

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


@dataclass(frozen=True)
class DevicePolicy:
    """How the trainer runs on one device type.

    ``autocast_dtype``: mixed precision for forward and loss (None: fp32). ``memory_format``:
    layout of the model and its inputs. ``check_every``: steps between host reads of the running
    loss (each read is a device sync on a GPU; on a CPU it costs nothing).
    """

    autocast_dtype: torch.dtype | None
    memory_format: torch.memory_format
    check_every: int
    cudnn_benchmark: bool = False

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[object]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.autocast_dtype)

    def prepare(self) -> None:
        """Process-wide switches this policy wants (cuDNN autotuning for fixed shapes)."""
        if self.cudnn_benchmark:
            torch.backends.cudnn.benchmark = True


POLICIES: dict[str, DevicePolicy] = {
    "cpu": DevicePolicy(None, torch.contiguous_format, check_every=1),
    "cuda": DevicePolicy(torch.bfloat16, torch.channels_last, check_every=50, cudnn_benchmark=True),
}


def policy_for(device: torch.device) -> DevicePolicy:
    """The training policy of ``device``'s type (fp32 and contiguous for unknown types)."""
    return POLICIES.get(device.type, POLICIES["cpu"])


def synchronize(device: torch.device) -> None:
    """Wait for queued work on ``device`` (a no-op on a CPU), so host clocks are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
