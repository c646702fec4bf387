"""Read a study's complete trials into rows and rank them (uses the pure maths in pareto.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import optuna

from nas_attn.backbones import ArchConfig
from nas_attn.pareto import (
    crowding_distance,
    default_reference_point,
    hypervolume,
    knee_point,
    non_dominated_ranks,
)
from nas_attn.search import trial_attrs as attrs


@dataclass(frozen=True)
class TrialRow:
    number: int
    values: dict[str, float]
    rank: int
    placement: str
    params: int | None
    arch: dict[str, Any]
    crowding: float = math.inf
    knee: bool = False


@dataclass(frozen=True)
class FrontSummary:
    """Hypervolume of the front with the reference point it was measured against."""

    hypervolume: float
    reference: dict[str, float]


def study_directions(study: optuna.Study) -> list[str]:
    """The study's directions as 'maximize' / 'minimize' (the form pareto.py takes)."""
    return ["maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize" for d in study.directions]


def objective_names(study: optuna.Study) -> list[str]:
    """Objective names as the search recorded them (generic names for foreign studies)."""
    names: list[str] | None = study.user_attrs.get("objectives")
    return names or [f"objective_{i}" for i in range(len(study.directions))]


def evaluated_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """COMPLETE trials that evaluated their placement (duplicates answered from them left out)."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return [t for t in complete if attrs.DUPLICATE_OF not in t.user_attrs]


def ranked_rows(study: optuna.Study) -> list[TrialRow]:
    """Every evaluated placement (one row per placement) with its non-dominated rank (1 = front)."""
    names = objective_names(study)
    directions = study_directions(study)
    trials = evaluated_trials(study)
    ranks = non_dominated_ranks([t.values for t in trials], directions)
    crowding = [math.inf] * len(trials)
    for level in set(ranks):
        members = [i for i, r in enumerate(ranks) if r == level]
        for i, d in zip(
            members, crowding_distance([trials[i].values for i in members], directions), strict=True
        ):
            crowding[i] = d
    front = [i for i, r in enumerate(ranks) if r == 1]
    knee = front[knee_point([trials[i].values for i in front], directions)] if front else -1
    rows = []
    for index, (trial, rank) in enumerate(zip(trials, ranks, strict=True)):
        arch = trial.user_attrs.get(attrs.ARCH, {})
        placement = ArchConfig.from_dict(arch).label() if arch else ""
        rows.append(
            TrialRow(
                number=trial.number,
                values=dict(zip(names, trial.values, strict=True)),
                rank=rank,
                placement=placement,
                params=trial.user_attrs.get("params"),
                arch=arch,
                crowding=crowding[index],
                knee=index == knee,
            )
        )
    return rows


def front_summary(study: optuna.Study, rows: list[TrialRow]) -> FrontSummary | None:
    """Hypervolume of ``rows`` against the default reference point (None without rows)."""
    if not rows:
        return None
    directions = study_directions(study)
    points = [list(r.values.values()) for r in rows]
    reference = default_reference_point(points, directions)
    names = list(rows[0].values)
    return FrontSummary(hypervolume(points, directions, reference), dict(zip(names, reference, strict=True)))


def pareto_rows(study: optuna.Study) -> list[TrialRow]:
    """The Pareto front, cheapest first (by the first minimised objective, if any)."""
    rows = [r for r in ranked_rows(study) if r.rank == 1]
    directions = list(study.directions)
    key_index = next((i for i, d in enumerate(directions) if d == optuna.study.StudyDirection.MINIMIZE), 0)
    key_name = list(rows[0].values)[key_index] if rows else ""
    return sorted(rows, key=lambda r: (r.values.get(key_name, 0.0), r.number))
