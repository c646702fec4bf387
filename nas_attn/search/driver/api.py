"""What callers of ``run_search`` see: its observer, outcome, trial hook and interruption.

``SearchObserver`` (progress hooks) with its no-op ``NullObserver``, ``SearchOutcome`` (what a
finished search returns), ``TrialHook`` (runs before an evaluated trial is told) and
``SearchInterrupted`` (the user stopped the search: ``nas_attn.exceptions.Interrupted``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import Interrupted
from nas_attn.search.claims import Claims
from nas_attn.search.results import TrialRow
from nas_attn.worker.evaluate import TrialResult

__all__ = ["NullObserver", "SearchInterrupted", "SearchObserver", "SearchOutcome", "TrialHook"]


# The search's name for the one interruption exception (public since 0.1): the same class.
SearchInterrupted = Interrupted


class SearchObserver(Protocol):
    """Progress hooks (the CLI renders them; tests may record them)."""

    def started(self, target: int, evaluated: int) -> None: ...

    def trial_started(self, number: int, arch: ArchConfig) -> None: ...

    def trial_finished(self, number: int, result: TrialResult | None, reason: str | None) -> None: ...

    def trial_duplicate(self, number: int, of: int) -> None: ...

    def notice(self, message: str) -> None: ...


class NullObserver:
    def started(self, target: int, evaluated: int) -> None:
        pass

    def trial_started(self, number: int, arch: ArchConfig) -> None:
        pass

    def trial_finished(self, number: int, result: TrialResult | None, reason: str | None) -> None:
        pass

    def trial_duplicate(self, number: int, of: int) -> None:
        pass

    def notice(self, message: str) -> None:
        pass


@dataclass
class SearchOutcome:
    study_name: str
    evaluated: int  # placements evaluated in the study (trained; duplicates and screened ones not counted)
    failed_this_run: int
    duplicates_this_run: int = 0
    exhausted: bool = False  # every placement of the space is evaluated (or failed)
    front: list[TrialRow] = field(default_factory=list)
    claims: Claims = field(default_factory=Claims)  # against the plain backbone (search.claims)


#: Called with the number of a trial about to be COMPLETE, its placement and its (calibrated)
#: result, e.g. to store artifacts; returns system attributes to record with the trial (e.g. the
#: links to those artifacts). A failure there is reported, never fatal.
TrialHook = Callable[[int, ArchConfig, TrialResult], dict[str, Any]]
