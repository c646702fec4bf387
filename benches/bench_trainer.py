"""Our proxy trainer against hand-written PyTorch loops: same model, data, batch and epochs.

Runs are interleaved in one process (ours, baseline, baseline, ours, ...) after one discarded
warm-up round, so machine noise hits both alike; prints the median images/s of each and their
ratio. Every run is timed the same way from outside (each loop also evaluates the small val
split once per epoch, as ours does), by the wall clock and by this process's CPU time: on a
shared machine the CPU-time figure is the one other processes cannot skew (use --threads 1).

CPU (default here): ours vs a minimal loop (data already in memory, fp32). Target: ratio >= 0.95.
CPU ``--variants``: today's CPU trainer (fp32, eager, contiguous, 1 thread) against each change
we measured for a faster CPU proxy: channels_last, bf16 autocast, torch.compile, 2 threads; prints
variant / today per clock (wall and CPU time; 2 threads are judged by the wall clock).
CUDA: also ours (bf16 autocast, channels_last, data on the GPU) vs a naive DataLoader + fp32 loop.
Targets: >= 2x over the naive loop; ResNet-18 (cifar stem, 32 px) >= 30k img/s on an H100.

    .venv/bin/python benches/bench_trainer.py                       # small CPU run, ~1 min
    .venv/bin/python benches/bench_trainer.py --image-size 16 --images 512 --rounds 5
    .venv/bin/python benches/bench_trainer.py --variants --image-size 16 --images 512 --batch-size 64
    .venv/bin/python benches/bench_trainer.py --device cuda         # 32 px, 20k images, batch 512
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nas_attn import ArchConfig, build_model
from nas_attn.data import ProxyData
from nas_attn.data.base import make_proxy_data
from nas_attn.data.synthetic import NUM_CLASSES, render
from nas_attn.worker import ProxyConfig, train_proxy
from nas_attn.worker.device import POLICIES, DevicePolicy, describe_device, resolve_device, synchronize

Runner = Callable[[nn.Module, ProxyData, ProxyConfig, torch.device], None]


def synthetic_data(n_train: int, size: int, seed: int = 0) -> ProxyData:
    """``n_train`` learnable synthetic images (and a small val split) at ``size`` px."""
    g = torch.Generator().manual_seed(seed)
    train_y = torch.randint(0, NUM_CLASSES, (n_train,), generator=g)
    val_y = torch.randint(0, NUM_CLASSES, (max(32, n_train // 50),), generator=g)
    return make_proxy_data(
        "synthetic", (render(train_y, size, g), train_y), (render(val_y, size, g), val_y), NUM_CLASSES
    )


def make_model(size: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(ArchConfig(stem="cifar", image_size=size))


def ours(model: nn.Module, data: ProxyData, cfg: ProxyConfig, device: torch.device) -> None:
    train_proxy(model, data.to(device), cfg, device)


@torch.no_grad()
def plain_eval(model: nn.Module, data: ProxyData, mean: torch.Tensor, std: torch.Tensor) -> float:
    model.eval()
    x = (data.val_images.float() / 255 - mean) / std
    correct = int((model(x.to(mean.device)).argmax(1).cpu() == data.val_labels.cpu()).sum())
    model.train()
    return correct / len(data.val_labels)


def _sgd(model: nn.Module, cfg: ProxyConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=cfg.weight_decay
    )


def minimal_loop(model: nn.Module, data: ProxyData, cfg: ProxyConfig, device: torch.device) -> None:
    """The plainest loop over in-memory tensors: shuffle, normalise, forward, backward, step (fp32)."""
    data = data.to(device)
    model.to(device).train()
    opt = _sgd(model, cfg)
    mean = torch.tensor(data.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(data.std, device=device).view(1, 3, 1, 1)
    n = len(data.train_labels)
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, device=device)
        for i in range(0, n, cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            x = (data.train_images[idx].float() / 255 - mean) / std
            loss = F.cross_entropy(model(x), data.train_labels[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        plain_eval(model, data, mean, std)


def naive_dataloader_loop(model: nn.Module, data: ProxyData, cfg: ProxyConfig, device: torch.device) -> None:
    """What a first PyTorch script does: a DataLoader on CPU tensors, copy per batch, fp32."""
    model.to(device).train()
    opt = _sgd(model, cfg)
    mean = torch.tensor(data.mean).view(3, 1, 1)
    std = torch.tensor(data.std).view(3, 1, 1)
    images = (data.train_images.float() / 255 - mean) / std
    loader = DataLoader(TensorDataset(images, data.train_labels), batch_size=cfg.batch_size, shuffle=True)
    for _ in range(cfg.epochs):
        for x, y in loader:
            loss = F.cross_entropy(model(x.to(device)), y.to(device), label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        plain_eval(model, data, mean.view(1, 3, 1, 1).to(device), std.view(1, 3, 1, 1).to(device))


def timed(
    run: Runner, model: nn.Module, data: ProxyData, cfg: ProxyConfig, device: torch.device
) -> dict[str, float]:
    """Images/s of one run by the wall clock and by this process's CPU time."""
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    run(model, data, cfg, device)
    synchronize(device)
    images = len(data.train_labels) * cfg.epochs
    return {"wall": images / (time.perf_counter() - wall), "cpu": images / (time.process_time() - cpu)}


