"""How far does a short proxy bias the attention-minus-plain gap? (issue 28)

Trains chosen placements of the Fashion-MNIST space (the plain backbone, SE, ECA, CBAM and GC in
every stage, random mixes) at several budgets, paired seeds, through the worker's own code path
(:func:`nas_attn.worker.evaluate`: paired initial weights, the trainer, the data pipeline; a
warm start through the worker's own pretraining). For each budget it prints every placement's
gap to the plain backbone (mean over the seeds, Student-t 95% interval of the paired
differences), the budget's cost per placement (CPU seconds, a warm start's pretraining amortised
over ``--study-size`` placements per seed), the gap error (mean over placements of |gap -
longest budget's gap|) and Kendall tau against the longest budget, beside the noise ceiling of
that reference (tau between its seed halves). The last line is the gap error of the space's own
proxy.

Every training is appended to ``--log`` (JSON lines) as it lands, and a rerun skips what the log
holds, so the measurement can be stopped and resumed (hours of CPU: run it in the background).

    .venv/bin/python benches/bench_budget_bias.py --seeds 2 --jobs 2 \\
        --budgets 16:5000:2,16:5000:1+warm16,16:5000:4,16:5000:12
    .venv/bin/python benches/bench_budget_bias.py --report-only     # the table from the log alone
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from dataclasses import replace
from pathlib import Path

from proxy_runs import FASHION_SPACE, Budget, Run, describe, run_all, warm_caches

from nas_attn.backbones import ArchConfig
from nas_attn.search.sampling.placements import arch_of, stage_options
from nas_attn.search.sampling.space import SearchSpace, load_space
from nas_attn.stats.ranks import kendall_tau
from nas_attn.stats.seeds import mean_interval

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_LOG = RESULTS / "budget_bias.jsonl"
EVERYWHERE = ("se", "eca", "cbam", "gc")

Accuracies = dict[tuple[str, str, int], float]  # (budget, placement label, seed) -> accuracy


def chosen_placements(
    space: SearchSpace, modules: tuple[str, ...], mixes: int, seed: int
) -> list[ArchConfig]:
    """The plain backbone, each of ``modules`` in every stage (the first reduction offered), then
    ``mixes`` random placements drawn with ``seed``."""
    stages = list(space.stages)
    options = {name: stage_options(name, space.stages[name]) for name in stages}
    chosen: list[dict[str, object]] = []
    for module in ("none", *modules):
        params: dict[str, object] = {}
        for name in stages:
            match = [o for o in options[name] if o[f"{name}.module"] == module]
            if not match:
                raise SystemExit(f"module '{module}' is not offered in stage {name} of {space.name}")
            params.update(match[0])
        chosen.append(params)
    draw = random.Random(seed)
    while len(chosen) < 1 + len(modules) + mixes:
        mix: dict[str, object] = {}
        for name in stages:
            mix.update(draw.choice(options[name]))
        if mix not in chosen:
            chosen.append(mix)
    return [arch_of(space, params) for params in chosen]


def read_log(path: Path) -> tuple[Accuracies, dict[tuple[str, str, int], float]]:
    """Accuracies and training seconds of every run in the log (pretrainings under 'pretrain')."""
    accuracy: Accuracies = {}
    seconds: dict[tuple[str, str, int], float] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            key = (row["budget"], row["placement"], int(row["seed"]))
            accuracy[key] = float(row["accuracy"])
            seconds[key] = float(row["train_seconds"])
    return accuracy, seconds


def planned_runs(archs: list[ArchConfig], budgets: list[Budget], seeds: int) -> list[Run]:
    """Seed by seed (so a cut-short measurement has whole seeds), budget by budget; each warm
    start's pretraining first."""
    runs = [Run(0, b, s, pretrain=True) for s in range(seeds) for b in budgets if b.warm_epochs is not None]
    runs += [Run(p, b, s) for s in range(seeds) for b in budgets for p in range(len(archs))]
    return runs


def run_label(run: Run, archs: list[ArchConfig]) -> str:
    return "pretrain" if run.pretrain else describe(archs[run.placement])


def measure(
    args: argparse.Namespace, space: SearchSpace, archs: list[ArchConfig], budgets: list[Budget]
) -> None:
    """Train every planned run the log does not hold yet, appending each as it lands."""
    done, _ = read_log(args.log)
    runs = [
        r
        for r in planned_runs(archs, budgets, args.seeds)
        if (str(r.budget), run_label(r, archs), r.seed) not in done
    ]
    print(
        f"{len(runs)} trainings to run ({len(done)} already in {args.log}), {args.jobs} at once", flush=True
    )
    if not runs:
        return
    warm_caches(space.proxy, budgets)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    phases = [[r for r in runs if r.pretrain], [r for r in runs if not r.pretrain]]
    finished = 0
    with args.log.open("a") as log:
        for phase in phases:
            if not phase:
                continue
            for result in run_all(archs, phase, space.proxy, args.device, args.jobs):
                run = result.run
                row = {
                    "budget": str(run.budget),
                    "placement": run_label(run, archs),
                    "seed": run.seed,
                    "accuracy": result.accuracy,
                    "train_seconds": result.train_seconds,
                }
                log.write(json.dumps(row) + "\n")
                log.flush()
                finished += 1
                elapsed = time.perf_counter() - started
                eta = elapsed / finished * (len(runs) - finished)
                print(
                    f"  {finished}/{len(runs)}  {row['budget']:<36} seed {run.seed}  {row['placement']:<44} "
                    f"{result.accuracy:.4f}  ({result.train_seconds:.0f} s; ETA {eta / 60:.0f} min)",
                    flush=True,
                )


