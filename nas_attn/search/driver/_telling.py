"""Telling: turn what happened to a trial into its final state in the study (and the mirror).

A worker's result completes the trial (calibrated, constraints set, artifacts saved through the
``TrialHook``, the ledger settled in the same transaction); a failure fails it; a lost worker
fails it and re-enqueues its parameters within the retry budget. A multi-fidelity bracket member
is told only when it becomes final. Duplicates are answered from the trial that evaluated their
placement, at once or, if it was still training, when it ends (``resolve_waiting``). Every write
goes through the study database's door (``setup.db``, ``studydb/door.py``); this module decides
which one, and keeps the run's counts and the observer informed.
"""

from __future__ import annotations

import math
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError

from nas_attn.search.driver._handles import TrialHandle
from nas_attn.search.driver._state import Setup, State
from nas_attn.search.driver.fidelity import Member, fidelity_attrs
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.studydb import (
    EVALUATED,
    FAILED,
    SCREENED,
    Evaluation,
    TrialReport,
    can_retry,
    retry_note,
)
from nas_attn.worker.evaluate import TrialResult

INTERRUPTED = "interrupted by the user"


class Teller:
    """Tells the study how each trial of this driver ended (see the module docstring)."""

    def __init__(self, setup: Setup, state: State) -> None:
        self.setup, self.state = setup, state

    def collect(self, ticket: int, outcome: Outcome) -> None:
        """Tell the result of the training behind ``ticket``."""
        handle = self.state.trials.returned(ticket)
        self.state.backoff_until = 0.0
        if outcome.kind != "ok" or (outcome.result is not None and not outcome.result.trained):
            self.state.full_until = 0.0  # a failed, lost or screened evaluation frees its slot
        try:
            if handle.member is not None and self.collect_member(handle, handle.member, outcome):
                return
            if outcome.kind == "ok" and outcome.result is not None:
                self.complete(handle, outcome.result, outcome.node_id)
            elif outcome.kind == "lost":
                self.lost(handle, outcome.reason)
            else:
                self.fail(handle, outcome.reason, counts=True, give_up=handle.digest)
        except UpdateFinishedTrialError:
            self.state.trials.told(handle)  # told by the other driver
            self.setup.observer.notice(
                f"trial {handle.number} was failed by another driver (this driver's heartbeat was "
                "late); its result is dropped and its re-enqueued parameters will be evaluated again"
            )

    def collect_member(self, handle: TrialHandle, member: Member[TrialHandle], outcome: Outcome) -> bool:
        """Feed a bracket member's outcome to the schedule; False if the driver's usual path
        (fail, or lose and re-enqueue) handles it: a first-budget run that did not succeed.
        The outcome whose result the schedule keeps as the member's latest is kept on ``handle``
        (what the member is told with when it is final)."""
        fidelity = self.setup.fidelity
        assert fidelity is not None
        if outcome.kind == "ok" and outcome.result is not None:
            result = self.setup.db.calibrate(handle.number, outcome.result)
            kept = len(member.results)
            fidelity.record(member, result)  # calibrated: rungs compare latency on the study's one scale
            if len(member.results) > kept:
                handle.counted = outcome
            handled = True
        elif outcome.kind == "lost":
            handled = fidelity.lost(member, outcome.reason)
        else:
            handled = fidelity.failed(member, outcome.reason)
        self.tell_finals()
        return handled

    def tell_finals(self) -> None:
        """Tell every bracket member that became final, with its highest budget's result."""
        fidelity = self.setup.fidelity
        if fidelity is None:
            return
        for member in fidelity.take_finals():
            handle, counted = member.ref, member.ref.counted
            extra = fidelity_attrs(member, fidelity.epochs, self.setup.objectives)
            assert counted is not None and counted.result is not None
            self.complete(handle, counted.result, counted.node_id, extra)

    def complete(
        self,
        handle: TrialHandle,
        reported: TrialResult,
        node_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Complete ``handle``'s trial with the worker's ``reported`` result (calibrated here),
        the node it ran on and ``extra`` user attributes (a bracket member's budgets)."""
        setup, db = self.setup, self.setup.db
        trial, digest = handle.trial, handle.digest
        parsed = db.calibrate(trial.number, reported)
        report = TrialReport(parsed, node_id, extra or {})
        values = parsed.objective_values(setup.objectives)
        db.constrain(trial, [(str(c), c.violation(parsed.objective(c.metric))) for c in setup.constraints])
        unusable = [
            f"{n} = {v}" for n, v in zip(setup.objectives, values, strict=True) if not math.isfinite(v)
        ]
        if unusable:  # Optuna would quietly turn the tell into a FAIL
            reason = f"objective not finite: {', '.join(unusable)}; the placement cannot be ranked"
            self.fail(handle, reason, counts=True, report=report, give_up=digest)
            return
        linked: dict[str, Any] = {}
        if setup.on_result is not None:
            try:
                assert handle.arch is not None
                linked = setup.on_result(trial.number, handle.arch, parsed)
            except (OSError, ValueError, RuntimeError) as exc:
                setup.observer.notice(f"trial {trial.number}: its artifacts were not saved: {exc}")
        db.complete(trial, digest, report, values, linked)  # screened or evaluated, as ``parsed`` says
        self.state.trials.told(handle)
        self.state.consecutive_failures = 0
        setup.observer.trial_finished(trial.number, parsed, None)

    def lost(self, handle: TrialHandle, reason: str) -> None:
        """Fail ``handle``'s trial, whose worker was lost, and re-enqueue its parameters within
        the retry budget (else give its placement up)."""
        known = handle.trial.sql.user_attrs
        will_retry = can_retry(known)
        full = f"{reason}; {retry_note(known, will_retry)}"
        if will_retry:  # before the FAIL: a crash in between leaves it RUNNING, so recovery redoes it
            self.setup.db.release(handle.trial, handle.digest)
        self.fail(handle, full, counts=True, give_up=None if will_retry else handle.digest)

    def stopped(self, handle: TrialHandle, when: str = "stopped") -> None:
        """Fail ``handle``'s trial, which the user stopped (``when``: how far it got), and
        re-enqueue its parameters; a user's stop is not a retry."""
        reason = f"{INTERRUPTED} ({when}); its parameters were re-enqueued"
        self.setup.db.release(handle.trial, handle.digest, count_retry=False)  # before the FAIL, as in lost
        self.setup.db.fail(handle.trial, reason)
        self.state.trials.told(handle)
        self.setup.observer.trial_finished(handle.number, None, f"{INTERRUPTED}; re-enqueued")

    def fail(
        self,
        handle: TrialHandle,
        reason: str,
        counts: bool = False,
        report: TrialReport | None = None,
        give_up: str | None = None,
        duplicate_of: int | None = None,
    ) -> None:
        """Fail ``handle``'s trial with ``reason``; ``counts``: towards the failures in a row.
        ``give_up``: the placement's digest, given up (its ledger row failed in the same
        transaction); ``report``, ``duplicate_of``: recorded with the failure."""
        self.setup.db.fail(handle.trial, reason, give_up=give_up, report=report, duplicate_of=duplicate_of)
        self.state.trials.told(handle)
        if counts:
            self.state.failed += 1
            self.state.consecutive_failures += 1
            self.state.last_reason = reason
        self.setup.observer.trial_finished(handle.number, None, reason)

    def answer(self, handle: TrialHandle, known: Evaluation) -> None:
        """Tell a duplicate what the trial that evaluated its placement got."""
        assert known.trial_id is not None and known.trial_number is not None
        if known.state == FAILED:
            reason = f"same placement as trial {known.trial_number}, which failed: {known.note}"
            self.fail(handle, reason, duplicate_of=known.trial_number)
            return
        self.setup.db.duplicate(handle.trial, known)
        self.state.trials.told(handle)
        self.state.duplicates += 1
        self.setup.observer.trial_duplicate(handle.number, known.trial_number)

    def resolve_waiting(self) -> None:
        """Answer parked duplicates whose placement finished (or was given up) elsewhere."""
        for parked in self.state.trials.waiting():
            known = self.setup.ledger.lookup(parked.digest)
            if known is not None and known.state not in (EVALUATED, FAILED, SCREENED):
                continue
            if known is None:
                self.fail(
                    parked,
                    f"same placement as trial {parked.holder}, which was lost before it finished; "
                    "its parameters were re-enqueued",
                    duplicate_of=parked.holder,
                )
            else:
                self.answer(parked, known)
