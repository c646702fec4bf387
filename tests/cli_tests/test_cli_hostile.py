"""Hostile and careless input over every command, table-driven (issue #17's eight classes).

Each case runs one ``nas-attn`` command in-process in a folder holding the tiny space, a study
database (studies 'tiny', 'noreduction', 'foreign') and whatever the case's setup adds; the
machinery and the check every case passes are in ``support/hostile.py``. The original search-only
table is ``BAD_INPUTS`` in tests/cli_tests/test_cli.py.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import optuna
import pytest
from support.cli import run_cli
from support.hostile import (
    BOMB,
    DB,
    ENOSPC,
    INTERRUPT,
    PG,
    SEARCH,
    UNREACHABLE,
    Case,
    arch,
    both,
    check_case,
    checkpoint,
    cifar_payload,
    file,
    folder,
    image_folder,
    other_sqlite,
    space,
    symlink,
)
from support.spaces import TINY_SPACE

CASES: list[Case] = [
    # 1. outputs that would destroy inputs --------------------------------------------------
    Case(
        "export --out the database",
        1,
        ["export", "--study", "tiny", "--trial", "0", "--out", DB],
        "is an input of this command",
    ),
    Case(
        "export --out the database, absolute",
        1,
        ["export", "--study", "tiny", "--trial", "0", "--out", "{root}/nas_attn.db"],
        "is an input of this command",
    ),
    Case("report --out the database", 1, ["report", "--study", "tiny", "--out", DB], "is an input"),
    Case(
        "report --out a symlink to the database",
        1,
        ["report", "--study", "tiny", "--out", "r.html"],
        "is an input",
        setup=symlink("r.html", DB),
    ),
    Case(
        "export --onnx the database",
        1,
        ["export", "--study", "tiny", "--trial", "0", "--out", "b.yaml", "--onnx", DB],
        "--onnx nas_attn.db is an input",
    ),
    Case(
        "export --torchscript the database",
        1,
        ["export", "--study", "tiny", "--trial", "0", "--out", "b.yaml", "--torchscript", DB],
        "--torchscript nas_attn.db is an input",
    ),
    Case(
        "report --out another SQLite file",
        1,
        ["report", "--study", "tiny", "--out", "app.db"],
        "is a SQLite database",
        setup=other_sqlite("app.db"),
    ),
    Case(
        "export --out into a missing folder",
        1,
        ["export", "--study", "tiny", "--trial", "0", "--out", "no/such/best.yaml"],
        "the folder no/such does not exist; create it first",
    ),
    Case(
        "report --out an existing folder",
        1,
        ["report", "--study", "tiny", "--out", "reports"],
        "--out reports is a folder; pass a file name",
        setup=folder("reports"),
    ),
    Case(
        "export --out under a file",
        1,
        ["export", "--study", "tiny", "--trial", "0", "--out", "plain.txt/best.yaml"],
        "the folder plain.txt is not a folder",
        setup=file("plain.txt"),
    ),
    Case(
        "export --out equals --onnx",
        1,
        ["export", "--study", "tiny", "--trial", "0", "--out", "b.x", "--onnx", "b.x"],
        "--out and --onnx name the same file",
    ),
    Case(
        "report on a full disk",
        1,
        ["report", "--study", "tiny", "--out", "r.html"],
        "cannot write --out r.html: No space left on device",
        patch=("nas_attn.outputs.os.replace", ENOSPC),
    ),
    Case(
        "export on a full disk",
        1,
        ["export", "--study", "tiny", "--trial", "0", "--out", "b.yaml"],
        "No space left on device; free disk space",
        patch=("nas_attn.outputs.os.replace", ENOSPC),
    ),
    Case(
        "train --out an existing file",
        1,
        ["train", "--arch", "arch.yaml", "--out", "arch.yaml"],
        "--out arch.yaml is a file, not a folder",
        setup=arch(),
    ),
    Case(
        "train --out under a file",
        1,
        ["train", "--arch", "arch.yaml", "--out", "arch.yaml/run"],
        "cannot create --out folder arch.yaml/run",
        setup=arch(),
    ),
    Case(
        "train checkpoints onto the backbone weights",
        1,
        ["train", "--arch", "arch.yaml", "--out", "run", "--backbone-weights", "run/best.pt"],
        "is an input of this command",
        setup=both(arch(), file("run/best.pt")),
    ),
    # 2. secrets in other spellings ------------------------------------------------------------
    Case(
        "password as a query parameter",
        2,
        [*SEARCH, "--storage", f"{PG}alice@{UNREACHABLE}?password=hunter2"],
        "cannot open storage 'postgresql+psycopg://alice@127.0.0.1:1/nas?password=***'",
        setup=space(),
    ),
    Case(
        "unencoded @ in the password",
        2,
        [*SEARCH, "--storage", f"{PG}alice:s3cr@hunter2@{UNREACHABLE}"],
        "cannot open storage 'postgresql+psycopg://alice:***@127.0.0.1:1/nas'",
        setup=space(),
    ),
    Case(
        "percent-encoded password",
        2,
        [*SEARCH, "--storage", f"{PG}alice:s3cr%40hunter2@{UNREACHABLE}"],
        "cannot open storage 'postgresql+psycopg://alice:***@",
        setup=space(),
    ),
    Case(
        "token query parameter",
        2,
        [*SEARCH, "--storage", f"{PG}alice:x9z@{UNREACHABLE}?sslmode=disable&token=hunter2"],
        "sslmode=disable&token=***",
        setup=space(),
    ),
    Case(
        "unsupported scheme with query password",
        2,
        [*SEARCH, "--storage", "mysql://bob@db/nas?password=hunter2"],
        "unsupported storage 'mysql://bob@db/nas?password=***'",
        setup=space(),
    ),
    Case(
        "malformed URL with password",
        2,
        [*SEARCH, "--storage", "postgres ql://bob:hunter2@db/nas"],
        "invalid storage URL",
        setup=space(),
    ),
    Case(
        "missing SQLite folder with query password",
        2,
        [*SEARCH, "--storage", "sqlite:///missing/x.db?password=hunter2"],
        "'sqlite:///missing/x.db?password=***'",
        setup=space(),
    ),
    Case(
        "front with query password",
        2,
        ["front", "--study", "tiny", "--storage", f"{PG}alice@{UNREACHABLE}?password=hunter2"],
        "password=***",
    ),
    Case(
        "export with unencoded @",
        2,
        [
            "export",
            "--study",
            "tiny",
            "--knee",
            "--out",
            "b.yaml",
            "--storage",
            f"{PG}alice:s3cr@hunter2@{UNREACHABLE}",
        ],
        "cannot open storage 'postgresql+psycopg://alice:***@",
    ),
    Case(
        "report with sslpassword",
        2,
        [
            "report",
            "--study",
            "tiny",
            "--out",
            "r.html",
            "--storage",
            f"{PG}alice@{UNREACHABLE}?sslpassword=hunter2",
        ],
        "sslpassword=***",
    ),
    Case(
        "reseed with query password",
        2,
        ["reseed", "--study", "tiny", "--storage", f"{PG}alice@{UNREACHABLE}?password=hunter2"],
        "password=***",
    ),
    Case(
        "dashboard with unencoded @",
        2,
        ["dashboard", "--storage", f"{PG}bob:s3cr@hunter2@{UNREACHABLE}"],
        "cannot open storage 'postgresql+psycopg://bob:***@",
    ),
    # 3. untrusted files ------------------------------------------------------------------------
    Case(
        "CIFAR-10 batches.meta runs code",
        3,
        SEARCH,
        "batches.meta: it names",
        setup=cifar_payload("cifar10", "batches.meta"),
    ),
    Case("CIFAR-100 meta runs code", 3, SEARCH, "(it was not run)", setup=cifar_payload("cifar100", "meta")),
    Case("space not UTF-8", 3, SEARCH, "is not UTF-8 text", setup=space(raw=b"name: t\xe9st\nstages: {}\n")),
    Case("space UTF-16", 3, SEARCH, "is not UTF-8 text", setup=space(raw="name: tiny\n".encode("utf-16"))),
    Case(
        "space nested 20,000 deep",
        3,
        SEARCH,
        "nested more than 32 levels deep",
        setup=space(text="name: x\nstages: " + "[" * 20000 + "]" * 20000 + "\n"),
    ),
    Case(
        "space of 2 MB",
        3,
        SEARCH,
        "is larger than 1 MiB",
        setup=space(text="name: x\n" + "".join(f"k{i}: {'v' * 60}\n" for i in range(30000))),
    ),
    Case("space alias bomb", 3, SEARCH, "aliases expand to more than", setup=space(text=BOMB)),
    Case(
        "space with too many aliases",
        3,
        SEARCH,
        "more than 64 aliases",
        setup=space(text="a: &a 1\n" + "".join(f"b{i}: *a\n" for i in range(80))),
    ),
    Case(
        "space recursive alias",
        3,
        SEARCH,
        "refers to the value that contains it",
        setup=space(text="name: &n [1, *n]\n"),
    ),
    Case(
        "arch provenance alias bomb",
        3,
        ["train", "--arch", "arch.yaml"],
        "aliases expand to more than",
        setup=arch("provenance:\n  " + BOMB.replace("\n", "\n  ")),
    ),
    Case(
        "arch not UTF-8",
        3,
        ["train", "--arch", "arch.yaml"],
        "is not UTF-8 text",
        setup=file("arch.yaml", b"backbone: r\xffsnet18\n"),
    ),
    Case(
        "checkpoint is a list",
        3,
        ["train", "--arch", "arch.yaml", "--out", "run", "--epochs", "1"],
        "is not a nas-attn training checkpoint",
        setup=checkpoint("list"),
    ),
    Case(
        "checkpoint misses keys",
        3,
        ["train", "--arch", "arch.yaml", "--out", "run", "--epochs", "1"],
        "wrong type or missing entries",
        setup=checkpoint("missing"),
    ),
    Case(
        "checkpoint of wrong shapes",
        3,
        ["train", "--arch", "arch.yaml", "--out", "run", "--epochs", "1"],
        "does not fit this arch",
        setup=checkpoint("shapes"),
    ),
    Case(
        "checkpoint is not a torch file",
        3,
        ["train", "--arch", "arch.yaml", "--out", "run"],
        "cannot read checkpoint",
        setup=both(arch(), file("run/last.pt", b"garbage")),
    ),
    Case(
        "image folder decompression bomb",
        3,
        ["train", "--arch", "arch.yaml", "--dataset", "imagefolder:data", "--out", "run"],
        "a decompression bomb?",
        setup=image_folder("bomb"),
    ),
    Case(
        "image folder symlink loop",
        3,
        ["train", "--arch", "arch.yaml", "--dataset", "imagefolder:data", "--out", "run"],
        "a symlink loop or broken link?",
        setup=image_folder("loop"),
    ),
    # 4. values that pass validation and break later -----------------------------------------
    Case(
        "NaN constraint limit",
        4,
        SEARCH,
        "constraints.0.limit: Input should be a finite number",
        setup=space(("search:", "constraints: [{metric: latency_ms, op: '<=', limit: .nan}]\nsearch:")),
    ),
    Case(
        "infinite constraint limit",
        4,
        SEARCH,
        "Input should be a finite number",
        setup=space(("search:", "constraints: ['params <= 1e999']\nsearch:")),
    ),
    Case(
        "negative proxy seed",
        4,
        SEARCH,
        "proxy.seed: Input should be greater than or equal to 0",
        setup=space(("crop_padding: 1", "crop_padding: 1, seed: -1")),
    ),
    Case(
        "proxy seed beyond 2**32",
        4,
        SEARCH,
        "proxy.seed: Input should be less than or equal to 4294967295",
        setup=space(("crop_padding: 1", "crop_padding: 1, seed: 4294967296")),
    ),
    Case(
        "search seed beyond 2**32",
        4,
        SEARCH,
        "search.seed: Input should be less than or equal",
        setup=space(("seed: 0", "seed: 99999999999")),
    ),
    Case(
        "infinite proxy lr",
        4,
        SEARCH,
        "proxy.lr: Input should be a finite number",
        setup=space(("crop_padding: 1", "crop_padding: 1, lr: .inf")),
    ),
    Case(
        "proxy lr 1e400",
        4,
        SEARCH,
        "proxy.lr: Input should be a finite number",
        setup=space(("crop_padding: 1", "crop_padding: 1, lr: 1.0e+400")),
    ),
    Case(
        "huge proxy image_size",
        4,
        SEARCH,
        "proxy.image_size: Input should be less than or equal to 512",
        setup=space(("image_size: 8", "image_size: 100000")),
    ),
    Case(
        "huge epochs",
        4,
        SEARCH,
        "proxy.epochs: Input should be less than or equal to 10000",
        setup=space(("epochs: 1", "epochs: 1000000000")),
    ),
    Case(
        "NaN latency repeats",
        4,
        SEARCH,
        "latency.repeats: Input should be a valid integer",
        setup=space(("repeats: 5", "repeats: .nan")),
    ),
    Case(
        "SimAM on a 1x1 stage",
        4,
        SEARCH,
        "simam needs a feature map of at least 2 pixels",
        setup=space(
            (
                "layer2: {module: [none, se, eca, cbam], reduction: [4, 16]}",
                "layer2: {module: [none, se]}\n  layer4: {module: [none, simam]}",
            )
        ),
    ),
    Case(
        "train --lr inf",
        4,
        ["train", "--arch", "arch.yaml", "--lr", "inf"],
        "--lr must be a finite number",
        setup=arch(),
    ),
    Case(
        "train --seed -1",
        4,
        ["train", "--arch", "arch.yaml", "--seed", "-1"],
        "--seed must be between 0",
        setup=arch(),
    ),
    Case(
        "train --seed 2**40",
        4,
        ["train", "--arch", "arch.yaml", "--seed", str(2**40)],
        "--seed must be between 0 and 4294967295",
        setup=arch(),
    ),
    Case(
        "arch image_size far beyond memory",
        4,
        ["train", "--arch", "arch.yaml"],
        "image_size: Input should be less than or equal to 1024",
        setup=arch(replace=("image_size: 8", "image_size: 100000")),
    ),
    Case(
        "modules --size far beyond memory",
        4,
        ["modules", "--size", "100000"],
        "Invalid value for '--size'",
        code=2,
    ),
    Case(
        "modules --channels far beyond memory",
        4,
        ["modules", "--channels", "10000000"],
        "Invalid value for '--channels'",
        code=2,
    ),
    # 5. services that do not answer -----------------------------------------------------------
    Case(
        "search --ray-address closed port",
        5,
        [*SEARCH, "--n-trials", "9", "--ray-address", "127.0.0.1:1"],
        "cannot reach Ray at '127.0.0.1:1' (Connection refused within 5 s)",
        setup=space(),
    ),
    Case(
        "search --ray-address ray:// closed port",
        5,
        [*SEARCH, "--n-trials", "9", "--ray-address", "ray://127.0.0.1:1"],
        "cannot reach Ray at 'ray://127.0.0.1:1'",
        setup=space(),
    ),
    Case(
        "search --ray-address not an address",
        5,
        [*SEARCH, "--n-trials", "9", "--ray-address", "headnode"],
        "is not HOST:PORT, ray://HOST:PORT or auto",
        setup=space(),
    ),
    Case(
        "reseed --ray-address closed port",
        5,
        ["reseed", "--study", "tiny", "--ray-address", "127.0.0.1:1"],
        "cannot reach Ray at '127.0.0.1:1'",
    ),
    Case(
        "validate-proxy --ray-address closed port",
        5,
        ["validate-proxy", "--study", "tiny", "--epochs", "5", "--ray-address", "[::1]:1"],
        "cannot reach Ray at '[::1]:1'",
    ),
    # 6. wrong cause or an impossible fix ------------------------------------------------------
    Case(
        "seresnet18 block placement",
        6,
        SEARCH,
        "backbone: {existing_attention: replace}",
        setup=space(("name: resnet18", "name: seresnet18")),
    ),
    Case(
        "dashboard --host 999.999.1.1",
        6,
        ["dashboard", "--host", "999.999.1.1"],
        "--host '999.999.1.1' is not a valid address",
    ),
    Case(
        "--storage sqlite://",
        6,
        [*SEARCH, "--storage", "sqlite://"],
        "in-memory database that keeps nothing",
        setup=space(),
    ),
    Case(
        "--storage sqlite:///:memory:",
        6,
        ["export", "--study", "tiny", "--knee", "--out", "b.yaml", "--storage", "sqlite:///:memory:"],
        "in-memory database",
    ),
    Case(
        "front on an unrelated SQLite file",
        6,
        ["front", "--study", "tiny", "--storage", "sqlite:///app.db"],
        "is a SQLite database without nas-attn/Optuna studies (it is left unchanged)",
        setup=other_sqlite("app.db"),
    ),
    Case(
        "report on a text file as storage",
        6,
        ["report", "--study", "tiny", "--storage", "sqlite:///notes.db"],
        "is not a SQLite database",
        setup=file("notes.db", b"just some notes\n" * 10),
    ),
    Case(
        "dashboard on a mistyped path",
        6,
        ["dashboard", "--storage", "sqlite:///nas_atn.db"],
        "no SQLite database at 'nas_atn.db'",
    ),
    Case(
        "duplicate YAML keys",
        6,
        SEARCH,
        "duplicate key 'epochs'",
        setup=space(("epochs: 1", "epochs: 1, epochs: 2")),
    ),
    Case(
        "epochs: true",
        6,
        SEARCH,
        "proxy.epochs: Input should be a valid integer",
        setup=space(("epochs: 1", "epochs: true")),
    ),
    Case(
        "flip: 1",
        6,
        SEARCH,
        "proxy.flip: Input should be a valid boolean",
        setup=space(("epochs: 1", "epochs: 1, flip: 1")),
    ),
    Case(
        "lr as a string",
        6,
        SEARCH,
        "proxy.lr: Input should be a valid number",
        setup=space(("epochs: 1", "epochs: 1, lr: '0.1'")),
    ),
    Case(
        "reduction 4.0",
        6,
        SEARCH,
        "Input should be a valid integer",
        setup=space(("reduction: [4, 16]", "reduction: [4.0, 16]")),
    ),
    Case(
        "export a screened-out trial",
        6,
        ["export", "--study", "tiny", "--trial", "3", "--out", "b.yaml"],
        "trial 3 was screened out by a constraint and never trained",
    ),
    # 7. re-runs ---------------------------------------------------------------------------------
    Case(
        "validate-proxy --epochs equal to the proxy's",
        7,
        ["validate-proxy", "--study", "tiny", "--epochs", "1"],
        "--epochs 1 is not longer than the proxy's 1 epochs",
    ),
    Case(
        "reseed --seeds unbounded",
        7,
        ["reseed", "--study", "tiny", "--seeds", "1000000"],
        "Invalid value for '--seeds'",
        code=2,
    ),
    Case(
        "validate-proxy --sample unbounded",
        7,
        ["validate-proxy", "--study", "tiny", "--epochs", "5", "--sample", "100000000"],
        "Invalid value for '--sample'",
        code=2,
    ),
    Case(
        "reseed a study with a stage without reductions",
        7,
        ["reseed", "--study", "noreduction", "--ray-address", "127.0.0.1:1"],
        "cannot reach Ray",
    ),  # the space is accepted: Ray is next
    Case(
        "validate-proxy a study with a stage without reductions",
        7,
        ["validate-proxy", "--study", "noreduction", "--epochs", "4", "--ray-address", "127.0.0.1:1"],
        "cannot reach Ray",
    ),
    Case("reseed a foreign study", 7, ["reseed", "--study", "foreign"], "was not created by nas-attn search"),
    # 8. shutdown: Ctrl-C before anything is written -----------------------------------------
    Case(
        "Ctrl-C while search loads the space",
        8,
        SEARCH,
        "interrupted (Ctrl-C); nothing half-done",
        setup=space(),
        patch=("nas_attn.search.usecases.service.load_space", INTERRUPT),
        code=130,
    ),
    Case(
        "Ctrl-C while search opens the storage",
        8,
        SEARCH,
        "re-run the command",
        setup=space(),
        patch=("nas_attn.search.usecases.service.open_storage", INTERRUPT),
        code=130,
    ),
    Case(
        "Ctrl-C while export reads the study",
        8,
        ["export", "--study", "tiny", "--knee", "--out", "b.yaml"],
        "interrupted (Ctrl-C)",
        patch=("nas_attn.search.studydb.study.load_existing_study", INTERRUPT),
        code=130,
    ),
    Case(
        "Ctrl-C while report renders",
        8,
        ["report", "--study", "tiny", "--out", "r.html"],
        "interrupted (Ctrl-C)",
        patch=("nas_attn.report.html.render_report", INTERRUPT),
        code=130,
    ),
    Case(
        "Ctrl-C while reseed reads the study",
        8,
        ["reseed", "--study", "tiny"],
        "interrupted (Ctrl-C)",
        patch=("nas_attn.search.usecases._finished_study.load_existing_study", INTERRUPT),
        code=130,
    ),
    Case(
        "Ctrl-C while train starts",
        8,
        ["train", "--arch", "arch.yaml", "--out", "run"],
        "interrupted (Ctrl-C)",
        setup=arch(),
        patch=("nas_attn.deploy.train.train_arch", INTERRUPT),
        code=130,
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.cls}:{c.id}") for c in CASES])
@pytest.mark.slow
def test_hostile_input_is_one_line_and_changes_nothing(
    case: Case, hostile_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_case(case, hostile_dir, capsys, monkeypatch)


def test_the_hostile_table_covers_sixty_cases_over_all_eight_classes() -> None:
    per_class = {cls: sum(c.cls == cls for c in CASES) for cls in range(1, 9)}
    assert len(CASES) >= 60 and all(n >= 3 for n in per_class.values()), per_class
    assert len({c.id for c in CASES}) == len(CASES)


# -- the fixes the messages name work when followed ---------------------------------------------
def test_following_the_existing_attention_hint_makes_the_space_load(tmp_path: Path) -> None:
    from nas_attn import NasAttnError, build_model, load_space
    from nas_attn.search import sample_arch

    se_backbone = TINY_SPACE.replace("name: resnet18", "name: seresnet18")
    (tmp_path / "keep.yaml").write_text(se_backbone)
    with pytest.raises(NasAttnError, match=r"backbone: \{existing_attention: replace\}"):
        load_space(tmp_path / "keep.yaml")
    (tmp_path / "replace.yaml").write_text(
        se_backbone.replace("stem: cifar", "stem: cifar, existing_attention: replace")
    )
    space = load_space(tmp_path / "replace.yaml")
    params = {"layer1.module": "eca", "layer1.position": "block", "layer2.module": "none"}
    arch = sample_arch(optuna.trial.FixedTrial(params), space)
    assert arch.existing_attention == "replace" and arch.stages["layer1"].module == "eca"
    assert build_model(arch) is not None
    plain = load_space(_tiny(tmp_path))
    assert "existing_attention" not in plain.identity()["backbone"]  # older studies keep their identity


def _tiny(tmp_path: Path) -> Path:
    (tmp_path / "tiny.yaml").write_text(TINY_SPACE)
    return tmp_path / "tiny.yaml"


def test_a_port_in_use_is_the_only_case_that_suggests_another_port(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna_dashboard

    def busy(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))

    monkeypatch.setattr(optuna_dashboard, "run_server", busy)
    code, _, err = run_cli(["dashboard", "--port", "8080"], hostile_dir, capsys)
    assert code == 1 and err.strip().endswith("Address already in use; pick another --port"), err


@pytest.mark.slow  # a fresh interpreter importing torch and timm
def test_a_usage_error_names_the_command_as_users_type_it_even_under_python_m(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "nas_attn", "search", "--bogus"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "nas-attn: error: No such option: --bogus; see 'nas-attn search --help'"
    ]
