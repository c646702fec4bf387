"""`nas-attn dashboard` serves optuna-dashboard on the study's storage, on loopback by default."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.dashboard import live_dashboard
from support.finished_study import make_finished_study

from nas_attn import load_space
from nas_attn.search import open_storage, open_study, run_search
from nas_attn.search.execution.inprocess import InProcessPool

TWO_BASELINES_SPACE = """\
name: named
backbone: {name: resnet18, stem: cifar}
stages:
  layer1: {module: [none, se], reduction: [16], position: [block]}
proxy: {dataset: digits, image_size: 8, epochs: 1, batch_size: 64, train_subset: 200, val_subset: 100}
latency: {warmup: 1, repeats: 5}
search: {sampler: random, seed: 0}
"""


@contextlib.contextmanager
def dashboard(storage: str, log: Path) -> Iterator[tuple[int, list[str]]]:
    """``nas-attn dashboard`` on ``storage`` and a free loopback port; yields (port, its output
    lines, filled when it stops). Its output goes to ``log``."""
    output: list[str] = []
    with live_dashboard(storage, log) as port:
        yield port, output
    output.extend(log.read_text().splitlines())


def get_json(port: int, path: str) -> Any:
    """GET ``path`` from the dashboard, retrying until it answers (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                assert response.status == 200
                return json.loads(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.slow
def test_dashboard_serves_the_study_on_loopback(tmp_path: Path) -> None:
    make_finished_study(tmp_path)
    with dashboard(f"sqlite:///{tmp_path}/s.db", tmp_path / "dashboard.log") as (port, output):
        studies = get_json(port, "/api/studies")["study_summaries"]
        assert [s["study_name"] for s in studies] == ["s"]
    assert any(f"at http://127.0.0.1:{port}/" in line for line in output)


@pytest.mark.slow
def test_dashboard_labels_a_searched_studys_objectives_by_name(tmp_path: Path) -> None:
    """A study made by the search (real worker code, two baselines) names its objectives, and
    optuna-dashboard's API serves those names (not 0 and 1)."""
    space_file = tmp_path / "space.yaml"
    space_file.write_text(TWO_BASELINES_SPACE)
    space = load_space(space_file)
    url = f"sqlite:///{tmp_path}/named.db"
    study = open_study(open_storage(url), space.name, space, space.search.sampler)
    assert run_search(study, space, 2, InProcessPool(threads=1)).evaluated == 2
    with dashboard(url, tmp_path / "dashboard.log") as (port, _):
        (summary,) = get_json(port, "/api/studies")["study_summaries"]
        detail = get_json(port, f"/api/studies/{summary['study_id']}")
    assert detail["objective_names"] == ["accuracy", "latency_ms"]
    assert [t["state"] for t in detail["trials"]] == ["Complete", "Complete"]
