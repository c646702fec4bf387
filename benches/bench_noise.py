"""Seed noise of the proxy, and what pairing seeds buys (issue 16, must-show 2).

Trains two placements of the Fashion-MNIST space (default: the plain backbone and SE in every
stage) through the worker's own code path at the space's proxy budget: A at seeds 0..n-1, B at
seeds 0..2n-1. Prints

- the standard deviation of A's proxy accuracy over its n seeds (one seed's noise);
- the variance of A - B paired (same seed: same backbone weights, batches, augmentation) and
  unpaired (A at seed s against B at seed n+s), and their ratio: how many unpaired seeds one
  paired seed is worth when comparing two placements.

    .venv/bin/python benches/bench_noise.py --seeds 5 --jobs 2     # CPU: 15 trainings
    python benches/bench_noise.py --seeds 10 --device cuda --jobs 8
"""

from __future__ import annotations

import argparse
import statistics
import time

from proxy_runs import FASHION_SPACE, Budget, Run, describe, run_all, sample_placements, warm_caches

from nas_attn.search.sampling.space import load_space
from nas_attn.stats.seeds import mean_interval


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--space", default=str(FASHION_SPACE))
    parser.add_argument("--seeds", type=int, default=5, help="n: seeds of A (B gets 2n)")
    parser.add_argument(
        "--a", type=int, default=0, help="placement A (0: plain; 1..: each module everywhere)"
    )
    parser.add_argument("--b", type=int, default=1, help="placement B")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--budget", default=None, help="SIZE:IMAGES:EPOCHS instead of the space's budget")
    args = parser.parse_args()
    if args.seeds < 3:
        raise SystemExit("--seeds must be at least 3 (a variance needs them)")

    space = load_space(args.space)
    budget = (
        Budget.parse(args.budget)
        if args.budget
        else Budget(space.proxy.image_size, space.proxy.train_subset or 0, space.proxy.epochs)
    )
    archs = sample_placements(space, max(args.a, args.b) + 1, seed=0)
    n = args.seeds
    runs = [Run(args.a, budget, s) for s in range(n)] + [Run(args.b, budget, s) for s in range(2 * n)]
    print(
        f"A = {describe(archs[args.a])}\nB = {describe(archs[args.b])}\n"
        f"budget {budget} ({space.name}): {len(runs)} trainings on {args.device}, {args.jobs} at once"
    )
    warm_caches(space.proxy, [budget])
    acc: dict[tuple[int, int], float] = {}
    started = time.perf_counter()
    for done, result in enumerate(run_all(archs, runs, space.proxy, args.device, args.jobs), start=1):
        acc[(result.run.placement, result.run.seed)] = result.accuracy
        print(
            f"  {done}/{len(runs)} placement {result.run.placement} seed {result.run.seed}: "
            f"{result.accuracy:.4f} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )

    a = [acc[(args.a, s)] for s in range(n)]
    b_same = [acc[(args.b, s)] for s in range(n)]
    b_other = [acc[(args.b, n + s)] for s in range(n)]
    paired = [x - y for x, y in zip(a, b_same, strict=True)]
    unpaired = [x - y for x, y in zip(a, b_other, strict=True)]
    var_paired, var_unpaired = statistics.variance(paired), statistics.variance(unpaired)
    print(
        f"\nA over {n} seeds: mean {statistics.fmean(a):.4f}, std {statistics.stdev(a):.4f}"
        f" ({100 * statistics.stdev(a):.2f} points)"
    )
    b_all = b_same + b_other
    print(f"B over {2 * n} seeds: mean {statistics.fmean(b_all):.4f}, std {statistics.stdev(b_all):.4f}")
    for label, diffs, var in (
        ("paired (same seeds)", paired, var_paired),
        ("unpaired", unpaired, var_unpaired),
    ):
        interval = mean_interval(diffs)
        ci = f"[{interval.low:+.4f}, {interval.high:+.4f}]" if interval.low is not None else "-"
        print(f"A - B {label:<20}: mean {statistics.fmean(diffs):+.4f}, variance {var:.3g}, 95% CI {ci}")
    ratio = var_unpaired / var_paired if var_paired > 0 else float("inf")
    print(f"variance ratio unpaired / paired: {ratio:.2f} (> 1: pairing removes shared seed noise)")


if __name__ == "__main__":
    main()
