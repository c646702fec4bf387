"""Pareto maths (pure: no Optuna, no I/O). Directions are 'maximize' / 'minimize' per objective."""

from __future__ import annotations

import math
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
    minimised = [_as_minimization(p, directions) for p in points]  # once, not per comparison
    dominated_by: list[list[int]] = [[] for _ in range(n)]
    domination_count = [0] * n
    for i in range(n):
        a = minimised[i]
        for j in range(i + 1, n):
            b = minimised[j]
            if a == b:
                continue  # equal points dominate neither way
            if all(x <= y for x, y in zip(a, b, strict=True)):
                dominated_by[i].append(j)
                domination_count[j] += 1
            elif all(y <= x for x, y in zip(a, b, strict=True)):
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


def _normalised(points: Sequence[Point], directions: Sequence[str]) -> list[list[float]]:
    """Minimisation form scaled to [0, 1] per objective (a constant objective maps to 0)."""
    mins = [_as_minimization(p, directions) for p in points]
    if not mins:
        return []
    lows = [min(col) for col in zip(*mins, strict=True)]
    highs = [max(col) for col in zip(*mins, strict=True)]
    return [
        [(v - lo) / (hi - lo) if hi > lo else 0.0 for v, lo, hi in zip(p, lows, highs, strict=True)]
        for p in mins
    ]


def crowding_distance(points: Sequence[Point], directions: Sequence[str]) -> list[float]:
    """NSGA-II crowding distance of each point within one front (Deb et al. 2002).

    Per objective, points are sorted; the two extremes get infinity, every other point adds the
    normalised gap between its neighbours. Larger = more isolated = more valuable for diversity.
    """
    n = len(points)
    if n <= 2:
        return [math.inf] * n
    norm = _normalised(points, directions)
    distance = [0.0] * n
    for k in range(len(directions)):
        order = sorted(range(n), key=lambda i: norm[i][k])
        distance[order[0]] = distance[order[-1]] = math.inf
        for left, mid, right in zip(order, order[1:], order[2:], strict=False):
            distance[mid] += norm[right][k] - norm[left][k]
    return distance


def hypervolume(points: Sequence[Point], directions: Sequence[str], reference: Point) -> float:
    """Volume dominated by ``points`` and bounded by ``reference`` (in the objectives' own units).

    The reference is the worst acceptable value of each objective (e.g. accuracy 0.0 and a
    latency budget); points that are not strictly better than it in every objective add nothing.
    Exact: a sweep in 2-D, recursive slicing (HSO) above.
    """
    ref = _as_minimization(reference, directions)
    mins = [_as_minimization(p, directions) for p in points]
    inside = [p for p in mins if all(v < r for v, r in zip(p, ref, strict=True))]
    return _hv_min(inside, ref)


def _hv_min(points: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    if not points:
        return 0.0
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in points)
    if len(ref) == 2:
        volume, best_y = 0.0, ref[1]
        for x, y in sorted(points):
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return volume
    # slice along the last objective: between consecutive levels the dominated set is constant
    levels = sorted({p[-1] for p in points})
    volume = 0.0
    for i, level in enumerate(levels):
        upper = levels[i + 1] if i + 1 < len(levels) else ref[-1]
        slab = [p[:-1] for p in points if p[-1] <= level]
        volume += _hv_min(slab, ref[:-1]) * (upper - level)
    return volume


def knee_point(points: Sequence[Point], directions: Sequence[str]) -> int:
    """Index of the knee of a front: the best trade-off, where giving up a little of one
    objective buys the most of the others.

    With the objectives normalised to [0, 1] (minimisation form), the knee is the point farthest
    below the line (2-D) joining the two extreme points; with more objectives, or when all
    points are collinear, the point closest to the ideal point (all objectives at their best).
    """
    if not points:
        raise ValueError("knee_point needs at least one point")
    norm = _normalised(points, directions)
    if len(directions) == 2 and len(points) > 2:
        a = min(range(len(norm)), key=lambda i: (norm[i][0], norm[i][1]))
        b = min(range(len(norm)), key=lambda i: (norm[i][1], norm[i][0]))
        (x1, y1), (x2, y2) = norm[a], norm[b]
        length = math.hypot(x2 - x1, y2 - y1)
        if length > 0:
            # signed distance below the extremes' line (towards the ideal corner is positive)
            gaps = [((x2 - x1) * (y1 - y) - (x1 - x) * (y2 - y1)) / length for x, y in norm]
            best = max(range(len(norm)), key=lambda i: gaps[i])
            if gaps[best] > 1e-12:
                return best
    return min(range(len(norm)), key=lambda i: math.fsum(v * v for v in norm[i]))


def default_reference_point(points: Sequence[Point], directions: Sequence[str]) -> list[float]:
    """Each objective's worst observed value pushed 10% of its range further (a stated default
    for hypervolume when the user gives none)."""
    ref = []
    for k, direction in enumerate(directions):
        column = [p[k] for p in points]
        span = (max(column) - min(column)) or abs(max(column)) or 1.0
        ref.append(min(column) - 0.1 * span if direction == "maximize" else max(column) + 0.1 * span)
    return ref
