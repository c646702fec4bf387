"""The driver's types: what callers of ``run_search`` see, and the handles it keeps per trial.

Public: ``SearchObserver`` (progress hooks) with its no-op ``NullObserver``, ``SearchOutcome``
(what a finished search returns), ``TrialHook`` (runs before an evaluated trial is told) and
``SearchInterrupted``.

Internal to the driver: one ``TrialHandle`` per trial of the run, from the ask to its final
state, whose ``Phase`` says where it is::

    ASKED --> TRAINING --> TOLD          (a result, a failure, a lost worker)
      |          |  ^
      |          v  |  promoted
      |       BRACKETED --> TOLD          (a multi-fidelity member between rungs; told when final)
      +-----> WAITING --> TOLD            (a duplicate parked until its placement ends elsewhere)
      +-----> TOLD                        (an invalid placement, a known one answered at once)

Before it is a trial, a placement is a ``Draft``; the trial itself is the door's ``Asked`` (the SQL
trial and its sampler-mirror twin). Both are defined with the study database's door
(``studydb/door.py``) and importable here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
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
    "Phase",
    "SearchInterrupted",
    "SearchObserver",
    "SearchOutcome",
    "TrialHandle",
    "TrialHook",
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


class Phase(Enum):
    """Where a trial of this run is (see the module docstring for the moves between phases)."""

    ASKED = "asked"  # a RUNNING trial of the study, not sent to a worker or answered yet
    TRAINING = "training"  # at a worker, under its pool ``ticket``
    WAITING = "waiting"  # a duplicate, parked until trial ``holder`` (training its placement) ends
    BRACKETED = "bracketed"  # a multi-fidelity member between rungs: promoted, or told when final
    TOLD = "told"  # its final state is in the study


@dataclass(eq=False)
class TrialHandle:
    """One trial this run asked, on its way to its final state; ``phase`` says where it is.

    The phase fields are set by ``RunTrials`` (``_state.py``), which keeps every handle not yet
    told: ``ticket`` while TRAINING, ``holder`` while WAITING.
    """

    trial: Asked
    arch: ArchConfig | None  # None: its parameters make no valid placement (failed at once)
    digest: str = ""  # the placement's digest ("" without a valid placement)
    phase: Phase = Phase.ASKED
    ticket: int | None = None  # TRAINING: the pool's ticket for its training
    holder: int | None = None  # WAITING: the trial whose training it waits for
    member: Member[TrialHandle] | None = None  # its place in a multi-fidelity bracket
    counted: Outcome | None = None  # a member's result at the budget its values come from

    @property
    def number(self) -> int:
        return self.trial.number
