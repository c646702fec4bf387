"""How repeatable is our latency figure, and does the interleaved latency_ratio cancel noise?

1. The same latency measurement (warm-up, then the median of ``--repeats`` passes) repeated
   ``--measurements`` times: prints every median and their coefficient of variation (CV).
2. ``latency_ratio`` of a model against an identical copy of itself, measured interleaved, the
   same number of times: should be 1.0; target on CPU: every one within 3% of it.
3. For scale, the ratio of a placement (``--module`` in every stage) against the plain backbone.

    .venv/bin/python benches/bench_latency.py                        # ResNet-18 16 px, CPU, ~20 s
    .venv/bin/python benches/bench_latency.py --image-size 32 --repeats 200 --device cuda
"""

from __future__ import annotations

import argparse
import copy
import statistics

import torch

from nas_attn import ArchConfig, build_model
from nas_attn.worker import measure_latency, measure_latency_ratio
from nas_attn.worker.device import describe_device, resolve_device


def cv_percent(values: list[float]) -> float:
    return 100 * statistics.stdev(values) / statistics.mean(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--measurements", type=int, default=10)
    parser.add_argument("--module", default="se", help="placement for part 3, in every stage")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    torch.manual_seed(0)
    arch = ArchConfig(backbone=args.backbone, stem="cifar", image_size=args.image_size)
    model = build_model(arch).to(device)
    protocol = {"batch_size": args.batch_size, "warmup": args.warmup, "repeats": args.repeats}
    print(
        f"bench_latency: {args.backbone} (cifar stem) {args.image_size}px batch {args.batch_size}, "
        f"warm-up {args.warmup}, median of {args.repeats}, on {describe_device(device)}"
    )

    medians = [
        measure_latency(model, args.image_size, device, **protocol).median_ms
        for _ in range(args.measurements)
    ]
    print(f"1. {args.measurements} repeated measurements, median ms: {' '.join(f'{m:.3f}' for m in medians)}")
    print(f"   mean {statistics.mean(medians):.3f} ms, CV of the median {cv_percent(medians):.2f}%")

    twin = copy.deepcopy(model)
    ratios = [
        measure_latency_ratio(model, twin, args.image_size, device, **protocol).ratio
        for _ in range(args.measurements)
    ]
    worst = max(abs(r - 1) for r in ratios)
    print(f"2. latency_ratio against itself: {' '.join(f'{r:.3f}' for r in ratios)}")
    print(
        f"   median {statistics.median(ratios):.4f}, CV {cv_percent(ratios):.2f}%, worst |ratio - 1| "
        f"{100 * worst:.2f}% (target on CPU: within 3%: {'ok' if worst <= 0.03 else 'OUTSIDE TARGET'})"
    )

    placed = ArchConfig.from_dict(
        {
            **arch.to_dict(),
            "stages": {s: {"module": args.module} for s in ("layer1", "layer2", "layer3", "layer4")},
        }
    )
    placed_model = build_model(placed).to(device)
    result = measure_latency_ratio(placed_model, model, args.image_size, device, **protocol)
    print(
        f"3. {args.module} in every stage vs plain: ratio {result.ratio:.3f} (IQR {result.ratio_iqr:.3f}); "
        f"{result.model.median_ms:.3f} ms vs {result.baseline.median_ms:.3f} ms"
    )


if __name__ == "__main__":
    main()
