"""Search quality at equal training compute: hypervolume of nsga2, tpe, random and multi-fidelity.

Every method searches the same real space (ResNet-18 cifar stem, attention in layer3/layer4)
on scikit-learn's bundled digits, through the real driver, study and worker code (one
in-process worker, no Ray). Objectives: accuracy (max) and MACs (min; deterministic, so the
comparison is about the search, not about CPU timing noise).

Equal compute: the multi-fidelity run (NSGA-II sampling, successive halving over
``--low-epochs`` then ``--epochs``) goes first and spends what it spends in whole brackets;
each full-budget method then gets ``ceil(spent / epochs)`` trials, i.e. at least as many
training epochs. Hypervolumes are measured on each run's ranked front (the highest budget
for multi-fidelity) against one reference point for all runs (the union's worst accuracy and
MACs, widened by 1% of their ranges), and printed as ratios to random search with the same
seed: mean, standard deviation, min and max over ``--seeds`` seeds.

Read the ratios with the budget in mind: NSGA-II's first generation (``population_size`` = 6
here) and TPE's first 10 trials are random draws, so below ~10 full-budget trials per search
they are close to random search by construction; raise ``--compute`` to see the model-based
samplers at work.

Training is deterministic on a CPU (same placement, budget and proxy seed: same accuracy), so
results are cached by (placement, epochs) across runs to save wall time; the compute charged
to each method counts every training it asked for, cached or not.

    .venv/bin/python benches/bench_search_quality.py                 # 3 seeds, ~20-40 min on 2 cores
    .venv/bin/python benches/bench_search_quality.py --seeds 1 --compute 12   # a quick look
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from nas_attn.search import run_search
from nas_attn.search.execution.inprocess import InProcessPool
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.results import evaluated_trials, ranked_rows
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb.records import StoredResult
from nas_attn.search.studydb.storage import open_storage
from nas_attn.search.studydb.study import open_study
from nas_attn.stats.pareto import default_reference_point, hypervolume
from nas_attn.worker.request import TrainRequest

METHODS = ("multi-fidelity", "random", "nsga2", "tpe")
DIRECTIONS = ["maximize", "minimize"]
MODULES = ["none", "se", "eca", "cbam", "coord", "gc"]


def make_space(args: argparse.Namespace, sampler: str, seed: int, fidelity: bool) -> SearchSpace:
    search: dict[str, Any] = {"sampler": sampler, "seed": seed, "baselines": False, "population_size": 6}
    if fidelity:
        search["fidelity"] = {"epochs": [args.low_epochs, args.epochs], "bracket": args.bracket}
    stage = {"module": MODULES, "reduction": [4, 16]}
    return SearchSpace.model_validate(
        {
            "name": "quality",
            "stages": {"layer3": stage, "layer4": stage},
            "proxy": {
                "dataset": "digits",
                "image_size": args.image_size,
                "epochs": args.epochs,
                "batch_size": 64,
                "crop_padding": 1,
            },
            "latency": {"warmup": 0, "repeats": 3},
            "objectives": [
                {"name": "accuracy", "direction": "maximize"},
                {"name": "macs", "direction": "minimize"},
            ],
            "search": search,
        }
    )


class CachingPool(InProcessPool):
    """The in-process worker, answering a (placement, epochs, seeds) it trained before from memory."""

    def __init__(self, threads: int) -> None:
        super().__init__("cpu", threads)
        self.cache: dict[tuple[str, int, int, int | None], Outcome] = {}
        self.hits = self.misses = 0

    def evaluate(self, request: TrainRequest) -> Outcome:
        proxy = request.proxy
        key = (request.arch.digest(), request.epochs, proxy.seed, proxy.train_seed)
        if key in self.cache:
            self.hits += 1
        else:
            self.misses += 1
            self.cache[key] = super().evaluate(request)
        return self.cache[key]


@dataclass
class Run:
    method: str
    seed: int
    points: list[list[float]]  # every ranked placement (the hypervolume only counts its front)
    front: int
    spent: int
    trained: int
    seconds: float


def spent_epochs(study: optuna.Study, full_epochs: int) -> int:
    spent = (StoredResult.of(t).fidelity.spent for t in evaluated_trials(study))
    return sum(int(full_epochs if s is None else s) for s in spent)


def new_study(space: SearchSpace, path: Path) -> optuna.Study:
    return open_study(open_storage(f"sqlite:///{path}"), space.name, space, space.search.sampler)


def finished_run(method: str, seed: int, study: optuna.Study, full_epochs: int, start: float) -> Run:
    """What a finished search found (its ranked placements) and what it cost."""
    rows = ranked_rows(study)
    return Run(
        method,
        seed,
        points=[list(r.values.values()) for r in rows],
        front=sum(r.rank == 1 for r in rows),
        spent=spent_epochs(study, full_epochs),
        trained=len(evaluated_trials(study)),
        seconds=time.perf_counter() - start,
    )


def run_multi_fidelity(args: argparse.Namespace, seed: int, pool: CachingPool, workdir: Path) -> Run:
    space = make_space(args, "nsga2", seed, fidelity=True)
    start = time.perf_counter()
    study = new_study(space, workdir / f"mf-{seed}.db")
    target = 0
    while spent_epochs(study, args.epochs) < args.compute:
        target += args.bracket
        run_search(study, space, target, pool)
    return finished_run("multi-fidelity", seed, study, args.epochs, start)


def run_full(
    args: argparse.Namespace, method: str, seed: int, budget: int, pool: CachingPool, workdir: Path
) -> Run:
    space = make_space(args, method, seed, fidelity=False)
    start = time.perf_counter()
    study = new_study(space, workdir / f"{method}-{seed}.db")
    run_search(study, space, math.ceil(budget / args.epochs), pool)
    return finished_run(method, seed, study, args.epochs, start)


def reference_point(runs: list[Run]) -> list[float]:
    every = [p for run in runs for p in run.points]
    worst = default_reference_point(every, DIRECTIONS)  # nadir of the union
    spans = [max(p[i] for p in every) - min(p[i] for p in every) for i in range(2)]
    return [worst[0] - 0.01 * spans[0], worst[1] + 0.01 * spans[1]]


def report(runs: list[Run], args: argparse.Namespace, pool: CachingPool) -> None:
    ref = reference_point(runs)
    volume = {(r.method, r.seed): hypervolume(r.points, DIRECTIONS, ref) for r in runs}
    print(f"\nreference point: accuracy {ref[0]:.4f}, MACs {ref[1]:.4g}", end=" ")
    print("(the union's worst, widened by 1% of the range)")
    header = ["HV/random mean", "std", "min", "max", "epochs", "trained", "front"]
    print(f"{'method':<15} " + " ".join(f"{h:>{max(6, len(h))}}" for h in header))
    seeds = sorted({r.seed for r in runs})
    for method in METHODS:
        mine = [r for r in runs if r.method == method]
        ratios = [volume[(method, s)] / volume[("random", s)] for s in seeds if volume[("random", s)] > 0]
        spread = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
        cells = [
            statistics.fmean(ratios),
            spread,
            min(ratios),
            max(ratios),
            statistics.fmean(r.spent for r in mine),
            statistics.fmean(r.trained for r in mine),
            statistics.fmean(r.front for r in mine),
        ]
        print(
            f"{method:<15} "
            + " ".join(f"{c:>{max(6, len(h))}.3f}" for c, h in zip(cells, header, strict=True))
        )
    print(
        "absolute hypervolume per seed: "
        + "; ".join(f"{m} " + ", ".join(f"{volume[(m, s)]:.4g}" for s in seeds) for m in METHODS)
    )
    print(f"trainings: {pool.misses} run, {pool.hits} answered from the cache (deterministic CPU training)")


def describe(run: Run) -> None:
    print(
        f"seed {run.seed} {run.method}: {run.spent} epochs, {run.trained} placements trained, "
        f"front of {run.front}, {run.seconds:.0f}s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--compute", type=int, default=30, help="training epochs per search (multi-fidelity's, at least)"
    )
    parser.add_argument("--epochs", type=int, default=3, help="the full proxy budget")
    parser.add_argument("--low-epochs", type=int, default=1, help="multi-fidelity's first budget")
    parser.add_argument("--bracket", type=int, default=6, help="multi-fidelity bracket size")
    parser.add_argument("--image-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    pool = CachingPool(args.threads)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for seed in range(args.seeds):
            mf = run_multi_fidelity(args, seed, pool, workdir)
            runs.append(mf)
            describe(mf)
            for method in METHODS[1:]:
                run = run_full(args, method, seed, mf.spent, pool, workdir)
                runs.append(run)
                describe(run)
    print(
        f"\nspace: ResNet-18 cifar stem, layer3/layer4 x {MODULES} x r {{4, 16}}; digits {args.image_size}px"
    )
    print(
        f"full budget {args.epochs} epochs; multi-fidelity {args.low_epochs} -> {args.epochs} epochs "
        f"in brackets of {args.bracket}, promoting each rung's front"
    )
    report(runs, args, pool)


if __name__ == "__main__":
    main()