def gap(accuracy: Accuracies, budget: str, label: str, plain: str, seeds: range | list[int]) -> list[float]:
    """Paired points (placement - plain) at ``budget``, one per seed both have."""
    return [
        100 * (accuracy[(budget, label, s)] - accuracy[(budget, plain, s)])
        for s in seeds
        if (budget, label, s) in accuracy and (budget, plain, s) in accuracy
    ]


def cost_per_placement(seconds: dict[tuple[str, str, int], float], budget: Budget, study_size: int) -> float:
    """Mean training seconds per placement and seed at ``budget``, a warm start's pretraining
    amortised over ``study_size`` placements per seed (NaN before anything ran)."""
    name = str(budget)
    trained = [v for (b, label, _s), v in seconds.items() if b == name and label != "pretrain"]
    if not trained:
        return math.nan
    pretrain = [v for (b, label, _s), v in seconds.items() if b == name and label == "pretrain"]
    return statistics.fmean(trained) + (statistics.fmean(pretrain) / study_size if pretrain else 0.0)


def work_per_placement(budget: Budget, study_size: int) -> float:
    """Pixels a placement's training sees (CPU time is close to proportional), a warm start's
    pretraining amortised over ``study_size`` placements per seed."""
    pretraining = budget.image_size**2 * budget.train_subset * (budget.warm_epochs or 0)
    return budget.from_scratch().work() + pretraining / study_size


def _shared_seeds(
    accuracy: Accuracies, budgets: tuple[str, ...], labels: tuple[str, ...], seeds: range | list[int]
) -> list[int]:
    """The seeds at which every one of ``budgets`` has every one of ``labels``."""
    return [s for s in seeds if all((b, label, s) in accuracy for b in budgets for label in labels)]


def _mean_accuracy(accuracy: Accuracies, budget: str, label: str, seeds: range | list[int]) -> float:
    values = [accuracy[(budget, label, s)] for s in seeds if (budget, label, s) in accuracy]
    return statistics.fmean(values) if values else math.nan


def short(budget: Budget) -> str:
    """A column label: ``SIZE/IMAGES/EPOCHS`` and ``+wK`` for a warm start of K epochs."""
    text = f"{budget.image_size}/{budget.train_subset}/{budget.epochs}"
    return text + (f"+w{budget.warm_epochs}" if budget.warm_epochs is not None else "")


def _cell(points: list[float]) -> str:
    if not points:
        return "-"
    interval = mean_interval(points)
    if interval.low is None or interval.high is None:
        return f"{interval.mean:+.2f} (n={len(points)})"
    return f"{interval.mean:+.2f} [{interval.low:+.1f},{interval.high:+.1f}]"


