"""Peak memory of a block of work: the CUDA caching allocator on a GPU, resident set on a CPU.

On Linux the process's peak RSS (``VmHWM``) is reset through ``/proc/self/clear_refs`` when the
block starts, so a long-lived worker reports each trial's own peak. Where that is not possible
the lifetime peak (``ru_maxrss``) is reported and the source says so.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from types import TracebackType

import torch

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
MB = 1024 * 1024


def _read_vm_hwm_bytes() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_vm_hwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _lifetime_max_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


class PeakMemory:
    """``with PeakMemory(device) as peak: ...`` then ``peak.megabytes`` and ``peak.source``."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.megabytes = 0.0
        self.source = ""
        self._reset_ok = False

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._reset_ok = _reset_vm_hwm()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.megabytes = torch.cuda.max_memory_allocated(self.device) / MB
            self.source = "cuda_allocator"
            return
        hwm = _read_vm_hwm_bytes() if self._reset_ok else None
        if hwm is not None:
            self.megabytes, self.source = hwm / MB, "rss"
        else:
            self.megabytes, self.source = _lifetime_max_rss_bytes() / MB, "rss_lifetime"
