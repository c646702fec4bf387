"""Extra training seeds for a study's placements: one loop for racing, ``final_seeds`` and ``reseed``.

A :class:`~nas_attn.search.seeds.policy.SeedPolicy` says which ``(trial, seed)`` trainings are
wanted; this loop keeps every idle worker on the most useful one, stores each result as it
lands and asks the policy again, so decisions always use every seed measured so far (no rounds,
no idle worker waiting for a round to end). It ends when the policy wants nothing more.

What is stored (study user attributes, since Optuna does not let a COMPLETE trial change):

- ``seed_runs:<trial>``: ``seeds``, ``values`` (objective values per extra seed, latency
  calibrated), ``epochs`` (the budget each was trained at) and the latency reference used;
- ``racing:<trial>``: the decisions taken for that placement, each when it changed
  (``seeds``, ``verdict``, ``reason``, ``at``).

Several drivers may run this loop on one study at once: each training is claimed in the ledger
before it is submitted (:class:`~nas_attn.search.studydb.seed_ledger.SeedLedger`), so no seed
is trained twice; the trainings other live drivers hold count as running for the policy (so
``max_seeds`` is never passed), and each result is stored once, atomically. A claim lost to
another driver means the plan was made on an older view: it is made again.

Ctrl-C as in a search: the first submits nothing new and lets running trainings finish (their
results are kept), the second stops at once; either ends in :class:`~nas_attn.exceptions.Interrupted`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import optuna

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import Interrupted, NasAttnError
from nas_attn.search.claims import Claims
from nas_attn.search.execution.protocol import Outcome, TrialPool
from nas_attn.search.interrupts import FINISH, STOP_NOW, NotStarted, StopRequests
from nas_attn.search.results import (
    TrialRow,
    objective_names,
    pareto_rows,
    ranked_rows,
    study_directions,
)
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.seeds.policy import Decision, SeedJob, SeedPolicy
from nas_attn.search.studydb import HEARTBEAT_S, DriverInfo, LatencyReferences
from nas_attn.search.studydb.records import RacingDecision, RacingHistory
from nas_attn.search.studydb.seed_ledger import SeedLedger

POLL_SECONDS = 0.5
MAX_JOB_RETRIES = 1  # a training whose worker was lost is tried once more
MAX_REPLANS = 3  # plans per offer when claims are lost to other drivers


class JobObserver(Protocol):
    """Follows the trainings of seed re-runs / ``validate-proxy`` (e.g. a progress bar)."""

    def jobs_added(self, count: int) -> None: ...

    def job_done(self) -> None: ...


class _Unobserved:
    def jobs_added(self, count: int) -> None:
        pass

    def job_done(self) -> None:
        pass


@dataclass
class SeedRunReport:
    failures: list[str] = field(default_factory=list)
    front: list[TrialRow] = field(default_factory=list)
    claims: Claims = field(default_factory=Claims)  # set by the use case once the seeds are final
    decisions: dict[int, Decision] = field(default_factory=dict)
    runs: int = 0  # trainings this call added
    epochs: int = 0  # epochs those trainings spent


def budget_of(row: TrialRow, space: SearchSpace) -> int:
    """The epochs a row's values come from (its multi-fidelity budget, else the proxy's)."""
    return row.fidelity_epochs or space.proxy.epochs


def arch_of(row: TrialRow) -> ArchConfig:
    """The placement a row evaluated, to train again (a NasAttnError for a trial without one)."""
    if row.arch is None:
        raise NasAttnError(
            f"trial {row.number} carries no 'arch' user attribute; it was not made by nas-attn"
        )
    return row.arch


@dataclass
class _Running:
    job: SeedJob
    arch: ArchConfig
    epochs: int
    tries: int = 0


class SeedRunner:
    """Keeps idle workers on the seed trainings ``policy`` wants and stores each as it lands.

    Driven from outside, so the same object serves the loop after a search
    (:func:`run_seed_policy`) and racing during one (the driver offers it the workers its
    placements leave idle): :meth:`offer` plans (when something changed), claims and submits,
    :meth:`landed` takes back the outcome of one of its tickets (:meth:`owns`). ``seeds``: the
    study's seed-training claims, as this driver holds them.
    """

    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        pool: TrialPool,
        policy: SeedPolicy,
        notice: Callable[[str], None],
        seeds: SeedLedger,
        observer: JobObserver | None = None,
        rows: Callable[[], Sequence[TrialRow]] | None = None,
    ) -> None:
        self.study, self.space, self.pool, self.policy = study, space, pool, policy
        self.notice, self.observer, self.seeds = notice, observer or _Unobserved(), seeds
        self.rows = rows or (lambda: ranked_rows(study))
        self.names = objective_names(study)
        self.directions = study_directions(study)
        self.running: dict[int, _Running] = {}
        self.report = SeedRunReport()
        self.stale = True  # something changed since the last plan (a result landed, a trial told)

    def owns(self, ticket: int) -> bool:
        return ticket in self.running

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def changed(self) -> None:
        """The study changed (e.g. the search told a trial): plan again at the next offer."""
        self.stale = True

    def offer(self) -> None:
        """Plan (if anything changed), claim and start wanted trainings on the pool's idle workers."""
        if self.pool.idle <= 0 or not self.stale or self.report.failures:
            return
        if self.policy.in_rounds and self.running:
            return  # a fixed number of seeds: plan again when the round has landed
        for _ in range(MAX_REPLANS):
            self.stale = False
            try:
                if not self._plan_and_start() or self.pool.idle <= 0:
                    return
            except NotStarted:  # the user asked to stop while a backbone trained: the seed was given back
                self.stale = True
                return
        self.stale = True  # claims kept being lost to other drivers: try again at the next offer

    def _plan_and_start(self) -> bool:
        """One plan, its wanted trainings claimed and started while workers are idle; True when
        a claim was lost to another driver (the plan used an older view: plan again)."""
        others = [SeedJob(trial, seed) for trial, seed in self.seeds.held_by_others()]  # before the rows
        ranked = self.rows()
        plan = self.policy.plan(ranked, self.directions, [r.job for r in self.running.values()] + others)
        self._record(plan.decisions)
        rows = {r.number: r for r in ranked}
        lost = False
        for job in plan.wanted:
            if self.pool.idle <= 0:
                self.stale = True  # more is wanted than there were workers: plan again next time
                return False
            row = rows[job.trial]
            running = _Running(job, arch_of(row), budget_of(row, self.space))
            if not self.seeds.claim(job.trial, job.seed):
                lost = True
                continue
            try:
                self._send(running)
            except BaseException:
                self.seeds.release(job.trial, job.seed)
                raise
            self.observer.jobs_added(1)
            self.notice(f"trial {job.trial}: training seed {job.seed} ({row.placement})")
        return lost

    def _record(self, decisions: dict[int, Decision]) -> None:
        stored = self.study.user_attrs
        changed = {}
        for number, decision in decisions.items():
            self.report.decisions[number] = decision
            history = RacingHistory.read(stored, number)
            taken = RacingDecision(decision.seeds, decision.verdict.value, decision.reason, time.time())
            if history.after(taken) is not history:  # changed as last read
                changed[number] = taken
        self.seeds.decide(changed)  # appended atomically (another driver may have decided too)

    def _send(self, running: _Running) -> None:
        request = self.space.train_request(running.arch, epochs=running.epochs, seed=running.job.seed)
        self.running[self.pool.submit(request)] = running

    def landed(self, ticket: int, outcome: Outcome) -> None:
        """Store the outcome of ``ticket`` (one of :meth:`owns`); a lost worker's training is
        sent again once."""
        running = self.running.pop(ticket)
        job = running.job
        if outcome.kind == "lost" and running.tries < MAX_JOB_RETRIES:
            running.tries += 1
            try:
                self._send(running)
            except NotStarted:  # the user asked to stop meanwhile: given back, not failed
                self.seeds.release(job.trial, job.seed)
                self.observer.job_done()
            return
        self.stale = True
        self.observer.job_done()
        if outcome.kind != "ok" or outcome.result is None:
            self.seeds.release(job.trial, job.seed)  # not stored: it may be trained again
            self.report.failures.append(f"trial {job.trial} seed {job.seed}: {outcome.reason}")
            return
        result = LatencyReferences.of(self.study.user_attrs).absorb(self.study, outcome.result, None)
        values = result.objective_values(self.names)
        if not self.seeds.store(job.trial, job.seed, values, result.latency_reference_ms, running.epochs):
            self.notice(f"trial {job.trial} seed {job.seed}: already stored by another driver; not counted")
            return
        self.report.runs += 1
        self.report.epochs += running.epochs
        shown = ", ".join(f"{n} {v:.4g}" for n, v in zip(self.names, values, strict=True))
        self.notice(f"trial {job.trial} seed {job.seed}: {shown}")

    def abandon(self) -> None:
        """Forget the running trainings (the pool was shut down: their results never come) and
        give back their claims."""
        for running in self.running.values():
            self.seeds.release(running.job.trial, running.job.seed)
        self.running.clear()


