"""The report and a live `nas-attn dashboard`, opened in a real (headless) Chromium.

Each page must render without console errors, uncaught exceptions or failed loads, show the
objective names, and leave a screenshot with real content under the test's temp dir. Without
Chromium these tests are skipped, unless ``NAS_ATTN_REQUIRE_CHROMIUM=1`` (CI: ``.ci/run``
installs Debian's chromium) makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from support.dashboard import live_dashboard
from support.finished_study import make_finished_study

from nas_attn.report import write_report
from nas_attn.search.studydb.attrs import seed_runs_key
from nas_attn.testing.browser import BrowserUnavailable, Page, chromium

pytestmark = pytest.mark.browser

REQUIRE_CHROMIUM_ENV = "NAS_ATTN_REQUIRE_CHROMIUM"


@pytest.fixture
def page() -> Iterator[Page]:
    try:
        with chromium(width=1280, height=900) as opened:
            yield opened
    except BrowserUnavailable as exc:
        if os.environ.get(REQUIRE_CHROMIUM_ENV) == "1":
            pytest.fail(f"{exc}; {REQUIRE_CHROMIUM_ENV}=1 requires headless Chromium")
        pytest.skip(str(exc))


def assert_not_blank(path: Path) -> None:
    """A real rendering: many colours, and a good share of pixels unlike the background."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        width, height = rgb.size
        assert (width, height) == (1280, 900), rgb.size
        colours = rgb.getcolors(maxcolors=width * height) or []
    background = max(colours)[0]
    assert len(colours) >= 50, f"{path} has only {len(colours)} colours"
    assert 1 - background / (width * height) >= 0.03, f"{path} is nearly uniform"


def test_report_renders_in_chromium(page: Page, tmp_path: Path) -> None:
    study = make_finished_study(tmp_path)
    study.set_user_attr(seed_runs_key(1), {"seeds": [1, 2], "values": [[0.86, 2.2], [0.88, 2.4]]})
    report = write_report(study, "sqlite:///s.db", tmp_path / "report.html")
    text = page.open(report.as_uri(), wait_for=["Trials"])
    assert page.errors == []
    assert "Pareto front (latency_ms vs accuracy)" in text
    assert "accuracy" in text and "latency_ms" in text and "training diverged: loss is nan" in text
    sizes = page.evaluate(
        "Array.from(document.querySelectorAll('svg')).map(s => {"
        "const r = s.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; })"
    )
    assert len(sizes) == 3 and all(w >= 250 and h >= 150 for w, h in sizes), sizes  # all three plots drawn
    titles = page.evaluate("Array.from(document.querySelectorAll('svg g > title')).map(t => t.textContent)")
    assert len(titles) == 4 and any("layer1=eca" in t and "(3 seeds)" in t for t in titles), titles
    assert_not_blank(page.screenshot(tmp_path / "report.png"))


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """A live `nas-attn dashboard` on a finished study (with params and metric names); its URL."""
    study = make_finished_study(tmp_path, with_params=True)
    with live_dashboard(f"sqlite:///{tmp_path}/s.db", tmp_path / "dashboard.log") as port:
        yield f"http://127.0.0.1:{port}/dashboard/studies/{study._study_id}"


def test_dashboard_renders_the_study_with_its_objective_names(
    page: Page, dashboard: str, tmp_path: Path
) -> None:
    text = page.open(dashboard, wait_for=["accuracy", "latency_ms", "Best Trials"], timeout=90)
    assert page.errors == []
    assert "Objective X:" in text and "accuracy" in text and "latency_ms" in text
    assert "Best Trials" in text and "Objective Values = [0.9, 2]" in text
    assert_not_blank(page.screenshot(tmp_path / "dashboard.png"))
