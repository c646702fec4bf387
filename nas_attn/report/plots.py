"""The report's figures, drawn with matplotlib and returned as inline SVG (no scripts, no fonts).

Three figures: the Pareto scatter (front line, knee, error bars from seed re-runs, a hover title
per point), the hypervolume over evaluated trials (integer trial ticks), and the placement
heatmap (how often each module sits in each stage on the front). Axes carry units and round
ticks; constrained layout keeps every label inside the figure. Text is drawn as paths so the
SVG looks the same in every browser, and each figure's ids get their own prefix so several
can share one HTML page.
"""

from __future__ import annotations

import functools
import html
import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, cast

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nas_attn.search.results import TrialRow

FRONT, DOMINATED, KNEE, SEEDS = "#d1495b", "#9aa3b2", "#1d2330", "#5b6475"
BEATS = "#1b7f3b"  # better than the plain backbone, significantly
RC = {
    "svg.fonttype": "path",
    "svg.hashsalt": "nas-attn",  # deterministic ids
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e6ec",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "axes.formatter.useoffset": False,
}


@dataclass(frozen=True)
class Axis:
    """How an objective is plotted: scale from stored values, axis label with its unit."""

    label: str
    scale: float = 1.0
    unit: str = ""  # the stored value's unit (for the hypervolume's)


AXES = {
    "accuracy": Axis("accuracy (top-1, %)", 100.0, "fraction"),
    "latency_ms": Axis("latency (ms, calibrated, batch 1)", 1.0, "ms"),
    "latency_ratio": Axis("latency (ratio to the plain backbone)", 1.0, "ratio"),
    "params": Axis("parameters (millions)", 1e-6, "count"),
    "macs": Axis("MACs (millions)", 1e-6, "count"),
}


def axis_for(name: str) -> Axis:
    """The plotting of objective ``name`` (unknown names: as stored, labelled by name)."""
    return AXES.get(name, Axis(name.replace("_", " ")))


P = ParamSpec("P")


def styled(build: Callable[P, Figure]) -> Callable[P, Figure]:
    """Run a figure builder with the report's matplotlib style (rcParams) in effect."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with matplotlib.rc_context(cast(Any, RC)):
            return build(*args, **kwargs)

    return wrapper


def _figure(width: float = 5.2, height: float = 3.6) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _integer_ticks(ax: Axes, axis: str) -> None:
    locator = MaxNLocator(integer=True, min_n_ticks=1)
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(locator)


@styled
def pareto_figure(trials: Sequence[TrialRow], names: Sequence[str], knee: int | None) -> Figure:
    """Objective 2 (x) against objective 1 (y): dominated points, the front and its line, the
    knee ringed, ± 1 std over seeds where a trial was re-run. Point artists have gid
    ``front-trial-N`` / ``dominated-trial-N`` (hover titles are added in :func:`to_svg`)."""
    x_axis, y_axis = axis_for(names[1]), axis_for(names[0])
    fig = _figure()
    ax = fig.add_subplot()

    def xy(t: TrialRow) -> tuple[float, float]:
        return t.values[names[1]] * x_axis.scale, t.values[names[0]] * y_axis.scale

    front = sorted((t for t in trials if t.rank == 1), key=lambda t: t.values[names[1]])
    if len(front) > 1:
        ax.plot(*zip(*map(xy, front), strict=True), color=FRONT, lw=1.2, ls="--", zorder=2)
    spread = [t for t in trials if t.seeds > 1 and t.spread]
    if spread:
        low, high = min(t.seeds for t in spread), max(t.seeds for t in spread)
        over = f"{high} seeds" if low == high else f"{low}-{high} seeds"
        bars = ax.errorbar(
            [xy(t)[0] for t in spread],
            [xy(t)[1] for t in spread],
            xerr=[t.spread.get(names[1], 0.0) * x_axis.scale for t in spread],
            yerr=[t.spread.get(names[0], 0.0) * y_axis.scale for t in spread],
            fmt="none",
            ecolor=SEEDS,
            elinewidth=1,
            capsize=3,
            zorder=3,
            label=f"± 1 std over {over}",
        )
        for direction, collection in zip("xy", bars.lines[2], strict=True):
            collection.set_gid(f"seed-errorbars-{direction}")
    for t in trials:
        on_front = t.rank == 1
        (point,) = ax.plot(
            *xy(t),
            marker="o",
            ms=7 if on_front else 6,
            ls="none",
            color=FRONT if on_front else DOMINATED,
            mec="#7a1f2c" if on_front else "#6b7485",
            mew=0.8,
            zorder=4,
        )
        point.set_gid(f"{'front' if on_front else 'dominated'}-trial-{t.number}")
    winners = [t for t in trials if t.beats_baseline]
    for t in winners:  # a star on the point: a claim the study makes (search.claims: Holm-corrected)
        (star,) = ax.plot(*xy(t), marker="*", ms=13, mfc="none", mec=BEATS, mew=1.2, ls="none", zorder=6)
        star.set_gid(f"beats-baseline-trial-{t.number}")
    if winners:
        ax.plot(
            [],
            [],
            marker="*",
            ms=10,
            mfc="none",
            mec=BEATS,
            ls="none",
            label="beats plain (Holm, 5%)",
        )
    ax.plot([], [], marker="o", ls="--", color=FRONT, mec="#7a1f2c", label="Pareto front")
    if any(t.rank > 1 for t in trials):
        ax.plot([], [], marker="o", ls="none", color=DOMINATED, mec="#6b7485", label="dominated")
    chosen = next((t for t in trials if t.number == knee), None)
    if chosen is not None:
        (ring,) = ax.plot(
            *xy(chosen), marker="o", ms=15, mfc="none", mec=KNEE, mew=1.6, ls="none", zorder=5,
            label=f"knee (trial {chosen.number})",
        )  # fmt: skip
        ring.set_gid("knee")
    ax.set_xlabel(x_axis.label)
    ax.set_ylabel(y_axis.label)
    ax.margins(0.08)
    ax.legend(loc="best", fontsize=8, frameon=True, framealpha=0.9)
    return fig


@styled
def hypervolume_figure(history: Sequence[float], names: Sequence[str]) -> Figure:
    """Hypervolume of the first k evaluated placements' front, k = 1..n (a step line)."""
    fig = _figure()
    ax = fig.add_subplot()
    ks = list(range(1, len(history) + 1))
    ax.step(ks, list(history), where="post", color="#2e86ab", lw=1.8)
    ax.plot(ks, list(history), "o", color="#2e86ab", ms=3.5)
    _integer_ticks(ax, "x")
    ax.set_xlim(0.5, len(history) + 0.5)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("evaluated placements (count)")
    units = " \u00d7 ".join(axis_for(n).unit or n for n in names)
    ax.set_ylabel(f"hypervolume ({units})")
    return fig


