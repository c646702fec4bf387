"""CLI commands that train a finished study's placements again: ``reseed`` and ``validate-proxy``.

Both start the same Ray worker pool as ``search`` and read the space back from the study.
"""

from __future__ import annotations

import typer

from nas_attn.cli._options import AUTO_DEVICE, Device, RayAddress, Storage, Study, Workers
from nas_attn.defaults import DEFAULT_STORAGE
from nas_attn.exceptions import NasAttnError

MAX_SEEDS = 20  # as search.final_seeds: each seed retrains the whole front


def reseed(
    study: Study,
    seeds: int = typer.Option(
        3, "--seeds", min=2, max=MAX_SEEDS, help="Seeds per front trial, its own included."
    ),
    storage: Storage = DEFAULT_STORAGE,
    workers: Workers = None,
    ray_address: RayAddress = None,
    device: Device = AUTO_DEVICE,
) -> None:
    """Re-run the Pareto front with more seeds; the front then ranks the mean (table: ± std)."""
    from nas_attn.cli import console, progress, tables
    from nas_attn.search.usecases.reseed import RerunRequest, reseed_front, run_on_study

    with progress.JobProgress("reseed") as bar:
        report = run_on_study(
            RerunRequest(storage, study, workers, ray_address, device.value),
            lambda the_study, space, pool: reseed_front(
                the_study, space, pool, seeds, console.info, observer=bar
            ),
            notice=console.info,
        )
    for failure in report.failures:
        console.info(f"seed re-run failed: {failure}")
    tables.print_front(report.front, study, report.claims)
    if report.failures:
        raise NasAttnError(f"{len(report.failures)} seed re-run(s) failed; re-run the command to retry them")


def validate_proxy(
    study: Study,
    epochs: int = typer.Option(..., "--epochs", min=1, max=10_000, help="The longer budget to compare with."),
    sample: int = typer.Option(
        8, "--sample", min=2, max=1000, help="Trials to retrain, along the front and off it."
    ),
    seeds: int = typer.Option(
        2,
        "--seeds",
        min=1,
        max=100,
        help="Training seeds per retrained trial; the reference is their mean (2+: its noise ceiling).",
    ),
    storage: Storage = DEFAULT_STORAGE,
    workers: Workers = None,
    ray_address: RayAddress = None,
    device: Device = AUTO_DEVICE,
) -> None:
    """Does the proxy rank placements right? Retrain a sample longer; Kendall tau / Spearman rho."""
    from nas_attn.cli import console, progress, tables
    from nas_attn.search.usecases.validate_proxy import RerunRequest, run_on_study, validation_sample
    from nas_attn.search.usecases.validate_proxy import validate_proxy as run_validation

    with progress.JobProgress("validate-proxy") as bar:
        result = run_on_study(
            RerunRequest(storage, study, workers, ray_address, device.value),
            lambda the_study, space, pool: run_validation(
                the_study, space, pool, sample, epochs, console.info, observer=bar, seeds=seeds
            ),
            check=lambda the_study, space: validation_sample(the_study, space, sample, epochs),
            notice=console.info,
        )
    tables.print_validation(result)
    console.info(f"stored in study '{study}' as user attribute 'proxy_validation'")


def register(app: typer.Typer) -> None:
    app.command()(reseed)
    app.command("validate-proxy")(validate_proxy)
