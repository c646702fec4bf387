"""Which placements get another training seed: fixed seeds (``reseed``, ``final_seeds``) or racing.

Pure decisions over ranked rows (no Optuna, no Ray); :mod:`nas_attn.search.seeds.runner` runs them.
Both policies answer the same question after every result: which ``(trial, seed)`` trainings
are wanted next, most useful first, and what was decided for each placement and why.

Racing (``search.racing: {max_seeds: N}``), the rule:

- Two placements are *told apart* when the 95% interval of their accuracy difference excludes
  zero: paired over the seeds both have when they share two or more (common random numbers: the
  seed's luck cancels), else a two-sample interval from the seed noise pooled over every
  placement with several seeds (placements share one trainer, data and budget). This is the
  issue's "intervals do not overlap", decided on the difference itself, so the noise the
  placements share is not counted twice. Before any placement has two seeds nothing is told apart.
- *Contenders* are the placements that matter for the front: those on it (by their means), and
  those no placement clearly dominates (dominates by the means and is told apart from it). Until
  the seed noise is known, only the front's members are contenders.
- A contender is *unresolved* while it has one seed, or while it is not told apart from another
  contender that dominates it or that it dominates (means, all objectives): which of the two
  belongs on the front is still open. (Whether it dominates a placement already clearly off the
  front changes nothing, so those comparisons are not asked.)
- An unresolved contender below ``max_seeds`` gets its next seed. Fewest seeds first (an
  interval narrows fastest at small n: the t quantile falls from 12.7 at two seeds to 4.3 at
  three), then front members (they are what users export), then higher accuracy. One seed at a
  time per placement: it is decided again with that result.
- The plain backbone is trained at every seed any placement uses, first, so every difference
  to it is paired.

Fixed seeds: the front and the plain backbone get ``seeds`` seeds each, whatever they show.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from nas_attn._types import SEED_MAX
from nas_attn.search.results import TrialRow, is_plain
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb.records import FIXED_SEEDS_REASON
from nas_attn.stats.pareto import dominates
from nas_attn.stats.seeds import paired_delta, t_quantile_975
from nas_attn.stats.significance import pool_std

ACCURACY = "accuracy"


class Verdict(str, Enum):
    """What was decided for one placement."""

    NEEDS_SEED = "needs a seed"  # unresolved, below max_seeds: another seed is wanted
    RESOLVED = "resolved"  # its place relative to the front is clear
    MAX_SEEDS = "max seeds"  # unresolved, but it has max_seeds
    OFF_FRONT = "off the front"  # not a contender: cannot reach the front
    PAIRING = "pairing"  # the plain backbone, trained at every seed others use


@dataclass(frozen=True)
class Decision:
    trial: int
    seeds: int
    verdict: Verdict
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"seeds": self.seeds, "verdict": self.verdict.value, "reason": self.reason}

    def describe(self) -> str:
        return f"{self.verdict.value} ({self.reason})" if self.reason else self.verdict.value


@dataclass(frozen=True)
class SeedJob:
    """Train trial ``trial`` again with training seed ``seed``."""

    trial: int
    seed: int


@dataclass(frozen=True)
class SeedPlan:
    decisions: dict[int, Decision]
    wanted: list[SeedJob]  # most useful first


class SeedPolicy(Protocol):
    """Decides, from the ranked rows and the trainings already running, what to train next.

    ``in_rounds``: plan again only once every running training has landed (a fixed number of
    seeds for whatever is on the front then); else after every result (racing)."""

    @property
    def in_rounds(self) -> bool: ...

    def plan(
        self, rows: Sequence[TrialRow], directions: Sequence[str], running: Collection[SeedJob]
    ) -> SeedPlan: ...


def seed_sequence(first: int, count: int) -> list[int]:
    """The training seeds of a placement with ``count`` seeds: ``first``, ``first + 1``, ..."""
    return [(first + offset) % (SEED_MAX + 1) for offset in range(count)]


def _next_seed(row: TrialRow, first: int, running: Collection[SeedJob]) -> int:
    taken = set(row.seed_list) | {job.seed for job in running if job.trial == row.number}
    offset = 0
    while True:
        seed = (first + offset) % (SEED_MAX + 1)
        if seed not in taken:
            return seed
        offset += 1


def _in_flight(row: TrialRow, running: Collection[SeedJob]) -> int:
    return sum(1 for job in running if job.trial == row.number)


def _pairing_jobs(rows: Sequence[TrialRow], running: Collection[SeedJob]) -> tuple[list[SeedJob], int | None]:
    """The plain backbone's trainings at the seeds others use (or are training) that it lacks."""
    plain = next((r for r in rows if is_plain(r.arch)), None)
    if plain is None:
        return [], None
    used = {seed for r in rows for seed in r.seed_list} | {job.seed for job in running}
    have = set(plain.seed_list) | {job.seed for job in running if job.trial == plain.number}
    return [SeedJob(plain.number, seed) for seed in sorted(used - have)], plain.number


