"""Read a study's complete trials into rows and rank them (uses the pure maths in pareto.py).

What is ranked: each evaluated placement once (duplicates answered from it left out), trained
(placements screened out by a constraint are recorded, never ranked), at the highest
multi-fidelity budget the study reached, with the mean over its seed re-runs where it has them.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from typing import Any

import optuna

from nas_attn.backbones import ArchConfig
from nas_attn.search.claims import ALPHA, Claims, study_claims
from nas_attn.search.studydb.latency_reference import LatencyReferences, rescaled_latency
from nas_attn.search.studydb.reads import TrialSource, measured_trials
from nas_attn.search.studydb.records import (
    RacingHistory,
    SeedRuns,
    SpaceIdentity,
    StoredResult,
    stored_objectives,
)
from nas_attn.search.studydb.warm_backbones import stored_backbones
from nas_attn.stats.pareto import (
    crowding_distance,
    default_reference_point,
    hypervolume,
    knee_point,
    non_dominated_ranks,
)
from nas_attn.stats.seeds import PairedDelta, mean_interval, paired_delta


@dataclass(frozen=True)
class TrialRow:
    number: int
    values: dict[str, float]
    rank: int
    placement: str
    params: int | None
    arch: ArchConfig | None  # None for a foreign trial that stores no arch
    crowding: float = math.inf
    knee: bool = False
    spread: dict[str, float] = field(default_factory=dict)  # std over seeds, when re-run
    seeds: int = 1
    fidelity_epochs: int | None = None
    accuracy_ci95: list[float] | None = None  # Student-t 95% interval over the seeds (None: 1 seed)
    delta_vs_baseline: PairedDelta | None = None  # accuracy - plain backbone's, paired by seed
    seed_list: list[int] = field(default_factory=list)
    seed_accuracy: dict[int, float] = field(default_factory=dict)  # accuracy by training seed
    racing: str | None = None  # the last seed decision taken for it (racing / fixed seeds)
    p_value: float | None = None  # its paired test against the plain backbone, alone (None: no test)
    p_adjusted: float | None = None  # after the study's family-wise correction (claims.py)
    claim_delta: float | None = None  # the mean paired difference on the seeds the test used

    @property
    def significant(self) -> bool:
        """The study claims a difference to the plain backbone: its test, corrected for every
        placement compared and for the seeds that chose it, is below ``claims.ALPHA``."""
        return self.p_adjusted is not None and self.p_adjusted < ALPHA

    @property
    def beats_baseline(self) -> bool:
        return self.significant and self.claim_delta is not None and self.claim_delta > 0


@dataclass(frozen=True)
class ComputeSpent:
    """What a study's trainings cost: the search's placements, the extra seeds on top, and the
    warm-start backbones (``proxy.warm_start``: one pretraining per seed used)."""

    placements: int  # placements the search trained (screened-out ones never train)
    placement_epochs: int
    seed_runs: int  # extra seeds: racing, search.final_seeds, reseed
    seed_run_epochs: int
    warm_start_backbones: int = 0
    warm_start_epochs: int = 0

    def describe(self) -> str:
        text = f"{self.placements} placement(s) trained ({self.placement_epochs} epochs)"
        if self.seed_runs:
            share = 100 * self.seed_run_epochs / self.placement_epochs if self.placement_epochs else 0.0
            text += f" + {self.seed_runs} extra seed run(s) ({self.seed_run_epochs} epochs, +{share:.0f}%)"
        if self.warm_start_backbones:
            text += f" + {self.warm_start_backbones} warm-start backbone(s) ({self.warm_start_epochs} epochs)"
        return text

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class FrontSummary:
    """Hypervolume of the front with the reference point it was measured against."""

    hypervolume: float
    reference: dict[str, float]


def study_directions(study: TrialSource) -> list[str]:
    """The study's directions as 'maximize' / 'minimize' (the form pareto.py takes)."""
    return ["maximize" if d == optuna.study.StudyDirection.MAXIMIZE else "minimize" for d in study.directions]


def objective_names(study: TrialSource) -> list[str]:
    """Objective names as the search recorded them (generic names for foreign studies)."""
    return stored_objectives(study.user_attrs) or [f"objective_{i}" for i in range(len(study.directions))]


def evaluated_trials(study: TrialSource) -> list[optuna.trial.FrozenTrial]:
    """COMPLETE trials that trained their placement (duplicates answered from them, and
    placements screened out by a constraint, left out)."""
    return [t for t in measured_trials(study) if StoredResult.of(t).trained]


