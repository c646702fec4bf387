"""The handle the driver keeps per trial, from the ask to its final state; its ``Phase`` says
where it is::

    ASKED --> TRAINING --> TOLD          (a result, a failure, a lost worker)
      |          |  ^
      |          v  |  promoted
      |       BRACKETED --> TOLD          (a multi-fidelity member between rungs; told when final)
      +-----> WAITING --> TOLD            (a duplicate parked until its placement ends elsewhere)
      +-----> TOLD                        (an invalid placement, a known one answered at once)

Before it is a trial, a placement is a ``Draft``; the trial itself is the door's ``Asked`` (the SQL
trial and its sampler-mirror twin), both defined with the study database's door
(``studydb/door.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nas_attn.backbones import ArchConfig
from nas_attn.search.driver.fidelity import Member
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.studydb import Asked

__all__ = ["Phase", "TrialHandle"]


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
