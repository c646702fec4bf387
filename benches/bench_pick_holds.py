"""Does the study's pick hold at a real budget? (issue 29)

Takes a finished racing search (``--storage``/``--study``, at least 16 placements, the Fashion
space by default) and trains four of its placements again, from scratch, at a budget of at least
6x the former proxy's image-epochs (default 16 px x 15,000 images x 4 epochs), at ``--seeds``
paired training seeds the search never used: the knee of the front, the placement the study
claims is best (if it claims any), the plain backbone and SE everywhere. Prints each one's paired
delta to the plain backbone with its Student-t 95% interval, and whether the proxy's order of
those placements held (Kendall tau, and pair by pair).

Trainings go through the worker's own code path (``benches/proxy_runs.py``, shared with
``bench_budget_bias.py``), are appended to ``--log`` as they land, and a rerun skips what the
log holds (hours of CPU: run it in the background).

    .venv/bin/python benches/bench_pick_holds.py --storage sqlite:///nas_attn.db \\
        --study resnet18_fashion [--budget 16:15000:4] [--seeds 3] [--jobs 2]
    .venv/bin/python benches/bench_pick_holds.py ... --report-only
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from proxy_runs import FASHION_SPACE, Budget, Run, describe, run_all, warm_caches

from nas_attn.backbones import ArchConfig
from nas_attn.search import open_storage
from nas_attn.search.results import TrialRow, claims_of, ranked_rows, study_directions
from nas_attn.search.sampling.space import load_space
from nas_attn.search.studydb.study import load_existing_study
from nas_attn.stats.ranks import kendall_tau
from nas_attn.stats.seeds import mean_interval

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_LOG = RESULTS / "pick_holds.jsonl"
MIN_PLACEMENTS = 16


@dataclass(frozen=True)
class Pick:
    """A placement the bench retrains: its role(s), the study's row and the arch."""

    roles: tuple[str, ...]
    row: TrialRow
    arch: ArchConfig

    @property
    def label(self) -> str:
        return describe(self.arch)


def _uniform(arch: ArchConfig | None, module: str) -> bool:
    return arch is not None and bool(arch.stages) and all(s.module == module for s in arch.stages.values())


def choose(rows: list[TrialRow], claimed: list[int]) -> list[Pick]:
    """The knee, the claimed best (highest accuracy among the placements claimed to beat the
    plain backbone), the plain backbone and SE everywhere; one Pick per placement, roles merged."""
    roles: dict[int, list[str]] = {}
    by_number = {r.number: r for r in rows}

    def add(row: TrialRow | None, role: str) -> None:
        if row is not None and row.arch is not None:
            roles.setdefault(row.number, []).append(role)

    add(next((r for r in rows if r.knee), None), "knee")
    winners = [by_number[n] for n in claimed if n in by_number and by_number[n].beats_baseline]
    add(max(winners, key=lambda r: r.values["accuracy"], default=None), "claimed best")
    add(next((r for r in rows if _uniform(r.arch, "none")), None), "plain")
    add(next((r for r in rows if _uniform(r.arch, "se")), None), "se everywhere")
    if not any("plain" in v for v in roles.values()):
        raise SystemExit(
            "the study has no plain backbone to compare with (a search with baselines: true has one)"
        )
    picks = []
    for number, names in roles.items():
        arch = by_number[number].arch
        if arch is not None:
            picks.append(Pick(tuple(names), by_number[number], arch))
    return picks


def unused_seeds(rows: list[TrialRow], count: int) -> list[int]:
    """``count`` training seeds above every seed the study trained with."""
    used = max((s for r in rows for s in r.seed_list), default=0)
    return [used + 1 + i for i in range(count)]


def read_log(path: Path) -> dict[tuple[str, str, int], float]:
    """Accuracy by (budget, placement label, seed)."""
    out: dict[tuple[str, str, int], float] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                out[(row["budget"], row["placement"], int(row["seed"]))] = float(row["accuracy"])
    return out


