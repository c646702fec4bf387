"""Repeated Ctrl-C at chosen moments of a real ``nas-attn search``: does it always end, and how fast?

Runs every case of :mod:`nas_attn.testing.interrupt_cases` ``--reps`` times (a real CLI process in
its own process group, presses sent to the whole group as a terminal does, held workers so each
press lands while a trial or a warm-start backbone trains) and prints, per case, the runs that
passed, the seconds from the last press to the command's exit (median and max) and the first
problem seen. Its last line is ``interrupt cases: P/N runs passed; slowest exit S s; hangs: H``.

    .venv/bin/python benches/bench_interrupts.py --reps 20
    .venv/bin/python benches/bench_interrupts.py --reps 5 --cases pretrain-2x,finished --load 2

``--load K`` keeps K busy processes spinning meanwhile (the heavy-load condition under which
repeated Ctrl-C used to leave searches running). Each run's line is appended to ``--log``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

from nas_attn.testing.interrupt_cases import CASES, HANG_S, Case, CaseRun, run_case


def _spin(stop_at: float) -> None:
    while time.monotonic() < stop_at:
        sum(i * i for i in range(10_000))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20, help="runs per case (default 20)")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--load", type=int, default=0, help="busy processes meanwhile (default 0)")
    parser.add_argument("--hang-s", type=float, default=HANG_S, help="a run still going this long hangs")
    parser.add_argument("--log", type=Path, default=Path("benches/results/interrupts.jsonl"))
    parser.add_argument(
        "--from-log", type=Path, nargs="+", help="only summarise these logs (several runs of the bench)"
    )
    args = parser.parse_args(argv)
    known = {case.name: case for case in CASES}
    if args.from_log:
        return _summary(_read_logs(args.from_log, known), args.load, args.hang_s)
    names = [n for n in args.cases.split(",") if n] or list(known)
    unknown = [n for n in names if n not in known]
    if unknown or args.reps < 1:
        parser.error(
            f"unknown case(s) {unknown}; known: {', '.join(known)}" if unknown else "--reps must be >= 1"
        )
    spinners = [
        multiprocessing.Process(target=_spin, args=(time.monotonic() + 86_400,), daemon=True)
        for _ in range(args.load)
    ]
    for spinner in spinners:
        spinner.start()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[CaseRun]] = {name: [] for name in names}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-interrupts-") as tmp:
            for rep in range(args.reps):  # case after case, so load and drift spread over all
                for name in names:
                    run = run_case(known[name], Path(tmp) / f"{name}-{rep}", args.hang_s)
                    runs[name].append(run)
                    _log(args.log, run, rep, args.load)
                    state = "ok" if run.ok else f"FAIL: {run.problems[0]}"
                    print(
                        f"  {rep + 1}/{args.reps} {name:16s} exit {run.exit_code} "
                        f"after {run.seconds:5.1f} s  {state}",
                        flush=True,
                    )
    finally:
        for spinner in spinners:
            spinner.terminate()
    return _summary(runs, args.load, args.hang_s)


def _read_logs(paths: list[Path], known: dict[str, Case]) -> dict[str, list[CaseRun]]:
    runs: dict[str, list[CaseRun]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            record = json.loads(line)
            run = CaseRun(known[record["case"]], float(record["seconds"]), record["exit"], record["problems"])
            runs.setdefault(record["case"], []).append(run)
    return runs


def _log(path: Path, run: CaseRun, rep: int, load: int) -> None:
    record = {
        "case": run.case.name,
        "rep": rep,
        "load": load,
        "exit": run.exit_code,
        "seconds": round(run.seconds, 2),
        "problems": run.problems,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with path.open("a") as log:
        log.write(json.dumps(record) + "\n")


def _summary(runs: dict[str, list[CaseRun]], load: int, hang_s: float) -> int:
    print(f"\ncase             passed  median s  max s  what (load: {load} busy processes)")
    total = passed = hangs = 0
    slowest = 0.0
    for name, case_runs in runs.items():
        ok = [r for r in case_runs if r.ok]
        timed = [r.seconds for r in case_runs if r.seconds == r.seconds]  # not NaN
        total += len(case_runs)
        passed += len(ok)
        hangs += sum(1 for r in case_runs if r.exit_code is None)
        slowest = max([slowest, *timed])
        median = statistics.median(timed) if timed else float("nan")
        print(
            f"{name:16s} {len(ok):3d}/{len(case_runs):<3d} {median:8.1f} "
            f"{max(timed, default=float('nan')):6.1f}  {case_runs[0].case.what}"
        )
        first_problem = next((r.problems[0] for r in case_runs if r.problems), None)
        if first_problem:
            print(f"{'':16s} first problem: {first_problem[:300]}")
    print(f"interrupt cases: {passed}/{total} runs passed; slowest exit {slowest:.1f} s; hangs: {hangs}")
    if hangs:
        print(f"(a hang: still running {hang_s:.0f} s after the last press)")
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main())
