import pytest

from nas_attn.pareto import dominates, non_dominated_ranks, pareto_front

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
