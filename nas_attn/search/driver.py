"""The search driver: the only process that talks to Optuna (ask/tell); Ray actors train.

Loop: keep every idle worker busy with a freshly asked trial until the study holds the
requested number of COMPLETE trials; tell each result as it arrives (``ray.wait``). Trial-level
problems (bad placement, divergence) fail that trial; a lost worker fails the trial, is
replaced, and the same parameters are re-enqueued within a retry budget. Ctrl-C fails the
in-flight trials with a reason, so the storage stays consistent and a re-run resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna
import ray
from ray.exceptions import RayActorError, RayTaskError

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import NasAttnError
from nas_attn.search.pool import WorkerPool
from nas_attn.search.results import TrialRow, pareto_rows
from nas_attn.search.space import SearchSpace, sample_arch
from nas_attn.search.study import complete_trials
from nas_attn.worker.evaluate import TrialResult

MAX_CONSECUTIVE_FAILURES = 5
RETRY_BUDGET = 2
POLL_SECONDS = 0.5


class SearchInterrupted(NasAttnError):
    """The user stopped the search; completed trials are kept and a re-run resumes."""


class SearchObserver(Protocol):
    """Progress hooks (the CLI renders them; tests may record them)."""

    def started(self, target: int, complete: int) -> None: ...

    def trial_started(self, number: int, arch: ArchConfig) -> None: ...

    def trial_finished(self, number: int, result: TrialResult | None, reason: str | None) -> None: ...


class NullObserver:
    def started(self, target: int, complete: int) -> None:
        pass

    def trial_started(self, number: int, arch: ArchConfig) -> None:
        pass

    def trial_finished(self, number: int, result: TrialResult | None, reason: str | None) -> None:
        pass


@dataclass
class SearchOutcome:
    study_name: str
    complete: int
    failed_this_run: int
    front: list[TrialRow] = field(default_factory=list)


@dataclass
class _InFlight:
    trial: optuna.Trial
    actor: Any


def _record_result(trial: optuna.Trial, result: TrialResult) -> None:
    for key, value in result.to_dict().items():
        trial.set_user_attr(key, value)


def run_search(
    study: optuna.Study,
    space: SearchSpace,
    n_trials: int,
    pool: WorkerPool,
    observer: SearchObserver | None = None,
) -> SearchOutcome:
    """Run trials until ``study`` holds ``n_trials`` COMPLETE ones (resuming where it stands)."""
    observer = observer or NullObserver()
    objectives = [o.name for o in space.objectives]
    payload_common = {
        "proxy": space.proxy.model_dump(mode="json"),
        "latency": space.latency.model_dump(mode="json"),
    }
    complete = len(complete_trials(study))
    observer.started(n_trials, complete)
    inflight: dict[ray.ObjectRef, _InFlight] = {}
    failed = consecutive_failures = 0
    last_reason = ""

    def fail(entry: _InFlight, reason: str) -> None:
        nonlocal failed, consecutive_failures, last_reason
        entry.trial.set_user_attr("fail_reason", reason)
        study.tell(entry.trial, state=optuna.trial.TrialState.FAIL)
        failed += 1
        consecutive_failures += 1
        last_reason = reason
        observer.trial_finished(entry.trial.number, None, reason)

    try:
        while True:
            while pool.idle and complete + len(inflight) < n_trials:
                if consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                    break
                trial = study.ask()
                arch = sample_arch(trial, space)
                trial.set_user_attr("arch", arch.to_dict())
                trial.set_user_attr("arch_digest", arch.digest())
                ref, actor = pool.submit({"arch": arch.to_dict(), **payload_common})
                inflight[ref] = _InFlight(trial, actor)
                observer.trial_started(trial.number, arch)
            if not inflight:
                break
            done, _ = ray.wait(list(inflight), num_returns=1, timeout=POLL_SECONDS)
            for ref in done:
                entry = inflight.pop(ref)
                try:
                    reply = ray.get(ref)
                except RayActorError as exc:
                    pool.replace(entry.actor)
                    _retry(study, entry.trial)
                    fail(entry, f"worker lost: {type(exc).__name__}")
                    continue
                except RayTaskError as exc:
                    pool.replace(entry.actor)
                    cause = exc.cause if exc.cause is not None else exc
                    fail(entry, f"worker error: {type(cause).__name__}: {cause}".splitlines()[0])
                    continue
                pool.release(entry.actor)
                if reply["status"] != "ok":
                    fail(entry, reply["reason"])
                    continue
                result = TrialResult.from_dict(reply["result"])
                _record_result(entry.trial, result)
                study.tell(entry.trial, [result.objective(name) for name in objectives])
                complete += 1
                consecutive_failures = 0
                observer.trial_finished(entry.trial.number, result, None)
    except KeyboardInterrupt:
        for entry in inflight.values():
            entry.trial.set_user_attr("fail_reason", "interrupted by the user (Ctrl-C)")
            study.tell(entry.trial, state=optuna.trial.TrialState.FAIL)
            pool.replace(entry.actor)
        raise SearchInterrupted(
            f"search interrupted: {complete} complete trials are kept in study '{study.study_name}'; "
            "re-run the same command to resume"
        ) from None
    if consecutive_failures >= MAX_CONSECUTIVE_FAILURES and complete < n_trials:
        raise NasAttnError(
            f"stopped after {consecutive_failures} failed trials in a row; last reason: {last_reason}"
        )
    return SearchOutcome(study.study_name, complete, failed, pareto_rows(study))


def _retry(study: optuna.Study, trial: optuna.Trial) -> None:
    """Re-enqueue the parameters of a trial whose worker was lost, within the retry budget."""
    retries = int(trial.user_attrs.get("retries", 0))
    if retries < RETRY_BUDGET:
        study.enqueue_trial(
            trial.params, user_attrs={"retries": retries + 1, "retry_of": trial.number}, skip_if_exists=False
        )
