"""``nas-attn report``: one self-contained HTML file (no scripts, no network) about a study.

Data is computed with the pure maths of :mod:`nas_attn.pareto`; this module only lays it out as
inline SVG and tables in ``dashboards/report_template.html``: the Pareto scatter (hover shows
the placement), a per-stage module-frequency heatmap over the front, hypervolume over trials
with its stated reference point, and the trials table.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections import Counter
from pathlib import Path
from string import Template

import optuna

from nas_attn._version import __version__
from nas_attn.backbones import ArchConfig
from nas_attn.outputs import check_output, storage_files, write_atomic
from nas_attn.pareto import default_reference_point, hypervolume
from nas_attn.search.results import TrialRow, objective_names, ranked_rows, study_directions
from nas_attn.search.trial_attrs import DUPLICATE_OF

TEMPLATE = Path(__file__).resolve().parents[1] / "dashboards" / "report_template.html"
WIDTH, HEIGHT, PAD = 500, 340, 48


def hypervolume_history(values: list[list[float]], directions: list[str], ref: list[float]) -> list[float]:
    """Hypervolume of the first k trials' front, for k = 1..n (trial order)."""
    return [hypervolume(values[: k + 1], directions, ref) for k in range(len(values))]


def _scale(value: float, low: float, high: float, out_low: float, out_high: float) -> float:
    if high == low:
        return (out_low + out_high) / 2
    return out_low + (value - low) / (high - low) * (out_high - out_low)


def _axes(
    x_label: str, y_label: str, x_range: tuple[float, float], y_range: tuple[float, float]
) -> list[str]:
    parts = [
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD}"/>',
        f'<line class="axis" x1="{PAD}" y1="10" x2="{PAD}" y2="{HEIGHT - PAD}"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 10}" text-anchor="middle">{html.escape(x_label)}</text>',
        f'<text x="12" y="{HEIGHT / 2}" transform="rotate(-90 12 {HEIGHT / 2})" text-anchor="middle">'
        f"{html.escape(y_label)}</text>",
    ]
    for i in range(5):
        fx = x_range[0] + i / 4 * (x_range[1] - x_range[0])
        fy = y_range[0] + i / 4 * (y_range[1] - y_range[0])
        px = _scale(fx, *x_range, PAD, WIDTH - 10)
        py = _scale(fy, *y_range, HEIGHT - PAD, 10)
        parts.append(f'<text x="{px:.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle">{fx:.3g}</text>')
        parts.append(f'<text x="{PAD - 4}" y="{py + 4:.1f}" text-anchor="end">{fy:.3g}</text>')
    return parts


def _svg(parts: list[str]) -> str:
    body = "\n".join(parts)
    size = f'width="{WIDTH}" height="{HEIGHT}"'
    return f'<svg xmlns="http://www.w3.org/2000/svg" {size} role="img">\n{body}\n</svg>'


def _padded(low: float, high: float, margin: float = 0.06) -> tuple[float, float]:
    """Widen a data range so points at the extremes are not drawn on the axes."""
    span = (high - low) or abs(high) or 1.0
    return low - margin * span, high + margin * span


def _value(t: TrialRow, index: int) -> float:
    return list(t.values.values())[index]


def _unranked_detail(trial: optuna.trial.FrozenTrial) -> str:
    """Why a trial has no rank: its failure reason, or the trial it duplicates."""
    if DUPLICATE_OF in trial.user_attrs:
        return f"duplicate of trial {trial.user_attrs[DUPLICATE_OF]}"
    return str(trial.user_attrs.get("fail_reason", ""))


def _point(t: TrialRow, x_range: tuple[float, float], y_range: tuple[float, float]) -> tuple[float, float]:
    return _scale(_value(t, 1), *x_range, PAD, WIDTH - 10), _scale(_value(t, 0), *y_range, HEIGHT - PAD, 10)


