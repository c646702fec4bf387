"""Telling: turn what happened to a trial into its final state in the study (and the mirror).

A worker's result completes the trial (calibrated, constraints set, artifacts saved through the
``TrialHook``, the ledger settled in the same transaction); a failure fails it; a lost worker
fails it and re-enqueues its parameters within the retry budget. A multi-fidelity bracket member
is told only when it becomes final. Duplicates are answered from the trial that evaluated their
placement, at once or, if it was still training, when it ends (``resolve_waiting``).
"""

from __future__ import annotations

import math
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from nas_attn.search.driver.fidelity import Member, fidelity_attrs
from nas_attn.search.driver.handles import Asked, Training
from nas_attn.search.driver.state import Setup, State
from nas_attn.search.execution.dispatch import Outcome
from nas_attn.search.studydb import trial_attrs as attrs
from nas_attn.search.studydb.ledger import DONE, FAILED, SCREENED, Evaluation
from nas_attn.search.studydb.recovery import can_retry, requeue, retry_note
from nas_attn.worker.evaluate import TrialResult


class Teller:
    """Tells the study how each trial of this driver ended (see the module docstring)."""

    def __init__(self, setup: Setup, state: State) -> None:
        self.setup, self.state = setup, state

    def collect(self, ticket: int, outcome: Outcome) -> None:
        """Tell the result of the training behind ``ticket``."""
        entry = self.state.training.pop(ticket)
        trial, digest = entry.trial, entry.digest
        self.state.backoff_until = 0.0
        if outcome.kind != "ok" or (outcome.result is not None and not outcome.result.trained):
            self.state.full_until = 0.0  # a failed, lost or screened evaluation frees its slot
        try:
            if entry.member is not None and self.collect_member(entry, entry.member, outcome):
                return
            if outcome.kind == "ok" and outcome.result is not None:
                self.complete(entry, outcome.result, outcome.node_id)
            elif outcome.kind == "lost":
                self.lost(trial, digest, outcome.reason)
            else:
                self.fail(trial, outcome.reason, counts=True, ledger_digest=digest)
        except UpdateFinishedTrialError:
            self.setup.observer.notice(
                f"trial {trial.number} was failed by another driver (this driver's heartbeat was "
                "late); its result is dropped and its re-enqueued parameters will be evaluated again"
            )

    def collect_member(self, entry: Training, member: Member, outcome: Outcome) -> bool:
        """Feed a bracket member's outcome to the schedule; False if the driver's usual path
        (fail, or lose and re-enqueue) handles it: a first-budget run that did not succeed.
        The outcome whose result the schedule keeps as the member's latest is kept on ``entry``
        (what the member is told with when it is final)."""
        fidelity = self.setup.fidelity
        assert fidelity is not None
        if outcome.kind == "ok" and outcome.result is not None:
            result = self.calibrate(entry.trial.number, outcome.result)
            kept = len(member.results)
            fidelity.record(member, result.to_dict())  # rungs compare latency on the study's one scale
            if len(member.results) > kept:
                entry.counted = outcome
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
            entry: Training = member.ref
            extra = fidelity_attrs(member, fidelity.epochs, self.setup.objectives)
            assert entry.counted is not None and entry.counted.result is not None
            self.complete(entry, entry.counted.result, entry.counted.node_id, extra)

    def complete(
        self,
        entry: Training,
        reported: TrialResult,
        node_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Complete ``entry``'s trial with the worker's ``reported`` result (calibrated here),
        the node it ran on and ``extra`` user attributes (a bracket member's budgets)."""
        setup = self.setup
        trial, digest = entry.trial, entry.digest
        parsed = self.calibrate(trial.number, reported)
        result = result_attrs(parsed, node_id, extra)
        values = parsed.objective_values(setup.objectives)
        for constraint in setup.constraints:
            violation = constraint.violation(parsed.objective(constraint.metric))
            trial.memory.set_constraint(str(constraint), violation)
        unusable = [
            f"{n} = {v}" for n, v in zip(setup.objectives, values, strict=True) if not math.isfinite(v)
        ]
        if unusable:  # Optuna would quietly turn the tell into a FAIL
            reason = f"objective not finite: {', '.join(unusable)}; the placement cannot be ranked"
            self.fail(trial, reason, counts=True, user_attrs=result, ledger_digest=digest)
            return
        linked: dict[str, Any] = {}
        if setup.on_result is not None:
            try:
                linked = setup.on_result(trial.number, entry.arch, parsed)
            except (OSError, ValueError, RuntimeError) as exc:
                setup.observer.notice(f"trial {trial.number}: its artifacts were not saved: {exc}")
        settle = setup.ledger.settle_statement(digest, trial.number, parsed.trained)
        self.finish(trial, TrialState.COMPLETE, values, result, linked, also=[settle])
        self.state.consecutive_failures = 0
        setup.observer.trial_finished(trial.number, parsed, None)

    def calibrate(self, number: int, result: TrialResult) -> TrialResult:
        """Refresh the study's latency reference from this result's plain-backbone timing if it
        is less noisy, then calibrate the result's latency_ms with the reference."""
        return self.setup.latency_references.absorb(self.setup.study, result, number)

    def lost(self, trial: Asked, digest: str, reason: str) -> None:
        known = trial.sql.user_attrs
        will_retry = can_retry(known)
        full = f"{reason}; {retry_note(known, will_retry)}"
        if will_retry:  # before the FAIL: a crash in between leaves it RUNNING, so recovery redoes it
            self.setup.ledger.release(digest, trial.number)
            requeue(self.setup.study, trial.number, trial.sql.params, known)
        self.fail(trial, full, counts=True, ledger_digest=None if will_retry else digest)

    def fail(
        self,
        trial: Asked,
        reason: str,
        counts: bool = False,
        user_attrs: dict[str, Any] | None = None,
        ledger_digest: str | None = None,
    ) -> None:
        """Fail ``trial`` with ``reason``; ``counts``: towards the failures in a row.
        ``ledger_digest``: the placement is given up, its ledger row failed in the same transaction."""
        also = []
        if ledger_digest is not None:
            also.append(self.setup.ledger.fail_statement(ledger_digest, trial.number, reason))
        user_attrs = {**(user_attrs or {}), attrs.FAIL_REASON: reason}
        self.finish(trial, TrialState.FAIL, user_attrs=user_attrs, also=also)
        if counts:
            self.state.failed += 1
            self.state.consecutive_failures += 1
            self.state.last_reason = reason
        self.setup.observer.trial_finished(trial.number, None, reason)

    def answer(self, trial: Asked, known: Evaluation) -> None:
        """Tell a duplicate what the trial that evaluated its placement got."""
        assert known.trial_id is not None and known.trial_number is not None
        pointer = {attrs.DUPLICATE_OF: known.trial_number}
        if known.state == FAILED:
            reason = f"same placement as trial {known.trial_number}, which failed: {known.note}"
            self.fail(trial, reason, user_attrs=pointer)
            return
        source = self.setup.ledger.storage.get_trial(known.trial_id)
        copied = {k: v for k, v in source.user_attrs.items() if k not in attrs.BOOKKEEPING}
        for key, value in source.constraints.items():
            trial.memory.set_constraint(key, value)
        self.finish(trial, TrialState.COMPLETE, list(source.values), {**copied, **pointer})
        self.state.duplicates += 1
        self.setup.observer.trial_duplicate(trial.number, known.trial_number)

    def resolve_waiting(self) -> None:
        """Answer parked duplicates whose placement finished (or was given up) elsewhere."""
        for number, parked in list(self.state.waiting.items()):
            known = self.setup.ledger.lookup(parked.digest)
            if known is not None and known.state not in (DONE, FAILED, SCREENED):
                continue
            del self.state.waiting[number]
            if known is None:
                self.fail(
                    parked.trial,
                    f"same placement as trial {parked.holder}, which was lost before it finished; "
                    "its parameters were re-enqueued",
                    user_attrs={attrs.DUPLICATE_OF: parked.holder},
                )
            else:
                self.answer(parked.trial, known)

    def finish(
        self,
        trial: Asked,
        state: TrialState,
        values: list[float] | None = None,
        user_attrs: dict[str, Any] | None = None,
        system_attrs: dict[str, Any] | None = None,
        also: list[Any] | None = None,
    ) -> None:
        """Finish ``trial`` in the study and in the mirror (where the sampler learns of it);
        ``also``: statements for the same transaction (the ledger's record)."""
        mirror = self.setup.mirror
        written = {**trial.pending, **(user_attrs or {})}
        system_attrs = {**mirror.system_attrs(trial.memory), **(system_attrs or {})}
        try:
            self.setup.store.finish(trial.sql, state, values, written, system_attrs, also or [])
        except UpdateFinishedTrialError:
            mirror.tell(trial.memory, TrialState.FAIL)
            raise
        mirror.tell(trial.memory, state, values, trial.sql.user_attrs)


def result_attrs(result: TrialResult, node_id: str | None, extra: dict[str, Any] | None) -> dict[str, Any]:
    """The user attributes a result is stored as: its fields, the node it ran on (when the pool
    says) and ``extra``."""
    node = {attrs.WORKER_NODE: node_id} if node_id is not None else {}
    return {**result.to_dict(), **node, **(extra or {})}
