"""The study database's front door: every write a driver makes in a trial's life, in one place.

The driver (asking, telling, the loop) writes only through :class:`StudyDatabase`; it reads the
ledger, the driver rows and the sampler's mirror through :attr:`~StudyDatabase.ledger_reads`,
:attr:`~StudyDatabase.driver_reads` and :attr:`~StudyDatabase.mirror_reads`, typed as
:class:`LedgerReads`, :class:`DriverReads` and :class:`MirrorReads`, which have no write methods
(mypy refuses a write through them). What each write touches, and what is atomic with what:

- **Driver and slot rows** (``drivers.py``, the ledger): :meth:`~StudyDatabase.register`,
  :meth:`~StudyDatabase.beat` and :meth:`~StudyDatabase.leave` keep this driver's heartbeat row;
  :meth:`~StudyDatabase.reserve` (and ``reserve_many``) hold a slot of the target before a trial
  is asked, ``unreserve`` gives back one that started nothing. ``leave`` deletes the driver row
  and its unused reservations in one transaction; a ``beat`` that finds its row gone inserts it
  again; ``reserve`` retries a contended slot, and ``reserve_many`` falls back to one at a time.
- **Starting** (trial rows, then the ledger): :meth:`~StudyDatabase.take_enqueued` turns the
  oldest enqueued trial (of those the mirror saw WAITING at its last sync) RUNNING with this
  driver recorded (one transaction);
  :meth:`~StudyDatabase.start` writes new RUNNING trials, all in one transaction (numbered under
  the study row's lock), or fills a taken one (one transaction), and adopts them in the mirror.
  :meth:`~StudyDatabase.claim` (``claim_all``: all or none) then turns the reserved slot into
  the right to train the placement; a claim that returns False means the placement is known
  (a slot no longer reserved by this driver raises :class:`NasAttnError` instead). The claim is
  not atomic with the start: a driver dying in between leaves a RUNNING trial and a reserved
  slot, both recovered.
- **Finishing** (trial row, ledger row, then the mirror): :meth:`~StudyDatabase.complete` (the
  ledger row evaluated, or screened when the result was screened out by a constraint and never
  trained: the slot freed, the digest kept) writes the values, the result as user attributes
  (converted here from the :class:`TrialReport`), the sampler's and the artifact links' system
  attributes, the final state and the ledger row in one transaction. :meth:`~StudyDatabase.fail` does the same
  for a FAIL, with the ledger row failed in that transaction when the placement is given up.
  :meth:`~StudyDatabase.duplicate` completes a trial with the values and attributes of the trial
  that evaluated its placement (no ledger row: a duplicate never held one). Attributes staged
  by :meth:`~StudyDatabase.sent` (the slot) and :meth:`~StudyDatabase.constrain` (constraint
  violations) are written by whichever of these finishes the trial. The mirror is told after
  the commit, so the sampler never learns of a result the study does not hold; a trial another
  driver failed meanwhile raises Optuna's ``UpdateFinishedTrialError`` and is failed in the
  mirror.
- **Giving a placement back**: :meth:`~StudyDatabase.release` deletes the ledger row (slot and
  digest free) and re-enqueues the trial's parameters; the caller then fails the trial. A driver
  dying in between leaves the trial RUNNING with its parameters enqueued, and recovery enqueues
  them once more: two WAITING copies of one placement, the second answered as a duplicate.
- **The study row**: :meth:`~StudyDatabase.calibrate` rewrites the study's latency reference
  (its own statement, before the trial's) when a result measured the plain backbone with less
  noise. The use cases' study attributes (seed runs, racing, proxy validation) are not written here.
- **Seed trainings** (racing during the search): :meth:`~StudyDatabase.seed_ledger` is this
  driver's :class:`~nas_attn.search.studydb.seed_ledger.SeedLedger`: each training claimed in the
  ledger before it is submitted (a dead driver's claim taken over), its result written into
  ``seed_runs:<trial>`` with its row marked done in one transaction under the study row's lock.
- **Others' trials**: :meth:`~StudyDatabase.recover` fails and re-enqueues the RUNNING trials of
  dead drivers and tidies their ledger rows (``recovery.py``: Optuna's FAIL transition decides
  between two recovering drivers; the ledger follows it);
  :meth:`~StudyDatabase.adopt_untracked` enters COMPLETE trials of studies older than the ledger
  (all as evaluated, a screened one included).

``tests/search_tests/studydb_tests/test_door.py`` tests each line above on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna
import sqlalchemy as sa
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from nas_attn.backbones import ArchConfig
from nas_attn.search.studydb import attrs
from nas_attn.search.studydb.drivers import DriverInfo, DriverRow, DriverRows
from nas_attn.search.studydb.latency_reference import LatencyReferences
from nas_attn.search.studydb.ledger import EVALUATED, SCREENED, Evaluation, Ledger, SlotState
from nas_attn.search.studydb.mirror import CompleteTrials, SamplerMirror
from nas_attn.search.studydb.optuna_private import trial_id_of
from nas_attn.search.studydb.reads import measured_trials
from nas_attn.search.studydb.recovery import Recovered, recover_stale, requeue
from nas_attn.search.studydb.seed_ledger import SeedLedger
from nas_attn.search.studydb.trial_store import OwnTrial, TakenTrial, TrialDraft, TrialStore
from nas_attn.worker.evaluate import TrialResult


@dataclass(frozen=True)
class Draft:
    """A placement the mirror sampled, before it is a trial of the study."""

    memory: optuna.Trial
    taken: TakenTrial | None  # the enqueued trial it fills, else a new trial
    arch: ArchConfig | None  # None: the parameters make no valid placement (``problem``)
    problem: str = ""

    @property
    def digest(self) -> str:
        assert self.arch is not None
        return self.arch.digest()


@dataclass
class Asked:
    """A trial this driver asked: the SQL trial and the same trial in the sampler's mirror."""

    sql: OwnTrial
    memory: optuna.Trial
    pending: dict[str, Any] = field(default_factory=dict)  # user attrs to write when it finishes

    @property
    def number(self) -> int:
        return self.sql.number


