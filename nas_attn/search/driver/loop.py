"""The search driver: the only process that talks to Optuna (ask/tell); Ray actors train.

Loop: keep every idle worker busy until the study holds the target number of evaluated
placements; tell each result as it arrives. Each evaluation first reserves a slot in the study
ledger (so several drivers together never exceed the target), then claims the placement's
digest (so no placement is trained twice). A placement already evaluated is answered from the
earlier trial (``duplicate_of``), one being trained elsewhere is answered when that finishes.

The sampler samples an in-memory mirror of the study (``studydb/mirror.py``) and each step of a
trial is one transaction (``studydb/trial_store.py``): Optuna's own per-call storage path is too
slow to keep dozens of workers busy (``benches/bench_orchestration.py``). Workers freed by results
restart before those results are told; results are told one at a time when no new one has come in.

Failures: a bad placement or divergence fails the trial (never retried); a lost worker fails
it and re-enqueues its parameters within a retry budget; a dead driver's RUNNING trials are
found by their stale heartbeat and treated the same way. Ctrl-C: see ``search/interrupts.py``.

Where things are: this module holds the loop, its housekeeping (heartbeat, recovery of dead
drivers' trials) and stopping, and ``run_search``. Asking trials is ``_asking.py``, telling their
results ``_telling.py``; the two share ``Setup`` and ``State`` (``_state.py``). The public types are
in ``api.py`` (and importable from the package), the per-trial handles in ``_handles.py``. Every
write to the study database goes through its door (``setup.db``, ``studydb/door.py``).
"""

from __future__ import annotations

import time

import optuna

from nas_attn.exceptions import Interrupted, NasAttnError
from nas_attn.search.driver._asking import Asker
from nas_attn.search.driver._racing import RacingDuringSearch
from nas_attn.search.driver._state import Setup, State
from nas_attn.search.driver._telling import INTERRUPTED, Teller
from nas_attn.search.driver.api import (
    NullObserver,
    SearchObserver,
    SearchOutcome,
    TrialHook,
)
from nas_attn.search.execution.protocol import Outcome, TrialPool
from nas_attn.search.execution.warm_start import WarmStartPool
from nas_attn.search.interrupts import FINISH, STOP_NOW
from nas_attn.search.results import TrialRow, pareto_rows
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb import EVALUATED, HEARTBEAT_S, STALE_AFTER_S

POLL_SECONDS = 0.5
RECOVER_EVERY_SECONDS = 15.0