@dataclass(frozen=True)
class FixedSeeds:
    """Every front placement (and the plain backbone) to ``seeds`` seeds: ``reseed``, ``final_seeds``."""

    seeds: int
    first_seed: int
    in_rounds: bool = True

    def plan(
        self, rows: Sequence[TrialRow], directions: Sequence[str], running: Collection[SeedJob]
    ) -> SeedPlan:
        pairing, plain = _pairing_jobs(rows, running)
        wanted = list(pairing)
        decisions: dict[int, Decision] = {}
        front = [r for r in rows if r.rank == 1]
        plain_row = next((r for r in rows if r.number == plain), None)
        for row in front + ([plain_row] if plain_row is not None and plain_row.rank != 1 else []):
            missing = [s for s in seed_sequence(self.first_seed, self.seeds) if s not in row.seed_list]
            missing = [s for s in missing if SeedJob(row.number, s) not in running]
            jobs = [SeedJob(row.number, s) for s in missing if SeedJob(row.number, s) not in wanted]
            wanted += jobs
            verdict = Verdict.NEEDS_SEED if jobs else Verdict.RESOLVED
            decisions[row.number] = Decision(
                row.number, row.seeds, verdict, f"{FIXED_SEEDS_REASON} {self.seeds} seeds"
            )
        return SeedPlan(decisions, wanted)


@dataclass(frozen=True)
class Racing:
    """Extra seeds only where the front is still open, up to ``max_seeds`` per placement."""

    max_seeds: int
    first_seed: int
    in_rounds: bool = False

    def plan(
        self, rows: Sequence[TrialRow], directions: Sequence[str], running: Collection[SeedJob]
    ) -> SeedPlan:
        if not rows or ACCURACY not in rows[0].values:
            return SeedPlan({}, [])
        judge = _Judge(rows, directions)
        pairing, plain = _pairing_jobs(rows, running)
        decisions: dict[int, Decision] = {}
        candidates: list[tuple[tuple[float, ...], SeedJob]] = []
        contenders = {row.number for row in rows if judge.contender(row)}
        for row in rows:
            if row.number not in contenders:
                decisions[row.number] = Decision(row.number, row.seeds, Verdict.OFF_FRONT, judge.why_off(row))
                continue
            reason = judge.open_question(row, contenders)
            if reason is None:
                decisions[row.number] = Decision(
                    row.number, row.seeds, Verdict.RESOLVED, "told apart from its neighbours"
                )
                continue
            in_flight = _in_flight(row, running)
            if row.seeds + in_flight >= self.max_seeds:
                decisions[row.number] = Decision(row.number, row.seeds, Verdict.MAX_SEEDS, reason)
                continue
            decisions[row.number] = Decision(row.number, row.seeds, Verdict.NEEDS_SEED, reason)
            if not in_flight:
                priority = (row.seeds, 0 if row.rank == 1 else 1, -row.values[ACCURACY], row.number)
                candidates.append((priority, SeedJob(row.number, _next_seed(row, self.first_seed, running))))
        if plain is not None and pairing and decisions[plain].verdict is Verdict.OFF_FRONT:
            decisions[plain] = Decision(
                plain, _seeds_of(rows, plain), Verdict.PAIRING, "paired with every seed used"
            )
        wanted = pairing + [job for _, job in sorted(candidates, key=lambda c: c[0]) if job not in pairing]
        return SeedPlan(decisions, wanted)


