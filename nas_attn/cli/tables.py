"""The tables and lines the commands print: the ranked trials (table, CSV or JSON), the zoo,
proxy validation, a learning curve and where a search runs (rendering only, no search logic)."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from nas_attn.attention import ZooRow
from nas_attn.cli.console import console, info
from nas_attn.search.claims import Claims
from nas_attn.search.results import ComputeSpent, FrontSummary, TrialRow
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb.latency_reference import CALIBRATION_NOTE
from nas_attn.search.usecases.validate_proxy import ProxyValidation

if TYPE_CHECKING:  # the pool module imports Ray; the tables must not
    from nas_attn.search.execution.pool import PoolConfig


def _format_value(name: str, value: float) -> str:
    if name == "accuracy":
        return f"{value:.4f}"
    if name == "params":
        return f"{value / 1e6:.3f}M"
    return f"{value:.3f}"


def _format_cell(row: TrialRow, name: str) -> str:
    """The value, with ``± std`` over seeds when the trial was re-run with more seeds."""
    text = _format_value(name, row.values[name])
    if name in row.spread:
        text += f" ± {_format_value(name, row.spread[name])}"
    return text


def _format_ci(ci: list[float] | None) -> str:
    return "-" if ci is None else f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def _format_delta(row: TrialRow) -> str:
    """``+0.0123 [0.0040, 0.0206] *`` (* : a claim the study makes, significant after its
    family-wise correction: see ``claims``); ``-`` without a paired difference."""
    delta = row.delta_vs_baseline
    if delta is None:
        return "-"
    ci = delta.interval.as_list
    missing = f" (seed {delta.seeds[0]} only)" if len(delta.seeds) == 1 else " (no spread: no interval)"
    text = f"{delta.interval.mean:+.4f}" + (f" {_format_ci(ci)}" if ci else missing)
    return text + (" *" if row.significant else "")


def describe_plan(plan: PoolConfig, space: SearchSpace) -> str:
    """One line: where trials run and on what proxy budget."""
    each = (
        f"{plan.threads_per_worker} CPU thread(s) each"
        if plan.device == "cpu"
        else f"{plan.gpus_per_trial} GPU(s) each"
    )
    proxy, fidelity = space.proxy, space.search.fidelity
    epochs = f"{proxy.epochs} epochs"
    if fidelity:
        budgets = " -> ".join(map(str, fidelity.epochs))
        epochs = f"{budgets} epochs (successive halving, brackets of {fidelity.bracket})"
    line = f"ray: {plan.workers} worker(s) on {plan.device}, {each}; "
    line += f"proxy: {proxy.dataset} at {proxy.image_size}px, {epochs}"
    if proxy.warm_start is not None:
        line += (
            f" from the plain backbone trained {proxy.warm_start.epochs} epochs once per seed (warm start)"
        )
    if space.constraints:
        line += f"; screened before training: {', '.join(map(str, space.constraints))}"
    return line


def print_front(rows: Sequence[TrialRow], study_name: str, claims: Claims) -> None:
    """The front as a table, then what the study claims against the plain backbone."""
    plural = "" if len(rows) == 1 else "s"
    console.print(trials_table(rows, f"Pareto front of '{study_name}' ({len(rows)} trial{plural})"))
    if (verdict := claims.describe()) is not None:
        console.print(verdict, markup=False)


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    """A JSON front record as CSV cells: intervals as ``_low``/``_high``, the paired delta as
    ``delta_vs_baseline_mean/_low/_high/_seeds`` (seeds joined by spaces)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key == "accuracy_ci95":
            out["accuracy_ci95_low"], out["accuracy_ci95_high"] = value or (None, None)
        elif key == "delta_vs_baseline":
            delta = value or {}
            low, high = delta.get("ci95") or (None, None)
            seeds = delta.get("seeds")
            out |= {
                "delta_vs_baseline_mean": delta.get("mean"),
                "delta_vs_baseline_low": low,
                "delta_vs_baseline_high": high,
                "delta_vs_baseline_seeds": " ".join(map(str, seeds)) if seeds else None,
            }
        else:
            out[key] = value
    return out


def _summary_text(summary: FrontSummary | None) -> str:
    if summary is None:
        return "no evaluated trials yet"
    ref = ", ".join(f"{k}={v:.4g}" for k, v in summary.reference.items())
    return f"hypervolume {summary.hypervolume:.6g} (reference point: {ref})"


