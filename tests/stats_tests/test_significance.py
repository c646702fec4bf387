"""Paired t-tests, pooled seed noise and Holm's correction (nas_attn.stats.significance)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from nas_attn.stats.significance import PooledNoise, holm, paired_t_test, pooled_noise


def test_holm_matches_the_textbook_example() -> None:
    # m = 4: sorted p 0.01, 0.02, 0.03, 0.04 -> 0.04, 0.06, 0.06 (made non-decreasing), 0.06
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert holm([]) == []
    assert holm([0.004]) == [0.004]  # one test: nothing to correct


@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=40))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p_values: list[float]) -> None:
    adjusted = holm(p_values)
    assert all(a >= p for a, p in zip(adjusted, p_values, strict=True))
    assert all(a <= 1.0 for a in adjusted)
    for i, j in ((i, j) for i in range(len(p_values)) for j in range(len(p_values))):
        if p_values[i] < p_values[j]:
            assert adjusted[i] <= adjusted[j]
    # Bonferroni is never more powerful than Holm
    m = len(p_values)
    assert all(a <= min(1.0, m * p) + 1e-12 for a, p in zip(adjusted, p_values, strict=True))


def test_paired_t_test_without_pooling_is_scipys_one_sample_test() -> None:
    differences = [0.012, 0.020, 0.015, 0.009]
    test = paired_t_test(differences)
    expected = stats.ttest_1samp(differences, 0.0)
    assert test is not None and test.df == 3 and test.n == 4
    assert test.statistic == pytest.approx(expected.statistic)
    assert test.p_value == pytest.approx(expected.pvalue)


def test_pooled_noise_gives_one_seed_a_test_with_the_pools_degrees_of_freedom() -> None:
    noise = PooledNoise(std=0.01, df=20)
    test = paired_t_test([0.03], noise)
    assert test is not None and test.df == 20 and test.statistic == pytest.approx(3.0)
    assert test.p_value == pytest.approx(2 * stats.t.sf(3.0, 20))
    assert paired_t_test([0.03]) is None  # one difference and no pool: no test
    assert paired_t_test([]) is None
    assert paired_t_test([0.01, 0.01]) is None  # no spread: no test (a zero-width interval)


def test_pooled_noise_is_the_within_group_spread() -> None:
    groups = [[1.0, 3.0], [10.0, 12.0, 14.0], [7.0]]  # squares 2 + 8 over df 1 + 2
    noise = pooled_noise(groups)
    assert noise is not None and noise.df == 3 and noise.std == pytest.approx(math.sqrt(10 / 3))
    assert pooled_noise([[1.0], [2.0]]) is None
    assert pooled_noise([[1.0, 1.0]]) is None


def test_racing_and_the_claims_pool_seed_noise_with_one_formula() -> None:
    """pool_std from (size, std) equals pooled_noise from the raw values: racing's intervals
    (from rows' spreads) and the claims' tests (from raw differences) cannot drift apart."""
    import statistics

    from nas_attn.stats.significance import pool_std

    groups = [[0.71, 0.74, 0.69], [0.80, 0.78], [0.75], [0.60, 0.66, 0.61, 0.64]]
    from_values = pooled_noise(groups)
    from_spreads = pool_std((len(g), statistics.stdev(g) if len(g) > 1 else 0.0) for g in groups)
    assert from_values is not None and from_spreads is not None
    assert from_spreads.df == from_values.df == 2 + 1 + 3
    assert math.isclose(from_spreads.std, from_values.std, rel_tol=1e-12)
    squares = sum(sum((v - statistics.fmean(g)) ** 2 for v in g) for g in groups)
    assert math.isclose(from_values.std, math.sqrt(squares / 6), rel_tol=1e-12)
    assert pool_std([(1, 0.3)]) is None  # no group of two: no estimate
    assert pool_std([(2, 0.0)]) == PooledNoise(0.0, 1)  # racing may see zero spread ...
    assert pooled_noise([[0.5, 0.5]]) is None  # ... a test cannot use it