class _Driver:
    """One run: the loop, its housekeeping and stopping; asks through ``asker``, tells through
    ``teller``."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.state = State()
        self.teller = Teller(self.setup, self.state)
        self.asker = Asker(self.setup, self.state, self.teller)
        self.racing = RacingDuringSearch(self.setup, self.state)
        self.backlog: list[tuple[int, Outcome]] = []  # results in, not told yet (see run)
        self.last_beat = self.last_recovery = 0.0

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> SearchOutcome:
        setup, state = self.setup, self.state
        setup.db.register()
        if isinstance(setup.pool, WarmStartPool):  # a backbone's pretraining must not silence the heartbeat
            setup.pool.keep_alive = self.housekeeping
        clean = False
        try:
            self.housekeeping(force=True)
            setup.observer.started(setup.target, self.evaluated())
            with state.stop as stop:
                while True:
                    if stop.level >= STOP_NOW:
                        self.stop_now()
                        break
                    if stop.level >= FINISH and not state.stopping:
                        self.begin_stop()
                    self.housekeeping()
                    if self.may_ask():
                        self.asker.fill()
                    self.racing.offer()  # workers the asking left idle train extra seeds
                    if self.search_over():
                        break
                    arrived = self.racing.take(setup.pool.poll(0.0 if self.backlog else POLL_SECONDS))
                    self.backlog += arrived
                    if arrived and self.may_ask():
                        self.asker.fill()  # the workers just freed restart before their results are told
                    elif self.backlog:  # a quiet moment: tell one result, then look again
                        self.teller.collect(*self.backlog.pop(0))
                        self.racing.changed()
                    self.teller.resolve_waiting()
            clean = True
        except KeyboardInterrupt:
            raise Interrupted(
                f"search aborted: trials left RUNNING in study '{setup.study.study_name}' are failed "
                "and re-enqueued when you re-run the same command"
            ) from None
        finally:
            if clean:
                setup.db.leave()
        complete = self.evaluated()
        if state.stopping:
            raise Interrupted(
                f"search interrupted: {complete} evaluated trials are kept in study "
                f"'{setup.study.study_name}'; re-run the same command to resume"
            )
        if state.too_many_failures() and complete < setup.target:
            raise NasAttnError(
                f"stopped after {state.consecutive_failures} failed trials in a row; "
                f"last reason: {state.last_reason}"
            )
        return SearchOutcome(
            setup.study.study_name,
            complete,
            state.failed,
            state.duplicates,
            state.exhausted,
            self.front(),
        )

    def front(self) -> list[TrialRow]:
        """The study's Pareto front, ranked from the mirror (no reload of the whole study)."""
        self.setup.mirror.sync()
        return pareto_rows(self.setup.mirror.complete_view(self.setup.study))

    def evaluated(self) -> int:
        return self.setup.ledger.count(EVALUATED)

    def may_ask(self) -> bool:
        """Whether new trials may start before the results in the backlog are told: yes, unless
        one of them failed (the failure count and retries come first) or a multi-fidelity
        bracket waits on them (promotions come first)."""
        if self.setup.fidelity is not None:
            return not self.backlog
        return all(outcome.kind == "ok" for _, outcome in self.backlog)

    def search_over(self) -> bool:
        state, fidelity = self.state, self.setup.fidelity
        if state.trials.in_flight() or (fidelity is not None and fidelity.pending):
            return False
        if self.racing.busy:
            return False  # its seed trainings land (and are stored) before the driver ends
        if state.stopping or state.too_many_failures() or state.exhausted:
            return True
        return self.evaluated() >= self.setup.target

    # -- housekeeping -------------------------------------------------------------------------
    def housekeeping(self, force: bool = False) -> None:
        """Heartbeat, and now and then recover the trials of dead drivers."""
        setup = self.setup
        now = time.monotonic()
        if force or now - self.last_beat >= HEARTBEAT_S:
            if not setup.db.beat():
                setup.observer.notice("this driver's heartbeat row was missing; registered again")
            self.last_beat = now
        if force or now - self.last_recovery >= RECOVER_EVERY_SECONDS:
            for item in setup.db.recover(STALE_AFTER_S):
                setup.observer.notice(f"trial {item.number} failed: {item.reason}")
                self.state.full_until = 0.0  # its slot is free again
            if force:
                setup.db.adopt_untracked()  # COMPLETE trials of a study from before the ledger
            self.last_recovery = now

    # -- stopping -----------------------------------------------------------------------------
    def begin_stop(self) -> None:
        """First Ctrl-C: no new trials; running ones finish (the user is told how to stop them)."""
        self.no_new_trials()
        if training := self.state.trials.training():
            self.setup.observer.notice(
                f"stopping: no new trials; waiting for {len(training)} running trial(s) to finish "
                "(press Ctrl-C again to stop them now)"
            )

    def no_new_trials(self) -> None:
        """Ask nothing more: open brackets end, parked duplicates fail (once per run)."""
        setup, state = self.setup, self.state
        if state.stopping:
            return
        state.stopping = True
        if setup.fidelity is not None:
            setup.fidelity.stop()
            self.teller.tell_finals()
        for parked in state.trials.waiting():
            reason = f"{INTERRUPTED} (Ctrl-C) while it waited for trial {parked.holder}"
            self.teller.fail(parked, reason, duplicate_of=parked.holder)

    def stop_now(self) -> None:
        """Second Ctrl-C or SIGTERM: fail running trials with the reason and re-enqueue them."""
        setup, state = self.setup, self.state
        for ticket, outcome in self.backlog:  # finished: told, not failed
            self.teller.collect(ticket, outcome)
        self.backlog.clear()
        self.no_new_trials()  # after a first Ctrl-C: already done, and said once
        for handle in state.trials.training():
            assert handle.ticket is not None
            state.trials.returned(handle.ticket)  # its worker is stopped below
            if handle.member is not None and setup.fidelity is not None and handle.member.results:
                setup.fidelity.failed(handle.member, INTERRUPTED)  # final at its previous budget
                continue
            self.teller.stopped(handle)
        self.teller.tell_finals()
        setup.pool.shutdown()
        self.racing.abandon()


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
    return _Driver(Setup.build(study, space, n_trials, pool, observer or NullObserver(), on_result)).run()
