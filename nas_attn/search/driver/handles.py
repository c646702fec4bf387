"""The driver's types: what callers of ``run_search`` see, and the handles it keeps per trial.

Public: ``SearchObserver`` (progress hooks) with its no-op ``NullObserver``, ``SearchOutcome``
(what a finished search returns), ``TrialHook`` (runs before an evaluated trial is told) and
``SearchInterrupted``. Internal to the driver: one handle per trial on its way through a run,
``Draft`` (sampled, not yet in the study) -> ``Asked`` (a RUNNING trial) -> ``Training`` (sent
to a worker) or ``Waiting`` (a duplicate parked until its placement finishes elsewhere).
``Draft`` and ``Asked`` are what the study database's door takes and hands out
(``studydb/door.py``, where they are defined); they are importable here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import NasAttnError
from nas_attn.search.driver.fidelity import Member
from nas_attn.search.execution.dispatch import Outcome
from nas_attn.search.results import TrialRow
from nas_attn.search.studydb.door import Asked, Draft
from nas_attn.worker.evaluate import TrialResult

__all__ = [
    "Asked",
    "Draft",
    "NullObserver",
    "SearchInterrupted",
    "SearchObserver",
    "SearchOutcome",
    "Training",
    "TrialHook",
    "Waiting",
]


class SearchInterrupted(NasAttnError):
    """The user stopped the search; completed trials are kept and a re-run resumes."""


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


#: Called with the number of a trial about to be COMPLETE, its placement and its (calibrated)
#: result, e.g. to store artifacts; returns system attributes to record with the trial (e.g. the
#: links to those artifacts). A failure there is reported, never fatal.
TrialHook = Callable[[int, ArchConfig, TrialResult], dict[str, Any]]


@dataclass
class Training:
    """An asked trial sent to a worker (its ticket is the key of ``State.training``)."""

    trial: Asked
    digest: str
    arch: ArchConfig
    member: Member[Training] | None = None  # its place in a multi-fidelity bracket
    counted: Outcome | None = None  # a member's result at the budget its values come from


@dataclass
class Waiting:
    """An asked trial whose placement trial ``holder`` is training: answered when that ends."""

    trial: Asked
    digest: str
    holder: int
