"""``validate-proxy``: does the proxy rank placements like a longer budget does?

A sample of a finished study's trials, spread along the front and off it, is trained again at a
longer budget, from scratch, at ``seeds`` paired training seeds each, on the search's worker
pool. The proxy's accuracies are rank correlated (Kendall tau, Spearman rho) with the long
runs' seed means, with a bootstrap 95% interval over the placements. Beside it: the reference's
own *noise ceiling* (Kendall tau between the means of its seed halves: what even a perfect proxy
could reach against a reference this noisy), and the tau of two free predictors, the parameter
count and the latency. The verdict is relative to those: a proxy is judged against what the
reference can tell, not against a fixed bar. The result is kept in the study user attribute
``proxy_validation`` (Optuna does not let a COMPLETE trial change; the driver process stays the
only writer).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from nas_attn.exceptions import Interrupted, NasAttnError
from nas_attn.search.execution.protocol import Outcome, TrialPool
from nas_attn.search.interrupts import FINISH, STOP_NOW, NotStarted, StopRequests
from nas_attn.search.results import TrialRow, first_seed, objective_names, ranked_rows
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.seeds.policy import seed_sequence
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
BOOTSTRAP_RESAMPLES = 2000
NOISY_REFERENCE_TAU = 0.3  # a reference whose seed halves agree less cannot rank these placements


@dataclass(frozen=True)
class Job:
    """One training (``request``) for trial ``trial``."""

    trial: int
    request: TrainRequest
    seed: int | None = None  # the training seed, where the caller keeps results by seed


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
                try:
                    ticket = pool.submit(job.request)
                except NotStarted:  # the user asked to stop while a warm-start backbone trained
                    pending.clear()
                    break
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
    long_accuracy: float | None  # the mean over the seeds that trained (None: none did)
    reason: str = ""
    long_accuracies: dict[int, float] = field(default_factory=dict)  # by training seed
    params: int | None = None
    latency_ms: float | None = None


@dataclass(frozen=True)
class ProxyValidation:
    """What validate-proxy measured (``to_dict``: the stored record; its keys are public)."""

    epochs: int
    proxy_epochs: int
    rows: list[ValidationRow]
    kendall_tau: float
    spearman_rho: float
    seeds: list[int] = field(default_factory=list)
    ci95: dict[str, list[float] | None] = field(default_factory=dict)  # bootstrap, per statistic
    noise_ceiling_tau: float | None = None  # tau between the reference's seed halves
    baselines: dict[str, float | None] = field(default_factory=dict)  # tau of params, latency_ms

    @property
    def best_baseline(self) -> tuple[str, float] | None:
        known = [
            (name, tau) for name, tau in self.baselines.items() if tau is not None and math.isfinite(tau)
        ]
        return max(known, key=lambda item: abs(item[1])) if known else None

    @property
    def noisy_reference(self) -> bool:
        """The reference's own seeds disagree too much for any proxy to be judged against it."""
        ceiling = self.noise_ceiling_tau
        return ceiling is not None and (not math.isfinite(ceiling) or ceiling < NOISY_REFERENCE_TAU)

    @property
    def misleading(self) -> bool:
        """The proxy ranks no better than a free predictor, or reaches less than half the tau the
        reference's noise allows (or has no tau at all)."""
        tau = self.kendall_tau
        if not math.isfinite(tau):
            return True
        if self.noisy_reference:
            return False  # nothing can be told: see verdict()
        baseline = self.best_baseline
        if baseline is not None and tau <= abs(baseline[1]):
            return True
        ceiling = self.noise_ceiling_tau
        return tau < 0.5 * ceiling if ceiling is not None else tau < 0.5

    def verdict(self) -> str:
        """In words, relative to the noise ceiling and the free predictors."""
        tau, ceiling, baseline = self.kendall_tau, self.noise_ceiling_tau, self.best_baseline
        if not math.isfinite(tau):
            return "warning: no rank correlation could be computed (too few long runs succeeded)"
        if self.noisy_reference:
            return (
                f"the reference cannot rank these placements: its own seed halves agree only at tau "
                f"{_fmt(ceiling)}, so their differences are inside the long budget's seed noise; a tau "
                "here says little (pass more --seeds or a larger --sample spread)"
            )
        if baseline is not None and tau <= abs(baseline[1]):
            return (
                f"warning: the proxy ranks no better than the {baseline[0]} alone (tau {tau:.3f} vs "
                f"{baseline[1]:+.3f}): use more proxy epochs, a warm start, a larger image size or a "
                "harder dataset"
            )
        if self.misleading:
            bar = f"half the reference's noise ceiling {_fmt(ceiling)}" if ceiling is not None else "0.5"
            return (
                f"warning: the proxy misleads (Kendall tau {tau:.3f}, below {bar}): its ranking does not "
                "predict the longer budget's; use more proxy epochs, a warm start, a larger image size "
                "or a harder dataset"
            )
        reach = f" of a possible {ceiling:.3f} (noise ceiling)" if ceiling is not None else ""
        return f"the proxy ranks these placements like the longer budget does (tau {tau:.3f}{reach})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "proxy_epochs": self.proxy_epochs,
            "kendall_tau": self.kendall_tau,
            "spearman_rho": self.spearman_rho,
            "ci95": self.ci95,
            "noise_ceiling_tau": self.noise_ceiling_tau,
            "baselines": self.baselines,
            "seeds": self.seeds,
            "trials": [
                {**row.__dict__, "long_accuracies": {str(k): v for k, v in row.long_accuracies.items()}}
                for row in self.rows
            ],
            "measured_at": time.time(),
        }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


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
    seeds: int = 2,
) -> ProxyValidation:
    """Retrain ``sample`` trials at ``epochs``, ``seeds`` paired seeds each, and correlate their
    proxy accuracies with the long runs' seed means (see the module docstring)."""
    if seeds < 1:
        raise NasAttnError(f"--seeds must be at least 1, got {seeds}")
    chosen = validation_sample(study, space, sample, epochs)
    proxy_epochs = max(budget_of(r, space) for r in chosen)
    training_seeds = seed_sequence(first_seed(study.user_attrs), seeds)
    # The reference is a proper training: from scratch, whatever the proxy's warm start.
    jobs = [
        Job(r.number, space.train_request(arch_of(r), epochs=epochs, seed=seed, from_scratch=True), seed)
        for r in chosen
        for seed in training_seeds
    ]
    notice(
        f"retraining {len(chosen)} trials at {epochs} epochs, seeds {', '.join(map(str, training_seeds))}: "
        + ", ".join(str(r.number) for r in chosen)
    )
    long: dict[int, dict[int, float]] = {r.number: {} for r in chosen}
    reasons: dict[int, str] = {}

    def keep(job: Job, outcome: Outcome) -> None:
        got = long_accuracy(outcome)
        if got is not None and job.seed is not None:
            long[job.trial][job.seed] = got
        else:
            reasons[job.trial] = outcome.reason
        notice(
            f"trial {job.trial} seed {job.seed}: "
            + (f"accuracy {got:.4f}" if got is not None else outcome.reason)
        )

    run_jobs(pool, jobs, space, keep, observer)
    rows = [
        ValidationRow(
            trial=r.number,
            rank=r.rank,
            placement=r.placement,
            proxy_accuracy=r.values["accuracy"],
            long_accuracy=statistics.fmean(long[r.number].values()) if long[r.number] else None,
            reason=reasons.get(r.number, ""),
            long_accuracies=dict(sorted(long[r.number].items())),
            params=r.params,
            latency_ms=r.values.get("latency_ms"),
        )
        for r in chosen
    ]
    result = summarise(epochs, proxy_epochs, rows, training_seeds)
    ProxyValidationHistory.read(study.user_attrs).append(result.to_dict()).write(study)
    return result


