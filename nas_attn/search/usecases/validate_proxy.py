"""``validate-proxy``: does the proxy rank placements like a longer budget does?

A sample of a finished study's trials, spread along the front and off it, is trained again at a
longer budget on the search's worker pool; the proxy's and the long run's accuracies are rank
correlated (Kendall tau, Spearman rho) and the result is kept in the study user attribute
``proxy_validation`` (Optuna does not let a COMPLETE trial change; the driver process stays the
only writer).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna

from nas_attn.exceptions import Interrupted, NasAttnError
from nas_attn.search.execution.protocol import Outcome, TrialPool
from nas_attn.search.interrupts import FINISH, STOP_NOW, StopRequests
from nas_attn.search.results import TrialRow, objective_names, ranked_rows
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.seeds.runner import (
    MAX_JOB_RETRIES,
    POLL_SECONDS,
    JobObserver,
    arch_of,
    budget_of,
)
from nas_attn.search.studydb.records import ProxyValidationHistory
from nas_attn.search.usecases._finished_study import RerunRequest, run_on_study
from nas_attn.stats.ranks import kendall_tau, spearman_rho
from nas_attn.worker.request import TrainRequest

__all__ = [
    "JobObserver",
    "RerunRequest",
    "run_jobs",
    "run_on_study",
    "validate_proxy",
    "validation_sample",
]
MISLEADING_TAU = 0.5  # below this Kendall tau the proxy is said to mislead


@dataclass(frozen=True)
class Job:
    """One training (``request``) for trial ``trial``."""

    trial: int
    request: TrainRequest


JobDone = Callable[[Job, Outcome], None]


def run_jobs(
    pool: TrialPool,
    jobs: Sequence[Job],
    space: SearchSpace,
    on_done: JobDone,
    observer: JobObserver | None = None,
) -> None:
    """Run ``jobs`` on ``pool`` (lost workers retried once); ``on_done`` gets each outcome.

    Ctrl-C as in a search: the first submits nothing new and lets running jobs finish (their
    results are kept), the second (or SIGTERM) stops at once; either ends in Interrupted.
    """
    if observer is not None:
        observer.jobs_added(len(jobs))
    pending = deque((job, 0) for job in jobs)
    running: dict[int, tuple[Job, int]] = {}
    done = 0
    with StopRequests() as stop:
        while (pending or running) and stop.level < STOP_NOW:
            if stop.level >= FINISH:
                pending.clear()
            while pending and pool.idle > 0:
                job, tries = pending.popleft()
                ticket = pool.submit(job.request)
                running[ticket] = (job, tries)
            for ticket, outcome in pool.poll(POLL_SECONDS):
                job, tries = running.pop(ticket)
                if outcome.kind == "lost" and tries < MAX_JOB_RETRIES:
                    pending.append((job, tries + 1))
                else:
                    on_done(job, outcome)
                    done += 1
                    if observer is not None:
                        observer.job_done()
        if stop.level:
            raise Interrupted(
                f"interrupted: {done} of {len(jobs)} re-runs finished and are kept; "
                "re-run the same command to do the rest"
            )


@dataclass(frozen=True)
class ValidationRow:
    trial: int
    rank: int
    placement: str
    proxy_accuracy: float
    long_accuracy: float | None
    reason: str = ""


@dataclass(frozen=True)
class ProxyValidation:
    epochs: int
    proxy_epochs: int
    rows: list[ValidationRow]
    kendall_tau: float
    spearman_rho: float

    @property
    def misleading(self) -> bool:
        return not math.isfinite(self.kendall_tau) or self.kendall_tau < MISLEADING_TAU

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "proxy_epochs": self.proxy_epochs,
            "kendall_tau": self.kendall_tau,
            "spearman_rho": self.spearman_rho,
            "trials": [row.__dict__ for row in self.rows],
            "measured_at": time.time(),
        }


def pick_spread(rows: list[TrialRow], sample: int) -> list[TrialRow]:
    """``sample`` rows spread along the front and off it: about half from the front (evenly
    by accuracy), the rest evenly over the other ranks' accuracies."""
    if sample < 2:
        raise NasAttnError(f"--sample must be at least 2 to compute a rank correlation, got {sample}")
    if len(rows) < 2:
        raise NasAttnError(
            f"the study has {len(rows)} evaluated trial(s); validate-proxy needs at least 2 (run more trials)"
        )
    front = sorted((r for r in rows if r.rank == 1), key=lambda r: r.values.get("accuracy", 0.0))
    rest = sorted((r for r in rows if r.rank != 1), key=lambda r: r.values.get("accuracy", 0.0))
    want_front = min(len(front), max(1, sample // 2))
    chosen = _evenly(front, want_front) + _evenly(rest, min(len(rest), sample - want_front))
    if len(chosen) < sample:  # the rest was short: fill from the front
        chosen += _evenly([r for r in front if r not in chosen], sample - len(chosen))
    return sorted(chosen, key=lambda r: r.number)


def _evenly(rows: list[TrialRow], k: int) -> list[TrialRow]:
    if k <= 0 or not rows:
        return []
    if k >= len(rows):
        return list(rows)
    if k == 1:
        return [rows[len(rows) // 2]]
    return [rows[round(i * (len(rows) - 1) / (k - 1))] for i in range(k)]


def long_accuracy(outcome: Outcome) -> float | None:
    """The accuracy a longer training reached, or None if it did not succeed."""
    return outcome.result.accuracy if outcome.kind == "ok" and outcome.result is not None else None


def validation_sample(study: optuna.Study, space: SearchSpace, sample: int, epochs: int) -> list[TrialRow]:
    """The trials validate-proxy retrains; refuses a study or budget that cannot validate anything."""
    if "accuracy" not in objective_names(study):
        raise NasAttnError("validate-proxy compares accuracies, but this study has no accuracy objective")
    chosen = pick_spread(ranked_rows(study), sample)
    proxy_epochs = max(budget_of(r, space) for r in chosen)
    if epochs <= proxy_epochs:
        raise NasAttnError(
            f"--epochs {epochs} is not longer than the proxy's {proxy_epochs} epochs, so it cannot tell "
            f"whether the proxy ranks right; pass a longer budget, e.g. --epochs {proxy_epochs * 4}"
        )
    return chosen


def validate_proxy(
    study: optuna.Study,
    space: SearchSpace,
    pool: TrialPool,
    sample: int,
    epochs: int,
    notice: Callable[[str], None] = lambda _: None,
    observer: JobObserver | None = None,
) -> ProxyValidation:
    """Retrain ``sample`` trials at ``epochs`` and correlate their proxy and long accuracies."""
    chosen = validation_sample(study, space, sample, epochs)
    proxy_epochs = max(budget_of(r, space) for r in chosen)
    # The reference is a proper training: from scratch, whatever the proxy's warm start.
    jobs = [Job(r.number, space.train_request(arch_of(r), epochs=epochs, from_scratch=True)) for r in chosen]
    notice(f"retraining {len(jobs)} trials at {epochs} epochs: {', '.join(str(j.trial) for j in jobs)}")
    long: dict[int, Outcome] = {}

    def keep(job: Job, outcome: Outcome) -> None:
        long[job.trial] = outcome
        got = long_accuracy(outcome)
        notice(f"trial {job.trial}: " + (f"accuracy {got:.4f}" if got is not None else outcome.reason))

    run_jobs(pool, jobs, space, keep, observer)
    rows = [
        ValidationRow(
            trial=r.number,
            rank=r.rank,
            placement=r.placement,
            proxy_accuracy=r.values["accuracy"],
            long_accuracy=long_accuracy(long[r.number]),
            reason=long[r.number].reason,
        )
        for r in chosen
    ]
    pairs = [(row.proxy_accuracy, row.long_accuracy) for row in rows if row.long_accuracy is not None]
    tau = rho = float("nan")
    if len(pairs) >= 2:
        proxy_acc, long_acc = zip(*pairs, strict=True)
        tau, rho = kendall_tau(proxy_acc, long_acc), spearman_rho(proxy_acc, long_acc)
    result = ProxyValidation(epochs, proxy_epochs, rows, tau, rho)
    ProxyValidationHistory.read(study.user_attrs).append(result.to_dict()).write(study)
    return result