def report(
    accuracy: Accuracies,
    seconds: dict[tuple[str, str, int], float],
    archs: list[ArchConfig],
    budgets: list[Budget],
    proxy: Budget,
    args: argparse.Namespace,
) -> None:
    """The bias table, then per budget its cost, gap error and tau against the longest budget."""
    labels = [describe(a) for a in archs]
    plain, attention = labels[0], labels[1:]
    seeds = range(args.seeds)
    longest = max((b for b in budgets if b.warm_epochs is None), key=lambda b: b.work())
    names = [str(b) for b in budgets]
    print(f"\nattention - plain, accuracy points: mean over seeds {list(seeds)}", end=" ")
    print("[95% interval of the paired differences]")
    print(f"{'placement':<44}" + "".join(f"{short(b):>28}" for b in budgets))
    for label in attention:
        print(f"{label:<44}" + "".join(f"{_cell(gap(accuracy, n, label, plain, seeds)):>28}" for n in names))
    plain_row = "".join(f"{_mean_accuracy(accuracy, n, plain, seeds):>28.4f}" for n in names)
    print(f"{'plain backbone (accuracy)':<44}" + plain_row)

    ref_name = str(longest)
    ref_acc = {
        label: [accuracy[(str(longest), label, s)] for s in seeds if (str(longest), label, s) in accuracy]
        for label in labels
    }
    complete = [label for label in labels if len(ref_acc[label]) == len(seeds)]
    scratch = from_scratch_proxy(proxy, args)
    print(
        f"\nreference: {longest} (the longest budget), {len(complete)}/{len(labels)} placements at every seed"
    )
    if len(seeds) >= 2 and len(complete) >= 3:
        halves = kendall_tau(
            [ref_acc[label][0] for label in complete], [ref_acc[label][1] for label in complete]
        )
        print(f"noise ceiling: Kendall tau between the reference's seeds 0 and 1 = {halves:+.2f}")
    print(
        f"\n{'budget':<40} {'cost':>6} {'s/placement':>12} {'gap error':>10} {'tau vs ref':>10}  placements"
    )
    proxy_error = scratch_error = math.nan
    for budget in budgets:
        name = str(budget)
        errors = []
        for label in attention:  # on the seeds where both budgets have the placement and the plain backbone
            shared = _shared_seeds(accuracy, (name, ref_name), (label, plain), seeds)
            if shared:
                errors.append(
                    abs(
                        statistics.fmean(gap(accuracy, name, label, plain, shared))
                        - statistics.fmean(gap(accuracy, ref_name, label, plain, shared))
                    )
                )
        error = statistics.fmean(errors) if errors else math.nan
        ranked = {label: _shared_seeds(accuracy, (name, ref_name), (label,), seeds) for label in labels}
        both = [label for label, shared in ranked.items() if shared]
        tau = (
            kendall_tau(
                [_mean_accuracy(accuracy, name, label, ranked[label]) for label in both],
                [_mean_accuracy(accuracy, ref_name, label, ranked[label]) for label in both],
            )
            if len(both) >= 3
            else math.nan
        )
        cost = cost_per_placement(seconds, budget, args.study_size)
        ratio = work_per_placement(budget, args.study_size) / work_per_placement(scratch, args.study_size)
        print(f"{name:<40} {ratio:>5.2f}x {cost:>11.0f}s {error:>10.2f} {tau:>+10.2f}  {len(errors)}")
        if budget == proxy:
            proxy_error = error
        if budget == scratch and scratch != proxy:
            scratch_error = error
    print(
        f"\ncost: pixels trained per placement and seed relative to {scratch} from scratch (CPU time is "
        f"close to proportional); s/placement: measured CPU seconds (noisy on a shared machine); a warm "
        f"start's pretraining is amortised over {args.study_size} placements per seed. "
        f"gap error: mean over placements of |gap - gap at {longest}|."
    )
    if scratch != proxy:
        print(f"gap error of the from-scratch proxy ({scratch}): {scratch_error:.2f} points")
    print(f"gap error at the proxy: {proxy_error:.2f} points")


def from_scratch_proxy(proxy: Budget, args: argparse.Namespace) -> Budget:
    """The from-scratch budget ``proxy`` is compared with (and costs are relative to)."""
    if args.scratch_epochs is not None:
        return replace(proxy.from_scratch(), epochs=args.scratch_epochs)
    return proxy if proxy.warm_epochs is None else replace(proxy.from_scratch(), epochs=2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--space", default=str(FASHION_SPACE))
    parser.add_argument(
        "--budgets",
        default=None,
        help="comma-separated SIZE:IMAGES:EPOCHS[:BATCH[:LR]][+warmK] (default: the space's proxy, "
        "and from scratch 1x, 2x and 6x --scratch-epochs)",
    )
    parser.add_argument(
        "--scratch-epochs",
        type=int,
        default=None,
        help="epochs of the from-scratch proxy the space's proxy is compared with (default: the "
        "proxy's own epochs if it trains from scratch, else 2: the Fashion space's former proxy)",
    )
    parser.add_argument("--modules", default=",".join(EVERYWHERE), help="modules placed in every stage")
    parser.add_argument("--mixes", type=int, default=4, help="random placements besides")
    parser.add_argument("--seeds", type=int, default=2, help="paired training seeds (0..N-1)")
    parser.add_argument(
        "--study-size", type=int, default=16, help="placements per seed a warm start is amortised over"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=2, help="processes training at once")
    parser.add_argument(
        "--log", type=Path, default=DEFAULT_LOG, help="JSON lines, one per training (resumable)"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="print the table from the log; train nothing"
    )
    args = parser.parse_args()

    space = load_space(args.space)
    proxy = Budget.of(space.proxy)
    scratch = from_scratch_proxy(proxy, args)
    if args.budgets:
        budgets = [Budget.parse(text) for text in args.budgets.split(",")]
    else:
        budgets = [replace(scratch, epochs=scratch.epochs * k) for k in (1, 2, 6)]
    if proxy not in budgets:
        budgets.insert(0, proxy)
    if scratch not in budgets:
        budgets.insert(1, scratch)
    archs = chosen_placements(space, tuple(m for m in args.modules.split(",") if m), args.mixes, seed=0)
    print(f"{len(archs)} placements x {len(budgets)} budgets x {args.seeds} seeds on {args.device}:")
    for budget in budgets:
        print(f"  {budget}")
    if not args.report_only:
        measure(args, space, archs, budgets)
    accuracy, seconds = read_log(args.log)
    report(accuracy, seconds, archs, budgets, proxy, args)


if __name__ == "__main__":
    main()
