"""The search driver: the only process that talks to Optuna (ask/tell); Ray actors train.

Loop: keep every idle worker busy until the study holds the target number of evaluated
placements; tell each result as it arrives. Each evaluation first reserves a slot in the study
ledger (so several drivers together never exceed the target), then claims the placement's
digest (so no placement is trained twice). A placement already evaluated is answered from the
earlier trial (``duplicate_of``), one being trained elsewhere is answered when that finishes.

The sampler samples an in-memory mirror of the study (``mirror.py``) and each step of a trial is
one transaction (``trial_store.py``): Optuna's own per-call storage path is too slow to keep
dozens of workers busy (``benches/bench_orchestration.py``). Workers freed by results restart
before those results are told; results are told one at a time when no new one has come in.

Failures: a bad placement or divergence fails the trial (never retried); a lost worker fails
it and re-enqueues its parameters within a retry budget; a dead driver's RUNNING trials are
found by their stale heartbeat and treated the same way. Ctrl-C: see ``interrupts.py``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import NasAttnError
from nas_attn.search import trial_attrs as attrs
from nas_attn.search.dispatch import Outcome, TrialPool
from nas_attn.search.fidelity import FidelitySchedule, Member, fidelity_attrs
from nas_attn.search.interrupts import FINISH, STOP_NOW, StopRequests
from nas_attn.search.latency_reference import LatencyReferences
from nas_attn.search.ledger import (
    DONE,
    FAILED,
    HEARTBEAT_S,
    RUNNING,
    SCREENED,
    STALE_AFTER_S,
    DriverInfo,
    Evaluation,
    Ledger,
)
from nas_attn.search.mirror import SamplerMirror
from nas_attn.search.placements import space_size
from nas_attn.search.recovery import can_retry, recover_stale, requeue, retry_note
from nas_attn.search.results import TrialRow, own_trials, pareto_rows
from nas_attn.search.space import SearchSpace, sample_arch
from nas_attn.search.trial_store import OwnTrial, TakenTrial, TrialDraft, TrialStore
from nas_attn.worker.evaluate import TrialResult

MAX_CONSECUTIVE_FAILURES = 5
POLL_SECONDS = 0.5
RECOVER_EVERY_SECONDS = 15.0
MAX_DUPLICATES_PER_ROUND = 20  # then wait for a result (or a few seconds) before asking again
DUPLICATE_BACKOFF_SECONDS = 5.0
MAX_BATCH = 16  # new trials written together; larger batches make their first workers wait longer
SLOTS_RECHECK_SECONDS = 2.0  # all slots held: look again this often (other drivers may free one)
INTERRUPTED = "interrupted by the user"


class SearchInterrupted(NasAttnError):
    """The user stopped the search; completed trials are kept and a re-run resumes."""


class SearchObserver(Protocol):
    """Progress hooks (the CLI renders them; tests may record them)."""

    def started(self, target: int, complete: int) -> None: ...

    def trial_started(self, number: int, arch: ArchConfig) -> None: ...

    def trial_finished(self, number: int, result: TrialResult | None, reason: str | None) -> None: ...

    def trial_duplicate(self, number: int, of: int) -> None: ...

    def notice(self, message: str) -> None: ...


class NullObserver:
    def started(self, target: int, complete: int) -> None:
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
    complete: int  # evaluated placements in the study (COMPLETE trials that are not duplicates)
    failed_this_run: int
    duplicates_this_run: int = 0
    exhausted: bool = False  # every placement of the space is evaluated (or failed)
    front: list[TrialRow] = field(default_factory=list)


#: Called with the number of a trial about to be COMPLETE, its placement and its result dict,
#: e.g. to store artifacts; returns system attributes to record with the trial (e.g. the links
#: to those artifacts). A failure there is reported, never fatal.
TrialHook = Callable[[int, ArchConfig, dict[str, Any]], dict[str, Any]]


@dataclass
class _Asked:
    """A trial this driver asked: the SQL trial and the same trial in the sampler's mirror."""

    sql: OwnTrial
    memory: optuna.Trial
    pending: dict[str, Any] = field(default_factory=dict)  # user attrs to write when it finishes

    @property
    def number(self) -> int:
        return self.sql.number


