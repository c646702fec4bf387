"""benches/bench_budget_bias.py's arithmetic, from a log in its own format (no training): the gap
table, the gap error and tau against the longest budget, on the seeds both budgets share."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.spaces import space_yaml

BENCH = Path(__file__).resolve().parents[1] / "benches" / "bench_budget_bias.py"
CHOICES = "{module: [none, se, eca, gc], reduction: [8]}"
STAGES = f"  layer1: {CHOICES}\n  layer2: {CHOICES}\n"
SHORT, LONG = "8px x 100 img x 1 ep", "8px x 100 img x 6 ep"
LABELS = {
    "plain": "L1:none L2:none",
    "se": "L1:se/8 L2:se/8",
    "eca": "L1:eca L2:eca",
    "gc": "L1:gc/8 L2:gc/8",
}
# accuracy by (budget, placement) at seeds 0 and 1; the long budget lacks eca at seed 1
ACCURACY = {
    (SHORT, "plain"): [0.70, 0.72],
    (SHORT, "se"): [0.65, 0.66],  # gap -5.5
    (SHORT, "eca"): [0.66, 0.68],  # gap -4.0
    (SHORT, "gc"): [0.73, 0.74],  # gap +2.5
    (LONG, "plain"): [0.82, 0.83],
    (LONG, "se"): [0.80, 0.81],  # gap -2.0
    (LONG, "eca"): [0.79, None],  # gap -3.0 at seed 0 only
    (LONG, "gc"): [0.825, 0.835],  # gap +0.5
}


def test_the_report_computes_gaps_errors_and_tau_on_shared_seeds(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(space_yaml(STAGES).replace("crop_padding: 1}", "crop_padding: 1, train_subset: 100}"))
    log = tmp_path / "runs.jsonl"
    rows = [
        {"budget": budget, "placement": LABELS[name], "seed": seed, "accuracy": acc, "train_seconds": 1.0}
        for (budget, name), values in ACCURACY.items()
        for seed, acc in enumerate(values)
        if acc is not None
    ]
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    args = ["--space", str(space), "--budgets", "8:100:1,8:100:6", "--modules", "se,eca,gc", "--mixes", "0"]
    proc = subprocess.run(
        [sys.executable, str(BENCH), *args, "--log", str(log), "--report-only"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=BENCH.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "-5.50 [" in out and "+2.50 [" in out and "-3.00 (n=1)" in out  # means with intervals
    # gap error: se |-5.5 - -2.0| = 3.5; eca at seed 0 only |-4.0 - -3.0| = 1.0 (seed 0's short gap
    # is -4.0 too); gc |2.5 - 0.5| = 2.0 -> mean 2.1667
    assert out.rstrip().splitlines()[-1] == "gap error at the proxy: 2.17 points"
    # ranks of the short budget (gc > plain > eca > se) vs the long one (gc > plain > se > eca)
    short_row = next(line for line in out.splitlines() if line.startswith(SHORT) and "x " in line)
    assert short_row.split()[-2] == "+0.67"  # Kendall tau: 5 of 6 pairs agree
    assert "noise ceiling: Kendall tau between the reference's seeds 0 and 1 = +1.00" in out
