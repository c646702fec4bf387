"""``nas-attn`` console script (Typer). User errors: one line on stderr, non-zero exit."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from nas_attn.exceptions import NasAttnError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Search which attention module, reduction and position to place in each CNN stage.",
)

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130


@app.callback()
def _root() -> None:
    """Search which attention module, reduction and position to place in each CNN stage."""


@app.command()
def search(
    space: Path = typer.Option(
        ..., "--space", help="Search-space YAML, e.g. search_spaces/resnet18_stages.yaml"
    ),
    storage: str = typer.Option("sqlite:///nas_attn.db", "--storage", help="Optuna storage URL."),
    study: str | None = typer.Option(None, "--study", help="Study name (default: the space's name)."),
    n_trials: int | None = typer.Option(
        None, "--n-trials", min=1, help="Total COMPLETE trials wanted in the study (default: the space's)."
    ),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Ray worker actors (one trial each)."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Existing Ray cluster, e.g. 'auto'."),
    gpus_per_trial: float | None = typer.Option(
        None, "--gpus-per-trial", min=0.0, help="GPU share per trial."
    ),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    sampler: str | None = typer.Option(
        None, "--sampler", help="nsga2 | tpe | random (default: the space's)."
    ),
) -> None:
    """Run (or resume) a search until the study holds --n-trials complete trials."""
    from nas_attn import console
    from nas_attn.search import pareto_rows, service

    prepared = service.prepare(
        service.SearchRequest(
            space, storage, study, n_trials, workers, ray_address, gpus_per_trial, device, sampler
        )
    )
    name, url = prepared.study.study_name, prepared.safe_storage
    console.info(f"study '{name}' in {url}: {prepared.complete} complete trials, target {prepared.target}")
    if prepared.remaining == 0:
        console.info("target already reached; pass a larger --n-trials to continue this study")
        front = pareto_rows(prepared.study)
    else:
        plan = service.plan_workers(prepared)
        console.info(console.describe_plan(plan, prepared.space))
        with console.RichProgressObserver() as observer:
            front = service.execute(prepared, plan, observer)
    console.print_front(front, name)
    console.info(f"study '{name}' is stored in {url}")
    console.info(f"inspect it with: optuna-dashboard {url}")


@app.command()
def front(
    storage: str = typer.Option("sqlite:///nas_attn.db", "--storage", help="Optuna storage URL."),
    study: str = typer.Option(..., "--study", help="Study name."),
    output_format: str = typer.Option("table", "--format", help="table | csv | json"),
) -> None:
    """The study's complete trials ranked by non-dominated sorting (rank 1 = Pareto front)."""
    from nas_attn import console
    from nas_attn.search.results import ranked_rows
    from nas_attn.search.storage import open_storage
    from nas_attn.search.study import load_existing_study

    if output_format not in console.ROW_FORMATS:
        raise NasAttnError(f"unknown format '{output_format}'; use {', '.join(console.ROW_FORMATS)}")
    rows = sorted(
        ranked_rows(load_existing_study(open_storage(storage), study)), key=lambda r: (r.rank, r.number)
    )
    console.print_rows(rows, output_format, f"trials of '{study}' by Pareto rank")


@app.command()
def modules(
    channels: int = typer.Option(256, "--channels", min=1, help="Input channels C."),
    size: int = typer.Option(16, "--size", min=1, help="Feature map height = width."),
    reduction: int | None = typer.Option(
        None, "--reduction", min=1, help="Ratio r (default: each module's)."
    ),
) -> None:
    """The attention zoo: kind, paper, extra params/MACs and latency overhead at one shape."""
    from nas_attn import console
    from nas_attn.attention import describe_zoo

    console.print_zoo(describe_zoo(channels, size, reduction=reduction), channels, size)


def main() -> None:
    """Entry point: run the Typer app and turn user errors into one clean stderr line."""
    try:
        app()
    except NasAttnError as exc:
        from nas_attn.search.driver import SearchInterrupted

        print(f"nas-attn: error: {exc}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED if isinstance(exc, SearchInterrupted) else EXIT_USER_ERROR)


if __name__ == "__main__":
    main()