def screened_trials(study: TrialSource) -> list[optuna.trial.FrozenTrial]:
    """COMPLETE trials whose placement broke a constraint when measured, so was never trained."""
    return [t for t in measured_trials(study) if not StoredResult.of(t).trained]


def top_fidelity_trials(study: TrialSource) -> list[optuna.trial.FrozenTrial]:
    """Evaluated trials at the highest multi-fidelity budget reached (all of them without one)."""
    trials = evaluated_trials(study)
    budgets = [StoredResult.of(t).fidelity.epochs for t in trials]
    top = max((b for b in budgets if b is not None), default=None)
    return [t for t, b in zip(trials, budgets, strict=True) if top is None or b == top]


def last_decision(study_attrs: dict[str, Any], trial_number: int) -> str | None:
    """The last seed decision for a trial in words, e.g. ``resolved (told apart ...)``."""
    last = RacingHistory.read(study_attrs, trial_number).last
    return None if last is None else last.describe()


def _on_current_reference(
    values: list[float], names: list[str], used_ms: float | None, current_ms: float | None
) -> list[float]:
    """``values`` with a calibrated ``latency_ms`` moved to the study's current reference."""
    return [
        rescaled_latency(v, used_ms, current_ms) if name == "latency_ms" else v
        for v, name in zip(values, names, strict=True)
    ]


def trial_values(
    study_attrs: dict[str, Any], trial: optuna.trial.FrozenTrial, names: list[str] | None = None
) -> tuple[list[float], list[float], int]:
    """The values a trial is ranked by: the mean over its seeds when it was re-run (with the
    standard deviation per objective and the number of seeds), else its own values. A
    calibrated ``latency_ms`` (given ``names``) is put on the study's current latency reference."""
    names = names or []
    stored = StoredResult.of(trial)
    current = LatencyReferences.of(study_attrs).current_ms(stored.device)
    own = list(trial.values)
    if "latency_ms" in names:
        own = _on_current_reference(own, names, stored.latency_reference_ms, current)
    runs = SeedRuns.read(study_attrs, trial.number)
    if not runs:
        return own, [], 1
    reruns = [
        _on_current_reference(list(v), names, u, current) if "latency_ms" in names else list(v)
        for v, u in zip(runs.values, runs.latency_reference_ms, strict=True)
    ]
    per_seed = [own, *reruns]
    columns = list(zip(*per_seed, strict=True))
    return [statistics.fmean(c) for c in columns], [statistics.stdev(c) for c in columns], len(per_seed)


def first_seed(study_attrs: dict[str, Any]) -> int:
    """The training seed a search trains every trial with (the space's proxy seed)."""
    return SpaceIdentity.read(study_attrs).first_seed


def seed_accuracies(
    study_attrs: dict[str, Any], trial: optuna.trial.FrozenTrial, names: list[str]
) -> dict[int, float]:
    """The trial's accuracy at each training seed it was trained with (its own run, then re-runs)."""
    if "accuracy" not in names:
        return {}
    column = names.index("accuracy")
    out = {first_seed(study_attrs): float(trial.values[column])}
    runs = SeedRuns.read(study_attrs, trial.number)
    for seed, values in zip(runs.seeds, runs.values, strict=True):
        out[int(seed)] = float(values[column])
    return out


def is_plain(arch: ArchConfig | None) -> bool:
    """Whether an arch places no attention anywhere (the plain backbone)."""
    return arch is not None and all(s.module == "none" for s in arch.stages.values())


def ranked_rows(study: TrialSource) -> list[TrialRow]:
    """Every ranked placement (one row each; see the module docstring) with its non-dominated
    rank (1 = front), crowding distance, the knee of the front, and its test against the plain
    backbone (``p_value``, ``p_adjusted``: see :mod:`nas_attn.search.claims`)."""
    return ranked_rows_and_claims(study)[0]


def claims_of(study: TrialSource) -> Claims:
    """The claims the study makes against its plain backbone (every ranked placement compared)."""
    return ranked_rows_and_claims(study)[1]


