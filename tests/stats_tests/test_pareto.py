import math

import pytest

from nas_attn.stats.pareto import (
    crowding_distance,
    dominates,
    hypervolume,
    knee_point,
    non_dominated_ranks,
    pareto_front,
)

MAX_MIN = ["maximize", "minimize"]  # accuracy up, latency down


def test_dominance_respects_directions() -> None:
    assert dominates([0.9, 1.0], [0.8, 2.0], MAX_MIN)
    assert dominates([0.9, 1.0], [0.9, 2.0], MAX_MIN)
    assert not dominates([0.9, 1.0], [0.9, 1.0], MAX_MIN)  # equal points do not dominate
    assert not dominates([0.9, 2.0], [0.8, 1.0], MAX_MIN)  # a trade-off
    assert dominates([1.0, 1.0], [2.0, 2.0], ["minimize", "minimize"])


def test_ranks_on_a_hand_worked_example() -> None:
    # (accuracy, latency):      A          B          C          D          E          F
    points = [(0.95, 3.0), (0.90, 2.0), (0.80, 1.0), (0.85, 2.5), (0.70, 1.5), (0.90, 2.0)]
    # A, B, C, F are non-dominated (B and F are equal); D is dominated by B; E by C.
    assert non_dominated_ranks(points, MAX_MIN) == [1, 1, 1, 2, 2, 1]
    assert pareto_front(points, MAX_MIN) == [0, 1, 2, 5]


def test_three_layers() -> None:
    points = [(1, 1), (2, 2), (3, 3), (1, 3), (3, 1)]
    assert non_dominated_ranks(points, ["minimize", "minimize"]) == [1, 2, 3, 2, 2]


def test_mismatched_lengths_raise() -> None:
    with pytest.raises(ValueError):
        dominates([1.0], [1.0, 2.0], MAX_MIN)


def test_empty() -> None:
    assert non_dominated_ranks([], MAX_MIN) == [] and pareto_front([], MAX_MIN) == []


def test_hypervolume_2d_hand_worked() -> None:
    # minimisation form: (-0.9, 2), (-0.8, 1); reference (0, 3):
    # [-0.9, 0] x [2, 3] = 0.9 and [-0.8, 0] x [1, 3] = 1.6 overlap in 0.8 -> 0.9 + 1.6 - 0.8 = 1.7
    assert hypervolume([(0.9, 2.0), (0.8, 1.0)], MAX_MIN, (0.0, 3.0)) == pytest.approx(1.7)
    # a dominated point and a point outside the reference change nothing
    assert hypervolume(
        [(0.9, 2.0), (0.8, 1.0), (0.7, 2.5), (0.99, 3.5)], MAX_MIN, (0.0, 3.0)
    ) == pytest.approx(1.7)
    assert hypervolume([], MAX_MIN, (0.0, 3.0)) == 0.0


def test_hypervolume_3d_hand_worked() -> None:
    mins = ["minimize"] * 3
    assert hypervolume([(0, 0, 0)], mins, (1, 1, 1)) == pytest.approx(1.0)
    # two unit-ish boxes: [0,1]x[0,1]x[.5,1] (0.5) and [.5,1]x[.5,1]x[0,1] (0.25), overlap 0.125
    assert hypervolume([(0, 0, 0.5), (0.5, 0.5, 0)], mins, (1, 1, 1)) == pytest.approx(0.625)


def test_crowding_distance() -> None:
    points = [(0.6, 1.0), (0.9, 2.0), (0.95, 5.0), (0.8, 1.5)]
    d = crowding_distance(points, MAX_MIN)
    assert d[0] == math.inf and d[2] == math.inf
    # normalised accuracy range 0.35, latency range 4: B neighbours (0.8, 1.5) and (0.95, 5.0)
    assert d[1] == pytest.approx((0.95 - 0.8) / 0.35 + (5.0 - 1.5) / 4.0)
    assert d[3] == pytest.approx((0.9 - 0.6) / 0.35 + (2.0 - 1.0) / 4.0)
    assert crowding_distance([(1, 1), (2, 2)], MAX_MIN) == [math.inf, math.inf]


def test_knee_point() -> None:
    # the middle point buys most of the accuracy for little latency
    assert knee_point([(0.6, 1.0), (0.9, 2.0), (0.95, 5.0)], MAX_MIN) == 1
    # collinear points: fall back to the one closest to the ideal corner
    assert knee_point([(0.6, 1.0), (0.8, 2.0), (1.0, 3.0)], MAX_MIN) == 1
    assert knee_point([(0.9, 2.0)], MAX_MIN) == 0
    with pytest.raises(ValueError):
        knee_point([], MAX_MIN)
