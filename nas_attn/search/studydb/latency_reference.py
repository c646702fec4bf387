"""Calibrated latency: each placement's interleaved ratio times the study's plain-backbone latency.

A raw median taken while other trials train on the same CPU says more about the load than about
the placement (the quick start once showed SE everywhere at half the plain backbone's time).
Every trial therefore times its placement interleaved with the plain backbone
(``latency_ratio``, machine noise shared by both) and reports ``latency_ms = latency_ratio x
reference``, where the reference is the study's latency of the plain backbone on that device:
the lowest-noise measurement of it the study has (smallest IQR relative to the median, then the
smaller median), replaced whenever a worker measures it with less noise. The raw median stays
as ``latency_raw_ms``.

Since every trial on a device shares one reference, ranking is unchanged by a refresh; the
ranking code re-scales each stored value to the current reference
(:func:`rescaled_latency`), so all rows of a front are on one scale.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from nas_attn.search.studydb.attrs import LATENCY_REFERENCE_ATTR
from nas_attn.worker.evaluate import TrialResult
from nas_attn.worker.latency import calibrated_latency_ms


class StudyAttrs(Protocol):
    """The part of an ``optuna.Study`` the references are kept in."""

    @property
    def user_attrs(self) -> dict[str, Any]: ...

    def set_user_attr(self, key: str, value: Any) -> None: ...


CALIBRATION_NOTE = (
    "calibrated: each placement's latency ratio to the plain backbone (timed interleaved) "
    "x the study's plain-backbone latency"
)


@dataclass(frozen=True)
class LatencyReference:
    """One device's plain-backbone latency: median and IQR in ms, and the trial that measured it."""

    device: str
    median_ms: float
    iqr_ms: float
    trial: int | None = None

    @property
    def noise(self) -> float:
        """Relative spread of the measurement (IQR over median): lower is more trustworthy."""
        return self.iqr_ms / self.median_ms

    def better_than(self, other: LatencyReference | None) -> bool:
        if other is None:
            return True
        mine, theirs = round(self.noise, 9), round(other.noise, 9)  # equal noise: the lower median
        return (mine, self.median_ms) < (theirs, other.median_ms)

    @classmethod
    def measured_by(cls, result: TrialResult, trial: int | None) -> LatencyReference | None:
        """The plain-backbone measurement inside ``result``, if it is usable."""
        median, iqr = result.baseline_latency_ms, result.baseline_latency_iqr_ms
        if not (math.isfinite(median) and math.isfinite(iqr) and median > 0 and iqr >= 0):
            return None
        return cls(result.device, median, iqr, trial)


class LatencyReferences:
    """The study's references, one per device, as kept in the study attribute
    ``attrs.LATENCY_REFERENCE_ATTR``."""

    def __init__(self, stored: dict[str, Any] | None = None) -> None:
        self.by_device = {device: LatencyReference(**fields) for device, fields in (stored or {}).items()}

    @classmethod
    def of(cls, study_attrs: dict[str, Any]) -> LatencyReferences:
        return cls(study_attrs.get(LATENCY_REFERENCE_ATTR))

    def to_attr(self) -> dict[str, Any]:
        return {device: asdict(ref) for device, ref in sorted(self.by_device.items())}

    def offer(self, result: TrialResult, trial: int | None) -> bool:
        """Take ``result``'s plain-backbone measurement if it is less noisy; True if it was taken."""
        candidate = LatencyReference.measured_by(result, trial)
        if candidate is None or not candidate.better_than(self.by_device.get(candidate.device)):
            return False
        self.by_device[candidate.device] = candidate
        return True

    def calibrate(self, result: TrialResult) -> TrialResult:
        """``result`` with ``latency_ms`` (and its IQR) = ratio x this device's reference."""
        reference = self.by_device.get(result.device)
        if reference is None or not math.isfinite(result.latency_ratio):
            return result
        return replace(
            result,
            latency_ms=calibrated_latency_ms(result.latency_ratio, reference.median_ms),
            latency_iqr_ms=calibrated_latency_ms(result.latency_ratio_iqr, reference.median_ms),
            latency_reference_ms=reference.median_ms,
        )

    def absorb(self, study: StudyAttrs, result: TrialResult, trial: int | None) -> TrialResult:
        """Offer ``result``'s plain-backbone timing (storing the references in ``study`` when it
        improves them), then calibrate: ``result`` with its latency on the study's scale."""
        if self.offer(result, trial):
            study.set_user_attr(LATENCY_REFERENCE_ATTR, self.to_attr())
        return self.calibrate(result)

    def current_ms(self, device: str | None) -> float | None:
        reference = self.by_device.get(device or "")
        return None if reference is None else reference.median_ms


def rescaled_latency(value: float, used_ms: float | None, current_ms: float | None) -> float:
    """A stored calibrated latency moved to the current reference (unchanged when either is unknown)."""
    if used_ms is None or current_ms is None or not math.isfinite(used_ms) or used_ms <= 0:
        return value
    return value * current_ms / used_ms
