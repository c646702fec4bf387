"""Multi-fidelity for a multi-objective search: successive halving with Pareto promotion.

Placements join brackets of ``bracket`` and are trained at the smallest epoch budget; when
every member of a bracket's rung has a result, only the non-dominated ones (``promote:
front``), or the best fraction by non-dominated rank then crowding distance (the NSGA-II
order, as in Schmucker et al., "Multi-objective Asynchronous Successive Halving", 2021), are
retrained from scratch at the next budget. The rest are final at the budget they reached.
Brackets run side by side, so idle workers start a new bracket while an older one waits for
its rung; promotions go first.

This module holds the bookkeeping only (no Optuna calls, no Ray): the driver feeds it results
and tells the trials it reports final.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from nas_attn.search.studydb.records import FidelityHistory, FidelityStep
from nas_attn.stats.pareto import crowding_distance, non_dominated_ranks

if TYPE_CHECKING:  # the worker package imports torch; this bookkeeping needs only the type
    from nas_attn.worker.evaluate import TrialResult

MAX_PROMOTION_RETRIES = 1  # a promoted run whose worker was lost is tried once more

Ref = TypeVar("Ref")  # the driver's handle on a member (its trial)


@dataclass(eq=False)
class Member(Generic[Ref]):
    """One placement in a bracket. ``ref`` is the driver's handle on it (its trial); ``results``
    holds its (calibrated) result at each budget trained so far."""

    key: int
    ref: Ref
    results: list[TrialResult] = field(default_factory=list)
    rung: int = 0  # the budget index it trains at (or last trained at)
    running: bool = False
    retries: int = 0
    note: str = ""

    @property
    def trained(self) -> bool:
        return bool(self.results) and self.results[-1].trained


@dataclass(eq=False)
class Bracket(Generic[Ref]):
    size: int
    members: list[Member[Ref]] = field(default_factory=list)
    rung: int = 0
    closed: bool = False  # no placement joins any more

    @property
    def open(self) -> bool:
        return not self.closed and self.rung == 0 and len(self.members) < self.size

    def at_rung(self) -> list[Member[Ref]]:
        return [m for m in self.members if m.rung == self.rung]


class FidelitySchedule(Generic[Ref]):
    """Brackets of placements moving up the epoch budgets; reports members that are final."""

    def __init__(
        self,
        epochs: list[int],
        bracket: int,
        promote: str | float,
        objectives: list[str],
        directions: list[str],
    ) -> None:
        self.epochs, self.bracket_size, self.promote = epochs, bracket, promote
        self.objectives, self.directions = objectives, directions
        self.brackets: list[Bracket[Ref]] = []
        self.queue: deque[Member[Ref]] = deque()  # promoted, waiting for a worker
        self.finals: list[Member[Ref]] = []  # final members the driver has not told yet
        self.stopping = False

    # -- joining ------------------------------------------------------------------------------
    def admit(self, key: int, ref: Ref) -> Member[Ref]:
        """Add a new placement to the open bracket (a new one if none is open); it trains now."""
        if not self.brackets or not self.brackets[-1].open:
            self.brackets.append(Bracket[Ref](self.bracket_size))
        member = Member(key, ref, running=True)
        self.brackets[-1].members.append(member)
        if len(self.brackets[-1].members) == self.bracket_size:
            self.brackets[-1].closed = True
        return member

    def close_open(self) -> None:
        """No more placements will come for now: the open bracket stops growing."""
        if self.brackets and self.brackets[-1].open and self.brackets[-1].members:
            self.brackets[-1].closed = True
            self._advance(self.brackets[-1])

    def budget(self, member: Member[Ref]) -> int:
        return self.epochs[member.rung]

    def next_promotion(self) -> Member[Ref] | None:
        """A promoted member to train now, if any."""
        if self.stopping or not self.queue:
            return None
        member = self.queue.popleft()
        member.running = True
        return member

    # -- results ------------------------------------------------------------------------------
    def record(self, member: Member[Ref], result: TrialResult) -> None:
        """``member`` finished its current budget with ``result`` (trained or screened out)."""
        member.running = False
        bracket = self._bracket_of(member)
        if not result.trained and member.results:
            member.note = (
                f"not retrained at {self.epochs[member.rung]} epochs: {'; '.join(result.violations)}"
            )
            member.rung -= 1
            self._finalize(member)
        else:
            member.results.append(result)
            if not member.trained:
                self._finalize(member)  # screened out before training: never promoted
        self._advance(bracket)

    def failed(self, member: Member[Ref], reason: str) -> bool:
        """``member``'s run failed. False at the first budget (the driver fails the trial and it
        leaves the bracket); True when it is final with its previous budget's result."""
        member.running = False
        bracket = self._bracket_of(member)
        if not member.results:
            self._leave(member)
            self._advance(bracket)
            return False
        member.note = f"the run at {self.epochs[member.rung]} epochs failed: {reason}"
        member.rung -= 1
        self._finalize(member)
        self._advance(bracket)
        return True

    def lost(self, member: Member[Ref], reason: str) -> bool:
        """``member``'s worker was lost. False at the first budget (the driver's retry path);
        True when handled here (queued again once, else final with its previous result)."""
        if not member.results:
            return self.failed(member, reason)
        member.running = False
        if member.retries < MAX_PROMOTION_RETRIES and not self.stopping:
            member.retries += 1
            self.queue.append(member)
            return True
        return self.failed(member, reason)

    def take_finals(self) -> list[Member[Ref]]:
        """Members that became final since the last call (the driver tells them)."""
        finals, self.finals = self.finals, []
        return finals

    # -- stopping -----------------------------------------------------------------------------
    def stop(self) -> None:
        """No more promotions: every member not running is final now, running ones when they end."""
        self.stopping = True
        self.queue.clear()
        for bracket in list(self.brackets):  # finalizing can remove a bracket
            bracket.closed = True
            for member in list(bracket.members):
                if not member.running and member.results:
                    self._finalize(member)

    @property
    def pending(self) -> int:
        """Members not yet final (running, queued, or waiting for their rung)."""
        return sum(len(b.members) for b in self.brackets)

    # -- internals ----------------------------------------------------------------------------
    def _bracket_of(self, member: Member[Ref]) -> Bracket[Ref]:
        return next(b for b in self.brackets if any(m is member for m in b.members))

    def _finalize(self, member: Member[Ref]) -> None:
        self._leave(member)
        self.finals.append(member)

    def _leave(self, member: Member[Ref]) -> None:
        """Take ``member`` out of its bracket; an emptied bracket goes too."""
        bracket = self._bracket_of(member)
        bracket.members.remove(member)
        if not bracket.members:
            self.brackets.remove(bracket)

    def _advance(self, bracket: Bracket[Ref]) -> None:
        """Promote (or finalize) a rung whose members all have results."""
        while bracket in self.brackets and bracket.closed:
            rung = bracket.at_rung()
            if any(m.running or m in self.queue for m in bracket.members):
                return
            if self.stopping or bracket.rung == len(self.epochs) - 1:
                for member in list(bracket.members):
                    self._finalize(member)
                return
            promoted = self.select(rung)
            for member in list(bracket.members):
                if member in promoted:
                    member.rung += 1
                    self.queue.append(member)
                else:
                    self._finalize(member)
            bracket.rung += 1
            if promoted:
                return

    def select(self, members: list[Member[Ref]]) -> list[Member[Ref]]:
        """The members promoted from a finished rung (trained ones only)."""
        candidates = [m for m in members if m.trained]
        if not candidates:
            return []
        points = [m.results[-1].objective_values(self.objectives) for m in candidates]
        ranks = non_dominated_ranks(points, self.directions)
        if self.promote == "front":
            return [m for m, r in zip(candidates, ranks, strict=True) if r == 1]
        keep = max(1, math.ceil(float(self.promote) * len(candidates)))
        crowding = [0.0] * len(candidates)
        for level in set(ranks):
            idx = [i for i, r in enumerate(ranks) if r == level]
            for i, d in zip(idx, crowding_distance([points[i] for i in idx], self.directions), strict=True):
                crowding[i] = d
        order = sorted(range(len(candidates)), key=lambda i: (ranks[i], -crowding[i], candidates[i].key))
        return [candidates[i] for i in order[:keep]]


def fidelity_attrs(member: Member[Any], epochs: list[int], objectives: list[str]) -> dict[str, Any]:
    """The user attributes that record the budgets ``member`` was trained at."""
    trained = range(len(member.results))
    steps = tuple(
        FidelityStep(epochs[i], {name: getattr(member.results[i], name) for name in objectives})
        for i in trained
    )
    reached = epochs[len(member.results) - 1] if member.results else 0
    return FidelityHistory(reached, steps, sum(epochs[i] for i in trained), member.note).to_attrs()