@dataclass
class _Training:
    trial: _Asked
    digest: str
    arch: ArchConfig
    member: Member | None = None  # its place in a multi-fidelity bracket


@dataclass
class _Waiting:
    trial: _Asked
    digest: str
    holder: int


@dataclass(frozen=True)
class _Draft:
    """A placement the mirror sampled, before it is a trial of the study."""

    memory: optuna.Trial
    taken: TakenTrial | None  # the enqueued trial it fills, else a new trial
    arch: ArchConfig | None  # None: the parameters make no valid placement (``problem``)
    problem: str = ""

    @property
    def digest(self) -> str:
        assert self.arch is not None
        return self.arch.digest()


class _Driver:
    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        target: int,
        pool: TrialPool,
        observer: SearchObserver,
        on_result: TrialHook | None = None,
    ) -> None:
        self.study, self.space, self.target, self.pool, self.observer = study, space, target, pool, observer
        self.on_result = on_result
        self.ledger = Ledger.of(study)
        self.store = TrialStore(self.ledger.storage, self.ledger.study_id)
        self.mirror = SamplerMirror(study, self.store)
        self.me = DriverInfo.this_process()
        self.size = space_size(space)
        self.objectives = [o.name for o in space.objectives]
        self.constraints = list(space.constraints)
        self.latency_references = LatencyReferences.of(study.user_attrs)
        self.payload_common = {
            "latency": space.latency.model_dump(mode="json"),
            "constraints": [c.model_dump(mode="json") for c in space.constraints],
        }
        fidelity = space.search.fidelity
        self.fidelity = (
            FidelitySchedule(
                fidelity.epochs, fidelity.bracket, fidelity.promote, self.objectives, list(space.directions)
            )
            if fidelity is not None
            else None
        )
        budgets = fidelity.epochs if fidelity is not None else []  # the proxy as sent, per budget
        self.proxy_payloads = {
            epochs: space.proxy_at(epochs=epochs).model_dump(mode="json") for epochs in [None, *budgets]
        }
        self.training: dict[int, _Training] = {}
        self.backlog: list[tuple[int, Outcome]] = []  # results in, not told yet (see run)
        self.waiting: dict[int, _Waiting] = {}
        self.stopping = self.exhausted = False
        self.failed = self.duplicates = self.consecutive_failures = 0
        self.last_reason = ""
        self.last_beat = self.last_recovery = self.backoff_until = self.full_until = 0.0
        self.stop = StopRequests()

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> SearchOutcome:
        self.ledger.register(self.me)
        clean = False
        try:
            self.housekeeping(force=True)
            self.observer.started(self.target, self.evaluated())
            with self.stop as stop:
                while True:
                    if stop.level >= STOP_NOW:
                        self.stop_now()
                        break
                    if stop.level >= FINISH and not self.stopping:
                        self.begin_stop()
                    self.housekeeping()
                    if self.may_ask():
                        self.fill()
                    if self.finished():
                        break
                    arrived = self.pool.poll(0.0 if self.backlog else POLL_SECONDS)
                    self.backlog += arrived
                    if arrived and self.may_ask():
                        self.fill()  # the workers just freed restart before their results are told
                    elif self.backlog:  # a quiet moment: tell one result, then look again
                        self.collect(*self.backlog.pop(0))
                    self.resolve_waiting()
            clean = True
        except KeyboardInterrupt:
            raise SearchInterrupted(
                f"search aborted: trials left RUNNING in study '{self.study.study_name}' are failed "
                "and re-enqueued when you re-run the same command"
            ) from None
        finally:
            if clean:
                self.ledger.unregister(self.me.driver_id)
        complete = self.evaluated()
        if self.stopping:
            raise SearchInterrupted(
                f"search interrupted: {complete} evaluated trials are kept in study "
                f"'{self.study.study_name}'; re-run the same command to resume"
            )
        if self.too_many_failures() and complete < self.target:
            raise NasAttnError(
                f"stopped after {self.consecutive_failures} failed trials in a row; "
                f"last reason: {self.last_reason}"
            )
        return SearchOutcome(
            self.study.study_name,
            complete,
            self.failed,
            self.duplicates,
            self.exhausted,
            self.front(),
        )

    def front(self) -> list[TrialRow]:
        """The study's Pareto front, ranked from the mirror (no reload of the whole study)."""
        self.mirror.sync()
        return pareto_rows(self.mirror.complete_view(self.study))

    def evaluated(self) -> int:
        return self.ledger.count(DONE)

    def too_many_failures(self) -> bool:
        return self.consecutive_failures >= MAX_CONSECUTIVE_FAILURES

    def may_ask(self) -> bool:
        """Whether new trials may start before the results in the backlog are told: yes, unless
        one of them failed (the failure count and retries come first) or a multi-fidelity
        bracket waits on them (promotions come first)."""
        if self.fidelity is not None:
            return not self.backlog
        return all(outcome.kind == "ok" for _, outcome in self.backlog)

    def finished(self) -> bool:
        if self.training or self.waiting or (self.fidelity is not None and self.fidelity.pending):
            return False
        if self.stopping or self.too_many_failures() or self.exhausted:
            return True
        return self.evaluated() >= self.target

    def housekeeping(self, force: bool = False) -> None:
        """Heartbeat, and now and then recover the trials of dead drivers."""
        now = time.monotonic()
        if force or now - self.last_beat >= HEARTBEAT_S:
            if not self.ledger.beat(self.me):
                self.observer.notice("this driver's heartbeat row was missing; registered again")
            self.last_beat = now
        if force or now - self.last_recovery >= RECOVER_EVERY_SECONDS:
            for item in recover_stale(self.study, self.ledger, self.me, STALE_AFTER_S):
                self.observer.notice(f"trial {item.number} failed: {item.reason}")
                self.full_until = 0.0  # its slot is free again
            if force:
                self._adopt_untracked()
            self.last_recovery = now

    def _adopt_untracked(self) -> None:
        """Enter COMPLETE trials the ledger does not know (studies from before the ledger)."""
        evaluated = [t for t in own_trials(self.study) if attrs.DIGEST in t.user_attrs]
        if len(evaluated) > self.ledger.count(DONE, SCREENED):  # screened ones are COMPLETE too
            for t in evaluated:
                self.ledger.record_done(t.user_attrs[attrs.DIGEST], t.number, t._trial_id)

    # -- asking -------------------------------------------------------------------------------
    def fill(self) -> None:
        """Start trials on idle workers while the target and the space allow."""
        if self.stopping or self.too_many_failures():
            self.close_bracket()  # no more placements: the open bracket must not wait for any
            return
        self.start_promotions()
        if self.pool.idle == 0 or time.monotonic() < max(self.backoff_until, self.full_until):
            return
        unanswered = 0  # asks in this round that started no training (duplicates, invalid)
        counts = self.ledger.counts()  # once per round: this round's own starts are added below
        self.mirror.sync()  # once per round: others' results, enqueued trials
        while (
            self.pool.idle > 0
            and unanswered < MAX_DUPLICATES_PER_ROUND
            and not self.stop.level
            and not self.too_many_failures()  # else reserve/unreserve would spin here forever
        ):
            if counts[DONE] >= self.target:
                self.close_bracket()
                return
            settled = counts[DONE] + counts[FAILED] + counts[SCREENED]
            if settled >= self.size:
                self.exhausted = True
                self.close_bracket()
                return
            if settled + counts[RUNNING] >= self.size:
                return  # every placement is evaluated or being evaluated: a new ask can only repeat one
            batch = min(self.pool.idle, self.size - settled - counts[RUNNING], MAX_BATCH)
            if batch > 1 and not self.mirror.waiting:  # several new trials at once (enqueued: one by one)
                asked = self.fill_batch(batch)
                if asked is None:
                    return  # every slot is held
                unanswered += asked[0] - asked[1]
                counts[RUNNING] += asked[1]
                if asked[1] < asked[0]:
                    counts = self.ledger.counts()  # a duplicate or a failure: the space may be used up
                continue
            slot = self.ledger.reserve(self.me.driver_id, self.target)
            if slot is None:
                self.slots_held()
                return
            started = False
            try:
                while not started and unanswered < MAX_DUPLICATES_PER_ROUND and not self.too_many_failures():
                    started = self.ask_into(slot)
                    unanswered += not started
            finally:
                if not started:
                    self.ledger.unreserve(slot, self.me.driver_id)
            counts[RUNNING] += started
            if not started:
                counts = self.ledger.counts()  # a duplicate or a failure: the space may be used up
        if unanswered >= MAX_DUPLICATES_PER_ROUND:
            self.backoff_until = time.monotonic() + DUPLICATE_BACKOFF_SECONDS

    def slots_held(self) -> None:
        """Every slot is held by running or finished evaluations: ask again once one can have
        been freed (or after a while: another driver may free one), and close the open bracket."""
        self.full_until = time.monotonic() + SLOTS_RECHECK_SECONDS
        self.close_bracket()

    def fill_batch(self, wanted: int) -> tuple[int, int] | None:
        """Reserve up to ``wanted`` slots and ask a trial for each: (asked, training), or None
        when no slot was free. Slots whose trial does not train are given back."""
        slots = self.ledger.reserve_many(self.me.driver_id, self.target, wanted)
        if not slots:
            self.slots_held()
            return None
        started: list[bool] = []
        try:
            started = self.ask_many(slots)
        finally:
            for slot, ok in itertools.zip_longest(slots, started, fillvalue=False):
                if not ok:
                    self.ledger.unreserve(slot, self.me.driver_id)
        return len(slots), sum(started)

    def ask_into(self, slot: int) -> bool:
        """Ask one trial; train it in ``slot`` (True) or answer/park it as a duplicate (False)."""
        mine = {attrs.DRIVER: self.me.driver_id}
        taken = self.store.take_waiting(self.mirror.waiting, mine)  # enqueued first (baselines, retries)
        draft = self.draft(taken)
        (trial,) = self.record([draft])
        return self.launch(trial, draft, slot, claimed=False)

    def ask_many(self, slots: list[int]) -> list[bool]:
        """Ask one new trial per slot: sampled one after another, written and claimed with a
        few statements for all of them; per slot, whether it trains."""
        drafts = [self.draft(None) for _ in slots]
        trials = self.record(drafts)
        claims = [
            (slot, d.digest, t.number, t.sql.trial_id)
            for slot, d, t in zip(slots, drafts, trials, strict=True)
            if d.arch is not None
        ]
        claimed = len(claims) == len(slots) and self.ledger.claim_many(claims)  # else one by one
        return [self.launch(t, d, slot, claimed) for slot, d, t in zip(slots, drafts, trials, strict=True)]

    def draft(self, taken: TakenTrial | None) -> _Draft:
        """Sample a placement on the mirror (with ``taken``'s enqueued parameters, if any)."""
        memory = self.mirror.ask(taken.fixed_params if taken is not None else None)
        try:
            return _Draft(memory, taken, sample_arch(memory, self.space))
        except NasAttnError as exc:
            return _Draft(memory, taken, None, f"invalid placement: {exc}")

    def record(self, drafts: list[_Draft]) -> list[_Asked]:
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
            asked.append(_Asked(sql, d.memory))
        return asked

    def launch(self, trial: _Asked, draft: _Draft, slot: int, claimed: bool) -> bool:
        """Send ``trial`` to a worker in ``slot`` (True), claiming its digest unless ``claimed``;
        or fail it (invalid placement) or answer/park it (a known placement) (False)."""
        if draft.arch is None:
            self.fail(trial, draft.problem, counts=True)
            return False
        digest = draft.digest
        while not claimed and not self.ledger.claim(slot, digest, trial.number, trial.sql.trial_id):
            if self.answer_or_park(trial, digest):  # the placement is known: answered or parked
                return False
        trial.pending[attrs.SLOT] = slot  # written when it finishes: it was sent for training
        entry = _Training(trial, digest, draft.arch)
        if self.fidelity is not None:
            entry.member = self.fidelity.admit(trial.number, entry)
        self.submit(entry)
        self.observer.trial_started(trial.number, draft.arch)
        return True

    def finish(
        self,
        trial: _Asked,
        state: TrialState,
        values: list[float] | None = None,
        user_attrs: dict[str, Any] | None = None,
        system_attrs: dict[str, Any] | None = None,
        also: list[Any] | None = None,
    ) -> None:
        """Finish ``trial`` in the study and in the mirror (where the sampler learns of it);
        ``also``: statements for the same transaction (the ledger's record)."""
        written = {**trial.pending, **(user_attrs or {})}
        system_attrs = {**self.mirror.system_attrs(trial.memory), **(system_attrs or {})}
        try:
            self.store.finish(trial.sql, state, values, written, system_attrs, also or [])
        except UpdateFinishedTrialError:
            self.mirror.tell(trial.memory, TrialState.FAIL)
            raise
        self.mirror.tell(trial.memory, state, values, trial.sql.user_attrs)

    def submit(self, entry: _Training) -> None:
        """Send ``entry`` to an idle worker at its budget (its bracket's rung, else the proxy's)."""
        epochs = self.fidelity.budget(entry.member) if self.fidelity and entry.member else None
        payload = {"arch": entry.arch.to_dict(), "proxy": self.proxy_payloads[epochs], **self.payload_common}
        ticket = self.pool.submit(payload)
        self.training[ticket] = entry

    # -- multi-fidelity -----------------------------------------------------------------------
    def start_promotions(self) -> None:
        """Retrain promoted placements at their next budget first, while workers are idle."""
        while self.fidelity is not None and self.pool.idle > 0:
            member = self.fidelity.next_promotion()
            if member is None:
                return
            entry: _Training = member.ref
            self.submit(entry)
            self.observer.notice(
                f"trial {entry.trial.number} promoted to {self.fidelity.budget(member)} epochs"
            )

    def close_bracket(self) -> None:
        if self.fidelity is not None:
            self.fidelity.close_open()
            self.tell_finals()

    def tell_finals(self) -> None:
        """Tell every bracket member that became final, with its highest budget's result."""
        if self.fidelity is None:
            return
        for member in self.fidelity.take_finals():
            entry: _Training = member.ref
            extra = fidelity_attrs(member, self.fidelity.epochs, self.objectives)
            self.complete(entry, {**member.results[-1], **extra})

    def answer_or_park(self, trial: _Asked, digest: str) -> bool:
        """Answer ``trial`` from the ledger if its placement is known; False if it is new."""
        known = self.ledger.lookup(digest)
        if known is None:
            return False
        if known.state in (DONE, FAILED, SCREENED):
            self.answer(trial, known)
        else:
            self.waiting[trial.number] = _Waiting(trial, digest, known.trial_number or -1)
        return True

    def answer(self, trial: _Asked, known: Evaluation) -> None:
        """Tell a duplicate what the trial that evaluated its placement got."""
        assert known.trial_id is not None and known.trial_number is not None
        pointer = {attrs.DUPLICATE_OF: known.trial_number}
        if known.state == FAILED:
            reason = f"same placement as trial {known.trial_number}, which failed: {known.note}"
            self.fail(trial, reason, user_attrs=pointer)
            return
        source = self.ledger.storage.get_trial(known.trial_id)
        copied = {k: v for k, v in source.user_attrs.items() if k not in attrs.BOOKKEEPING}
        for key, value in source.constraints.items():
            trial.memory.set_constraint(key, value)
        self.finish(trial, TrialState.COMPLETE, list(source.values), {**copied, **pointer})
        self.duplicates += 1
        self.observer.trial_duplicate(trial.number, known.trial_number)

    # -- results ------------------------------------------------------------------------------
    def collect(self, ticket: int, outcome: Outcome) -> None:
        entry = self.training.pop(ticket)
        trial, digest = entry.trial, entry.digest
        self.backoff_until = 0.0
        if outcome.kind != "ok" or not (outcome.result or {}).get(attrs.TRAINED, True):
            self.full_until = 0.0  # a failed, lost or screened evaluation frees its slot
        try:
            if entry.member is not None and self.collect_member(entry.member, outcome):
                return
            if outcome.kind == "ok" and outcome.result is not None:
                self.complete(entry, outcome.result)
            elif outcome.kind == "lost":
                self.lost(trial, digest, outcome.reason)
            else:
                self.fail(trial, outcome.reason, counts=True)
                self.ledger.fail(digest, trial.number, outcome.reason)
        except UpdateFinishedTrialError:
            self.observer.notice(
                f"trial {trial.number} was failed by another driver (this driver's heartbeat was "
                "late); its result is dropped and its re-enqueued parameters will be evaluated again"
            )

    def collect_member(self, member: Member, outcome: Outcome) -> bool:
        """Feed a bracket member's outcome to the schedule; False if the driver's usual path
        (fail, or lose and re-enqueue) handles it: a first-budget run that did not succeed."""
        assert self.fidelity is not None
        if outcome.kind == "ok" and outcome.result is not None:
            number = member.ref.trial.number
            _, result = self.calibrate(number, TrialResult.from_dict(outcome.result), outcome.result)
            self.fidelity.record(member, result)  # rungs compare latency on the study's one scale
            handled = True
        elif outcome.kind == "lost":
            handled = self.fidelity.lost(member, outcome.reason)
        else:
            handled = self.fidelity.failed(member, outcome.reason)
        self.tell_finals()
        return handled

    def complete(self, entry: _Training, result: dict[str, Any]) -> None:
        trial, digest = entry.trial, entry.digest
        parsed, result = self.calibrate(trial.number, TrialResult.from_dict(result), result)
        values = parsed.objective_values(self.objectives)
        for constraint in self.constraints:
            violation = constraint.violation(parsed.objective(constraint.metric))
            trial.memory.set_constraint(str(constraint), violation)
        unusable = [
            f"{n} = {v}" for n, v in zip(self.objectives, values, strict=True) if not math.isfinite(v)
        ]
        if unusable:  # Optuna would quietly turn the tell into a FAIL
            reason = f"objective not finite: {', '.join(unusable)}; the placement cannot be ranked"
            self.fail(trial, reason, counts=True, user_attrs=result)
            self.ledger.fail(digest, trial.number, reason)
            return
        linked: dict[str, Any] = {}
        if self.on_result is not None:
            try:
                linked = self.on_result(trial.number, entry.arch, result)
            except (OSError, ValueError, RuntimeError) as exc:
                self.observer.notice(f"trial {trial.number}: its artifacts were not saved: {exc}")
        settle = self.ledger.settle_statement(digest, trial.number, parsed.trained)
        self.finish(trial, TrialState.COMPLETE, values, result, linked, also=[settle])
        self.consecutive_failures = 0
        self.observer.trial_finished(trial.number, parsed, None)

    def calibrate(
        self, number: int, parsed: TrialResult, result: dict[str, Any]
    ) -> tuple[TrialResult, dict[str, Any]]:
        """Refresh the study's latency reference from this result's plain-backbone timing if it
        is less noisy, then calibrate the result's latency_ms with the reference."""
        return self.latency_references.absorb(self.study, parsed, result, number)

    def lost(self, trial: _Asked, digest: str, reason: str) -> None:
        known = trial.sql.user_attrs
        will_retry = can_retry(known)
        full = f"{reason}; {retry_note(known, will_retry)}"
        if will_retry:  # before the FAIL: a crash in between leaves it RUNNING, so recovery redoes it
            self.ledger.release(digest, trial.number)
            requeue(self.study, trial.number, trial.sql.params, known)
        self.fail(trial, full, counts=True)
        if not will_retry:
            self.ledger.fail(digest, trial.number, full)

    def fail(
        self, trial: _Asked, reason: str, counts: bool = False, user_attrs: dict[str, Any] | None = None
    ) -> None:
        self.finish(trial, TrialState.FAIL, user_attrs={**(user_attrs or {}), attrs.FAIL_REASON: reason})
        if counts:
            self.failed += 1
            self.consecutive_failures += 1
            self.last_reason = reason
        self.observer.trial_finished(trial.number, None, reason)

    def resolve_waiting(self) -> None:
        """Answer parked duplicates whose placement finished (or was given up) elsewhere."""
        for number, parked in list(self.waiting.items()):
            known = self.ledger.lookup(parked.digest)
            if known is not None and known.state not in (DONE, FAILED, SCREENED):
                continue
            del self.waiting[number]
            if known is None:
                self.fail(
                    parked.trial,
                    f"same placement as trial {parked.holder}, which was lost before it finished; "
                    "its parameters were re-enqueued",
                    user_attrs={attrs.DUPLICATE_OF: parked.holder},
                )
            else:
                self.answer(parked.trial, known)

    # -- stopping -----------------------------------------------------------------------------
    def begin_stop(self) -> None:
        """First Ctrl-C: no new trials; running ones finish."""
        self.stopping = True
        if self.fidelity is not None:
            self.fidelity.stop()
            self.tell_finals()
        for parked in self.waiting.values():
            reason = f"{INTERRUPTED} (Ctrl-C) while it waited for trial {parked.holder}"
            self.fail(parked.trial, reason, user_attrs={attrs.DUPLICATE_OF: parked.holder})
        self.waiting.clear()
        if self.training:
            self.observer.notice(
                f"stopping: no new trials; waiting for {len(self.training)} running trial(s) to finish "
                "(press Ctrl-C again to stop them now)"
            )

    def stop_now(self) -> None:
        """Second Ctrl-C or SIGTERM: fail running trials with the reason and re-enqueue them."""
        for ticket, outcome in self.backlog:  # finished: told, not failed
            self.collect(ticket, outcome)
        self.backlog.clear()
        self.begin_stop()
        for entry in list(self.training.values()):
            if entry.member is not None and self.fidelity is not None and entry.member.results:
                self.fidelity.failed(entry.member, INTERRUPTED)  # final at its previous budget
                continue
            trial = entry.trial
            reason = f"{INTERRUPTED} (stopped); its parameters were re-enqueued"
            self.ledger.release(entry.digest, trial.number)
            requeue(self.study, trial.number, trial.sql.params, trial.sql.user_attrs, count_retry=False)
            self.finish(trial, TrialState.FAIL, user_attrs={attrs.FAIL_REASON: reason})
            self.observer.trial_finished(trial.number, None, f"{INTERRUPTED}; re-enqueued")
        self.training.clear()
        self.tell_finals()
        self.pool.shutdown()


def run_search(
    study: optuna.Study,
    space: SearchSpace,
    n_trials: int,
    pool: TrialPool,
    observer: SearchObserver | None = None,
    on_result: TrialHook | None = None,
) -> SearchOutcome:
    """Run trials until ``study`` holds ``n_trials`` evaluated placements (resuming where it stands).

    Duplicates (placements answered from an earlier trial) are COMPLETE trials too, marked
    ``duplicate_of``; they do not count towards ``n_trials``. The search also ends when every
    placement of the space is evaluated. ``on_result`` runs for each evaluated trial before it
    is told (e.g. to upload its artifacts).
    """
    return _Driver(study, space, n_trials, pool, observer or NullObserver(), on_result).run()