def print_rows(
    rows: Sequence[TrialRow],
    output_format: str,
    title: str,
    summary: FrontSummary | None,
    compute: ComputeSpent | None = None,
    claims: Claims | None = None,
) -> None:
    """Ranked trials (rank, crowding distance, knee) as a rich table, CSV or JSON on stdout.

    JSON is one object with the hypervolume, its reference point, the compute spent and the
    trials; CSV is the trials only (the hypervolume and compute lines go to stderr so the CSV
    stays clean).
    """
    if output_format == "table":
        console.print(trials_table(rows, title, with_rank=True))
        console.print(_summary_text(summary), markup=False)
        if compute is not None:
            console.print(f"compute: {compute.describe()}", markup=False)
        if claims is not None and (verdict := claims.describe()) is not None:
            console.print(verdict, markup=False)
        return
    records = [
        {
            "trial": r.number,
            "rank": r.rank,
            **r.values,
            "crowding_distance": None if math.isinf(r.crowding) else r.crowding,
            "knee": r.knee,
            "params": r.params,
            "seeds": r.seeds,
            **{f"{name}_std": r.spread.get(name) for name in r.values},
            "accuracy_ci95": r.accuracy_ci95,
            "delta_vs_baseline": r.delta_vs_baseline.to_dict() if r.delta_vs_baseline else None,
            "p_value": r.p_value,
            "p_adjusted": r.p_adjusted,
            "significant": r.significant,
            "racing": r.racing,
            "fidelity_epochs": r.fidelity_epochs,
            "placement": r.placement,
        }
        for r in rows
    ]
    if output_format == "json":
        document = {
            "hypervolume": summary.hypervolume if summary else None,
            "reference_point": summary.reference if summary else None,
            "compute": compute.to_dict() if compute is not None else None,
            "claims": claims.to_dict() if claims is not None else None,
            "trials": records,
        }
        print(json.dumps(document, indent=2))
        return
    print(_summary_text(summary), file=sys.stderr)
    if compute is not None:
        print(f"compute: {compute.describe()}", file=sys.stderr)
    records = [_flat(record) for record in records]
    buffer = io.StringIO()
    fields = list(records[0]) if records else ["trial", "rank", "params", "placement"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    print(buffer.getvalue(), end="")


def trials_table(rows: Sequence[TrialRow], title: str, with_rank: bool = False) -> Table:
    """Trials as a table: trial, [rank], one column per objective, params, placement."""
    table = Table(title=title, title_justify="left")
    table.add_column("trial", justify="right")
    if with_rank:
        table.add_column("rank", justify="right")
        table.add_column("crowding", justify="right")
    objective_names = list(rows[0].values) if rows else []
    for name in objective_names:
        table.add_column(name.replace("_", " "), justify="right")
    with_seeds = any(r.seeds > 1 for r in rows)
    with_budget = any(r.fidelity_epochs is not None for r in rows)
    with_delta = any(r.delta_vs_baseline is not None for r in rows)
    if with_seeds:
        table.add_column("seeds", justify="right")
        table.add_column("accuracy 95% CI", justify="right")
    if with_delta:
        table.add_column("vs plain (paired)", justify="right")
    if with_budget:
        table.add_column("epochs", justify="right")
    table.add_column("params", justify="right")
    table.add_column("placement")
    if "latency_ms" in objective_names:
        table.caption = f"latency ms: {CALIBRATION_NOTE}"
        table.caption_justify = "left"
    for row in rows:
        table.add_row(
            str(row.number),
            *([f"{row.rank}{' knee' if row.knee else ''}", f"{row.crowding:.3f}"] if with_rank else []),
            *(_format_cell(row, n) for n in objective_names),
            *([str(row.seeds), _format_ci(row.accuracy_ci95)] if with_seeds else []),
            *([_format_delta(row)] if with_delta else []),
            *([str(row.fidelity_epochs or "-")] if with_budget else []),
            f"{row.params / 1e6:.3f}M" if row.params else "-",
            row.placement,
        )
    return table


def print_validation(result: ProxyValidation) -> None:
    """validate-proxy: proxy vs long-budget accuracy per trial (by seed and mean), the
    correlations with their intervals, the noise ceiling, the free predictors, a verdict."""
    table = Table(
        title=f"proxy ({result.proxy_epochs} epochs) vs {result.epochs} epochs", title_justify="left"
    )
    for column in ("trial", "rank", "proxy acc", "long acc (mean)"):
        table.add_column(column, justify="right")
    for seed in result.seeds:
        table.add_column(f"seed {seed}", justify="right")
    table.add_column("placement")
    for row in result.rows:
        long = f"{row.long_accuracy:.4f}" if row.long_accuracy is not None else f"failed: {row.reason}"
        by_seed = [f"{row.long_accuracies[s]:.4f}" if s in row.long_accuracies else "-" for s in result.seeds]
        table.add_row(
            str(row.trial), str(row.rank), f"{row.proxy_accuracy:.4f}", long, *by_seed, row.placement
        )
    console.print(table)
    seeds = ", ".join(map(str, result.seeds))
    info(
        f"Kendall tau {result.kendall_tau:.3f} {_interval(result.ci95.get('kendall_tau'))}, "
        f"Spearman rho {result.spearman_rho:.3f} {_interval(result.ci95.get('spearman_rho'))} "
        f"({len(result.rows)} trials against the mean of seeds {seeds}; bootstrap 95% intervals)"
    )
    ceiling = result.noise_ceiling_tau
    info(
        "noise ceiling (tau between the reference's seed halves): "
        + (f"{ceiling:.3f}" if ceiling is not None else "n/a with one seed (pass --seeds 2 or more)")
    )
    free = ", ".join(
        f"{name} {tau:+.3f}" if tau is not None else f"{name} n/a" for name, tau in result.baselines.items()
    )
    info(f"free predictors' tau against the reference: {free}")
    info(result.verdict())


def _interval(ci: list[float] | None) -> str:
    return "[n/a]" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _count(value: int | None) -> str:
    if value is None:
        return "n/a"
    if value >= 1_000_000:
        return f"{value / 1e6:.2f}M"
    return f"{value / 1e3:.1f}k" if value >= 1_000 else str(value)


def short_citation(paper: str) -> str:
    """``'Hu et al., Squeeze-and-Excitation Networks, CVPR 2018, arXiv:1709.01507'`` ->
    ``'Hu et al. arXiv:1709.01507'`` (first author and the arXiv id, or the venue)."""
    parts = [p.strip() for p in paper.split(",")]
    arxiv = next((p.split(";")[0] for p in parts if p.startswith("arXiv:")), None)
    return f"{parts[0]} {arxiv or parts[-1]}" if len(parts) > 1 else paper


def print_zoo(rows: Sequence[ZooRow], channels: int, size: int) -> None:
    """The zoo table: one row per module at (1, C, size, size)."""
    table = Table(
        title=f"attention modules at C={channels}, {size}x{size} (CPU, batch 1)", title_justify="left"
    )
    for column in ("module", "kind"):
        table.add_column(column, no_wrap=True)
    for column in ("r", "params", "MACs", "µs", "vs id"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("paper", overflow="fold", min_width=26)
    table.caption = (
        "µs: calibrated, each module's time ratio to nn.Identity (timed interleaved) x the "
        "table's lowest-noise identity time"
    )
    table.caption_justify = "left"
    for row in rows:
        ratio = f"{row.latency_ratio:.1f}x" if row.latency_ratio is not None else "n/a"
        micros = f"{row.latency_ms * 1e3:.0f}" if row.latency_ms is not None else "n/a"
        reduction = str(row.reduction) if row.uses_reduction else "-"
        paper = short_citation(row.paper) if not row.note else f"n/a: {row.note}"
        table.add_row(
            row.name, row.kind, reduction, _count(row.params), _count(row.macs), micros, ratio, paper
        )
    console.print(table)


def print_learning_curve(history: Sequence[float]) -> None:
    """Validation accuracy per epoch, one line each with a bar (0 to 1 over 40 columns)."""
    if not history:
        return
    info("learning curve (validation accuracy per epoch):")
    best = max(history)
    for epoch, accuracy in enumerate(history, start=1):
        bar = "\u2588" * round(max(0.0, min(1.0, accuracy)) * 40)
        mark = "  best" if accuracy == best else ""
        info(f"  epoch {epoch:>3}  {accuracy:.4f}  {bar}{mark}")
