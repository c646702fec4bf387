"""``nas-attn search`` (run or resume a search, with a progress bar) and ``nas-attn modules``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nas_attn.cli._options import AUTO_DEVICE, Device, GpusPerTrial, RayAddress, Sampler, Storage, Workers
from nas_attn.defaults import DEFAULT_STORAGE

if TYPE_CHECKING:
    from nas_attn.backbones import ArchConfig
    from nas_attn.worker.evaluate import TrialResult


def search(
    space: Path = typer.Option(
        ..., "--space", help="Search-space YAML, e.g. search_spaces/resnet18_stages.yaml"
    ),
    storage: Storage = DEFAULT_STORAGE,
    study: Annotated[
        str | None, typer.Option("--study", help="Study name (default: the space's name).")
    ] = None,
    n_trials: int | None = typer.Option(
        None,
        "--n-trials",
        min=1,
        help="Evaluated placements wanted in the study, in total (default: the space's).",
    ),
    workers: Workers = None,
    ray_address: RayAddress = None,
    gpus_per_trial: GpusPerTrial = None,
    device: Device = AUTO_DEVICE,
    sampler: Sampler = None,
) -> None:
    """Run (or resume) a search until the study holds --n-trials evaluated placements."""
    from nas_attn.cli import console, progress, tables
    from nas_attn.search.usecases import service
    from nas_attn.search.usecases.proxy_bias import short_proxy_warning

    prepared = service.prepare(
        service.SearchRequest(
            space,
            storage,
            study,
            n_trials,
            workers,
            ray_address,
            gpus_per_trial,
            device.value,
            sampler.value if sampler is not None else None,
        )
    )
    name, url = prepared.study_name, prepared.safe_storage
    console.info(f"study '{name}' in {url}: {prepared.evaluated} evaluated trials, target {prepared.target}")
    if prepared.target > prepared.size:
        console.info(
            f"the space has only {prepared.size} distinct placements; the search ends when all are evaluated"
        )
    if prepared.remaining == 0 and not service.seeds_pending(prepared):
        console.info("target already reached; pass a larger --n-trials to continue this study")
        front, claims = service.front(prepared), service.claims(prepared)
    else:
        plan = service.plan_workers(prepared)
        console.info(tables.describe_plan(plan, prepared.space))
        with progress.RichProgressObserver() as bar:
            outcome = service.execute(prepared, plan, _SearchObserver(bar, console.info))
        front, claims = outcome.front, outcome.claims
        if outcome.exhausted:
            evaluated = f"{outcome.evaluated} of {prepared.size}"
            console.info(f"every placement of the space is evaluated ({evaluated})")
        if outcome.duplicates_this_run:
            console.info(f"{outcome.duplicates_this_run} duplicate placement(s) answered without training")
    tables.print_front(front, name, claims)
    if (warning := short_proxy_warning(front, prepared.space.proxy)) is not None:
        console.info(warning)
    console.info(f"compute: {service.compute(prepared).describe()}")
    console.info(f"study '{name}' is stored in {url}")
    console.info(
        f"inspect it: nas-attn dashboard --storage {url}   or: nas-attn report --study {name} --storage {url}"
    )


class _SearchObserver:
    """The progress bar's observer plus one line per duplicate and per driver notice."""

    def __init__(self, progress: Any, info: Callable[[str], None]) -> None:
        self._progress = progress
        self._info = info

    def started(self, target: int, evaluated: int) -> None:
        self._progress.started(target, evaluated)

    def trial_started(self, number: int, arch: ArchConfig) -> None:
        self._progress.trial_started(number, arch)

    def trial_finished(self, number: int, result: TrialResult | None, reason: str | None) -> None:
        self._progress.trial_finished(number, result, reason)

    def trial_duplicate(self, number: int, of: int) -> None:
        self._info(f"trial {number:>4}  same placement as trial {of}: answered from its result")

    def notice(self, message: str) -> None:
        self._info(message)


def modules(
    channels: int = typer.Option(256, "--channels", min=1, max=4096, help="Input channels C."),
    size: int = typer.Option(16, "--size", min=1, max=64, help="Feature map height = width."),
    reduction: int | None = typer.Option(
        None, "--reduction", min=1, max=4096, help="Ratio r (default: each module's)."
    ),
) -> None:
    """The attention zoo: kind, paper, extra params/MACs and latency overhead at one shape."""
    from nas_attn.attention import describe_zoo
    from nas_attn.cli import tables

    tables.print_zoo(describe_zoo(channels, size, reduction=reduction), channels, size)
