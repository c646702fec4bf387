"""Train placements of a finished study again, on the same worker pool as the search.

Two uses: re-running the final Pareto candidates with more seeds (noise control: the front
then ranks the mean, see ``results.trial_values``) and ``validate-proxy`` (does the proxy rank
placements like a longer budget does?). Results go to study user attributes, because Optuna
does not let a COMPLETE trial change; the driver process stays the only writer.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna

from nas_attn._types import SEED_MAX
from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import NasAttnError
from nas_attn.rank_correlation import kendall_tau, spearman_rho
from nas_attn.search.dispatch import Outcome, TrialPool
from nas_attn.search.interrupts import FINISH, STOP_NOW, StopRequests
from nas_attn.search.latency_reference import USED_ATTR as LATENCY_USED
from nas_attn.search.latency_reference import calibrate_on_study
from nas_attn.search.results import (
    TrialRow,
    is_plain,
    objective_names,
    pareto_rows,
    ranked_rows,
    seed_runs_key,
)
from nas_attn.search.space import SearchSpace
from nas_attn.worker.config import ProxyConfig
from nas_attn.worker.evaluate import TrialResult

POLL_SECONDS = 0.5
MAX_JOB_RETRIES = 1  # a job whose worker was lost is tried once more
PROXY_VALIDATION_ATTR = "proxy_validation"
MISLEADING_TAU = 0.5  # below this Kendall tau the proxy is said to mislead


@dataclass(frozen=True)
class Job:
    """One training of ``arch`` with ``proxy`` (its seed and epochs), for trial ``trial``."""

    trial: int
    arch: ArchConfig
    proxy: ProxyConfig


JobDone = Callable[[Job, Outcome], None]


class JobObserver(Protocol):
    """Follows the trainings of ``reseed`` / ``validate-proxy`` (e.g. a progress bar)."""

    def jobs_added(self, count: int) -> None: ...

    def job_done(self) -> None: ...


def run_jobs(
    pool: TrialPool,
    jobs: Sequence[Job],
    space: SearchSpace,
    on_done: JobDone,
    observer: JobObserver | None = None,
) -> None:
    """Run ``jobs`` on ``pool`` (lost workers retried once); ``on_done`` gets each outcome.

    Ctrl-C as in a search: the first submits nothing new and lets running jobs finish (their
    results are kept), the second (or SIGTERM) stops at once; either ends in RerunInterrupted.
    """
    if observer is not None:
        observer.jobs_added(len(jobs))
    pending = deque((job, 0) for job in jobs)
    running: dict[int, tuple[Job, int]] = {}
    latency = space.latency.model_dump(mode="json")
    done = 0
    with StopRequests() as stop:
        while (pending or running) and stop.level < STOP_NOW:
            if stop.level >= FINISH:
                pending.clear()
            while pending and pool.idle > 0:
                job, tries = pending.popleft()
                proxy = job.proxy.model_dump(mode="json")
                ticket = pool.submit({"arch": job.arch.to_dict(), "proxy": proxy, "latency": latency})
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
            raise RerunInterrupted(
                f"interrupted: {done} of {len(jobs)} re-runs finished and are kept; "
                "re-run the same command to do the rest"
            )


class RerunInterrupted(NasAttnError):
    """Ctrl-C or SIGTERM during seed re-runs or proxy validation (finished re-runs are kept)."""


def _budget(row: TrialRow, space: SearchSpace) -> int:
    return row.fidelity_epochs or space.proxy.epochs


def _result_values(result: dict[str, Any], names: list[str]) -> list[float]:
    return TrialResult.from_dict(result).objective_values(names)


# -- seeds -------------------------------------------------------------------------------------
@dataclass
class ReseedReport:
    failures: list[str] = field(default_factory=list)
    front: list[TrialRow] = field(default_factory=list)


def reseed_front(
    study: optuna.Study,
    space: SearchSpace,
    pool: TrialPool,
    seeds: int,
    notice: Callable[[str], None] = lambda _: None,
    max_rounds: int = 3,
    observer: JobObserver | None = None,
) -> ReseedReport:
    """Re-run every front trial until it has ``seeds`` seeds (its own plus ``seeds - 1`` more).

    The front is ranked by the means, so it can change; trials that join it are re-run too
    (up to ``max_rounds`` rounds). The re-runs vary the training seed (initial weights, batch
    order, augmentation: ``proxy.training_seed + 1``, ``+ 2``, ...) on the same data split, and
    train at the budget the trial's values come from.
    """
    report = ReseedReport()
    names = objective_names(study)
    for _round in range(max_rounds):
        jobs = _seed_jobs(study, space, seeds)
        if not jobs:
            break
        notice(
            f"re-running {len({j.trial for j in jobs})} front trial(s) with {seeds} seeds ({len(jobs)} runs)"
        )

        def store(job: Job, outcome: Outcome) -> None:
            if outcome.kind != "ok" or outcome.result is None:
                report.failures.append(f"trial {job.trial} seed {job.proxy.training_seed}: {outcome.reason}")
                return
            key = seed_runs_key(job.trial)
            result = calibrate_on_study(study, outcome.result)
            runs = study.user_attrs.get(key) or {"seeds": [], "values": []}
            runs.setdefault(LATENCY_USED, [None] * len(runs["values"]))
            runs["seeds"].append(job.proxy.training_seed)
            runs["values"].append(_result_values(result, names))
            runs[LATENCY_USED].append(result.get(LATENCY_USED))
            study.set_user_attr(key, runs)
            notice(f"trial {job.trial} seed {job.proxy.training_seed}: " + _describe(outcome.result, names))

        run_jobs(pool, jobs, space, store, observer)
        if report.failures:
            break
    report.front = pareto_rows(study)
    return report


def _seed_jobs(study: optuna.Study, space: SearchSpace, seeds: int) -> list[Job]:
    jobs = []
    attrs = study.user_attrs
    front = pareto_rows(study)
    on_front = {row.number for row in front}
    plain = [r for r in ranked_rows(study) if r.number not in on_front and is_plain(r.arch)]
    for row in front + plain[:1]:  # the plain backbone too: every delta is paired on the same seeds
        done = set((attrs.get(seed_runs_key(row.number)) or {}).get("seeds", []))
        for offset in range(1, seeds):
            seed = (space.proxy.training_seed + offset) % (SEED_MAX + 1)  # stays a valid seed
            if seed not in done:
                proxy = space.proxy_at(epochs=_budget(row, space), train_seed=seed)
                jobs.append(Job(row.number, ArchConfig.from_dict(row.arch), proxy))
    return jobs


def _describe(result: dict[str, Any], names: list[str]) -> str:
    return ", ".join(f"{n} {v:.4g}" for n, v in zip(names, _result_values(result, names), strict=True))


# -- proxy validation --------------------------------------------------------------------------
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


def validation_sample(study: optuna.Study, space: SearchSpace, sample: int, epochs: int) -> list[TrialRow]:
    """The trials validate-proxy retrains; refuses a study or budget that cannot validate anything."""
    if "accuracy" not in objective_names(study):
        raise NasAttnError("validate-proxy compares accuracies, but this study has no accuracy objective")
    chosen = pick_spread(ranked_rows(study), sample)
    proxy_epochs = max(_budget(r, space) for r in chosen)
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
    proxy_epochs = max(_budget(r, space) for r in chosen)
    jobs = [Job(r.number, ArchConfig.from_dict(r.arch), space.proxy_at(epochs=epochs)) for r in chosen]
    notice(f"retraining {len(jobs)} trials at {epochs} epochs: {', '.join(str(j.trial) for j in jobs)}")
    long: dict[int, Outcome] = {}

    def keep(job: Job, outcome: Outcome) -> None:
        long[job.trial] = outcome
        got = (outcome.result or {}).get("accuracy")
        notice(f"trial {job.trial}: " + (f"accuracy {got:.4f}" if got is not None else outcome.reason))

    run_jobs(pool, jobs, space, keep, observer)
    rows = [
        ValidationRow(
            trial=r.number,
            rank=r.rank,
            placement=r.placement,
            proxy_accuracy=r.values["accuracy"],
            long_accuracy=(long[r.number].result or {}).get("accuracy")
            if long[r.number].kind == "ok"
            else None,
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
    history = list(study.user_attrs.get(PROXY_VALIDATION_ATTR, []))
    study.set_user_attr(PROXY_VALIDATION_ATTR, [*history, result.to_dict()])
    return result
