"""Per-placement statistics over training seeds: mean, Student-t 95% interval, paired deltas.

Pure functions (no Optuna, no torch). A placement's accuracy over ``n`` seeds has the interval
``mean ± t(0.975, n-1) * s / sqrt(n)`` (none with one seed). Against the plain backbone the
comparison is paired (common random numbers: the same seed gives both the same backbone
weights, batches and augmentation), so the interval is that of the per-seed differences over
the seeds both have. Whether a difference is a claim the study can make (corrected for the many
comparisons and the selection) is :mod:`nas_attn.search.claims`'s call, not this interval's.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass


@functools.lru_cache(maxsize=256)
def t_quantile_975(df: int) -> float:
    """t(0.975, df), Student's t two-sided 95% quantile (scipy.stats; cached: racing asks it for
    every pair of placements after every result, where the table it replaced was a lookup)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    from scipy import stats  # imported here: scipy.stats takes ~0.3 s to import

    return float(stats.t.ppf(0.975, df))


@dataclass(frozen=True)
class Interval:
    """A mean with its 95% confidence interval over ``n`` values (``low``/``high`` None for n = 1)."""

    mean: float
    low: float | None
    high: float | None
    n: int

    @property
    def as_list(self) -> list[float] | None:
        return None if self.low is None or self.high is None else [self.low, self.high]

    def excludes_zero(self) -> bool:
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share a point (an interval-less side always overlaps)."""
        if self.low is None or self.high is None or other.low is None or other.high is None:
            return True
        return self.low <= other.high and other.low <= self.high


def mean_interval(values: list[float]) -> Interval:
    """Mean and Student-t 95% interval of ``values`` (no interval with one value, or with
    values that are all equal)."""
    if not values:
        raise ValueError("no values")
    n = len(values)
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if n > 1 else 0.0
    if n == 1 or spread == 0.0:
        # Accuracies are counts over the validation images, so equal values (or equal paired
        # differences) happen; a zero sample spread says nothing about the noise, and a
        # zero-width interval would call any such difference significant. No interval then.
        return Interval(mean, None, None, n)
    half = t_quantile_975(n - 1) * spread / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


@dataclass(frozen=True)
class PairedDelta:
    """``placement - baseline`` over the seeds both were trained with."""

    interval: Interval
    seeds: list[int]

    @property
    def excludes_zero(self) -> bool:
        """The paired 95% interval excludes zero: one placement alone, before any correction for
        the many comparisons a study makes (see :mod:`nas_attn.search.claims`)."""
        return self.interval.excludes_zero()

    def to_dict(self) -> dict[str, object]:
        return {"mean": self.interval.mean, "ci95": self.interval.as_list, "seeds": list(self.seeds)}


def paired_delta(placement: Mapping[int, float], baseline: Mapping[int, float]) -> PairedDelta | None:
    """The paired difference by seed (None when no seed is shared)."""
    shared = sorted(set(placement) & set(baseline))
    if not shared:
        return None
    return PairedDelta(mean_interval([placement[s] - baseline[s] for s in shared]), shared)
