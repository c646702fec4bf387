"""What the parts of the driver share: ``Setup``, fixed when a run starts (the study, its space,
the pool, the study database's door and the per-run constants derived from them), and ``State``,
what changes as the run goes (this run's trials, stop flags, failure counts, ask back-offs).
``RunTrials`` keeps the run's trial handles that are not told yet and moves them between phases.

The loop (``loop.py``), the asking (``_asking.py``) and the telling (``_telling.py``)
each hold the same two objects; nothing else is shared between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna

from nas_attn.backbones import ArchConfig
from nas_attn.search.driver._handles import Phase, TrialHandle
from nas_attn.search.driver.api import SearchObserver, TrialHook
from nas_attn.search.driver.fidelity import FidelitySchedule
from nas_attn.search.execution.protocol import TrialPool
from nas_attn.search.interrupts import StopRequests
from nas_attn.search.sampling.placements import space_size
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb import Asked, DriverInfo, LedgerReads, MirrorReads, StudyDatabase
from nas_attn.worker.config import Constraint

MAX_CONSECUTIVE_FAILURES = 5


@dataclass
class Setup:
    """One run's fixed wiring: what it searches, where results go, and who this driver is."""

    study: optuna.Study
    space: SearchSpace
    target: int  # evaluated placements the study should hold
    pool: TrialPool
    observer: SearchObserver
    on_result: TrialHook | None
    db: StudyDatabase  # every write of a trial's life goes through it
    ledger: LedgerReads  # reads only (counts, lookups); writes go through ``db``
    mirror: MirrorReads  # the sampler's study (sync, ask, read); telling it goes through ``db``
    me: DriverInfo
    size: int  # placements in the space
    objectives: list[str]
    constraints: list[Constraint]
    fidelity: FidelitySchedule[TrialHandle] | None

    @classmethod
    def build(
        cls,
        study: optuna.Study,
        space: SearchSpace,
        target: int,
        pool: TrialPool,
        observer: SearchObserver,
        on_result: TrialHook | None = None,
    ) -> Setup:
        """Open the study's database door (its ledger, trial store and sampler mirror)."""
        me = DriverInfo.this_process()
        db = StudyDatabase(study, me)
        size = space_size(space)
        objectives = [o.name for o in space.objectives]
        constraints = list(space.constraints)
        fidelity = space.search.fidelity
        schedule = (
            FidelitySchedule[TrialHandle](
                fidelity.epochs, fidelity.bracket, fidelity.promote, objectives, list(space.directions)
            )
            if fidelity is not None
            else None
        )
        return cls(
            study=study,
            space=space,
            target=target,
            pool=pool,
            observer=observer,
            on_result=on_result,
            db=db,
            ledger=db.ledger_reads,
            mirror=db.mirror_reads,
            me=me,
            size=size,
            objectives=objectives,
            constraints=constraints,
            fidelity=schedule,
        )


class RunTrials:
    """This run's trials that are not told yet, one ``TrialHandle`` each, by trial number (and
    by pool ticket while they train); every change of phase goes through here."""

    def __init__(self) -> None:
        self._open: dict[int, TrialHandle] = {}  # by trial number
        self._by_ticket: dict[int, TrialHandle] = {}  # TRAINING ones

    def open(self, trial: Asked, arch: ArchConfig | None, digest: str = "") -> TrialHandle:
        """A handle for ``trial``, just asked (ASKED)."""
        handle = TrialHandle(trial, arch, digest)
        self._open[trial.number] = handle
        return handle

    def send(self, handle: TrialHandle, ticket: int) -> None:
        """``handle`` went to a worker under ``ticket`` (TRAINING)."""
        handle.phase, handle.ticket = Phase.TRAINING, ticket
        self._by_ticket[ticket] = handle

    def returned(self, ticket: int) -> TrialHandle:
        """The training under ``ticket`` ended: its handle, back from the worker (a bracket
        member is BRACKETED until the schedule promotes it or it is told; others ASKED until told)."""
        handle = self._by_ticket.pop(ticket)
        handle.ticket = None
        handle.phase = Phase.BRACKETED if handle.member is not None else Phase.ASKED
        return handle

    def park(self, handle: TrialHandle, holder: int) -> None:
        """``handle``'s placement is being trained by trial ``holder``: it waits (WAITING)."""
        handle.phase, handle.holder = Phase.WAITING, holder

    def told(self, handle: TrialHandle) -> None:
        """``handle``'s final state is in the study (TOLD): the run lets go of it."""
        if handle.ticket is not None:
            del self._by_ticket[handle.ticket]
            handle.ticket = None
        handle.phase = Phase.TOLD
        self._open.pop(handle.number, None)

    def __len__(self) -> int:
        """Trials of this run not told yet (in any phase)."""
        return len(self._open)

    def training(self) -> list[TrialHandle]:
        return list(self._by_ticket.values())

    def waiting(self) -> list[TrialHandle]:
        return [h for h in self._open.values() if h.phase is Phase.WAITING]

    def in_flight(self) -> bool:
        """Whether a trial trains or waits: the run cannot end before they are told."""
        return bool(self._by_ticket or self.waiting())


@dataclass
class State:
    """What changes during a run, read and written by the loop, the asking and the telling."""

    trials: RunTrials = field(default_factory=RunTrials)  # this run's trials not told yet
    stopping: bool = False  # no new trials (first Ctrl-C)
    exhausted: bool = False  # every placement of the space is evaluated or failed
    failed: int = 0
    duplicates: int = 0
    consecutive_failures: int = 0
    last_reason: str = ""  # of the last counted failure
    backoff_until: float = 0.0  # too many asks without training: ask again after this (monotonic)
    full_until: float = 0.0  # every slot held: ask again after this (monotonic)
    nothing_to_ask: bool = False  # the last ask found no placement to start (target held, space used up)
    stop: StopRequests = field(default_factory=StopRequests)

    def too_many_failures(self) -> bool:
        return self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES
