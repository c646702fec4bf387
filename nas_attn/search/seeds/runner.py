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
from nas_attn.search.interrupts import FINISH, STOP_NOW, StopRequests
from nas_attn.search.results import (
    TrialRow,
    objective_names,
    pareto_rows,
    ranked_rows,
    study_directions,
)
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.seeds.policy import Decision, SeedJob, SeedPolicy
from nas_attn.search.studydb import LatencyReferences
from nas_attn.search.studydb.records import RacingDecision, RacingHistory, SeedRuns

POLL_SECONDS = 0.5
MAX_JOB_RETRIES = 1  # a training whose worker was lost is tried once more


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
    placements leave idle): :meth:`offer` plans (when something changed) and submits,
    :meth:`landed` takes back the outcome of one of its tickets (:meth:`owns`).
    """

    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        pool: TrialPool,
        policy: SeedPolicy,
        notice: Callable[[str], None],
        observer: JobObserver | None = None,
        rows: Callable[[], Sequence[TrialRow]] | None = None,
    ) -> None:
        self.study, self.space, self.pool, self.policy = study, space, pool, policy
        self.notice, self.observer = notice, observer or _Unobserved()
        self.rows = rows or (lambda: ranked_rows(study))
        self.names = objective_names(study)
        self.directions = study_directions(study)
        self.running: dict[int, _Running] = {}
        self.report = SeedRunReport()
        self.stale = True  # something changed since the last plan (a result landed, a trial told)
        self.wants_more = True  # the last plan wanted trainings

    def owns(self, ticket: int) -> bool:
        return ticket in self.running

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def changed(self) -> None:
        """The study changed (e.g. the search told a trial): plan again at the next offer."""
        self.stale = True

    def offer(self) -> None:
        """Plan (if anything changed) and start wanted trainings on the pool's idle workers."""
        if self.pool.idle <= 0 or not self.stale or self.report.failures:
            return
        if self.policy.in_rounds and self.running:
            return  # a fixed number of seeds: plan again when the round has landed
        self.stale = False
        ranked = self.rows()
        plan = self.policy.plan(ranked, self.directions, [r.job for r in self.running.values()])
        self._record(plan.decisions)
        self.wants_more = bool(plan.wanted)
        rows = {r.number: r for r in ranked}
        for job in plan.wanted:
            if self.pool.idle <= 0:
                self.stale = True  # more is wanted than there were workers: plan again next time
                return
            row = rows[job.trial]
            running = _Running(job, arch_of(row), budget_of(row, self.space))
            self._send(running)
            self.observer.jobs_added(1)
            self.notice(f"trial {job.trial}: training seed {job.seed} ({row.placement})")

    def _record(self, decisions: dict[int, Decision]) -> None:
        stored = self.study.user_attrs
        for number, decision in decisions.items():
            self.report.decisions[number] = decision
            history = RacingHistory.read(stored, number)
            taken = RacingDecision(decision.seeds, decision.verdict.value, decision.reason, time.time())
            updated = history.after(taken)
            if updated is not history:
                updated.write(self.study, number)

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
            self._send(running)
            return
        self.stale = True
        self.observer.job_done()
        if outcome.kind != "ok" or outcome.result is None:
            self.report.failures.append(f"trial {job.trial} seed {job.seed}: {outcome.reason}")
            return
        result = LatencyReferences.of(self.study.user_attrs).absorb(self.study, outcome.result, None)
        values = result.objective_values(self.names)
        runs = SeedRuns.read(self.study.user_attrs, job.trial)
        runs.append(job.seed, values, result.latency_reference_ms, running.epochs).write(
            self.study, job.trial
        )
        self.report.runs += 1
        self.report.epochs += running.epochs
        shown = ", ".join(f"{n} {v:.4g}" for n, v in zip(self.names, values, strict=True))
        self.notice(f"trial {job.trial} seed {job.seed}: {shown}")

    def abandon(self) -> None:
        """Forget the running trainings (the pool was shut down: their results never come)."""
        self.running.clear()


def run_seed_policy(
    study: optuna.Study,
    space: SearchSpace,
    pool: TrialPool,
    policy: SeedPolicy,
    notice: Callable[[str], None] = lambda _: None,
    observer: JobObserver | None = None,
) -> SeedRunReport:
    """Train the seeds ``policy`` asks for on ``pool`` until it asks for none (see module doc)."""
    runner = SeedRunner(study, space, pool, policy, notice, observer)
    with StopRequests() as stop:
        while stop.level < STOP_NOW:
            if stop.level < FINISH:
                runner.offer()
            if not runner.busy:
                break
            for ticket, outcome in pool.poll(POLL_SECONDS):
                runner.landed(ticket, outcome)
        if stop.level:
            raise Interrupted(
                f"interrupted: {runner.report.runs} seed re-run(s) finished and are kept; "
                "re-run the same command to do the rest"
            )
    runner.report.front = pareto_rows(study)
    return runner.report