def scatter_svg(trials: list[TrialRow], names: list[str], knee: int | None) -> str:
    """Objective 2 (x) against objective 1 (y); every point's <title> is its placement."""
    xs, ys = [_value(t, 1) for t in trials], [_value(t, 0) for t in trials]
    x_range, y_range = _padded(min(xs), max(xs)), _padded(min(ys), max(ys))
    parts = _axes(names[1], names[0], x_range, y_range)
    front = sorted((t for t in trials if t.rank == 1), key=lambda t: _value(t, 1))
    line = " ".join("{:.1f},{:.1f}".format(*_point(t, x_range, y_range)) for t in front)
    parts.append(f'<polyline class="frontline" points="{line}"/>')
    for t in sorted(trials, key=lambda t: -t.rank):
        cx, cy = _point(t, x_range, y_range)
        tip = html.escape(
            f"trial {t.number}: "
            + ", ".join(f"{n}={v:.4g}" for n, v in t.values.items())
            + f"\n{t.placement}"
        )
        klass = "front" if t.rank == 1 else "all"
        parts.append(
            f'<circle class="{klass}" cx="{cx:.1f}" cy="{cy:.1f}" r="5"><title>{tip}</title></circle>'
        )
        if knee is not None and t.number == knee:
            parts.append(f'<circle class="knee" cx="{cx:.1f}" cy="{cy:.1f}" r="9"/>')
    return _svg(parts)


def hv_svg(history: list[float]) -> str:
    y_range = (0.0, max(history) if history and max(history) > 0 else 1.0)
    x_range = (1.0, float(max(len(history), 2)))
    parts = _axes("complete trials", "hypervolume", x_range, y_range)
    points = " ".join(
        f"{_scale(i + 1, *x_range, PAD, WIDTH - 10):.1f},{_scale(v, *y_range, HEIGHT - PAD, 10):.1f}"
        for i, v in enumerate(history)
    )
    parts.append(f'<polyline class="hv" points="{points}"/>')
    return _svg(parts)


def module_frequencies(front: list[TrialRow]) -> dict[str, Counter[str]]:
    """Stage -> module -> how many front trials put that module there."""
    table: dict[str, Counter[str]] = {}
    for t in front:
        for stage, placement in ArchConfig.from_dict(t.arch).stages.items():
            table.setdefault(stage, Counter())[placement.module] += 1
    return table


def heatmap_html(front: list[TrialRow]) -> str:
    freq = module_frequencies(front)
    modules = sorted({m for counts in freq.values() for m in counts})
    head = "".join(f"<th>{html.escape(m)}</th>" for m in modules)
    rows = []
    for stage, counts in freq.items():
        cells = []
        for m in modules:
            share = counts[m] / max(1, len(front))
            cells.append(
                f'<td style="background: rgba(209,73,91,{share:.2f})" title="{counts[m]} of {len(front)}">'
                f"{share:.0%}</td>"
            )
        rows.append(f"<tr><th>{html.escape(stage)}</th>{''.join(cells)}</tr>")
    return f'<table class="heat"><tr><th>stage</th>{head}</tr>{"".join(rows)}</table>'


def trials_html(study: optuna.Study, ranked: dict[int, TrialRow], names: list[str]) -> str:
    head = "".join(
        f"<th>{html.escape(n)}</th>"
        for n in ["trial", "state", "rank", *names, "params", "placement / reason"]
    )
    rows = []
    for trial in study.get_trials(deepcopy=False):
        row = ranked.get(trial.number)
        values: list[float | None] = list(row.values.values()) if row else [None] * len(names)
        params = trial.user_attrs.get("params")
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


def render_report(study: optuna.Study, storage_label: str) -> str:
    """The whole HTML report of ``study`` as a string."""
    names = objective_names(study)
    directions = study_directions(study)
    trials = ranked_rows(study)  # one row per evaluated placement, in trial order
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
            f"knee: trial {knee}; storage {storage_label}"
        ),
        "x_label": html.escape(names[1] if len(names) > 1 else names[0]),
        "y_label": html.escape(names[0]),
        "scatter": scatter_svg(trials, names, knee)
        if len(names) > 1 and trials
        else "<p>No complete trials.</p>",
        "hv_plot": hv_svg(history) if history else "<p>No complete trials.</p>",
        "hv_note": html.escape(
            f"Reference point: {ref_text} (each objective's worst value, 10% of its range further). "
            f"Final hypervolume {history[-1]:.4g}."
            if history
            else "No complete trials yet."
        ),
        "heatmap": heatmap_html(front) if front else "<p>No front yet.</p>",
        "trials_table": trials_html(study, {t.number: t for t in trials}, names),
        "version": __version__,
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(fields)


def write_report(study: optuna.Study, storage_label: str, out: str | Path) -> Path:
    check_output(out, storage_files(storage_label))  # before rendering: fail fast, write nothing
    return write_atomic(out, render_report(study, storage_label), storage_files(storage_label))
