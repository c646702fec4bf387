"""What the parts of the driver share: ``Setup``, fixed when a run starts (the study, its space,
the pool, the study database's door and the per-run constants derived from them), and ``State``,
what changes as the run goes (trials in flight, stop flags, failure counts, ask back-offs).

The loop (``loop.py``), the asking (``asking.py``) and the telling (``telling.py``)
each hold the same two objects; nothing else is shared between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import optuna

from nas_attn.search.driver.fidelity import FidelitySchedule
from nas_attn.search.driver.handles import SearchObserver, Training, TrialHook, Waiting
from nas_attn.search.driver.interrupts import StopRequests
from nas_attn.search.driver.liveness import DriverInfo
from nas_attn.search.execution.dispatch import TrialPool
from nas_attn.search.sampling.placements import space_size
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb.door import StudyDatabase
from nas_attn.search.studydb.ledger import Ledger
from nas_attn.search.studydb.mirror import SamplerMirror
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
    ledger: Ledger  # reads (counts, lookups, live drivers); writes go through ``db``
    mirror: SamplerMirror  # the sampler's study (sync, ask); writes go through ``db``
    me: DriverInfo
    size: int  # placements in the space
    objectives: list[str]
    constraints: list[Constraint]
    fidelity: FidelitySchedule[Training] | None

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
            FidelitySchedule[Training](
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
            ledger=db.ledger,
            mirror=db.mirror,
            me=me,
            size=size,
            objectives=objectives,
            constraints=constraints,
            fidelity=schedule,
        )


@dataclass
class State:
    """What changes during a run, read and written by the loop, the asking and the telling."""

    training: dict[int, Training] = field(default_factory=dict)  # by pool ticket
    waiting: dict[int, Waiting] = field(default_factory=dict)  # parked duplicates, by trial number
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