def run_seed_policy(
    study: optuna.Study,
    space: SearchSpace,
    pool: TrialPool,
    policy: SeedPolicy,
    notice: Callable[[str], None] = lambda _: None,
    observer: JobObserver | None = None,
) -> SeedRunReport:
    """Train the seeds ``policy`` asks for on ``pool`` until it asks for none (see module doc).

    The loop is a driver of the study while it runs (a heartbeat row), so the seeds it claims
    are known to be held by a live driver; it leaves (giving back what it still holds) at the end."""
    seeds = SeedLedger(study, DriverInfo.this_process())
    seeds.register()
    try:
        runner = SeedRunner(study, space, pool, policy, notice, seeds, observer)
        _run(runner, seeds)
    finally:
        seeds.leave()
    runner.report.front = pareto_rows(study)
    return runner.report


def _run(runner: SeedRunner, seeds: SeedLedger) -> None:
    last_beat = time.monotonic()
    with StopRequests() as stop:
        while stop.level < STOP_NOW:
            if stop.level < FINISH:
                runner.offer()
            if not runner.busy:
                break
            for ticket, outcome in runner.pool.poll(POLL_SECONDS):
                runner.landed(ticket, outcome)
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                seeds.beat()
                last_beat = time.monotonic()
        if stop.level:
            raise Interrupted(
                f"interrupted: {runner.report.runs} seed re-run(s) finished and are kept; "
                "re-run the same command to do the rest"
            )
