"""Extra training seeds for a study's placements: one loop for racing, ``final_seeds`` and ``reseed``.

A :class:`~nas_attn.search.seed_policy.SeedPolicy` says which ``(trial, seed)`` trainings are
wanted; this loop keeps every idle worker on the most useful one, stores each result as it
lands and asks the policy again, so decisions always use every seed measured so far (no rounds,
no idle worker waiting for a round to end). It ends when the policy wants nothing more.

What is stored (study user attributes, since Optuna does not let a COMPLETE trial change):

- ``seed_runs:<trial>``: ``seeds``, ``values`` (objective values per extra seed, latency
  calibrated), ``epochs`` (the budget each was trained at) and the latency reference used;
- ``racing:<trial>``: the decisions taken for that placement, each when it changed
  (``seeds``, ``verdict``, ``reason``, ``at``).

Ctrl-C as in a search: the first submits nothing new and lets running trainings finish (their
results are kept), the second stops at once; either ends in :class:`RerunInterrupted`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import optuna

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import NasAttnError
from nas_attn.search.dispatch import Outcome, TrialPool
from nas_attn.search.interrupts import FINISH, STOP_NOW, StopRequests
from nas_attn.search.latency_reference import USED_ATTR as LATENCY_USED
from nas_attn.search.latency_reference import calibrate_on_study
from nas_attn.search.results import (
    TrialRow,
    objective_names,
    pareto_rows,
    racing_key,
    ranked_rows,
    seed_runs_key,
    study_directions,
)
from nas_attn.search.seed_policy import Decision, SeedJob, SeedPolicy
from nas_attn.search.space import SearchSpace
from nas_attn.worker.evaluate import TrialResult

POLL_SECONDS = 0.5
MAX_JOB_RETRIES = 1  # a training whose worker was lost is tried once more


class RerunInterrupted(NasAttnError):
    """Ctrl-C or SIGTERM during seed re-runs or proxy validation (finished re-runs are kept)."""


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
    decisions: dict[int, Decision] = field(default_factory=dict)
    runs: int = 0  # trainings this call added
    epochs: int = 0  # epochs those trainings spent


def budget_of(row: TrialRow, space: SearchSpace) -> int:
    """The epochs a row's values come from (its multi-fidelity budget, else the proxy's)."""
    return row.fidelity_epochs or space.proxy.epochs


@dataclass
class _Running:
    job: SeedJob
    arch: ArchConfig
    epochs: int
    tries: int = 0


class _SeedRunLoop:
    def __init__(
        self,
        study: optuna.Study,
        space: SearchSpace,
        pool: TrialPool,
        policy: SeedPolicy,
        notice: Callable[[str], None],
        observer: JobObserver,
    ) -> None:
        self.study, self.space, self.pool, self.policy = study, space, pool, policy
        self.notice, self.observer = notice, observer
        self.names = objective_names(study)
        self.directions = study_directions(study)
        self.latency = space.latency.model_dump(mode="json")
        self.running: dict[int, _Running] = {}
        self.report = SeedRunReport()

    def run(self) -> SeedRunReport:
        with StopRequests() as stop:
            while stop.level < STOP_NOW:
                settled = not (self.policy.in_rounds and self.running)
                if stop.level < FINISH and not self.report.failures and settled:
                    self._submit(self._plan(self._rows()))
                if not self.running:
                    break
                for ticket, outcome in self.pool.poll(POLL_SECONDS):
                    self._landed(self.running.pop(ticket), outcome)
            if stop.level:
                raise RerunInterrupted(
                    f"interrupted: {self.report.runs} seed re-run(s) finished and are kept; "
                    "re-run the same command to do the rest"
                )
        self.report.front = pareto_rows(self.study)
        return self.report

    def _rows(self) -> list[TrialRow]:
        return ranked_rows(self.study)

    def _plan(self, rows: Sequence[TrialRow]) -> tuple[list[SeedJob], dict[int, TrialRow]]:
        plan = self.policy.plan(rows, self.directions, [r.job for r in self.running.values()])
        self._record(plan.decisions)
        return plan.wanted, {r.number: r for r in rows}

    def _record(self, decisions: dict[int, Decision]) -> None:
        stored = self.study.user_attrs
        for number, decision in decisions.items():
            self.report.decisions[number] = decision
            key = racing_key(number)
            history = list(stored.get(key) or [])
            last = history[-1] if history else None
            entry = decision.to_dict()
            if last is None or {k: last.get(k) for k in entry} != entry:
                self.study.set_user_attr(key, [*history, {**entry, "at": time.time()}])

    def _submit(self, planned: tuple[list[SeedJob], dict[int, TrialRow]]) -> None:
        wanted, rows = planned
        for job in wanted:
            if self.pool.idle <= 0:
                return
            row = rows[job.trial]
            running = _Running(job, ArchConfig.from_dict(row.arch), budget_of(row, self.space))
            self._send(running)
            self.observer.jobs_added(1)
            self.notice(f"trial {job.trial}: training seed {job.seed} ({row.placement})")

    def _send(self, running: _Running) -> None:
        proxy = self.space.proxy_at(epochs=running.epochs, train_seed=running.job.seed)
        payload = {
            "arch": running.arch.to_dict(),
            "proxy": proxy.model_dump(mode="json"),
            "latency": self.latency,
        }
        self.running[self.pool.submit(payload)] = running

    def _landed(self, running: _Running, outcome: Outcome) -> None:
        job = running.job
        if outcome.kind == "lost" and running.tries < MAX_JOB_RETRIES:
            running.tries += 1
            self._send(running)
            return
        self.observer.job_done()
        if outcome.kind != "ok" or outcome.result is None:
            self.report.failures.append(f"trial {job.trial} seed {job.seed}: {outcome.reason}")
            return
        result = calibrate_on_study(self.study, outcome.result)
        values = TrialResult.from_dict(result).objective_values(self.names)
        key = seed_runs_key(job.trial)
        runs = self.study.user_attrs.get(key) or {"seeds": [], "values": []}
        count = len(runs["values"])
        runs.setdefault(LATENCY_USED, [None] * count)
        runs.setdefault("epochs", [None] * count)
        runs["seeds"].append(job.seed)
        runs["values"].append(values)
        runs[LATENCY_USED].append(result.get(LATENCY_USED))
        runs["epochs"].append(running.epochs)
        self.study.set_user_attr(key, runs)
        self.report.runs += 1
        self.report.epochs += running.epochs
        shown = ", ".join(f"{n} {v:.4g}" for n, v in zip(self.names, values, strict=True))
        self.notice(f"trial {job.trial} seed {job.seed}: {shown}")


def run_seed_policy(
    study: optuna.Study,
    space: SearchSpace,
    pool: TrialPool,
    policy: SeedPolicy,
    notice: Callable[[str], None] = lambda _: None,
    observer: JobObserver | None = None,
) -> SeedRunReport:
    """Train the seeds ``policy`` asks for on ``pool`` until it asks for none (see module doc)."""
    return _SeedRunLoop(study, space, pool, policy, notice, observer or _Unobserved()).run()
