"""Calibrated latency under load: does latency_ms still rank and repeat while the CPU is busy?

Starts ``--hogs`` busy processes (each spins a core), then measures the default quick start's
two baselines (the plain ResNet-18 and SE in every stage, 16 px, batch 1) the way every trial
is measured: the placement timed interleaved with the plain backbone (``latency_ratio``),
``latency_ms`` = ratio x the study's reference (the lowest-noise plain-backbone measurement
seen, :class:`nas_attn.search.studydb.latency_reference.LatencyReferences`). Prints, for
``--measurements`` repeats of each, the raw median (what latency_ms was before calibration) and
the calibrated value, their coefficients of variation, and whether plain <= SE held.

Targets: calibrated latency_ms(plain) <= latency_ms(SE everywhere) in every repeat; CV of one
placement's calibrated latency_ms over the repeats under 5%.

    .venv/bin/python benches/bench_latency_load.py                   # 2 hogs, 5 repeats, ~1-2 min
    .venv/bin/python benches/bench_latency_load.py --hogs 0          # the same on a quiet machine
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

import torch

from nas_attn import ArchConfig, build_model
from nas_attn.search.studydb.latency_reference import LatencyReferences
from nas_attn.worker.config import LatencyConfig
from nas_attn.worker.evaluate import TrialResult, time_against_baseline

SE_EVERYWHERE = {f"layer{i}": {"module": "se", "reduction": 16} for i in range(1, 5)}


def spin(stop_at: float) -> None:
    """Keep one core busy until ``stop_at`` (a time.time() value)."""
    x = 0
    while time.time() < stop_at:
        x = (x * 1103515245 + 12345) % 2**31


def measured(arch: ArchConfig, latency: LatencyConfig) -> TrialResult:
    """What a worker reports of ``arch`` before training (latency fields only)."""
    torch.manual_seed(0)
    model = build_model(arch, num_classes=10)
    timing = time_against_baseline(model, arch, 10, latency, torch.device("cpu"))
    return TrialResult(
        accuracy=0.0,
        latency_ms=timing.ratio * timing.baseline.median_ms,
        latency_iqr_ms=timing.ratio_iqr * timing.baseline.median_ms,
        params=0,
        train_seconds=0.0,
        images_per_second=0.0,
        epochs=0,
        device="cpu",
        latency_ratio=timing.ratio,
        latency_ratio_iqr=timing.ratio_iqr,
        baseline_latency_ms=timing.baseline.median_ms,
        baseline_latency_iqr_ms=timing.baseline.iqr_ms,
        latency_raw_ms=timing.model.median_ms,
    )


def cv_percent(values: list[float]) -> float:
    return 100 * statistics.stdev(values) / statistics.mean(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hogs", type=int, default=2, help="busy processes started beside the measurement")
    parser.add_argument("--measurements", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (a worker's share)")
    parser.add_argument("--image-size", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    latency = LatencyConfig()
    archs = {
        "plain": ArchConfig(stem="cifar", image_size=args.image_size),
        "se everywhere": ArchConfig(stem="cifar", image_size=args.image_size, stages=SE_EVERYWHERE),
    }
    hogs = [mp.Process(target=spin, args=(time.time() + 3600,), daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    references = LatencyReferences()
    runs: dict[str, list[TrialResult]] = {name: [] for name in archs}
    try:
        for _ in range(args.measurements):
            for name, arch in archs.items():
                result = measured(arch, latency)
                references.offer(result, None)
                runs[name].append(result)
    finally:
        for hog in hogs:
            hog.terminate()
    reference = references.by_device["cpu"]
    print(f"{args.hogs} busy process(es); torch threads {args.threads}; {args.measurements} repeats each")
    print(
        f"study reference (lowest-noise plain measurement): {reference.median_ms:.3f} ms, "
        f"IQR {reference.iqr_ms:.3f}"
    )
    calibrated = {name: [references.calibrate(r).latency_ms for r in rs] for name, rs in runs.items()}
    for name, rs in runs.items():
        raw = [r.latency_raw_ms for r in rs]
        cal = calibrated[name]
        print(
            f"{name:>14}: raw median ms {' '.join(f'{v:6.2f}' for v in raw)}  CV {cv_percent(raw):5.1f}% | "
            f"calibrated ms {' '.join(f'{v:6.2f}' for v in cal)}  CV {cv_percent(cal):4.1f}%"
        )
    ordered = sum(p <= s for p, s in zip(calibrated["plain"], calibrated["se everywhere"], strict=True))
    raw_ordered = sum(
        p.latency_raw_ms <= s.latency_raw_ms
        for p, s in zip(runs["plain"], runs["se everywhere"], strict=True)
    )
    worst_cv = max(cv_percent(v) for v in calibrated.values())
    print(
        f"plain <= se everywhere: calibrated {ordered}/{args.measurements}, "
        f"raw {raw_ordered}/{args.measurements}"
    )
    verdict = "PASS" if ordered == args.measurements and worst_cv < 5 else "FAIL"
    print(f"{verdict}: calibrated ordering held in every repeat and worst CV {worst_cv:.1f}% (< 5% wanted)")


if __name__ == "__main__":
    main()
