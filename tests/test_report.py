"""The HTML report: self-contained, and its numbers come from the pure Pareto maths."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from finished_study import make_finished_study

from nas_attn.pareto import default_reference_point, hypervolume
from nas_attn.report import (
    hypervolume_history,
    module_frequencies,
    render_report,
    write_report,
)


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
    assert not [t for t, _ in parsed.tags if t in {"script", "link", "img", "iframe"}]
    assert not re.search(r"(src|href)\s*=", report_html)


def test_scatter_hover_shows_every_placement_and_marks_the_front(report_html: str) -> None:
    parsed = Collector()
    parsed.feed(report_html)
    tips = [t for t in parsed.titles if t.startswith("trial ")]
    assert len(tips) == 4
    assert any("trial 1: accuracy=0.9, latency_ms=2" in t and "layer1=eca" in t for t in tips)
    circles = [a for t, a in parsed.tags if t == "circle"]
    assert sum(a.get("class") == "front" for a in circles) == 3  # trials 0, 1, 2
    assert sum(a.get("class") == "all" for a in circles) == 1  # trial 3 is dominated by 1
    assert sum(a.get("class") == "knee" for a in circles) == 1
    assert "knee: trial 1" in report_html


def test_heatmap_counts_modules_per_stage_over_the_front(tmp_path: Path) -> None:
    from nas_attn.search.results import TrialRow

    values = {"accuracy": 0.9, "latency_ms": 1.0}
    front = [
        TrialRow(
            0, values, 1, "", None, {"stages": {"layer1": {"module": "se"}, "layer2": {"module": "eca"}}}
        ),
        TrialRow(
            1, values, 1, "", None, {"stages": {"layer1": {"module": "se"}, "layer2": {"module": "none"}}}
        ),
    ]
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
    assert "No complete trials" in html_text


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
