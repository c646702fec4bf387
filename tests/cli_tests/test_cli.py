"""The CLI as a user runs it: real subprocesses, real SQLite storage, a real local Ray cluster.

Bad input is table-driven below (in-process for speed; a few cases also as subprocesses).
Signals and a killed driver: tests/search_tests/driver_tests/test_cli_signals.py."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.artifacts import get_all_artifact_meta
from support.cli import assert_one_line_error, nas_attn, run_cli, snapshot
from support.spaces import TINY_LAYER1

from nas_attn import ArchConfig
from nas_attn.search import evaluated_trials


@pytest.mark.slow
def test_missing_space_file(tmp_path: Path) -> None:
    assert_one_line_error(
        nas_attn("search", "--space", "nope.yaml", cwd=tmp_path), "search space file not found: nope.yaml"
    )


@pytest.mark.slow
def test_yaml_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("name: broken\nstages:\n  layer1: {module: [se, eca\n")
    assert_one_line_error(nas_attn("search", "--space", "broken.yaml", cwd=tmp_path), "YAML syntax error")


@pytest.mark.slow
def test_unknown_module(tmp_path: Path, tiny_space_file: Path) -> None:
    bad = tiny_space_file.read_text().replace("[none, se, eca, cbam]", "[none, se, squeeze]", 1)
    (tmp_path / "bad.yaml").write_text(bad)
    proc = nas_attn("search", "--space", "bad.yaml", cwd=tmp_path)
    assert_one_line_error(proc, "stages.layer1.module: unknown attention module 'squeeze'")
    assert not (tmp_path / "nas_attn.db").exists()  # nothing written for a rejected space


@pytest.mark.slow
def test_cuda_requested_without_gpu(tmp_path: Path, tiny_space_file: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    proc = nas_attn("search", "--space", str(tiny_space_file), "--device", "cuda", cwd=tmp_path)
    assert_one_line_error(proc, "CUDA was requested but no GPU is visible")


@pytest.mark.ray
@pytest.mark.slow
def test_search_end_to_end_then_resume(tmp_path: Path, tiny_space_file: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = nas_attn(
        "search",
        "--space",
        str(tiny_space_file),
        "--storage",
        storage,
        "--n-trials",
        "3",
        "--workers",
        "2",
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    assert "Pareto front of 'tiny'" in first.stdout and "placement" in first.stdout
    assert f"study 'tiny' is stored in {storage}" in first.stdout

    study = optuna.load_study(study_name="tiny", storage=storage)
    complete = evaluated_trials(study)  # COMPLETE, duplicates (answered, not trained) left out
    assert len(complete) == 3
    assert all(t.state.is_finished() for t in study.trials)
    assert [t.user_attrs.get("baseline") for t in study.trials[:2]] == ["none", "se"]
    assert (tmp_path / "nas_attn_artifacts").is_dir()  # arch YAML + learning curve per trial
    for trial in complete:
        artifacts = {m.filename for m in get_all_artifact_meta(trial, storage=study._storage)}
        assert artifacts == {"arch.yaml", "learning_curve.csv"}
        assert len(trial.values) == 2
        accuracy, latency = trial.values
        assert 0.0 <= accuracy <= 1.0 and latency > 0
        arch = ArchConfig.from_dict(trial.user_attrs["arch"])
        assert trial.user_attrs["arch_digest"] == arch.digest()
        assert arch.stages["layer1"].module == trial.params["layer1.module"]
        assert trial.user_attrs["accuracy"] == accuracy and trial.user_attrs["params"] > 11_000_000

    second = nas_attn(
        "search",
        "--space",
        str(tiny_space_file),
        "--storage",
        storage,
        "--n-trials",
        "4",
        "--workers",
        "2",
        cwd=tmp_path,
    )
    assert second.returncode == 0, second.stderr
    assert "3 evaluated trials, target 4" in second.stdout
    summaries = optuna.get_all_study_summaries(storage)
    assert [s.study_name for s in summaries] == ["tiny"]
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert len(evaluated_trials(study)) == 4

    third = nas_attn(
        "search", "--space", str(tiny_space_file), "--storage", storage, "--n-trials", "4", cwd=tmp_path
    )
    assert third.returncode == 0 and "target already reached" in third.stdout


@pytest.mark.slow
def test_front_on_a_missing_study_lists_what_exists(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'empty.db'}"
    optuna.create_study(study_name="other", storage=storage)
    proc = nas_attn("front", "--storage", storage, "--study", "tiny", cwd=tmp_path)
    assert_one_line_error(proc, "no study named 'tiny' in this storage; studies: other")


@pytest.mark.slow
def test_front_formats(tmp_path: Path, tiny_space_file: Path) -> None:
    """`front` ranks trials written by a search (here told directly, without training)."""
    import json

    from nas_attn import load_space
    from nas_attn.search import open_storage, open_study, sample_arch

    storage = f"sqlite:///{tmp_path / 'ranked.db'}"
    space = load_space(tiny_space_file)
    study = open_study(open_storage(storage), "tiny", space, "random")
    for accuracy, latency in [(0.9, 2.0), (0.8, 1.0), (0.7, 3.0)]:
        trial = study.ask()
        trial.set_user_attr("arch", sample_arch(trial, space).to_dict())
        trial.set_user_attr("params", 11_200_000)
        study.tell(trial, [accuracy, latency])
    document = json.loads(
        nas_attn("front", "--storage", storage, "--study", "tiny", "--format", "json", cwd=tmp_path).stdout
    )
    records = document["trials"]
    assert [(r["trial"], r["rank"]) for r in records] == [(0, 1), (1, 1), (2, 2)]
    assert records[0]["accuracy"] == 0.9 and records[0]["latency_ms"] == 2.0 and records[0]["placement"]
    assert [r["knee"] for r in records].count(True) == 1 and records[2]["knee"] is False
    assert records[0]["crowding_distance"] is None  # an extreme of its front: infinitely far
    # reference: worst value 10% of the range further = (0.68, 3.2); hand-worked union 0.384
    assert document["reference_point"] == {"accuracy": pytest.approx(0.68), "latency_ms": pytest.approx(3.2)}
    assert document["hypervolume"] == pytest.approx(0.384)
    csv_out = nas_attn(
        "front", "--storage", storage, "--study", "tiny", "--format", "csv", cwd=tmp_path
    ).stdout
    assert csv_out.splitlines()[0] == (
        "trial,rank,accuracy,latency_ms,crowding_distance,knee,params,seeds,"
        "accuracy_std,latency_ms_std,accuracy_ci95_low,accuracy_ci95_high,delta_vs_baseline_mean,"
        "delta_vs_baseline_low,delta_vs_baseline_high,delta_vs_baseline_seeds,p_value,p_adjusted,significant,"
        "racing,fidelity_epochs,placement"
    )
    # one seed each: no placement has a seed drawn after its selection, so no test and no claim
    assert document["claims"] == {"method": "holm", "alpha": 0.05, "compared": 0, "significant": []}
    assert all(r["p_value"] is None and r["p_adjusted"] is None for r in records)
    assert document["compute"] == {
        "placements": 3,
        "placement_epochs": 0,
        "seed_runs": 0,
        "seed_run_epochs": 0,
        "warm_start_backbones": 0,
        "warm_start_epochs": 0,
    }
    assert all(r["racing"] is None for r in records)  # no extra seeds were decided here
    assert len(csv_out.splitlines()) == 4
    table = nas_attn("front", "--storage", storage, "--study", "tiny", cwd=tmp_path)
    assert table.returncode == 0 and "rank" in table.stdout and "knee" in table.stdout
    assert "hypervolume 0.384 (reference point: accuracy=0.68, latency_ms=3.2)" in table.stdout
    bad = nas_attn("front", "--storage", storage, "--study", "tiny", "--format", "xml", cwd=tmp_path)
    assert_one_line_error(bad, "Invalid value for '--format': Value error, 'xml' is not one of", code=2)


@pytest.mark.slow
def test_modules_lists_the_zoo_with_costs(tmp_path: Path) -> None:
    from nas_attn.attention import list_attentions

    proc = nas_attn("modules", "--channels", "64", "--size", "8", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("│")[1].strip(): line for line in proc.stdout.splitlines() if line.startswith("│")}
    assert set(list_attentions()) <= set(rows)
    se = [cell.strip() for cell in rows["se"].split("│")]
    assert se[2:5] == ["channel", "16", "580"]  # kind, r, params = 2*64*4 + 4 + 64
    assert "n/a: shuffle: channels 64 must be divisible" in rows["shuffle"]


# -- bad input, table-driven -------------------------------------------------------------------
# Each case runs `nas-attn search` in-process (imports paid once) in a folder that already
# holds a study 'tiny' in the default storage, and checks: non-zero exit, one stderr line
# naming the problem, no traceback, no secret, and the existing study unchanged.

BIG_STAGE = (
    "{module: [none, se, eca, cbam, gc, coord], reduction: [2, 4, 8, 16], position: [block, last_block]}"
)
BAD_INPUTS: list[tuple[str, dict[str, object], str]] = [
    # (case id, spec, expected fragment); spec: "yaml": (old, new) replaced in the tiny space,
    # or "text": the whole space file; "args": extra flags
    ("missing space file", {"args": ["--space", "nope.yaml"]}, "search space file not found: nope.yaml"),
    ("YAML syntax error", {"text": "name: x\nstages: {layer1: [se\n"}, "YAML syntax error in search space"),
    ("space is not a mapping", {"text": "- a\n- b\n"}, "must be a YAML mapping (key: value), got list"),
    ("missing stages", {"text": "name: tiny\n"}, "stages: Field required"),
    ("missing name", {"yaml": ("name: tiny\n", "")}, "name: Field required"),
    ("unknown top-level key", {"yaml": ("latency:", "prox: {}\nlatency:")}, "prox: unknown key; remove it"),
    ("unknown nested key", {"yaml": ("epochs: 1", "epoch: 1")}, "proxy.epoch: unknown key"),
    (
        "wrong type (int)",
        {"yaml": ("epochs: 1", "epochs: one")},
        "proxy.epochs: Input should be a valid integer",
    ),
    (
        "wrong type (list)",
        {"yaml": (TINY_LAYER1, "layer1: {module: se}")},
        "stages.layer1.module: Input should be a valid list",
    ),
    (
        "empty module choices",
        {"yaml": (TINY_LAYER1, "layer1: {module: []}")},
        "stages.layer1.module: List should have at least 1 item",
    ),
    (
        "empty reduction choices",
        {"yaml": (TINY_LAYER1, "layer1: {module: [se], reduction: []}")},
        "stages.layer1.reduction: List should have at least 1 item",
    ),
    (
        "unknown module",
        {"yaml": ("cbam]", "squeeze]")},
        "stages.layer1.module: unknown attention module 'squeeze'",
    ),
    ("unknown stage", {"yaml": ("layer1:", "layer7:")}, "stages.layer7: unknown stage for resnet18"),
    (
        "reduction exceeds channels",
        {"yaml": ("reduction: [4, 16]", "reduction: [4, 128]")},
        "stages.layer1.reduction: [128] exceed 64 channels",
    ),
    (
        "reduction no module uses",
        {"yaml": (TINY_LAYER1, "layer1: {module: [none, eca], reduction: [4]}")},
        "stages.layer1: reduction [4] cannot apply: none of ['none', 'eca'] uses a reduction",
    ),
    (
        "impossible module/position",
        {"yaml": (TINY_LAYER1, "layer1: {module: [none, cross], position: [block]}")},
        "stages.layer1: module 'cross' cannot be placed at ['block']",
    ),
    (
        "unknown position",
        {"yaml": (TINY_LAYER1, "layer1: {module: [se], position: [middle]}")},
        "stages.layer1.position.0: Input should be 'block', 'last_block' or 'stage_out'",
    ),
    (
        "unknown sampler in YAML",
        {"yaml": ("sampler: nsga2", "sampler: bayes")},
        "search.sampler: Input should be",
    ),
    (
        "unknown sampler flag",
        {"code": 2, "args": ["--sampler", "bayes"]},
        "Invalid value for '--sampler': Value error, 'bayes' is not one of 'nsga2', 'tpe'",
    ),
    (
        "exhaustive on a huge space",
        {
            "yaml": (TINY_LAYER1, f"layer1: {BIG_STAGE}\n  layer3: {BIG_STAGE}\n  layer4: {BIG_STAGE}"),
            "args": ["--sampler", "exhaustive"],
        },
        "sampler 'exhaustive' cannot enumerate",
    ),
    ("unknown dataset", {"yaml": ("dataset: digits", "dataset: imagenet")}, "unknown dataset 'imagenet'"),
    (
        "missing dataset path",
        {"yaml": ("dataset: digits", "dataset: 'cifar10:/no/such/dir'")},
        "/no/such/dir does not exist",
    ),
    (
        "unknown objective",
        {"yaml": ("search:", "objectives: [{name: speed, direction: minimize}]\nsearch:")},
        "unknown objective 'speed'",
    ),
    (
        "non-positive trials in YAML",
        {"yaml": ("n_trials: 3", "n_trials: 0")},
        "search.n_trials: Input should be greater than or equal to 1",
    ),
    ("zero trials flag", {"code": 2, "args": ["--n-trials", "0"]}, "Invalid value for '--n-trials'"),
    ("negative trials flag", {"code": 2, "args": ["--n-trials", "-3"]}, "Invalid value for '--n-trials'"),
    ("zero workers", {"code": 2, "args": ["--workers", "0"]}, "Invalid value for '--workers'"),
    ("trials not a number", {"code": 2, "args": ["--n-trials", "many"]}, "Input should be a valid integer"),
    ("unknown flag", {"code": 2, "args": ["--trials", "3"]}, "No such option: --trials"),
    (
        "unknown device",
        {"code": 2, "args": ["--device", "tpu"]},
        "Invalid value for '--device': Value error, 'tpu' is not one of 'auto', 'cpu', 'cuda'",
    ),
    ("empty study name", {"args": ["--study", " "]}, "--study must not be empty"),
    ("malformed storage URL", {"args": ["--storage", "not a url"]}, "invalid storage URL 'not a url'"),
    (
        "unsupported storage",
        {"args": ["--storage", "mysql://bob:hunter2@db/nas"]},
        "unsupported storage 'mysql://bob:***@db/nas'",
    ),
    (
        "unreachable storage",
        {"args": ["--storage", "postgresql+psycopg://alice:hunter2@127.0.0.1:1/nas"]},
        "cannot open storage 'postgresql+psycopg://alice:***@127.0.0.1:1/nas'",
    ),
    (
        "database driver not installed",
        {"args": ["--storage", "postgresql+psycopg2://alice:hunter2@127.0.0.1:1/nas"]},
        "needs a database driver that is not installed; for PostgreSQL use postgresql+psycopg://",
    ),
    (
        "storage folder missing",
        {"args": ["--storage", "sqlite:///missing/dir/x.db"]},
        "storage directory does not exist for 'sqlite:///missing/dir/x.db'",
    ),
    (
        "space mismatch on resume",
        {"yaml": ("reduction: [4, 16]", "reduction: [8, 16]")},
        "study 'tiny' was created with a different search space; to search this space start a new study "
        "with --study NEW_NAME",
    ),
    (
        "study not made by nas-attn",
        {"args": ["--study", "foreign"]},
        "exists but was not created by nas-attn",
    ),
    (
        "CUDA without CUDA",
        {"args": ["--device", "cuda"]},
        "CUDA was requested but no GPU is visible here; use --device cpu or auto",
    ),
]


NEEDS_NO_GPU = {"CUDA without CUDA"}


def bad_input_cases() -> list[object]:
    import torch

    gpu = torch.cuda.is_available()
    skip = pytest.mark.skipif(gpu, reason="a GPU is present, so CUDA is not missing")
    return [pytest.param(*c, id=c[0], marks=[skip] if c[0] in NEEDS_NO_GPU else []) for c in BAD_INPUTS]


@pytest.fixture
def workdir(tmp_path: Path, tiny_space_file: Path) -> Path:
    """A folder with the tiny space and an existing study 'tiny' (and a foreign one)."""
    from nas_attn import load_space
    from nas_attn.search import open_storage, open_study, sample_arch

    storage = f"sqlite:///{tmp_path / 'nas_attn.db'}"
    space = load_space(tiny_space_file)
    study = open_study(open_storage(storage), "tiny", space, "random")
    trial = study.ask()
    trial.set_user_attr("arch", sample_arch(trial, space).to_dict())
    study.tell(trial, [0.5, 2.0])
    foreign = optuna.create_study(study_name="foreign", storage=storage, directions=["maximize", "minimize"])
    foreign.tell(foreign.ask(), [0.1, 1.0])
    return tmp_path


@pytest.mark.parametrize(("case", "spec", "fragment"), bad_input_cases())
def test_bad_input_is_one_line_and_leaves_the_study_alone(
    case: str, spec: dict[str, object], fragment: str, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (workdir / "tiny.yaml").read_text()
    if "yaml" in spec:
        old, new = spec["yaml"]  # type: ignore[misc]
        assert old in text, f"case '{case}' does not apply to the tiny space"
        text = text.replace(old, new, 1)
    text = str(spec.get("text", text))
    (workdir / "case.yaml").write_text(text)
    args = ["search", "--space", "case.yaml", *spec.get("args", [])]  # type: ignore[list-item]
    storage = f"sqlite:///{workdir / 'nas_attn.db'}"
    before = snapshot(storage)
    code, out, err = run_cli(args, workdir, capsys)
    assert code == spec.get("code", 1), (code, out)  # 2: a usage error Typer caught
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("nas-attn: error: "), lines[0]
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in out + err and "hunter2" not in out + err
    assert snapshot(storage) == before
    assert sorted(p.name for p in workdir.iterdir()) == ["case.yaml", "nas_attn.db", "tiny.yaml"]


def test_the_table_covers_at_least_twenty_bad_inputs(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI refuses the table's inputs with at least twenty different error lines (a catch-all
    message would fail this; two spellings of one mistake, like 0 and -3 trials, count once)."""
    import torch

    skip = NEEDS_NO_GPU if torch.cuda.is_available() else set()
    errors: dict[str, str] = {}
    for case, spec, _ in BAD_INPUTS:
        if len(set(errors.values())) >= 20:
            break
        if case in skip:
            continue
        text = (workdir / "tiny.yaml").read_text()
        if "yaml" in spec:
            old, new = spec["yaml"]  # type: ignore[misc]
            text = text.replace(old, new, 1)
        (workdir / "case.yaml").write_text(str(spec.get("text", text)))
        args = ["search", "--space", "case.yaml", *spec.get("args", [])]  # type: ignore[list-item]
        code, _, err = run_cli(args, workdir, capsys)
        if code != 0:
            errors[case] = err.strip()
    assert len(set(errors.values())) >= 20, errors


