"""How much does orchestration cost per trial? Simulated trials through the real driver.

Each trial is a fixed sleep inside a real Ray actor (``SimulatedWorker``: no torch, no training)
that returns a TrialResult-shaped dict. Everything else is real: ``run_search``, the study
ledger, Optuna on SQLite or PostgreSQL (a throwaway server started here), artifact uploads.
Actors are started and warm before the clock starts. Per configuration it prints the measured
wall time against the ideal ``ceil(trials / workers) * trial_s``, efficiency = ideal / measured,
the orchestration overhead per trial two ways: ``gap_ms``, how long a worker waits between
handing in a result and getting its next trial, and ``lost_ms`` = ``(wall - ideal) * workers /
trials``, all worker time lost per trial (the start-up ramp and the end included); then the
driver's own time per trial by where it goes (exclusive times, nothing counted twice):

- sampler: the sampler's methods and the in-memory mirror it samples (search/studydb/mirror.py)
- storage: the driver's trial writes (search/studydb/trial_store.py) and Optuna's RDB storage
- ledger: the study ledger (slot reservation, digest claims, heartbeats, counts)
- artifacts: arch YAML and learning-curve files (their storage rows count under storage)
- dispatch: submitting to and collecting from Ray, without the time spent waiting for results
- other: the rest of the driver loop (building payloads, parsing results, observer)

The driver must do all of that once per trial, serially, so a pool of W workers stays busy only
if driver time per trial < trial_s / W; the last line of each table says whether it does.

    .venv/bin/python benches/bench_orchestration.py                         # 1,8,32,64 workers
    .venv/bin/python benches/bench_orchestration.py --workers 64 --storage postgres --repeats 3
    .venv/bin/python benches/bench_orchestration.py --workers 1,2 --trial-seconds 0.05 --storage sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import inspect
import io
import logging
import math
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import ray

from nas_attn.search import PoolConfig, WorkerPool, load_space, open_storage, open_study, run_search
from nas_attn.search.studydb.ledger import Ledger
from nas_attn.search.studydb.mirror import SamplerMirror
from nas_attn.search.studydb.optuna_private import rdb_storage_of
from nas_attn.search.studydb.trial_store import TrialStore
from nas_attn.search.usecases.service import artifact_uploader
from nas_attn.testing.postgres_server import postgres_server
from nas_attn.testing.simulated import SimulatedWorker, result_template
from nas_attn.worker.request import TrainRequest

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPACE = REPO / "search_spaces" / "resnet18_stages.yaml"
SAMPLER_METHODS = (
    "infer_relative_search_space",
    "sample_relative",
    "sample_independent",
    "before_trial",
    "after_trial",
)
REASONS = {
    "_get_trials": "; Optuna reloads every unfinished (running) trial with all its rows on each read, "
    "so this grows with the number of workers",
    "_set_trial_param": "; Optuna commits each sampled parameter on its own (~10 per trial)",
}
CATEGORIES = ("sampler", "storage", "ledger", "artifacts", "dispatch", "other")


class Clock:
    """Exclusive time per category (and per category:function): entering a nested one pauses
    the enclosing one, so nothing is counted twice."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.detail: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[tuple[str, str]] = []
        self._last = 0.0

    def clear(self) -> None:
        self.totals.clear()
        self.detail.clear()
        self.calls.clear()

    def _charge(self, now: float) -> None:
        category, name = self._stack[-1]
        self.totals[category] += now - self._last
        self.detail[f"{category}:{name}"] += now - self._last

    @contextlib.contextmanager
    def on(self, category: str, name: str = "") -> Iterator[None]:
        now = time.perf_counter()
        if self._stack:
            self._charge(now)
        self._stack.append((category, name))
        self.calls[f"{category}:{name}"] += 1
        self._last = now
        try:
            yield
        finally:
            now = time.perf_counter()
            self._charge(now)
            self._stack.pop()
            self._last = now

    def wrap(self, category: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        name = getattr(fn, "__name__", "?")

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.on(category, name):
                return fn(*args, **kwargs)

        return timed


def instrument_classes(clock: Clock) -> None:
    """Time the ledger, the driver's trial writes, the sampler's mirror and Ray's wait (waiting
    for results is idle time, not dispatch)."""
    for cls, category in ((Ledger, "ledger"), (TrialStore, "storage"), (SamplerMirror, "sampler")):
        for name, member in list(vars(cls).items()):
            if inspect.isfunction(member) and not name.startswith("__"):
                setattr(cls, name, clock.wrap(category, member))
    ray.wait = clock.wrap("waiting", ray.wait)


def instrument_study(clock: Clock, study: optuna.Study) -> None:
    storage = rdb_storage_of(study)
    for name in dir(type(storage)):
        member = getattr(storage, name)
        if callable(member) and not name.startswith("__") and name not in ("engine", "scoped_session"):
            setattr(storage, name, clock.wrap("storage", member))
    for name in SAMPLER_METHODS:
        setattr(study.sampler, name, clock.wrap("sampler", getattr(study.sampler, name)))


class TimedPool(WorkerPool):
    """The real pool, timed, and noting when trials were sent and results came back."""

    clock: Clock
    submitted: list[float]
    returned: list[float]
    gaps: list[float]  # per trial after a worker's first: how long the worker sat idle before it
    freed_at: dict[int, float]  # actor -> when its last result came back

    def submit(self, request: TrainRequest) -> int:
        now = time.perf_counter()
        self.submitted.append(now)
        actor = id(self._idle[-1])  # the one WorkerPool.submit takes
        if actor in self.freed_at:
            self.gaps.append(now - self.freed_at.pop(actor))
        with self.clock.on("dispatch"):
            return super().submit(request)

    def poll(self, timeout: float) -> list[Any]:
        running = dict(self._busy.values())  # ticket -> actor
        with self.clock.on("dispatch"):
            outcomes = super().poll(timeout)
        now = time.perf_counter()
        for ticket, _outcome in outcomes:
            self.returned.append(now)
            self.freed_at[id(running[ticket])] = now
        return outcomes


@dataclass
class Run:
    workers: int
    storage: str
    trials: int
    trial_s: float
    wall_s: float
    cpu_s: float
    evaluated: int
    by_category: dict[str, float] = field(default_factory=dict)
    detail: dict[str, tuple[float, float]] = field(default_factory=dict)  # calls and ms per trial
    gap_ms: float = 0.0  # mean time a worker waits between a result and its next trial
    ramp_s: float = 0.0  # from the start until the last worker got its first trial
    tail_s: float = 0.0  # from the last result until the search returned (telling it, the front)
    spread_s: float = 0.0  # how far apart the last round's trials started (ramp carried along)

    @property
    def ideal_s(self) -> float:
        return math.ceil(self.trials / self.workers) * self.trial_s

    @property
    def efficiency(self) -> float:
        return self.ideal_s / self.wall_s

    @property
    def overhead_ms(self) -> float:
        return 1000 * (self.wall_s - self.ideal_s) * self.workers / self.trials

    def per_trial_ms(self, category: str) -> float:
        return 1000 * self.by_category.get(category, 0.0) / self.trials


@contextlib.contextmanager
def storage_urls(kind: str, workdir: Path) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty databases of ``kind`` (sqlite or postgres)."""
    if kind == "sqlite":
        counter = iter(range(1_000_000))
        yield lambda: f"sqlite:///{workdir / f'bench_{next(counter)}.db'}"
    elif kind == "postgres":
        with postgres_server() as server:
            yield server.create_database
    else:
        raise SystemExit(f"unknown storage '{kind}'; use sqlite or postgres")


def run_once(
    clock: Clock,
    url: str,
    space_file: Path,
    sampler: str,
    workers: int,
    trials: int,
    trial_s: float,
    prof: Any,
) -> Run:
    space = load_space(space_file)
    study = open_study(open_storage(url), space.name, space, sampler)
    config = PoolConfig(workers=workers, device="cpu", ship_data=False)
    pool = TimedPool(config, actor=SimulatedWorker, actor_args=(trial_s, result_template()))
    pool.clock, pool.submitted, pool.returned, pool.gaps, pool.freed_at = clock, [], [], [], {}
    try:
        pool.check_ready(space.proxy)  # actors started and warm
        instrument_study(clock, study)
        clock.clear()
        hook = artifact_uploader(url)
        with clock.on("other"):
            if prof is not None:
                prof.enable()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            outcome = run_search(study, space, trials, pool, on_result=clock.wrap("artifacts", hook))
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            if prof is not None:
                prof.disable()
    finally:
        pool.shutdown()
    run = Run(workers, "", trials, trial_s, wall, cpu, outcome.evaluated, dict(clock.totals))
    if len(pool.submitted) >= workers and pool.returned:
        run.ramp_s = pool.submitted[workers - 1] - wall0
        run.tail_s = wall0 + wall - pool.returned[-1]
        last_round = pool.submitted[-workers:]
        run.spread_s = last_round[-1] - last_round[0]
    run.gap_ms = 1000 * sum(pool.gaps) / len(pool.gaps) if pool.gaps else 0.0
    run.detail = {k: (clock.calls[k] / trials, 1000 * v / trials) for k, v in clock.detail.items()}
    return run


def print_table(runs: list[Run]) -> None:
    head = (
        f"{'workers':>7} {'storage':>8} {'trials':>6} {'trial_s':>7} {'wall_s':>7} {'ideal_s':>7} "
        f"{'effic':>6} {'gap_ms':>7} {'lost_ms':>7} {'cpu_ms':>7} | "
        + " ".join(f"{c:>9}" for c in CATEGORIES)
        + f" {'waiting':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in runs:
        cells = " ".join(f"{r.per_trial_ms(c):9.1f}" for c in CATEGORIES)
        print(
            f"{r.workers:>7} {r.storage:>8} {r.trials:>6} {r.trial_s:>7.2f} "
            f"{r.wall_s:>7.2f} {r.ideal_s:>7.2f} "
            f"{r.efficiency:>6.3f} {r.gap_ms:>7.1f} {r.overhead_ms:>7.1f} "
            f"{1000 * r.cpu_s / r.trials:>7.1f} | {cells} "
            f"{r.per_trial_ms('waiting'):8.1f}"
        )
    print("(per-trial ms; gap_ms = a worker's wait from result to next trial; lost_ms = (wall - ideal) x")
    print(" workers / trials; cpu_ms = driver process CPU time incl. Ray's client threads; categories are")
    print(" the driver's exclusive wall time per trial; waiting = blocked in ray.wait for results)")


def print_detail(run: Run, top: int = 12) -> None:
    """The functions that cost the most driver time per trial in ``run``."""
    print(f"where the driver's time goes, {run.storage} x{run.workers} (per trial):")
    ranked = sorted(run.detail.items(), key=lambda kv: -kv[1][1])
    for key, (calls, ms) in [kv for kv in ranked if not kv[0].startswith("waiting")][:top]:
        print(f"  {key:<48} {calls:6.1f} calls {ms:8.2f} ms")


def verdicts(runs: list[Run]) -> None:
    for r in runs:
        busy = sum(r.per_trial_ms(c) for c in CATEGORIES)
        budget = 1000 * r.trial_s / r.workers
        top = max(CATEGORIES, key=r.per_trial_ms)
        state = "keeps up" if busy < budget else "is the bottleneck"
        print(
            f"{r.storage} x{r.workers}: driver busy {busy:.1f} ms/trial vs budget trial_s/workers = "
            f"{budget:.1f} ms: the driver {state}; largest share: {top} ({r.per_trial_ms(top):.1f} ms)"
        )
        print(
            f"  wall - ideal = {r.wall_s - r.ideal_s:.2f} s: start-up {r.ramp_s:.2f} s (the last of "
            f"{r.workers} workers got its first trial then: one ask after another), last round's "
            f"trials started {r.spread_s:.2f} s apart, {r.tail_s:.2f} s from the last result to the "
            "end (telling it, ranking the front)"
        )
        costly = [kv for kv in r.detail.items() if not kv[0].startswith("waiting")]
        if busy >= budget and costly:
            name, (calls, ms) = max(costly, key=lambda kv: kv[1][1])
            why = REASONS.get(name.split(":", 1)[1], "")
            print(f"  top function: {name} ({calls:.1f} calls, {ms:.1f} ms per trial){why}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trial-seconds", type=float, default=2.0)
    parser.add_argument("--trials-per-worker", type=int, default=4)
    parser.add_argument("--workers", default="1,8,32,64", help="comma-separated worker counts")
    parser.add_argument("--storage", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--sampler", default="nsga2")
    parser.add_argument("--space", type=Path, default=DEFAULT_SPACE)
    parser.add_argument("--repeats", type=int, default=1, help="runs per configuration (median reported)")
    parser.add_argument("--detail", action="store_true", help="per-function breakdown of driver time")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions (cProfile)")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    kinds = [k.strip() for k in args.storage.split(",")]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ray.init(
        address="local",  # a private instance, not the last cluster /tmp/ray/ray_current_cluster names
        num_cpus=max(workers),
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        configure_logging=True,
    )
    clock = Clock()
    instrument_classes(clock)
    prof = cProfile.Profile() if args.profile else None
    print(
        f"bench_orchestration: {args.trial_seconds:g} s simulated trials, "
        f"{args.trials_per_worker} per worker, "
        f"sampler {args.sampler}, space {args.space.name}"
    )
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):  # artifacts of server studies land here
        runs: list[Run] = []
        for kind in kinds:
            with storage_urls(kind, Path(tmp)) as new_url:
                for w in workers:
                    trials = w * args.trials_per_worker
                    repeats = [
                        run_once(
                            clock, new_url(), args.space, args.sampler, w, trials, args.trial_seconds, prof
                        )
                        for _ in range(args.repeats)
                    ]
                    best = sorted(repeats, key=lambda r: r.wall_s)[len(repeats) // 2]
                    best.storage = kind
                    if len(repeats) > 1:
                        walls = ", ".join(f"{r.wall_s:.2f}" for r in repeats)
                        print(f"  {kind} x{w}: wall of {len(repeats)} runs {walls} s (median reported)")
                    runs.append(best)
                    if any(r.evaluated != trials for r in repeats):
                        print(
                            f"  WARNING: {kind} x{w}: evaluated {[r.evaluated for r in repeats]} of {trials}"
                        )
        print()
        print_table(runs)
        print()
        verdicts(runs)
        if args.detail:
            for r in runs:
                print()
                print_detail(r)
    if prof is not None:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(args.profile)
        print(out.getvalue())
    ray.shutdown()


if __name__ == "__main__":
    main()
