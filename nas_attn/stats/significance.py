"""Hypothesis tests for paired seed differences, and Holm's correction for many of them.

Pure functions (scipy.stats for the t distribution; no Optuna, no torch).

- :func:`pooled_noise`: the standard deviation of paired differences pooled over groups (the
  placements of one study share one trainer, data and budget, so their seed-to-seed noise is
  one quantity; pooling gives its estimate many degrees of freedom, so two seeds per placement
  already make a test with a useful t quantile).
- :func:`paired_t_test`: two-sided p-value of "the mean paired difference is zero", with the
  pooled noise when there is one, else the differences' own spread (Student's t).
- :func:`holm`: Holm's step-down adjusted p-values (Holm 1979, "A simple sequentially rejective
  multiple test procedure"): rejecting every hypothesis whose adjusted p-value is below alpha
  controls the family-wise error rate at alpha under any dependence between the tests.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PooledNoise:
    """A standard deviation pooled over groups, with its degrees of freedom."""

    std: float
    df: int


@dataclass(frozen=True)
class PairedTest:
    """A paired t-test: the mean difference over ``n`` seeds, its t statistic and p-value."""

    mean: float
    n: int
    statistic: float
    df: int
    p_value: float


def pool_std(groups: Iterable[tuple[int, float]]) -> PooledNoise | None:
    """The standard deviation pooled over groups given as (size, standard deviation): the
    df-weighted mean of their variances, with df = sum of (size - 1); None without a group of two
    or more. The one pooling formula of the package (racing's intervals and the claims' tests)."""
    squares, df = 0.0, 0
    for size, std in groups:
        if size >= 2:
            squares += (size - 1) * std**2
            df += size - 1
    return PooledNoise(math.sqrt(squares / df), df) if df else None


def pooled_noise(groups: Iterable[Sequence[float]]) -> PooledNoise | None:
    """The within-group standard deviation pooled over every group of two or more values (None
    when no group has two, or every value equals its group's mean: no test can use it)."""
    pooled = pool_std((len(values), statistics.stdev(values)) for values in groups if len(values) >= 2)
    return pooled if pooled is not None and pooled.std > 0.0 else None


def paired_t_test(differences: Sequence[float], noise: PooledNoise | None = None) -> PairedTest | None:
    """Two-sided test of a zero mean difference. The standard error is ``noise.std / sqrt(n)``
    with ``noise.df`` degrees of freedom when ``noise`` is given, else the differences' own
    standard deviation with ``n - 1``. None when no test applies (no difference; one difference
    and no pooled noise; differences without spread)."""
    from scipy import stats  # imported here: scipy.stats takes ~0.3 s to import

    n = len(differences)
    if n == 0:
        return None
    mean = statistics.fmean(differences)
    if noise is not None:
        std, df = noise.std, noise.df
    elif n >= 2:
        std, df = statistics.stdev(differences), n - 1
    else:
        return None
    if std == 0.0:
        return None
    statistic = mean / (std / math.sqrt(n))
    return PairedTest(mean, n, statistic, df, float(2 * stats.t.sf(abs(statistic), df)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values, in the order given: the k-th smallest of m is multiplied by
    ``m - k + 1``, made non-decreasing in that order and capped at 1. Each is >= its p-value."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