def summarise(epochs: int, proxy_epochs: int, rows: list[ValidationRow], seeds: list[int]) -> ProxyValidation:
    """The correlations, their bootstrap intervals, the noise ceiling and the free predictors."""
    done = [row for row in rows if row.long_accuracy is not None]
    proxy = [row.proxy_accuracy for row in done]
    reference = [row.long_accuracy for row in done if row.long_accuracy is not None]
    tau = rho = float("nan")
    ci95: dict[str, list[float] | None] = {"kendall_tau": None, "spearman_rho": None}
    if len(done) >= 2:
        tau, rho = kendall_tau(proxy, reference), spearman_rho(proxy, reference)
        ci95 = {
            "kendall_tau": bootstrap_interval(proxy, reference, kendall_tau),
            "spearman_rho": bootstrap_interval(proxy, reference, spearman_rho),
        }
    return ProxyValidation(
        epochs,
        proxy_epochs,
        rows,
        tau,
        rho,
        seeds=list(seeds),
        ci95=ci95,
        noise_ceiling_tau=noise_ceiling(done, seeds),
        baselines={
            "params": _baseline_tau([row.params for row in done], reference),
            "latency_ms": _baseline_tau([row.latency_ms for row in done], reference),
        },
    )


def noise_ceiling(rows: Sequence[ValidationRow], seeds: Sequence[int]) -> float | None:
    """Kendall tau between the reference's seed halves (first half of ``seeds`` against the
    second, each a mean over its seeds) over the rows trained at every seed; None with one seed."""
    if len(seeds) < 2:
        return None
    half = len(seeds) // 2
    first, second = seeds[:half], seeds[half:]
    full = [row for row in rows if all(s in row.long_accuracies for s in seeds)]
    if len(full) < 2:
        return None
    a = [statistics.fmean(row.long_accuracies[s] for s in first) for row in full]
    b = [statistics.fmean(row.long_accuracies[s] for s in second) for row in full]
    return kendall_tau(a, b)


def bootstrap_interval(
    x: Sequence[float],
    y: Sequence[float],
    statistic: Callable[[Sequence[float], Sequence[float]], float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> list[float] | None:
    """Percentile 95% interval of ``statistic(x, y)`` over placements resampled with
    replacement (resamples where it is undefined, e.g. all ties, are skipped)."""
    draw = random.Random(seed)
    n = len(x)
    values = []
    for _ in range(resamples):
        picks = [draw.randrange(n) for _ in range(n)]
        value = statistic([x[i] for i in picks], [y[i] for i in picks])
        if math.isfinite(value):
            values.append(value)
    if len(values) < resamples // 2:
        return None
    values.sort()
    return [values[int(0.025 * (len(values) - 1))], values[int(0.975 * (len(values) - 1))]]


def _baseline_tau(predictor: Sequence[float | int | None], reference: Sequence[float]) -> float | None:
    pairs = [(float(p), r) for p, r in zip(predictor, reference, strict=True) if p is not None]
    if len(pairs) < 2:
        return None
    tau = kendall_tau([p for p, _ in pairs], [r for _, r in pairs])
    return tau if math.isfinite(tau) else None