@dataclass(frozen=True)
class TrialReport:
    """What a trial is finished with: the worker's (calibrated) result, the Ray node it ran on
    (None where the pool does not say) and a bracket member's budgets (``fidelity_attrs``)."""

    result: TrialResult
    node_id: str | None = None
    fidelity: Mapping[str, Any] = field(default_factory=dict)


def _report_attrs(report: TrialReport) -> dict[str, Any]:
    """The user attributes ``report`` is stored as: the result's fields, the node, the budgets."""
    node = {attrs.WORKER_NODE: report.node_id} if report.node_id is not None else {}
    return {**report.result.to_dict(), **node, **report.fidelity}


class LedgerReads(Protocol):
    """What the driver may read of the ledger (and nothing it could write)."""

    def count(self, *states: SlotState) -> int: ...

    def counts(self) -> Counter[SlotState]: ...

    def lookup(self, digest: str) -> Evaluation | None: ...


class DriverReads(Protocol):
    """What the driver may read of the driver rows: who is registered, and when they beat."""

    def drivers(self) -> dict[str, DriverRow]: ...


class MirrorReads(Protocol):
    """What the driver may do with the sampler's mirror: catch up with the study, sample on it,
    read it. Telling it a trial's end is the door's (after the commit)."""

    @property
    def waiting(self) -> Sequence[int]: ...

    def sync(self) -> None: ...

    def ask(self, fixed_params: dict[str, Any] | None = None) -> optuna.Trial: ...

    def complete_view(self, study: optuna.Study) -> CompleteTrials: ...


