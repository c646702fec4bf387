"""Pareto maths (pure: no Optuna, no I/O). Directions are 'maximize' / 'minimize' per objective."""

from __future__ import annotations

from collections.abc import Sequence

Point = Sequence[float]


def _as_minimization(point: Point, directions: Sequence[str]) -> tuple[float, ...]:
    if len(point) != len(directions):
        raise ValueError(f"point has {len(point)} values but there are {len(directions)} directions")
    return tuple(-v if d == "maximize" else v for v, d in zip(point, directions, strict=True))


def dominates(a: Point, b: Point, directions: Sequence[str]) -> bool:
    """True if ``a`` is at least as good as ``b`` everywhere and strictly better somewhere."""
    ma, mb = _as_minimization(a, directions), _as_minimization(b, directions)
    return all(x <= y for x, y in zip(ma, mb, strict=True)) and any(
        x < y for x, y in zip(ma, mb, strict=True)
    )


def non_dominated_ranks(points: Sequence[Point], directions: Sequence[str]) -> list[int]:
    """Rank of each point by fast non-dominated sorting (Deb et al. 2002); 1 = the Pareto front."""
    n = len(points)
    dominated_by: list[list[int]] = [[] for _ in range(n)]
    domination_count = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j], directions):
                dominated_by[i].append(j)
                domination_count[j] += 1
            elif dominates(points[j], points[i], directions):
                dominated_by[j].append(i)
                domination_count[i] += 1
    ranks = [0] * n
    current = [i for i in range(n) if domination_count[i] == 0]
    rank = 1
    while current:
        following = []
        for i in current:
            ranks[i] = rank
            for j in dominated_by[i]:
                domination_count[j] -= 1
                if domination_count[j] == 0:
                    following.append(j)
        current = following
        rank += 1
    return ranks


def pareto_front(points: Sequence[Point], directions: Sequence[str]) -> list[int]:
    """Indices of the non-dominated points, in input order."""
    return [i for i, r in enumerate(non_dominated_ranks(points, directions)) if r == 1]