def ranked_rows_and_claims(study: TrialSource) -> tuple[list[TrialRow], Claims]:
    """:func:`ranked_rows` and :func:`claims_of` from one read of the study."""
    names = objective_names(study)
    directions = study_directions(study)
    trials = top_fidelity_trials(study)
    study_attrs = study.user_attrs
    measured = [trial_values(study_attrs, t, names) for t in trials]
    values = [m[0] for m in measured]
    ranks = non_dominated_ranks(values, directions)
    crowding = [math.inf] * len(trials)
    for level in set(ranks):
        members = [i for i, r in enumerate(ranks) if r == level]
        for i, d in zip(members, crowding_distance([values[i] for i in members], directions), strict=True):
            crowding[i] = d
    front = [i for i, r in enumerate(ranks) if r == 1]
    knee = front[knee_point([values[i] for i in front], directions)] if front else -1
    by_seed = [seed_accuracies(study_attrs, t, names) for t in trials]
    stored = [StoredResult.of(t) for t in trials]
    archs = [s.arch for s in stored]
    plain = next((i for i, arch in enumerate(archs) if is_plain(arch)), None)
    rows = []
    for index, (trial, rank) in enumerate(zip(trials, ranks, strict=True)):
        arch = archs[index]
        placement = arch.label() if arch is not None else ""
        accuracies = by_seed[index]
        interval = mean_interval(list(accuracies.values())) if accuracies else None
        delta = None
        if plain is not None and index != plain and accuracies:
            delta = paired_delta(accuracies, by_seed[plain])
        rows.append(
            TrialRow(
                number=trial.number,
                values=dict(zip(names, values[index], strict=True)),
                rank=rank,
                placement=placement,
                params=stored[index].params,
                arch=arch,
                crowding=crowding[index],
                knee=index == knee,
                spread=dict(zip(names, measured[index][1], strict=True)) if measured[index][1] else {},
                seeds=measured[index][2],
                fidelity_epochs=stored[index].fidelity.epochs,
                accuracy_ci95=interval.as_list if interval is not None else None,
                delta_vs_baseline=delta,
                seed_list=sorted(accuracies),
                seed_accuracy=dict(sorted(accuracies.items())),
                racing=last_decision(study_attrs, trial.number),
            )
        )
    claims = study_claims(
        {row.number: row.seed_accuracy for row in rows},
        {trial.number: list(accuracies) for trial, accuracies in zip(trials, by_seed, strict=True)},
        rows[plain].number if plain is not None else None,
        first_seed(study_attrs),
        fixed_seeds={row.number for row in rows if not RacingHistory.read(study_attrs, row.number).raced},
    )
    return [_with_test(row, claims) for row in rows], claims


def _with_test(row: TrialRow, claims: Claims) -> TrialRow:
    test = claims.tests.get(row.number)
    if test is None:
        return row
    return replace(row, p_value=test.test.p_value, p_adjusted=test.p_adjusted, claim_delta=test.test.mean)


def compute_spent(study: TrialSource) -> ComputeSpent:
    """Trainings and epochs the study spent: every trained placement (all its multi-fidelity
    budgets) and every extra seed run."""
    trained = evaluated_trials(study)
    placement_epochs = 0
    for trial in trained:
        stored = StoredResult.of(trial)
        placement_epochs += int(stored.fidelity.spent or stored.epochs or 0)
    proxy_epochs = SpaceIdentity.read(study.user_attrs).proxy_epochs
    every = SeedRuns.every(study.user_attrs)
    runs = sum(len(record) for record in every)
    epochs = sum(int(e) if e is not None else proxy_epochs for record in every for e in record.epochs)
    backbones = stored_backbones(study.user_attrs)
    warm_epochs = sum(b.epochs for b in backbones)
    return ComputeSpent(len(trained), placement_epochs, runs, epochs, len(backbones), warm_epochs)


def front_summary(study: TrialSource, rows: list[TrialRow]) -> FrontSummary | None:
    """Hypervolume of ``rows`` against the default reference point (None without rows)."""
    if not rows:
        return None
    directions = study_directions(study)
    points = [list(r.values.values()) for r in rows]
    reference = default_reference_point(points, directions)
    names = list(rows[0].values)
    return FrontSummary(hypervolume(points, directions, reference), dict(zip(names, reference, strict=True)))


def pareto_rows(study: TrialSource) -> list[TrialRow]:
    """The Pareto front, cheapest first (by the first minimised objective, if any)."""
    rows = [r for r in ranked_rows(study) if r.rank == 1]
    directions = list(study.directions)
    key_index = next((i for i, d in enumerate(directions) if d == optuna.study.StudyDirection.MINIMIZE), 0)
    key_name = list(rows[0].values)[key_index] if rows else ""
    return sorted(rows, key=lambda r: (r.values.get(key_name, 0.0), r.number))
