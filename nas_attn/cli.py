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
    import optuna

    from nas_attn import console
    from nas_attn.search import (
        load_space,
        open_storage,
        open_study,
        plan_pool,
        redact_url,
        run_search,
        start_ray,
    )
    from nas_attn.search.pool import WorkerPool
    from nas_attn.search.study import complete_trials
    from nas_attn.worker.device import resolve_device

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    loaded = load_space(space)
    if ray_address is None:
        resolve_device(device)  # CUDA asked for but absent: fail before anything starts
    elif device not in {"auto", "cpu", "cuda"}:
        raise NasAttnError(f"unknown device '{device}'; use auto, cpu or cuda")
    target = n_trials if n_trials is not None else loaded.search.n_trials
    study_name = study or loaded.name
    safe_url = redact_url(storage)
    the_study = open_study(open_storage(storage), study_name, loaded, sampler or loaded.search.sampler)
    done = len(complete_trials(the_study))
    console.info(f"study '{study_name}' in {safe_url}: {done} complete trials, target {target}")
    if done < target:
        start_ray(ray_address, workers or 1)
        plan = plan_pool(workers, device, gpus_per_trial, remote=ray_address is not None)
        console.info(
            f"ray: {plan.workers} worker(s) on {plan.device}"
            + (
                f", {plan.threads_per_worker} CPU thread(s) each"
                if plan.device == "cpu"
                else f", {plan.gpus_per_trial} GPU(s) each"
            )
            + f"; proxy: {loaded.proxy.dataset} at {loaded.proxy.image_size}px, {loaded.proxy.epochs} epochs"
        )
        pool = WorkerPool(plan)
        with console.RichProgressObserver() as observer:
            outcome = run_search(the_study, loaded, target, pool, observer)
        pool.shutdown()
    else:
        console.info("target already reached; pass a larger --n-trials to continue this study")
        from nas_attn.search.results import pareto_rows

        outcome = None
        front = pareto_rows(the_study)
    if outcome is not None:
        front = outcome.front
    console.console.print(
        console.front_table(
            front, f"Pareto front of '{study_name}' ({len(front)} trial{'s' if len(front) != 1 else ''})"
        )
    )
    console.info(f"study '{study_name}' is stored in {safe_url}")
    console.info(f"inspect it with: optuna-dashboard {safe_url}")


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
