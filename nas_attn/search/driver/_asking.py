"""Asking: start trials on idle workers while the target, the space and the slots allow.

Each round reserves ledger slots (so several drivers together never exceed the target), samples
placements on the sampler's mirror, writes them into the study as RUNNING trials and claims
their digests (so no placement is trained twice); several new trials go in one batch, enqueued
ones (baselines, retries) one by one. A placement that cannot be claimed is known: it is
answered from the earlier trial, or parked until that trial ends. Promoted members of a
multi-fidelity bracket are sent first, at their next budget. Every write goes through the study
database's door (``setup.db``, ``studydb/door.py``); the ledger and the mirror are only read here.
"""

from __future__ import annotations

import itertools
import time

from nas_attn.exceptions import NasAttnError
from nas_attn.search.driver._handles import TrialHandle
from nas_attn.search.driver._state import Setup, State
from nas_attn.search.driver._telling import Teller
from nas_attn.search.interrupts import NotStarted
from nas_attn.search.sampling.space import sample_arch
from nas_attn.search.studydb import EVALUATED, FAILED, RUNNING, SCREENED, Asked, Draft, TakenTrial

MAX_DUPLICATES_PER_ROUND = 20  # then wait for a result (or a few seconds) before asking again
DUPLICATE_BACKOFF_SECONDS = 5.0
MAX_BATCH = 16  # new trials written together; larger batches make their first workers wait longer
SLOTS_RECHECK_SECONDS = 2.0  # all slots held: look again this often (other drivers may free one)


