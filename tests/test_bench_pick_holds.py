"""benches/bench_pick_holds.py's choices and arithmetic on a real racing study (simulated trainer)
and a log in its own format (no training)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nas_attn.search.results import claims_of, ranked_rows
from nas_attn.testing.noisy import NoisyWorld, simulated_study, uniform_module

BENCHES = Path(__file__).resolve().parents[1] / "benches"
sys.path.insert(0, str(BENCHES))
import bench_pick_holds as bench  # noqa: E402


@pytest.mark.slow  # a simulated racing search of 16 placements through the real driver
def test_the_bench_picks_the_knee_the_claimed_best_plain_and_se_and_reports_paired_deltas(
    tmp_path: Path,
) -> None:
    world = NoisyWorld(1.41, 0.86, seed=0, effect=lambda arch: 4.0 if uniform_module(arch) == "se" else 0.0)
    study, _ = simulated_study(world, 16, tmp_path, max_seeds=3, sampler_seed=0)
    rows = ranked_rows(study)
    picks = bench.choose(rows, claims_of(study).significant)
    roles = {role: pick for pick in picks for role in pick.roles}
    assert {"knee", "claimed best", "plain", "se everywhere"} <= set(roles)
    assert roles["claimed best"] is roles["se everywhere"]  # the true winner is claimed
    assert len({p.row.number for p in picks}) == len(picks)  # one training per placement
    seeds = bench.unused_seeds(rows, 3)
    assert min(seeds) > max(s for r in rows for s in r.seed_list)

    budget = "16px x 15000 img x 4 ep"
    plain, se = roles["plain"].label, roles["se everywhere"].label
    long = {plain: [0.80, 0.81, 0.82], se: [0.815, 0.83, 0.832]}  # se +1.57 points on average
    for pick in picks:
        long.setdefault(pick.label, [0.79, 0.80, 0.805])
    log = tmp_path / "log.jsonl"
    log.write_text(
        "".join(
            json.dumps(
                {"budget": budget, "placement": label, "seed": seed, "accuracy": acc, "train_seconds": 1}
            )
            + "\n"
            for label, values in long.items()
            for seed, acc in zip(seeds, values, strict=True)
        )
    )
    args = ["--storage", f"sqlite:///{tmp_path / 'study0.db'}", "--study", "claims", "--log", str(log)]
    proc = subprocess.run(
        [sys.executable, str(BENCHES / "bench_pick_holds.py"), *args, "--report-only"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=BENCHES,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert f"seeds {seeds}" in out
    se_line = next(line for line in out.splitlines() if line.startswith(se))
    assert "+1.57 [+0.56, +2.57] n=3" in se_line and "n=3" in se_line
    assert "proxy order held:" in out and "Kendall tau" in out


@pytest.mark.slow  # a simulated search and a fresh interpreter
def test_a_study_too_small_is_refused(tmp_path: Path) -> None:
    study, _ = simulated_study(NoisyWorld(1.41, 0.86), 4, tmp_path, max_seeds=2)
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCHES / "bench_pick_holds.py"),
            "--storage",
            f"sqlite:///{tmp_path / 'study0.db'}",
            "--study",
            study.study_name,
            "--report-only",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=BENCHES,
    )
    assert proc.returncode != 0 and "at least 16" in proc.stderr
