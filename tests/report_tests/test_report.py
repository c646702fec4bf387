"""The HTML report: self-contained, and its numbers come from the pure Pareto maths."""

from __future__ import annotations

import itertools
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support.finished_study import make_finished_study

from nas_attn.report import (
    hypervolume_history,
    module_frequencies,
    render_report,
    write_report,
)
from nas_attn.stats.pareto import default_reference_point, hypervolume


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles.append(data)


@pytest.fixture
def report_html(tmp_path: Path) -> str:
    study = make_finished_study(tmp_path)
    path = write_report(study, "sqlite:///s.db", tmp_path / "report.html")
    return path.read_text()


def test_report_is_self_contained(report_html: str) -> None:
    parsed = Collector()
    parsed.feed(report_html)
    assert not [t for t, _ in parsed.tags if t in {"script", "link", "img", "iframe", "foreignobject"}]
    assert not re.search(r"\bsrc\s*=", report_html)
    refs = re.findall(r'href\s*=\s*"([^"]*)"', report_html) + re.findall(r"url\(([^)]*)\)", report_html)
    assert refs and all(ref.startswith("#") for ref in refs)  # only the SVGs' own defs
    ids = re.findall(r'\bid="([^"]+)"', report_html)
    assert len(ids) == len(set(ids))  # three inline SVGs, no id shared between them
    assert {ref[1:] for ref in refs} <= set(ids)


@pytest.mark.slow
def test_scatter_hover_shows_every_placement_and_marks_the_front(report_html: str) -> None:
    parsed = Collector()
    parsed.feed(report_html)
    tips = [t for t in parsed.titles if t.startswith("trial ")]
    assert len(tips) == 4
    assert any("trial 1: accuracy=0.9, latency_ms=2" in t and "layer1=eca" in t for t in tips)
    groups = [str(a.get("id")) for t, a in parsed.tags if t == "g" and a.get("id")]
    assert sorted(g for g in groups if "-trial-" in g) == [
        "pareto-dominated-trial-3",  # dominated by trial 1
        "pareto-front-trial-0",
        "pareto-front-trial-1",
        "pareto-front-trial-2",
    ]
    assert groups.count("pareto-knee") == 1
    assert "knee: trial 1" in report_html


def test_heatmap_counts_modules_per_stage_over_the_front(tmp_path: Path) -> None:
    from nas_attn.backbones import ArchConfig
    from nas_attn.search.results import TrialRow

    values = {"accuracy": 0.9, "latency_ms": 1.0}
    archs = [
        ArchConfig.from_dict({"stages": {"layer1": {"module": "se"}, "layer2": {"module": "eca"}}}),
        ArchConfig.from_dict({"stages": {"layer1": {"module": "se"}, "layer2": {"module": "none"}}}),
    ]
    front = [TrialRow(0, values, 1, "", None, archs[0]), TrialRow(1, values, 1, "", None, archs[1])]
    freq = module_frequencies(front)
    assert freq["layer1"] == {"se": 2} and freq["layer2"] == {"eca": 1, "none": 1}


def test_hypervolume_history_and_stated_reference(report_html: str) -> None:
    values = [[0.60, 1.0], [0.90, 2.0], [0.95, 5.0], [0.70, 3.0]]
    directions = ["maximize", "minimize"]
    ref = default_reference_point(values, directions)
    assert ref == pytest.approx([0.60 - 0.035, 5.0 + 0.4])
    history = hypervolume_history(values, directions, ref)
    assert history == sorted(history)  # never decreases
    assert history[-1] == pytest.approx(hypervolume(values, directions, ref))
    assert history[2] == history[3]  # trial 3 is dominated: no gain
    assert "Reference point: accuracy = 0.565, latency_ms = 5.4" in report_html


def test_trials_table_lists_failures_with_reason(report_html: str) -> None:
    assert "FAIL" in report_html and "training diverged: loss is nan" in report_html


def test_empty_study_still_renders(tmp_path: Path) -> None:
    study = make_finished_study(tmp_path, rows=[])
    html_text = render_report(study, "sqlite:///s.db")
    assert "No evaluated trials" in html_text


def test_duplicates_are_listed_once_and_not_plotted(tmp_path: Path) -> None:
    import optuna

    study = make_finished_study(tmp_path)
    repeat = study.ask()
    repeat.set_user_attr("arch", study.trials[1].user_attrs["arch"])
    repeat.set_user_attr("duplicate_of", 1)
    study.tell(repeat, [0.9, 2.0])
    assert repeat.number == 5 and study.trials[5].state == optuna.trial.TrialState.COMPLETE
    html_text = render_report(study, "sqlite:///s.db")
    assert "4 placements evaluated in 6 trials" in html_text
    assert html_text.count("<title>trial ") == 4  # the repeat is not a fifth point
    assert "duplicate of trial 1" in html_text


# -- the figures (matplotlib): units, round ticks, integer trial counts, nothing clipped ----------