class Asker:
    """Asks new trials and sends them to workers (see the module docstring); what cannot train
    (an invalid placement, a known one) goes to the ``Teller``."""

    def __init__(self, setup: Setup, state: State, teller: Teller) -> None:
        self.setup, self.state, self.teller = setup, state, teller

    def fill(self) -> None:
        """Start trials on idle workers while the target and the space allow."""
        setup, state = self.setup, self.state
        db, ledger, pool = setup.db, setup.ledger, setup.pool
        if state.stopping or state.too_many_failures():
            self.close_bracket()  # no more placements: the open bracket must not wait for any
            return
        self.start_promotions()
        if pool.idle == 0 or time.monotonic() < max(state.backoff_until, state.full_until):
            return
        state.nothing_to_ask = False
        unanswered = 0  # asks in this round that started no training (duplicates, invalid)
        counts = ledger.counts()  # once per round: this round's own starts are added below
        setup.mirror.sync()  # once per round: others' results, enqueued trials
        while (
            pool.idle > 0
            and unanswered < MAX_DUPLICATES_PER_ROUND
            and not state.stop.level
            and not state.too_many_failures()  # else reserve/unreserve would spin here forever
        ):
            if counts[EVALUATED] >= setup.target:
                self.close_bracket()
                return
            settled = counts[EVALUATED] + counts[FAILED] + counts[SCREENED]
            if settled >= setup.size:
                state.exhausted = True
                self.close_bracket()
                return
            if settled + counts[RUNNING] >= setup.size:
                state.nothing_to_ask = True
                return  # every placement is evaluated or being evaluated: a new ask can only repeat one
            batch = min(pool.idle, setup.size - settled - counts[RUNNING], MAX_BATCH)
            if batch > 1 and not setup.mirror.waiting:  # several new trials at once (enqueued: one by one)
                asked = self.fill_batch(batch)
                if asked is None:
                    return  # every slot is held
                unanswered += asked[0] - asked[1]
                counts[RUNNING] += asked[1]
                if asked[1] < asked[0]:
                    counts = ledger.counts()  # a duplicate or a failure: the space may be used up
                continue
            slot = db.reserve(setup.target)
            if slot is None:
                self.slots_held()
                return
            started = False
            try:
                while (
                    not started
                    and unanswered < MAX_DUPLICATES_PER_ROUND
                    and not state.too_many_failures()
                    and not state.stop.level  # a trial stopped before it started: ask no other
                ):
                    (started,) = self.ask_many([slot], enqueued_first=True)  # a batch of one
                    unanswered += not started
            finally:
                if not started:
                    db.unreserve(slot)
            counts[RUNNING] += started
            if not started:
                counts = ledger.counts()  # a duplicate or a failure: the space may be used up
        if unanswered >= MAX_DUPLICATES_PER_ROUND:
            state.backoff_until = time.monotonic() + DUPLICATE_BACKOFF_SECONDS

    def slots_held(self) -> None:
        """Every slot is held by running or finished evaluations: ask again once one can have
        been freed (or after a while: another driver may free one), and close the open bracket."""
        self.state.full_until = time.monotonic() + SLOTS_RECHECK_SECONDS
        self.close_bracket()

    def fill_batch(self, wanted: int) -> tuple[int, int] | None:
        """Reserve up to ``wanted`` slots and ask a trial for each: (asked, training), or None
        when no slot was free. Slots whose trial does not train are given back."""
        db = self.setup.db
        slots = db.reserve_many(self.setup.target, wanted)
        if not slots:
            self.slots_held()
            return None
        started: list[bool] = []
        try:
            started = self.ask_many(slots)
        finally:
            for slot, ok in itertools.zip_longest(slots, started, fillvalue=False):
                if not ok:
                    db.unreserve(slot)
        return len(slots), sum(started)

    def ask_many(self, slots: list[int], enqueued_first: bool = False) -> list[bool]:
        """Ask one trial per slot (``enqueued_first``: take an enqueued trial, a baseline or a
        retry, before sampling a new one): sampled one after another, written and claimed with
        a few statements for all of them; per slot, whether it trains (else it was answered or
        parked as a duplicate, or failed as invalid)."""
        db = self.setup.db
        drafts = [self.draft(db.take_enqueued() if enqueued_first else None) for _ in slots]
        trials = db.start(drafts)
        claims = [
            (slot, t, d.digest)
            for slot, d, t in zip(slots, drafts, trials, strict=True)
            if d.arch is not None
        ]
        claimed = len(claims) == len(slots) and db.claim_all(claims)  # else one by one
        return [self.launch(t, d, slot, claimed) for slot, d, t in zip(slots, drafts, trials, strict=True)]

    def draft(self, taken: TakenTrial | None) -> Draft:
        """Sample a placement on the mirror (with ``taken``'s enqueued parameters, if any)."""
        memory = self.setup.mirror.ask(taken.fixed_params if taken is not None else None)
        try:
            return Draft(memory, taken, sample_arch(memory, self.setup.space))
        except NasAttnError as exc:
            return Draft(memory, taken, None, f"invalid placement: {exc}")

    def launch(self, trial: Asked, draft: Draft, slot: int, claimed: bool) -> bool:
        """Send ``trial`` to a worker in ``slot`` (True), claiming its digest unless ``claimed``;
        or fail it (invalid placement) or answer/park it (a known placement) (False)."""
        if draft.arch is None:
            self.teller.fail(self.state.trials.open(trial, None), draft.problem, counts=True)
            return False
        handle = self.state.trials.open(trial, draft.arch, draft.digest)
        while not claimed and not self.setup.db.claim(slot, trial, handle.digest):
            if self.answer_or_park(handle):  # the placement is known: answered or parked
                return False
        self.setup.db.sent(trial, slot)
        if self.state.stop.level:  # Ctrl-C while this batch was asked: it does not start
            self.teller.stopped(handle, "before it started")
            return False
        if self.setup.fidelity is not None:
            handle.member = self.setup.fidelity.admit(trial.number, handle)
        try:
            self.submit(handle)
        except NotStarted:  # the user stopped while the pool prepared it (a warm-start backbone)
            self.teller.stopped(handle, "before it started")
            return False
        self.setup.observer.trial_started(trial.number, draft.arch)
        return True

    def answer_or_park(self, handle: TrialHandle) -> bool:
        """Answer ``handle``'s trial from the ledger if its placement is known (or park it while
        another trial trains that placement); False if the placement is new."""
        known = self.setup.ledger.lookup(handle.digest)
        if known is None:
            return False
        if known.state in (EVALUATED, FAILED, SCREENED):
            self.teller.answer(handle, known)
        else:
            self.state.trials.park(handle, known.trial_number or -1)
        return True

    def submit(self, handle: TrialHandle) -> None:
        """Send ``handle`` to an idle worker at its budget (its bracket's rung, else the proxy's)."""
        fidelity = self.setup.fidelity
        epochs = fidelity.budget(handle.member) if fidelity and handle.member else None
        assert handle.arch is not None
        ticket = self.setup.pool.submit(self.setup.space.train_request(handle.arch, epochs=epochs))
        self.state.trials.send(handle, ticket)

    # -- multi-fidelity -----------------------------------------------------------------------
    def start_promotions(self) -> None:
        """Retrain promoted placements at their next budget first, while workers are idle."""
        fidelity = self.setup.fidelity
        while fidelity is not None and self.setup.pool.idle > 0:
            member = fidelity.next_promotion()
            if member is None:
                return
            self.submit(member.ref)
            self.setup.observer.notice(
                f"trial {member.ref.number} promoted to {fidelity.budget(member)} epochs"
            )

    def close_bracket(self) -> None:
        """No more placements for now: the open bracket goes on without more members."""
        self.state.nothing_to_ask = True
        if self.setup.fidelity is not None:
            self.setup.fidelity.close_open()
            self.teller.tell_finals()