@pytest.mark.slow
def test_a_usage_error_as_a_real_process_is_one_line(tmp_path: Path) -> None:
    proc = nas_attn("search", "--space", "x.yaml", "--n-trials", "0", cwd=tmp_path)
    assert_one_line_error(proc, "Invalid value for '--n-trials'", code=2)


# -- PostgreSQL: credentials never shown ----------------------------------------------------


def test_postgres_credentials_never_appear(postgres_url: str, tmp_path: Path, tiny_space_file: Path) -> None:
    from nas_attn import load_space
    from nas_attn.search import open_storage, open_study, redact_url, sample_arch

    password = postgres_url.split(":")[2].split("@")[0]
    space = load_space(tiny_space_file)
    study = open_study(open_storage(postgres_url), "tiny", space, "random")
    trial = study.ask()
    trial.set_user_attr("arch", sample_arch(trial, space).to_dict())
    study.tell(trial, [0.5, 2.0])
    shown = nas_attn("front", "--storage", postgres_url, "--study", "tiny", cwd=tmp_path)
    assert shown.returncode == 0 and password not in shown.stdout + shown.stderr
    missing = nas_attn("front", "--storage", postgres_url, "--study", "nope", cwd=tmp_path)
    assert_one_line_error(missing, "no study named 'nope'")
    assert password not in missing.stderr
    wrong = postgres_url.replace(password, password + "x")
    refused = nas_attn("search", "--space", str(tiny_space_file), "--storage", wrong, cwd=tmp_path)
    assert_one_line_error(refused, f"cannot open storage '{redact_url(wrong)}'")
    assert password not in refused.stderr and "password authentication failed" in refused.stderr
    resumed = nas_attn(
        "search", "--space", str(tiny_space_file), "--storage", postgres_url, "--n-trials", "1", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "target already reached" in resumed.stdout
    assert f"study 'tiny' is stored in {redact_url(postgres_url)}" in resumed.stdout
    assert password not in resumed.stdout + resumed.stderr
