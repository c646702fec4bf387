"""How often does a study claim a placement beats (or trails) the plain backbone when none does?

Runs ``--studies`` simulated studies through the real search path (the driver, racing, SQLite
storage, the claim code behind ``front``/``report``/``export``) with a simulated worker whose
truth is known (:mod:`nas_attn.testing.noisy`): every placement as accurate as the plain backbone,
or with ``--effect E`` the SE-everywhere placement (a baseline every study trains) truly better
by E points. The seed noise is ``--noise`` points per placement and ``--paired-noise`` for a
paired difference (1.41 and 0.86 measured on the Fashion space). Each study evaluates
``--placements`` placements besides the plain backbone, racing up to ``--max-seeds`` seeds.

A *false claim* is a significant difference (either direction) for a placement whose true
effect is zero, or the true winner claimed to trail. The last line is
``family-wise false claims: R (k/N); power: Q``: R the fraction of studies with at least one
false claim (with its 95% Wilson interval), Q the fraction of studies whose true winner is
claimed to beat the plain backbone (``n/a`` without ``--effect``).

    .venv/bin/python benches/bench_false_discoveries.py --studies 400 --placements 16 \\
        --max-seeds 3 --noise 1.41 --paired-noise 0.86 [--effect 3]
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import optuna

from nas_attn.backbones import ArchConfig
from nas_attn.search.results import ranked_rows
from nas_attn.testing.noisy import NoisyWorld, simulated_study, uniform_module


@dataclass(frozen=True)
class StudyOutcome:
    false_claims: int  # significant differences for placements with no true effect
    false_beats: int  # of those, claims that a placement beats the plain backbone
    winner_claimed: bool  # the truly better placement claimed to beat the plain backbone
    compared: int  # placements with a test
    trainings: int


def is_winner(arch: ArchConfig | None) -> bool:
    return arch is not None and uniform_module(arch) == "se"


def run_study(index: int, args: argparse.Namespace, folder: Path) -> StudyOutcome:
    """One simulated study: search, race, record its claims, then read them as every command does."""
    effect = args.effect or 0.0
    world = NoisyWorld(
        args.noise,
        args.paired_noise,
        seed=index,
        effect=lambda arch: effect if is_winner(arch) else 0.0,
    )
    study, pool = simulated_study(
        world, args.placements, folder, max_seeds=args.max_seeds, sampler_seed=index, workers=args.workers
    )
    rows = ranked_rows(study)
    false = [
        r for r in rows if r.significant and (not (args.effect and is_winner(r.arch)) or not r.beats_baseline)
    ]
    winner = next((r for r in rows if is_winner(r.arch)), None)
    compared = sum(1 for r in rows if r.p_value is not None)
    return StudyOutcome(
        len(false),
        sum(1 for r in false if r.beats_baseline),
        winner is not None and winner.beats_baseline,
        compared,
        len(pool.submitted),
    )


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--studies", type=int, default=400)
    parser.add_argument("--placements", type=int, default=16, help="placements besides the plain backbone")
    parser.add_argument("--max-seeds", type=int, default=3)
    parser.add_argument("--noise", type=float, default=1.41, help="seed std of one placement, points")
    parser.add_argument("--paired-noise", type=float, default=0.86, help="std of a paired difference, points")
    parser.add_argument("--effect", type=float, default=None, help="SE everywhere truly better by E points")
    parser.add_argument("--workers", type=int, default=4, help="simulated workers per study")
    parser.add_argument("--first-study", type=int, default=0, help="index of the first study (its seeds)")
    args = parser.parse_args()
    if args.placements < 2 or args.max_seeds < 2 or args.studies < 1:
        parser.error("need --studies >= 1, --placements >= 2 and --max-seeds >= 2")
    logging.getLogger("nas_attn").setLevel(logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    print(
        f"{args.studies} simulated studies: {args.placements} placements + the plain backbone, racing up to "
        f"{args.max_seeds} seeds, seed noise {args.noise} points (paired {args.paired_noise}), "
        + (f"SE everywhere truly better by {args.effect} points" if args.effect else "no true effect"),
        flush=True,
    )
    outcomes: list[StudyOutcome] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nas-attn-claims-") as tmp:
        for index in range(args.first_study, args.first_study + args.studies):
            outcomes.append(run_study(index, args, Path(tmp)))
            done = len(outcomes)
            if done % max(1, args.studies // 20) == 0 or done == args.studies:
                elapsed = time.perf_counter() - started
                with_false = sum(o.false_claims > 0 for o in outcomes)
                print(
                    f"  {done}/{args.studies} studies, {with_false} with a false claim "
                    f"({elapsed:.0f} s; ETA {elapsed / done * (args.studies - done):.0f} s)",
                    flush=True,
                )
    n = len(outcomes)
    k = sum(o.false_claims > 0 for o in outcomes)
    low, high = wilson(k, n)
    trainings = sum(o.trainings for o in outcomes) / n
    compared = sum(o.compared for o in outcomes) / n
    print(f"mean per study: {trainings:.1f} trainings, {compared:.1f} placements compared with plain")
    beats = sum(o.false_beats > 0 for o in outcomes)
    print(f"studies with a false 'beats the plain backbone' claim: {beats}/{n} = {beats / n:.3f}")
    print(f"studies with a false claim: {k}/{n} = {k / n:.3f} (95% Wilson interval [{low:.3f}, {high:.3f}])")
    if args.effect:
        wins = sum(o.winner_claimed for o in outcomes)
        w_low, w_high = wilson(wins, n)
        print(f"true winner claimed: {wins}/{n} = {wins / n:.3f} (95% Wilson [{w_low:.3f}, {w_high:.3f}])")
        power = f"{wins / n:.3f}"
    else:
        power = "n/a"
    print(f"family-wise false claims: {k / n:.3f} ({k}/{n}); power: {power}")


if __name__ == "__main__":
    main()