def _seeds_of(rows: Sequence[TrialRow], number: int) -> int:
    return next(r.seeds for r in rows if r.number == number)


class _Judge:
    """Dominance by the means, and whether two placements' accuracies are told apart."""

    def __init__(self, rows: Sequence[TrialRow], directions: Sequence[str]) -> None:
        self.rows = rows
        self.directions = directions
        names = list(rows[0].values)
        self.points = {r.number: [r.values[n] for n in names] for r in rows}
        self.pooled = pooled_seed_std(rows)

    def dominates(self, a: TrialRow, b: TrialRow) -> bool:
        return dominates(self.points[a.number], self.points[b.number], self.directions)

    def told_apart(self, a: TrialRow, b: TrialRow) -> bool:
        """Whether the 95% interval of ``a - b`` in accuracy excludes zero (see the module doc)."""
        delta = paired_delta(seed_accuracies(a), seed_accuracies(b))
        if delta is not None and delta.interval.n >= 2:
            return delta.interval.excludes_zero()
        if self.pooled is None:
            return False
        std, df = self.pooled
        half = t_quantile_975(df) * std * math.sqrt(1 / a.seeds + 1 / b.seeds)
        return abs(a.values[ACCURACY] - b.values[ACCURACY]) > half

    def clearly_dominating(self, row: TrialRow) -> TrialRow | None:
        return next(
            (q for q in self.rows if q is not row and self.dominates(q, row) and self.told_apart(q, row)),
            None,
        )

    def contender(self, row: TrialRow) -> bool:
        return row.rank == 1 or (self.pooled is not None and self.clearly_dominating(row) is None)

    def why_off(self, row: TrialRow) -> str:
        other = self.clearly_dominating(row)
        return (
            f"clearly dominated by trial {other.number}" if other is not None else "seed noise not known yet"
        )

    def open_question(self, row: TrialRow, contenders: Collection[int]) -> str | None:
        """Why ``row``'s place is still open (None when it is resolved). Only contenders count:
        whether ``row`` dominates a placement already clearly off the front changes nothing."""
        if row.seeds < 2:
            return "one seed"
        for other in self.rows:
            if other is row or other.number not in contenders:
                continue
            if self.dominates(other, row):
                relation = "which dominates it"
            elif self.dominates(row, other):
                relation = "which it dominates"
            else:
                continue
            if not self.told_apart(row, other):
                return f"not told apart from trial {other.number}, {relation}"
        return None


def seed_accuracies(row: TrialRow) -> dict[int, float]:
    """A row's accuracy by training seed, when the row carries them (else its mean at its first seed)."""
    if row.seed_accuracy:
        return dict(row.seed_accuracy)
    return {row.seed_list[0]: row.values[ACCURACY]} if row.seed_list else {}


def pooled_seed_std(rows: Sequence[TrialRow]) -> tuple[float, int] | None:
    """The accuracy's seed standard deviation pooled over placements with several seeds, and its
    degrees of freedom (None before any placement has two seeds)."""
    pooled = pool_std((r.seeds, r.spread[ACCURACY]) for r in rows if r.seeds >= 2 and ACCURACY in r.spread)
    return None if pooled is None else (pooled.std, pooled.df)


def racing_policy(space: SearchSpace, first_seed: int) -> Racing | None:
    """The space's racing (``search.racing``), or None when it does not race."""
    racing = space.search.racing
    return Racing(racing.max_seeds, first_seed) if racing is not None else None
