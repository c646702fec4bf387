"""How long does one ask take as a study grows? Sampler + storage time per trial at N trials.

Builds a history of N completed trials of the default space (``sample_arch`` + a tell of
synthetic objective values; no training) in memory with the sampler itself (TPE: with random
sampling, which TPE cannot tell apart; NSGA-II keeps its generations), copies it into a fresh
study on each storage, then times ``--asks`` further trials there, each one
``study.ask()`` + ``sample_arch`` (the sampler's work and the reads and parameter writes it
causes), and prints the median ms per trial for each sampler, storage and N. The last column
says at which trial duration the ask becomes the bottleneck for W workers: the driver asks
serially, so W workers stay busy only while ask_ms * W < trial seconds.

    .venv/bin/python benches/bench_sampler.py                                  # 500 and 2000 trials
    .venv/bin/python benches/bench_sampler.py --trials 500 --samplers tpe --storage sqlite,memory
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna

from nas_attn.search import load_space, make_sampler, sample_arch
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.testing.postgres_server import postgres_server

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SPACE = REPO / "search_spaces" / "resnet18_stages.yaml"


def synthetic_values(digest: str, n_objectives: int) -> list[float]:
    """Objective values that depend only on the placement (stable across samplers)."""
    h = int(digest[:12], 16)
    return [(h >> (8 * i)) % 997 / 997 for i in range(n_objectives)]


def one_trial(study: optuna.Study, space: SearchSpace) -> tuple[optuna.Trial, str]:
    trial = study.ask()
    return trial, sample_arch(trial, space).digest()


def history(space: SearchSpace, sampler: str, n: int) -> list[optuna.trial.FrozenTrial]:
    """``n`` completed trials as ``sampler`` would have produced them (in memory, fast)."""
    study = optuna.create_study(directions=space.directions)
    study.sampler = make_sampler("random" if sampler == "tpe" else sampler, space, seed=0)
    for _ in range(n):
        trial, digest = one_trial(study, space)
        study.tell(trial, synthetic_values(digest, len(space.objectives)))
    return study.trials


def time_asks(study: optuna.Study, space: SearchSpace, asks: int) -> float:
    """Median ms of ask + sample_arch over ``asks`` trials (each told afterwards, untimed)."""
    times = []
    for _ in range(asks):
        start = time.perf_counter()
        trial, digest = one_trial(study, space)
        times.append(1000 * (time.perf_counter() - start))
        study.tell(trial, synthetic_values(digest, len(space.objectives)))
    return statistics.median(times)


@contextlib.contextmanager
def storages(kind: str, workdir: Path) -> Iterator[Callable[[], optuna.storages.BaseStorage]]:
    """A factory of fresh, empty storages of ``kind``: memory, sqlite or postgres."""
    if kind == "memory":
        yield optuna.storages.InMemoryStorage
    elif kind == "sqlite":
        counter = iter(range(1_000_000))
        yield lambda: optuna.storages.RDBStorage(f"sqlite:///{workdir / f's{next(counter)}.db'}")
    elif kind == "postgres":
        with postgres_server() as server:
            yield lambda: optuna.storages.RDBStorage(server.create_database())
    else:
        raise SystemExit(f"unknown storage '{kind}'; use memory, sqlite or postgres")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", default="500,2000", help="study sizes, comma-separated")
    parser.add_argument("--samplers", default="nsga2,tpe,random")
    parser.add_argument("--storage", default="memory,sqlite", help="memory, sqlite, postgres")
    parser.add_argument("--asks", type=int, default=10, help="timed asks per configuration")
    parser.add_argument("--workers", default="8,32,64", help="worker counts for the bottleneck column")
    parser.add_argument("--space", type=Path, default=DEFAULT_SPACE)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    space = load_space(args.space)
    sizes = sorted(int(n) for n in args.trials.split(","))
    workers = [int(w) for w in args.workers.split(",")]
    print(f"bench_sampler: {args.space.name}, median of {args.asks} asks (study.ask + sample_arch)")
    samplers = args.samplers.split(",")
    histories = {name: history(space, name, sizes[-1]) for name in samplers}
    head = f"{'sampler':>8} {'storage':>8} {'trials':>6} {'ask_ms':>8} | ask is the bottleneck if trial_s <"
    print(head)
    print("-" * (len(head) + 12))
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.storage.split(","):
            with storages(kind, Path(tmp)) as new_storage:
                for name in samplers:
                    for n in sizes:
                        study = optuna.create_study(storage=new_storage(), directions=space.directions)
                        study.add_trials(histories[name][:n])
                        study.sampler = make_sampler(name, space, seed=1)
                        ms = time_asks(study, space, args.asks)
                        limits = "  ".join(f"W={w}: {ms * w / 1000:.2f}s" for w in workers)
                        print(f"{name:>8} {kind:>8} {n:>6} {ms:>8.1f} | {limits}")
    print("(ask_ms: one ask; the driver asks one trial at a time, so with W workers the sampler")
    print(" alone keeps them busy only while trials last longer than ask_ms * W)")


if __name__ == "__main__":
    main()