def drawn(fig):  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def visible_ticks(ax, axis: str) -> list[float]:  # type: ignore[no-untyped-def]
    low, high = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
    return [float(t) for t in ticks if low - 1e-9 <= t <= high + 1e-9]


def assert_round(ticks: list[float]) -> None:
    """Evenly spaced by 1, 2, 2.5 or 5 x 10^k, each tick a multiple of that step."""
    import math

    assert len(ticks) >= 2, ticks
    step = ticks[1] - ticks[0]
    assert all(math.isclose(b - a, step, rel_tol=1e-6) for a, b in itertools.pairwise(ticks))
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5, 10)), step
    assert all(math.isclose(t / step, round(t / step), abs_tol=1e-6) for t in ticks), ticks


def assert_nothing_clipped(fig) -> None:  # type: ignore[no-untyped-def]
    box = fig.get_tightbbox(drawn(fig)).transformed(fig.dpi_scale_trans)
    inside = fig.bbox
    assert box.x0 >= -1 and box.y0 >= -1, box
    assert box.x1 <= inside.x1 + 1 and box.y1 <= inside.y1 + 1, (box, inside)


AWKWARD = [("se", 0.9281, 27.41), ("eca", 0.9412, 29.88), ("cbam", 0.9533, 33.07), ("none", 0.9301, 31.2)]


def test_pareto_plot_has_units_round_ticks_and_nothing_clipped(tmp_path: Path) -> None:
    from nas_attn.report.plots import pareto_figure
    from nas_attn.search.results import objective_names, ranked_rows

    study = make_finished_study(tmp_path, rows=AWKWARD)
    rows = ranked_rows(study)
    fig = pareto_figure(rows, objective_names(study), 1)
    assert_nothing_clipped(fig)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "latency (ms, calibrated, batch 1)"
    assert ax.get_ylabel() == "accuracy (top-1, %)"
    assert_round(visible_ticks(ax, "x"))
    assert_round(visible_ticks(ax, "y"))
    assert min(visible_ticks(ax, "y")) > 50  # accuracy is in percent, not a fraction
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Pareto front",
        "dominated",
        "knee (trial 1)",
    ]


@pytest.mark.parametrize("n", [1, 3, 7])
def test_hypervolume_plot_counts_trials_in_integers(n: int) -> None:
    from nas_attn.report.plots import hypervolume_figure

    fig = hypervolume_figure([0.1 * (k + 1) for k in range(n)], ["accuracy", "latency_ms"])
    assert_nothing_clipped(fig)
    (ax,) = fig.axes
    ticks = visible_ticks(ax, "x")
    assert ticks and all(t == int(t) for t in ticks) and set(ticks) <= set(range(1, n + 1))
    labels = ax.xaxis.get_major_formatter().format_ticks(ticks)
    assert all("." not in label for label in labels), labels
    assert ax.get_xlabel() == "evaluated placements (count)"
    assert ax.get_ylabel() == "hypervolume (fraction \u00d7 ms)"


def test_error_bars_are_the_seed_std(tmp_path: Path) -> None:
    from nas_attn.report.plots import pareto_figure
    from nas_attn.search.results import objective_names, ranked_rows
    from nas_attn.search.studydb.attrs import seed_runs_key

    study = make_finished_study(tmp_path)
    assert 'id="pareto-seed-errorbars-y"' not in render_report(study, "sqlite:///s.db")
    study.set_user_attr(seed_runs_key(1), {"seeds": [1, 2], "values": [[0.86, 2.2], [0.88, 2.4]]})
    html_text = render_report(study, "sqlite:///s.db")
    assert 'id="pareto-seed-errorbars-y"' in html_text and "(3 seeds)" in html_text
    fig = pareto_figure(ranked_rows(study), objective_names(study), None)
    bars = [c for c in fig.axes[0].collections if str(c.get_gid()).startswith("seed-errorbars-")]
    segments = [tuple(map(tuple, s.round(6).tolist())) for c in bars for s in c.get_segments()]
    # accuracy 0.90 / 0.86 / 0.88 -> mean 88 %, std 2 points; latency 2.0 / 2.2 / 2.4 -> 2.2 ± 0.2 ms
    assert ((2.2, 86.0), (2.2, 90.0)) in segments
    assert ((2.0, 88.0), (2.4, 88.0)) in segments
    assert "± 1 std over 3 seeds" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_heatmap_figure_shows_the_front_shares(tmp_path: Path) -> None:
    from nas_attn.report.plots import heatmap_figure
    from nas_attn.search.results import ranked_rows

    front = [r for r in ranked_rows(make_finished_study(tmp_path)) if r.rank == 1]
    fig = heatmap_figure(front)
    assert_nothing_clipped(fig)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cbam", "eca", "none", "se"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["layer1", "layer2"]
    shares = ax.collections[0].get_array().reshape(2, 4).tolist()
    assert shares == [[pytest.approx(1 / 3), pytest.approx(1 / 3), 0.0, pytest.approx(1 / 3)], [0, 0, 1, 0]]
    assert sorted(t.get_text() for t in ax.texts) == ["1/3", "1/3", "1/3", "3/3"]