class StudyDatabase:
    """The writes of one driver on one study (see the module docstring for the contract)."""

    def __init__(self, study: optuna.Study, me: DriverInfo) -> None:
        """Open the study's ledger (creating its tables), trial store and sampler mirror."""
        self.study, self.me = study, me
        self.ledger = Ledger.of(study)
        self.drivers = DriverRows(self.ledger)
        self.store = TrialStore(self.ledger.storage, self.ledger.study_id)
        self.mirror = SamplerMirror(study, self.store)
        self.latency_references = LatencyReferences.of(study.user_attrs)

    @property
    def ledger_reads(self) -> LedgerReads:
        """The ledger, for reading (counts, lookups)."""
        return self.ledger

    @property
    def driver_reads(self) -> DriverReads:
        """The driver rows, for reading (who is alive)."""
        return self.drivers

    @property
    def mirror_reads(self) -> MirrorReads:
        """The sampler's mirror, for syncing, sampling and reading."""
        return self.mirror

    # -- this driver and its slots ------------------------------------------------------------
    def register(self) -> None:
        self.drivers.register(self.me)

    def beat(self) -> bool:
        """Record that this driver is alive; False if its row was gone (it is added again)."""
        return self.drivers.beat(self.me)

    def leave(self) -> None:
        """Remove this driver's row and the slots it reserved but never used."""
        self.drivers.unregister(self.me.driver_id)

    def reserve(self, target: int) -> int | None:
        return self.ledger.reserve(self.me.driver_id, target)

    def reserve_many(self, target: int, count: int) -> list[int]:
        return self.ledger.reserve_many(self.me.driver_id, target, count)

    def unreserve(self, slot: int) -> None:
        self.ledger.unreserve(slot, self.me.driver_id)

    def seed_ledger(self) -> SeedLedger:
        """This driver's claims and results of seed trainings (racing during the search)."""
        return SeedLedger(self.study, self.me, self.ledger)

    # -- starting -----------------------------------------------------------------------------
    def take_enqueued(self) -> TakenTrial | None:
        """Take the oldest enqueued trial (a baseline, a retry) no other driver took, if any."""
        return self.store.take_waiting(self.mirror.waiting, {attrs.DRIVER: self.me.driver_id})

    def start(self, drafts: Sequence[Draft]) -> list[Asked]:
        """Write ``drafts`` into the study as RUNNING trials (the new ones in one transaction)
        with their driver (so recovery knows the owner), placement and digest."""
        stored = []
        for d in drafts:
            user_attrs: dict[str, Any] = {attrs.DRIVER: self.me.driver_id}
            if d.arch is not None:
                user_attrs |= {attrs.ARCH: d.arch.to_dict(), attrs.DIGEST: d.digest}
            system_attrs = self.mirror.system_attrs(d.memory)
            stored.append(TrialDraft(d.memory.params, d.memory.distributions, user_attrs, system_attrs))
        fresh = [s for d, s in zip(drafts, stored, strict=True) if d.taken is None]
        created = iter(self.store.start_many(fresh) if fresh else [])
        asked = []
        for d, s in zip(drafts, stored, strict=True):
            sql = next(created) if d.taken is None else self.store.start(d.taken, s)
            self.mirror.adopt(d.memory, sql.trial_id, sql.number)
            asked.append(Asked(sql, d.memory))
        return asked

    def claim(self, slot: int, trial: Asked, digest: str) -> bool:
        """Claim ``digest`` for ``trial`` in its reserved ``slot``; False if it is claimed already."""
        return self.ledger.claim(slot, digest, trial.number, trial.sql.trial_id)

    def claim_all(self, claims: Sequence[tuple[int, Asked, str]]) -> bool:
        """:meth:`claim` for each ``(slot, trial, digest)``, all or none."""
        rows = [(slot, digest, t.number, t.sql.trial_id) for slot, t, digest in claims]
        return self.ledger.claim_many(rows)

    def sent(self, trial: Asked, slot: int) -> None:
        """``trial`` was sent for training in ``slot`` (recorded when it finishes)."""
        trial.pending[attrs.SLOT] = slot

    def constrain(self, trial: Asked, violations: Iterable[tuple[str, float]]) -> None:
        """Set ``trial``'s constraint values, ``(name, violation)`` (on the sampler's trial, as
        system attributes written when it finishes)."""
        for key, value in violations:
            trial.memory.set_constraint(key, value)

    # -- finishing ----------------------------------------------------------------------------
    def calibrate(self, number: int, result: TrialResult) -> TrialResult:
        """Refresh the study's latency reference from ``result``'s plain-backbone timing (trial
        ``number``) if it is less noisy, then calibrate ``result``'s latency with the reference."""
        return self.latency_references.absorb(self.study, result, number)

    def complete(
        self,
        trial: Asked,
        digest: str,
        report: TrialReport,
        values: list[float],
        links: Mapping[str, Any] | None = None,
    ) -> None:
        """``trial`` measured its placement: COMPLETE with ``values``, ``report`` and the artifact
        ``links``. Its ledger row is evaluated, or screened when the result was screened out by a
        constraint and never trained (COMPLETE but infeasible; slot freed, digest kept)."""
        settle = self.ledger.settle_statement(digest, trial.number, report.result.trained)
        self._finish(trial, TrialState.COMPLETE, values, _report_attrs(report), links, also=[settle])

    def fail(
        self,
        trial: Asked,
        reason: str,
        *,
        give_up: str | None = None,
        report: TrialReport | None = None,
        duplicate_of: int | None = None,
    ) -> None:
        """FAIL ``trial`` with ``reason`` (and ``report``, or the trial it duplicates, if any).
        ``give_up``: the placement's digest, given up (its ledger row failed, never retried)."""
        also = [self.ledger.fail_statement(give_up, trial.number, reason)] if give_up is not None else []
        user_attrs = _report_attrs(report) if report is not None else {}
        if duplicate_of is not None:
            user_attrs[attrs.DUPLICATE_OF] = duplicate_of
        user_attrs[attrs.FAIL_REASON] = reason
        self._finish(trial, TrialState.FAIL, user_attrs=user_attrs, also=also)

    def duplicate(self, trial: Asked, known: Evaluation) -> None:
        """Complete ``trial`` as the COMPLETE trial that evaluated its placement (``known``):
        its values, constraints and result attributes, and ``duplicate_of``."""
        assert known.trial_id is not None and known.trial_number is not None
        source = self.ledger.storage.get_trial(known.trial_id)
        copied = {k: v for k, v in source.user_attrs.items() if k not in attrs.BOOKKEEPING}
        self.constrain(trial, source.constraints.items())
        pointer = {attrs.DUPLICATE_OF: known.trial_number}
        self._finish(trial, TrialState.COMPLETE, list(source.values), {**copied, **pointer})

    def release(self, trial: Asked, digest: str, count_retry: bool = True) -> None:
        """Give ``trial``'s placement back (lost or interrupted): its claim deleted and its
        parameters enqueued again (``count_retry``: towards the retry budget). Fail it after."""
        self.ledger.release(digest, trial.number)
        requeue(self.study, trial.number, trial.sql.params, trial.sql.user_attrs, count_retry=count_retry)

    def _finish(
        self,
        trial: Asked,
        state: TrialState,
        values: list[float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        also: Sequence[sa.Executable] = (),
    ) -> None:
        """Finish ``trial`` in the study (with the statements ``also``, one transaction), then in
        the mirror (where the sampler learns of it)."""
        written = {**trial.pending, **(user_attrs or {})}
        system = {**self.mirror.system_attrs(trial.memory), **(system_attrs or {})}
        try:
            self.store.finish(trial.sql, state, values, written, system, also)
        except UpdateFinishedTrialError:
            self.mirror.tell(trial.memory, TrialState.FAIL)
            raise
        self.mirror.tell(trial.memory, state, values, trial.sql.user_attrs)

    # -- others' trials -----------------------------------------------------------------------
    def recover(self, stale_after_s: float) -> list[Recovered]:
        """Fail and re-enqueue the RUNNING trials of dead drivers; tidy their ledger rows."""
        return recover_stale(self.study, self.ledger, self.me, stale_after_s)

    def adopt_untracked(self) -> None:
        """Enter COMPLETE trials the ledger does not know (studies from before the ledger)."""
        evaluated = [t for t in measured_trials(self.study) if attrs.DIGEST in t.user_attrs]
        if len(evaluated) > self.ledger.count(EVALUATED, SCREENED):  # screened ones are COMPLETE too
            for t in evaluated:
                self.ledger.record_evaluated(t.user_attrs[attrs.DIGEST], t.number, trial_id_of(t))
