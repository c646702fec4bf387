"""``nas-attn report``: one self-contained HTML file (no scripts, no network) about a study.

Data is computed with the pure maths of :mod:`nas_attn.stats.pareto`; the figures are drawn by
:mod:`nas_attn.report.plots` (matplotlib, inline SVG) and this module lays them out with the
trials table in ``dashboards/report_template.html``: the Pareto scatter (hover shows the
placement; error bars where trials were re-run with more seeds), a per-stage module heatmap
over the front, and hypervolume over trials with its stated reference point.
"""

from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path
from string import Template

import optuna

from nas_attn._version import __version__
from nas_attn.outputs import check_output, storage_files, write_atomic
from nas_attn.report import plots
from nas_attn.report.plots import module_frequencies
from nas_attn.search.results import (
    TrialRow,
    compute_spent,
    objective_names,
    ranked_rows_and_claims,
    study_directions,
)
from nas_attn.search.studydb.records import StoredResult
from nas_attn.stats.pareto import default_reference_point, hypervolume

__all__ = [
    "heatmap_svg",
    "hv_svg",
    "hypervolume_history",
    "module_frequencies",
    "render_report",
    "scatter_svg",
    "trials_html",
    "write_report",
]

TEMPLATE = Path(__file__).resolve().parents[2] / "dashboards" / "report_template.html"


def hypervolume_history(values: list[list[float]], directions: list[str], ref: list[float]) -> list[float]:
    """Hypervolume of the first k trials' front, for k = 1..n (trial order)."""
    return [hypervolume(values[: k + 1], directions, ref) for k in range(len(values))]


def _unranked_detail(trial: optuna.trial.FrozenTrial) -> str:
    """Why a trial has no rank: its failure reason, or the trial it duplicates."""
    stored = StoredResult.of(trial)
    if stored.duplicate_of is not None:
        return f"duplicate of trial {stored.duplicate_of}"
    return stored.fail_reason


def _tip(t: TrialRow) -> str:
    values = ", ".join(
        f"{n}={v:.4g}" + (f" ± {t.spread[n]:.2g}" if n in t.spread else "") for n, v in t.values.items()
    )
    seeds = f" ({t.seeds} seeds)" if t.seeds > 1 else ""
    delta = t.delta_vs_baseline
    versus = ""
    if delta is not None and delta.interval.as_list is not None:
        low, high = delta.interval.as_list
        mark = ", better than plain" if t.beats_baseline else ""
        versus = f"\nvs plain: {delta.interval.mean:+.4f} [{low:+.4f}, {high:+.4f}]{mark}"
    return f"trial {t.number}: {values}{seeds}{versus}\n{t.placement}"


def scatter_svg(trials: list[TrialRow], names: list[str], knee: int | None) -> str:
    """Objective 2 (x) against objective 1 (y); every point's <title> is its placement."""
    titles = {f"{'front' if t.rank == 1 else 'dominated'}-trial-{t.number}": _tip(t) for t in trials}
    return plots.to_svg(plots.pareto_figure(trials, names, knee), "pareto", titles)


def hv_svg(history: list[float], names: list[str]) -> str:
    return plots.to_svg(plots.hypervolume_figure(history, names), "hv")


def heatmap_svg(front: list[TrialRow]) -> str:
    return plots.to_svg(plots.heatmap_figure(front), "heat")


def trials_html(study: optuna.Study, ranked: dict[int, TrialRow], names: list[str]) -> str:
    head = "".join(
        f"<th>{html.escape(n)}</th>"
        for n in ["trial", "state", "rank", *names, "params", "placement / reason"]
    )
    rows = []
    for trial in study.get_trials(deepcopy=False):
        row = ranked.get(trial.number)
        values: list[float | None] = list(row.values.values()) if row else [None] * len(names)
        params = StoredResult.of(trial).params
        detail = row.placement if row else _unranked_detail(trial)
        cells = [
            f'<td class="num">{trial.number}</td>',
            f"<td>{trial.state.name}</td>",
            f'<td class="num">{row.rank if row else ""}</td>',
            *(f'<td class="num">{"" if v is None else f"{v:.4g}"}</td>' for v in values),
            f'<td class="num">{f"{params / 1e6:.3f}M" if params else ""}</td>',
            f"<td>{html.escape(detail)}</td>",
        ]
        rows.append(f'<tr class="{"rank1" if row and row.rank == 1 else ""}">{"".join(cells)}</tr>')
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _heatmap(front: list[TrialRow]) -> str:
    """The module heatmap of the front, or a line saying why there is none (no front yet, or a
    study whose trials record no placement: made by plain Optuna, not by nas-attn search)."""
    if not front:
        return "<p>No front yet.</p>"
    if not plots.module_frequencies(front):
        return "<p>The front's trials record no attention placement (not made by nas-attn search).</p>"
    return heatmap_svg(front)


def render_report(study: optuna.Study, storage_label: str) -> str:
    """The whole HTML report of ``study`` as a string."""
    names = objective_names(study)
    directions = study_directions(study)
    trials, claims = ranked_rows_and_claims(study)  # one row per evaluated placement, in trial order
    values = [list(t.values.values()) for t in trials]
    front = [t for t in trials if t.rank == 1]
    knee = next((t.number for t in front if t.knee), None)
    ref = default_reference_point(values, directions) if values else []
    history = hypervolume_history(values, directions, ref) if values else []
    ref_text = ", ".join(f"{n} = {r:.4g}" for n, r in zip(names, ref, strict=False))
    fields = {
        "study": html.escape(study.study_name),
        "summary": html.escape(
            f"{len(trials)} placements evaluated in {len(study.trials)} trials; "
            f"{len(front)} on the Pareto front; "
            f"knee: trial {knee}; storage {storage_label}. "
            f"Compute: {compute_spent(study).describe()}. "
            + (claims.describe() or "No plain backbone to compare with.")
        ),
        "x_label": html.escape(names[1] if len(names) > 1 else names[0]),
        "y_label": html.escape(names[0]),
        "scatter": scatter_svg(trials, names, knee)
        if len(names) > 1 and trials
        else "<p>No evaluated trials.</p>",
        "hv_plot": hv_svg(history, names) if history else "<p>No evaluated trials.</p>",
        "hv_note": html.escape(
            f"Reference point: {ref_text} (each objective's worst value, 10% of its range further). "
            f"Final hypervolume {history[-1]:.4g}."
            if history
            else "No evaluated trials yet."
        ),
        "heatmap": _heatmap(front),
        "trials_table": trials_html(study, {t.number: t for t in trials}, names),
        "version": __version__,
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(fields)


def write_report(study: optuna.Study, storage_label: str, out: str | Path) -> Path:
    """Render the report into ``out`` (a file, or streamed into a FIFO, device or ``-``)."""
    inputs = storage_files(storage_label)
    check_output(out, inputs, streams=True)  # before rendering: fail fast, write nothing
    return write_atomic(out, render_report(study, storage_label), inputs, streams=True)