def compare(
    name: str, baseline: Runner, data: ProxyData, cfg: ProxyConfig, device: torch.device, rounds: int
) -> dict[str, float]:
    """Interleave ours and ``baseline`` for ``rounds`` (+1 warm-up); print and return the ratios."""
    runs: dict[str, dict[str, list[float]]] = {"ours": {"wall": [], "cpu": []}, name: {"wall": [], "cpu": []}}
    runners: dict[str, Runner] = {"ours": ours, name: baseline}
    for r in range(rounds + 1):
        order = ("ours", name) if r % 2 == 0 else (name, "ours")
        speeds = {key: timed(runners[key], make_model(cfg.image_size, r), data, cfg, device) for key in order}
        print(
            f"  {'warm-up' if r == 0 else f'round {r}':8s} "
            + " | ".join(
                f"{k} {v['wall']:9.1f} img/s wall {v['cpu']:9.1f} img/s cpu" for k, v in speeds.items()
            ),
            flush=True,
        )
        if r > 0:
            for key, value in speeds.items():
                for clock, speed in value.items():
                    runs[key][clock].append(speed)
    ratios = {}
    for clock in ("wall", "cpu"):
        med = {key: statistics.median(values[clock]) for key, values in runs.items()}
        ratios[clock] = med["ours"] / med[name]
        print(
            f"  {clock:4s} clock: ours {med['ours']:.1f} img/s, {name} {med[name]:.1f} img/s, "
            f"ratio ours/{name} {ratios[clock]:.3f}"
        )
    return ratios


def variant(policy: DevicePolicy | None = None, threads: int | None = None, compiled: bool = False) -> Runner:
    """Our trainer with the CPU policy, thread count or torch.compile changed for one run."""

    def run(model: nn.Module, data: ProxyData, cfg: ProxyConfig, device: torch.device) -> None:
        saved_policy, saved_threads = POLICIES["cpu"], torch.get_num_threads()
        POLICIES["cpu"] = policy or saved_policy
        torch.set_num_threads(threads or saved_threads)
        try:
            ours(model, data, cfg.model_copy(update={"compile": compiled}), device)
        finally:
            POLICIES["cpu"] = saved_policy
            torch.set_num_threads(saved_threads)

    return run


CPU_VARIANTS: dict[str, Runner] = {
    "channels_last": variant(DevicePolicy(None, torch.channels_last, check_every=1)),
    "bf16_autocast": variant(DevicePolicy(torch.bfloat16, torch.contiguous_format, check_every=1)),
    "compile": variant(compiled=True),
    "two_threads": variant(threads=2),
}


def compare_variants(data: ProxyData, cfg: ProxyConfig, rounds: int, names: list[str]) -> None:
    """Each CPU variant in ``names`` against today's trainer (``ours``), interleaved; variant/today ratios."""
    device = torch.device("cpu")
    summary = []
    for name in names:
        runner = CPU_VARIANTS[name]
        print(f"today's trainer vs {name}:")
        ratios = compare(name, runner, data, cfg, device, rounds)
        summary.append((name, 1 / ratios["wall"], 1 / ratios["cpu"]))
    print("variant / today (> 1: faster than today's fp32 eager CPU trainer)")
    for name, wall, cpu in summary:
        print(f"  {name:14s} wall {wall:6.3f}  cpu {cpu:6.3f}")


def verdict(ratio: float, target: float) -> str:
    return f"target >= {target:g}: {'ok' if ratio >= target else 'BELOW TARGET'}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--image-size", type=int, default=None, help="default 8 on CPU, 32 on CUDA")
    parser.add_argument("--images", type=int, default=None, help="training images; default 512 / 20000")
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 on CPU, 512 on CUDA")
    parser.add_argument("--epochs", type=int, default=None, help="default 1 on CPU, 2 on CUDA")
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds after one warm-up round")
    parser.add_argument(
        "--crop-padding", type=int, default=2, help="our trainer's augmentation (baselines: none)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--compile", action="store_true", help="our trainer with torch.compile")
    parser.add_argument(
        "--variants", action="store_true", help="CPU: each faster-trainer candidate vs today's"
    )
    parser.add_argument(
        "--variant",
        action="append",
        choices=sorted(CPU_VARIANTS),
        help="with --variants: only these (repeatable)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    size = args.image_size or (32 if gpu else 8)
    cfg = ProxyConfig(
        dataset="synthetic",
        image_size=size,
        epochs=args.epochs or (2 if gpu else 1),
        batch_size=args.batch_size or (512 if gpu else 32),
        crop_padding=args.crop_padding,
        compile=args.compile,
    )
    data = synthetic_data(args.images or (20000 if gpu else 512), size)
    print(
        f"bench_trainer: resnet18 (cifar stem) {size}px, {len(data.train_labels)} synthetic images, "
        f"batch {cfg.batch_size}, {cfg.epochs} epoch(s), crop_padding {cfg.crop_padding}, "
        f"compile {cfg.compile}, on {describe_device(device)}"
    )
    if args.variants:
        compare_variants(data, cfg, args.rounds, args.variant or list(CPU_VARIANTS))
        return
    print("vs minimal hand-written loop (same data in memory, fp32):")
    ratios = compare("minimal", minimal_loop, data, cfg, device, args.rounds)
    if not gpu:
        print(f"  cpu-time ratio {ratios['cpu']:.3f}, {verdict(ratios['cpu'], 0.95)}")
        return
    print("vs naive DataLoader + fp32 loop:")
    naive = compare("naive", naive_dataloader_loop, data, cfg, device, args.rounds)
    print(f"  wall-clock ratio {naive['wall']:.3f}, {verdict(naive['wall'], 2.0)}")
    best = train_proxy(make_model(size, 0), data.to(device), cfg, device).images_per_second
    print(f"ours alone: {best:.0f} img/s (target on an H100 at 32 px: >= 30000)")


if __name__ == "__main__":
    main()
