"""Which proxy budget ranks placements the way a long training does? (issue 15: budget by measurement)

Trains the same placements of the Fashion-MNIST space (the plain backbone, each module in every
stage, random mixes) at several candidate proxy budgets and at one long reference budget, all
through the worker's own code path (paired initial weights, the trainer, the data pipeline).
For each candidate it prints Kendall tau and Spearman rho against the reference (the mean over
``--reference-seeds``), per candidate seed and for the seed mean, with the candidate's cost in
pixels seen relative to the shipped budget (CPU time is close to proportional to it).

    .venv/bin/python benches/bench_proxy_budget.py --device cpu --placements 4 \\
        --budgets 16:500:1 --reference 16:1000:2 --jobs 2          # a smoke run, ~2 min
    python benches/bench_proxy_budget.py --device cuda --jobs 8    # the measurement (GPU)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict

from proxy_runs import FASHION_SPACE, Budget, Run, describe, run_all, sample_placements, warm_caches

from nas_attn.search.sampling.space import load_space
from nas_attn.stats.ranks import kendall_tau, spearman_rho

DEFAULT_BUDGETS = "16:2500:2,16:2500:4,16:5000:2,16:5000:3,12:5000:3,20:2500:3,16:10000:2"
DEFAULT_REFERENCE = "28:20000:8:128:0.1"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--space", default=str(FASHION_SPACE))
    parser.add_argument("--placements", type=int, default=16)
    parser.add_argument(
        "--budgets", default=DEFAULT_BUDGETS, help="comma-separated SIZE:IMAGES:EPOCHS[:BATCH[:LR]]"
    )
    parser.add_argument("--reference", default=DEFAULT_REFERENCE)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per candidate budget")
    parser.add_argument("--reference-seeds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=2, help="processes training at once")
    parser.add_argument("--json", default=None, help="also write every run's accuracy here")
    args = parser.parse_args()

    space = load_space(args.space)
    shipped = Budget(space.proxy.image_size, space.proxy.train_subset or 0, space.proxy.epochs)
    budgets = [Budget.parse(text) for text in args.budgets.split(",")]
    reference = Budget.parse(args.reference)
    archs = sample_placements(space, args.placements, seed=0)
    runs = [Run(p, reference, s) for p in range(len(archs)) for s in range(args.reference_seeds)]
    runs += [Run(p, b, s) for b in budgets for p in range(len(archs)) for s in range(args.seeds)]
    print(
        f"{len(archs)} placements, {len(budgets)} candidate budgets x {args.seeds} seeds, reference "
        f"{reference} x {args.reference_seeds} seeds: {len(runs)} trainings on {args.device}, "
        f"{args.jobs} at once"
    )
    warm_caches(space.proxy, [reference, *budgets])

    accuracy: dict[tuple[Budget, int], dict[int, float]] = defaultdict(dict)
    seconds: dict[Budget, list[float]] = defaultdict(list)
    started = time.perf_counter()
    # kept open for the loop: every run is written as it lands
    runs_log = open(args.json + ".runs.jsonl", "w") if args.json else None  # noqa: SIM115
    for done, result in enumerate(run_all(archs, runs, space.proxy, args.device, args.jobs), start=1):
        run = result.run
        if runs_log is not None:  # every run as it lands, so a cut-short measurement keeps what it did
            runs_log.write(
                json.dumps(
                    {
                        "budget": str(run.budget),
                        "placement": run.placement,
                        "seed": run.seed,
                        "accuracy": result.accuracy,
                        "train_seconds": result.train_seconds,
                    }
                )
                + "\n"
            )
            runs_log.flush()
        accuracy[(run.budget, run.placement)][run.seed] = result.accuracy
        seconds[run.budget].append(result.train_seconds)
        if done % 10 == 0 or done == len(runs):
            print(f"  {done}/{len(runs)} trainings, {time.perf_counter() - started:.0f} s", flush=True)

    truth = [statistics.fmean(accuracy[(reference, p)].values()) for p in range(len(archs))]
    print(f"\nreference {reference}: accuracy by placement (mean of {args.reference_seeds} seeds)")
    for p, arch in enumerate(archs):
        per_seed = " ".join(f"{a:.4f}" for a in accuracy[(reference, p)].values())
        print(f"  {truth[p]:.4f}  [{per_seed}]  {describe(arch)}")
    ref_spread = (
        [abs(a - b) for p in range(len(archs)) for a, b in [tuple(accuracy[(reference, p)].values())[:2]]]
        if args.reference_seeds >= 2
        else []
    )
    if ref_spread:
        print(
            f"  reference seed-to-seed |difference|: median {statistics.median(ref_spread):.4f}, "
            f"spread of placement means {max(truth) - min(truth):.4f}"
        )

    print(
        f"\n{'candidate budget':<34} {'cost':>5} {'s/trial':>8} {'mean acc':>8} "
        f"{'tau/seed':>16} {'tau(mean)':>9} {'rho(mean)':>9}"
    )
    rows = []
    for budget in budgets:
        per_seed_tau = []
        for s in range(args.seeds):
            scores = [accuracy[(budget, p)][s] for p in range(len(archs))]
            per_seed_tau.append(kendall_tau(scores, truth))
        means = [statistics.fmean(accuracy[(budget, p)].values()) for p in range(len(archs))]
        tau, rho = kendall_tau(means, truth), spearman_rho(means, truth)
        cost = budget.work() / shipped.work() if shipped.work() else float("nan")
        row = {
            "budget": str(budget),
            "cost_vs_shipped": cost,
            "seconds_per_trial": statistics.median(seconds[budget]),
            "mean_accuracy": statistics.fmean(means),
            "tau_per_seed": per_seed_tau,
            "tau_of_mean": tau,
            "rho_of_mean": rho,
        }
        rows.append(row)
        taus = ",".join(f"{t:+.2f}" for t in per_seed_tau)
        print(
            f"{budget!s:<34} {cost:>5.2f} {row['seconds_per_trial']:>8.1f} {row['mean_accuracy']:>8.4f} "
            f"{taus:>16} {tau:>+9.2f} {rho:>+9.2f}"
        )
    print(
        "\ntau/seed: one search's view (one seed per placement); tau(mean): with every seed averaged."
        " cost: pixels seen relative to the shipped budget "
        f"({shipped}); s/trial: median training seconds on {args.device}."
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {
                    "placements": [describe(a) for a in archs],
                    "reference": str(reference),
                    "truth": truth,
                    "candidates": rows,
                    "runs": [
                        {"budget": str(b), "placement": p, "seeds": accuracy[(b, p)]} for (b, p) in accuracy
                    ],
                },
                handle,
                indent=1,
            )


if __name__ == "__main__":
    main()