def measure(picks: list[Pick], budget: Budget, seeds: list[int], args: argparse.Namespace) -> None:
    space = load_space(args.space)
    done = read_log(args.log)
    archs = [p.arch for p in picks]
    runs = [
        Run(i, budget, seed)
        for seed in seeds
        for i, pick in enumerate(picks)
        if (str(budget), pick.label, seed) not in done
    ]
    print(f"{len(runs)} trainings to run ({len(done)} in {args.log}), {args.jobs} at once", flush=True)
    if not runs:
        return
    warm_caches(space.proxy, [budget])
    args.log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with args.log.open("a") as log:
        for finished, result in enumerate(run_all(archs, runs, space.proxy, args.device, args.jobs), 1):
            row = {
                "budget": str(budget),
                "placement": picks[result.run.placement].label,
                "seed": result.run.seed,
                "accuracy": result.accuracy,
                "train_seconds": result.train_seconds,
            }
            log.write(json.dumps(row) + "\n")
            log.flush()
            eta = (time.perf_counter() - started) / finished * (len(runs) - finished) / 60
            print(
                f"  {finished}/{len(runs)} seed {row['seed']} {row['placement']:<44} {result.accuracy:.4f} "
                f"({result.train_seconds:.0f} s; ETA {eta:.0f} min)",
                flush=True,
            )


def report(picks: list[Pick], budget: Budget, seeds: list[int], log: Path, claims_text: str | None) -> None:
    accuracy = read_log(log)
    plain = next(p for p in picks if "plain" in p.roles)
    long: dict[str, dict[int, float]] = {
        p.label: {
            s: accuracy[(str(budget), p.label, s)] for s in seeds if (str(budget), p.label, s) in accuracy
        }
        for p in picks
    }
    print(f"\nthe study: {claims_text or 'no plain backbone'}")
    print(f"at {budget}, from scratch, seeds {seeds} (never used by the search): delta to the plain backbone")
    header = f"{'placement':<44} {'roles':<28} {'proxy acc':>9} {'long acc':>9}  delta, points [95% CI]"
    print(header)
    for pick in picks:
        got = long[pick.label]
        mean = f"{statistics.fmean(got.values()):.4f}" if got else "-"
        shared = [s for s in got if s in long[plain.label]]
        if pick is plain:
            delta = "(reference)"
        elif not shared:
            delta = "-"
        else:
            interval = mean_interval([100 * (got[s] - long[plain.label][s]) for s in shared])
            ci = (
                f"[{interval.low:+.2f}, {interval.high:+.2f}]"
                if interval.low is not None
                else "(no interval)"
            )
            delta = f"{interval.mean:+.2f} {ci} n={interval.n}"
        roles = ", ".join(pick.roles)
        print(f"{pick.label:<44} {roles:<28} {pick.row.values['accuracy']:>9.4f} {mean:>9}  {delta}")
    complete = [p for p in picks if len(long[p.label]) == len(seeds)]
    if len(complete) < 2:
        print("proxy order held: n/a (fewer than two placements trained at every seed)")
        return
    proxy = [p.row.values["accuracy"] for p in complete]
    reference = [statistics.fmean(long[p.label].values()) for p in complete]
    tau = kendall_tau(proxy, reference)
    flips = [
        f"{a.label} vs {b.label}"
        for i, a in enumerate(complete)
        for b in complete[i + 1 :]
        if (a.row.values["accuracy"] - b.row.values["accuracy"])
        * (statistics.fmean(long[a.label].values()) - statistics.fmean(long[b.label].values()))
        < 0
    ]
    verdict = "held" if not flips else f"did not hold ({len(flips)} pair(s) flipped: {'; '.join(flips)})"
    print(f"proxy order held: {verdict}; Kendall tau {tau:+.2f} over {len(complete)} placements")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--storage", required=True, help="the finished study's storage URL")
    parser.add_argument("--study", required=True)
    parser.add_argument("--space", default=str(FASHION_SPACE), help="the space whose proxy data to train on")
    parser.add_argument(
        "--budget", default="16:15000:4", help="SIZE:IMAGES:EPOCHS[:BATCH[:LR]] (from scratch)"
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--log", type=Path, default=DEFAULT_LOG)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()

    budget = Budget.parse(args.budget)
    if budget.warm_epochs is not None:
        parser.error("--budget trains from scratch: no +warm")
    study = load_existing_study(open_storage(args.storage), args.study)
    rows = ranked_rows(study)
    if len(rows) < MIN_PLACEMENTS:
        raise SystemExit(
            f"the study has {len(rows)} ranked placements; this bench wants at least {MIN_PLACEMENTS}"
        )
    if "accuracy" not in rows[0].values or len(study_directions(study)) < 2:
        raise SystemExit("the study has no accuracy/latency objectives")
    claims = claims_of(study)
    picks = choose(rows, claims.significant)
    seeds = unused_seeds(rows, args.seeds)
    print(f"{args.study}: {len(rows)} placements; retraining {len(picks)} at {budget}, seeds {seeds}")
    if not args.report_only:
        measure(picks, budget, seeds, args)
    report(picks, budget, seeds, args.log, claims.describe())


if __name__ == "__main__":
    main()
