"""Rank correlations against scipy's (tau-b and average-rank Spearman), ties included."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats

from nas_attn.stats.ranks import average_ranks, kendall_tau, spearman_rho


@pytest.mark.parametrize("seed", range(6))
def test_matches_scipy_on_random_scores_with_ties(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(3, 25)
    x = [rng.choice([0.1, 0.2, 0.3, rng.random()]) for _ in range(n)]
    y = [rng.choice([0.5, rng.random()]) for _ in range(n)]
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
    assert spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


def test_orders_that_agree_disagree_or_carry_no_information() -> None:
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == 1.0 and spearman_rho([1, 2, 3], [1, 5, 9]) == 1.0
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0 and spearman_rho([1, 2, 3], [3, 2, 1]) == -1.0
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3])) and math.isnan(spearman_rho([1, 2], [5, 5]))


def test_tied_values_share_their_mean_rank() -> None:
    assert average_ranks([0.3, 0.1, 0.3, 0.2]) == [3.5, 1.0, 3.5, 2.0]


def test_lists_must_pair_up() -> None:
    with pytest.raises(ValueError, match="equally long"):
        kendall_tau([1, 2], [1])
    with pytest.raises(ValueError, match="at least 2"):
        spearman_rho([1], [1])