def module_frequencies(front: Sequence[TrialRow]) -> dict[str, Counter[str]]:
    """Stage -> module -> how many front trials put that module there (stages in arch order)."""
    table: dict[str, Counter[str]] = {}
    for t in front:
        for stage, placement in (t.arch.stages if t.arch is not None else {}).items():
            table.setdefault(stage, Counter())[placement.module] += 1
    return table


@styled
def heatmap_figure(front: Sequence[TrialRow]) -> Figure:
    """Stages (rows) x modules (columns): the share of front trials with that module there;
    each cell is annotated ``count/total``."""
    freq = module_frequencies(front)
    stages = list(freq)
    modules = sorted({m for counts in freq.values() for m in counts})
    total = max(1, len(front))
    shares = [[freq[s][m] / total for m in modules] for s in stages]
    fig = _figure(max(3.6, 1.2 + 0.62 * len(modules)), max(2.2, 1.0 + 0.42 * len(stages)))
    ax = fig.add_subplot()
    edges_x = [j - 0.5 for j in range(len(modules) + 1)]
    edges_y = [i - 0.5 for i in range(len(stages) + 1)]
    image = ax.pcolormesh(edges_x, edges_y, shares, cmap="Reds", vmin=0.0, vmax=1.0, edgecolors="white")
    ax.invert_yaxis()  # first stage on top
    ax.grid(False)
    ax.set_xticks(range(len(modules)), modules, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(stages)), stages)
    ax.set_xlabel("attention module")
    ax.set_ylabel("stage")
    for i, stage in enumerate(stages):
        for j, module in enumerate(modules):
            count = freq[stage][module]
            if count:
                color = "white" if shares[i][j] > 0.6 else "#1d2330"
                ax.text(j, i, f"{count}/{total}", ha="center", va="center", fontsize=8, color=color)
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    if bar.solids is not None:
        bar.solids.set_rasterized(False)  # vector, so the SVG embeds no bitmap
    bar.set_label("share of front trials")
    bar.ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    return fig


_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(href="#|url\(#)([^")]+)')


def to_svg(fig: Figure, prefix: str, titles: dict[str, str] | None = None) -> str:
    """``fig`` as an inline ``<svg>`` element: no XML prologue, ids prefixed with ``prefix``,
    and a ``<title>`` (hover text) inside each group whose gid is a key of ``titles``."""
    buffer = io.StringIO()
    with matplotlib.rc_context(cast(Any, RC)):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    for gid, title in (titles or {}).items():
        text = text.replace(f'<g id="{gid}">', f'<g id="{gid}"><title>{html.escape(title)}</title>', 1)
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    return text.replace("<svg ", '<svg role="img" ', 1)
