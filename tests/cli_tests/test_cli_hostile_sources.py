"""Hostile sources, table-driven (issue #32, part B): secrets in every spelling, IDX decompression
bombs, and inputs that used to end in a traceback or a wrong cause (a trial's arch that is not a
mapping, another Optuna schema, a locked database, Ctrl-C while the dashboard answers a request,
module options out of range).

Each case runs one ``nas-attn`` command in-process in the folder of ``support/hostile.py`` (tiny.yaml
and nas_attn.db with the studies 'tiny', 'noreduction', 'foreign') plus what its setup adds, and
passes ``check_case``: the exact exit code, one ``nas-attn: error:`` line naming problem and fix, no
traceback, no secret, the studies and every file byte-for-byte unchanged. Below the table: the
commands that succeed with a secret in their storage URL (export YAML, report HTML, search summary,
dashboard banner), a real lock, the schema fix followed, a report on a plain Optuna study, and
Ctrl-C on a real dashboard server (mid-request and idle; bottle prints its own start-up lines, so
that case is checked outside the one-line table).
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import socket
import sqlite3
import threading
import time
import urllib.request
import zlib
from pathlib import Path

import numpy as np
import optuna
import pytest
from support.cli import run_cli, snapshot
from support.hostile import (
    DB,
    INTERRUPT,
    PG,
    SEARCH,
    SECRETS,
    UNREACHABLE,
    Case,
    arch,
    both,
    check_case,
    patch_raising,
    space,
    tree_state,
)

# -- setups ---------------------------------------------------------------------------------------
IDX_FILES = {
    "train-images-idx3-ubyte": (0, 60),
    "train-labels-idx1-ubyte": (0, 60),
    "t10k-images-idx3-ubyte": (1, 20),
    "t10k-labels-idx1-ubyte": (1, 20),
}


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _header(*dims: int) -> bytes:
    return bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def _zeros_gz(header: bytes, nbytes: int) -> bytes:
    """A gzip stream of ``header`` and ``nbytes`` zeros, compressed in 1 MiB steps (a bomb)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    out, chunk = [packer.compress(header)], bytes(1 << 20)
    for _ in range(nbytes >> 20):
        out.append(packer.compress(chunk))
    return b"".join([*out, packer.flush()])


def idx_bomb(name: str, payload: bytes, *, gz: bool = True) -> object:
    """data/: the four MNIST files (gzip), one replaced by ``payload``; case.yaml proxies on them."""

    def make(root: Path) -> None:
        data = root / "data"
        data.mkdir()
        rng = np.random.default_rng(0)
        for stem, (seed, n) in IDX_FILES.items():
            if stem == name:
                (data / (f"{stem}.gz" if gz else stem)).write_bytes(payload)
                continue
            labels = (np.arange(n) % 10).astype(np.uint8)
            array = labels if "labels" in stem else rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
            (data / f"{stem}.gz").write_bytes(gzip.compress(_idx(array), mtime=seed))
        space(("dataset: digits", "dataset: 'mnist:data'"))(root)

    return make


def trial_attr(value_json: str, trial: int = 0, key: str = "arch") -> object:
    """Store ``value_json`` as trial ``trial``'s ``key`` attribute of study 'tiny' (as another tool
    or a hand edit would: Optuna refuses to change a finished trial)."""

    def make(root: Path) -> None:
        with sqlite3.connect(root / DB) as conn:
            changed = conn.execute(
                "UPDATE trial_user_attributes SET value_json = ? WHERE key = ? AND trial_id = "
                "(SELECT trial_id FROM trials JOIN studies USING (study_id) "
                "WHERE study_name = 'tiny' AND number = ?)",
                (value_json, key, trial),
            ).rowcount
        conn.close()
        assert changed == 1

    return make


def schema(name: str, revision: str) -> object:
    """``name``: a copy of the study database stamped with another Optuna schema revision."""

    def make(root: Path) -> None:
        shutil.copyfile(root / DB, root / name)
        with sqlite3.connect(root / name) as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        conn.close()

    return make


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DASHBOARD_PORT = _free_port()


def request_when_serving(path: str = "/api/studies") -> object:
    """A client that waits for the dashboard to listen, then asks it for ``path`` once."""

    def ask() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", DASHBOARD_PORT), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        with contextlib.suppress(OSError):  # the server stops mid-answer: the point of the case
            urllib.request.urlopen(f"http://127.0.0.1:{DASHBOARD_PORT}{path}", timeout=30).read()

    return lambda _root: threading.Thread(target=ask, daemon=True).start()


def stage(options: str, module: str = "eca") -> object:
    return arch(replace=("{module: se, reduction: 4}", f"{{module: {module}, options: {options}}}"))


IDX_DATA = "mnist:data"
LOCKED = sqlite3.OperationalError("database is locked")
OLDER, NEWER = "v3.0.0.d", "v9.1.0.a"
TRAIN = ["train", "--arch", "arch.yaml", "--out", "run", "--epochs", "1"]

CASES: list[Case] = [
    # 2. secrets in every spelling, through every command that echoes a storage URL --------------
    Case(
        "search: ';' and '#' in a query password",
        2,
        [*SEARCH, "--storage", f"{PG}alice@{UNREACHABLE}?password=al;hunter2#etPw"],
        "cannot open storage 'postgresql+psycopg://alice@127.0.0.1:1/nas?password=***'",
        setup=space(),
    ),
    Case(
        "front: query password between other parameters",
        2,
        [
            "front",
            "--study",
            "tiny",
            "--storage",
            f"{PG}alice@{UNREACHABLE}?sslmode=disable&password=x;hunter2#y&application_name=z",
        ],
        "sslmode=disable&password=***&application_name=z'",
    ),
    Case(
        "report: 'scheme:/' (one slash) echoes no password",
        2,
        [
            "report",
            "--study",
            "tiny",
            "--out",
            "r.html",
            "--storage",
            "postgresql+psycopg:/alice:hunter2@db/nas",
        ],
        "invalid storage URL 'postgresql+psycopg:/alice:***@db/nas'; use e.g.",
    ),
    Case(
        "export: 'scheme//' (no colon) echoes no password",
        2,
        [
            "export",
            "--study",
            "tiny",
            "--knee",
            "--out",
            "b.yaml",
            "--storage",
            "postgresql+psycopg//alice:hunter2@db/nas",
        ],
        "invalid storage URL 'postgresql+psycopg//alice:***@db/nas'",
    ),
    Case(
        "dashboard: 'scheme:' (no slashes) echoes no password",
        2,
        ["dashboard", "--storage", "postgresql+psycopg:alice:hunter2@db/nas"],
        "invalid storage URL 'postgresql+psycopg:***@db/nas'",
    ),
    Case(
        "search: a port that is not a number",
        2,
        [*SEARCH, "--storage", f"{PG}alice:hunter2@db:54x2/nas"],
        "'postgresql+psycopg://alice:***@db:54x2/nas': its host:port is malformed (the port must be digits",
        setup=space(),
    ),
    Case(
        "front: an IPv6 host without brackets",
        2,
        ["front", "--study", "tiny", "--storage", f"{PG}alice:hunter2@::1:5432/nas"],
        "an IPv6 host goes in brackets: [::1]:5432",
    ),
    Case(
        "report: an IPv6 host with an unclosed bracket",
        2,
        ["report", "--study", "tiny", "--out", "r.html", "--storage", f"{PG}alice:hunter2@[::1/nas"],
        "invalid storage URL 'postgresql+psycopg://alice:***@[::1/nas': its host:port is malformed",
    ),
    Case(
        "export: '/' and '#' unencoded in a user-info password",
        2,
        [
            "export",
            "--study",
            "tiny",
            "--trial",
            "0",
            "--out",
            "b.yaml",
            "--storage",
            f"{PG}alice:s3/hunter2#x@{UNREACHABLE}",
        ],
        "cannot open storage 'postgresql+psycopg://alice:***@127.0.0.1:1/nas'",
    ),
    Case(
        "reseed: ';' in a token",
        2,
        ["reseed", "--study", "tiny", "--storage", f"{PG}alice@{UNREACHABLE}?token=hunter2;x9z"],
        "token=***'",
    ),
    Case(
        "search: missing SQLite folder, '#' in a query password",
        2,
        [*SEARCH, "--storage", "sqlite:///missing/x.db?password=a#hunter2"],
        "storage directory does not exist for 'sqlite:///missing/x.db?password=***'",
        setup=space(),
    ),
    Case(
        "validate-proxy: mistyped scheme",
        2,
        [
            "validate-proxy",
            "--study",
            "tiny",
            "--epochs",
            "5",
            "--storage",
            "postgresql+psycopg:/:hunter2@db/n",
        ],
        "invalid storage URL 'postgresql+psycopg:/:***@db/n'",
    ),
    # 3. IDX decompression bombs: refused from the header, before anything is decompressed -----
    Case(
        "search: labels .gz claiming 4e9 labels",
        3,
        SEARCH,
        "train-labels-idx1-ubyte.gz: the header claims 4000000000 values (3.7 GiB), more than the 1 GiB",
        setup=idx_bomb("train-labels-idx1-ubyte", gzip.compress(_header(4_000_000_000) + bytes(100))),
    ),
    Case(
        "search: plain labels file claiming 4e9 labels",
        3,
        SEARCH,
        "train-labels-idx1-ubyte: the header claims 4000000000 values",
        setup=idx_bomb("train-labels-idx1-ubyte", _header(4_000_000_000) + bytes(60), gz=False),
    ),
    Case(
        "search: images .gz claiming 60000 x 5000 x 5000",
        3,
        SEARCH,
        "t10k-images-idx3-ubyte.gz: the header claims 60000 x 5000 x 5000 values",
        setup=idx_bomb("t10k-images-idx3-ubyte", gzip.compress(_header(60000, 5000, 5000))),
    ),
    Case(
        "search: plain images file claiming 60000 x 5000 x 5000",
        3,
        SEARCH,
        "nothing was decompressed: download it again",
        setup=idx_bomb("train-images-idx3-ubyte", _header(60000, 5000, 5000) + bytes(784), gz=False),
    ),
    Case(
        "search: 500 MB of labels claimed by a 40-byte .gz",
        3,
        SEARCH,
        ".gz cannot hold that many (gzip expands at most 1032x): a damaged file or a decompression bomb",
        setup=idx_bomb("train-labels-idx1-ubyte", gzip.compress(_header(500_000_000))),
    ),
    Case(
        "search: 32 MiB of zeros behind a header claiming 60 labels",
        3,
        SEARCH,
        "train-labels-idx1-ubyte.gz: longer than its header says",
        setup=idx_bomb("train-labels-idx1-ubyte", _zeros_gz(_header(60), 32 << 20)),
    ),
    Case(
        "train: images .gz claiming 2e9 values",
        3,
        [*TRAIN, "--dataset", IDX_DATA],
        "train-images-idx3-ubyte.gz: the header claims 60 x 6000 x 6000 values",
        setup=both(arch(), idx_bomb("train-images-idx3-ubyte", gzip.compress(_header(60, 6000, 6000)))),
    ),
    # 6. the real cause, not a wrong one -------------------------------------------------------
    Case(
        "front: a database of an older Optuna schema",
        6,
        ["front", "--study", "tiny", "--storage", "sqlite:///old.db"],
        f"written by an older Optuna (schema {OLDER}; Optuna {optuna.__version__} here uses v3.2.0.a); "
        "back it up, then upgrade it with `optuna storage upgrade --storage sqlite:///old.db`",
        setup=schema("old.db", OLDER),
    ),
    Case(
        "search: a database of an older Optuna schema is not touched",
        6,
        [*SEARCH, "--storage", "sqlite:///old.db"],
        "optuna storage upgrade --storage sqlite:///old.db",
        setup=both(space(), schema("old.db", OLDER)),
    ),
    Case(
        "report: a database of a newer Optuna schema",
        6,
        ["report", "--study", "tiny", "--out", "r.html", "--storage", "sqlite:///new.db"],
        f"written by another Optuna version (schema {NEWER}, unknown to Optuna",
        setup=schema("new.db", NEWER),
    ),
    Case(
        "dashboard: a database of a newer Optuna schema",
        6,
        ["dashboard", "--storage", "sqlite:///new.db"],
        "open it with the Optuna that wrote it, or pass another --storage",
        setup=schema("new.db", NEWER),
    ),
    Case(
        "front: a database locked by another process",
        6,
        ["front", "--study", "tiny"],
        "'nas_attn.db' is locked by another process",
        patch=("nas_attn.search.studydb.storage.sqlite3.connect", LOCKED),
    ),
    Case(
        "export: a database locked by another process",
        6,
        ["export", "--study", "tiny", "--knee", "--out", "b.yaml"],
        "wait for it to finish or stop it, then re-run",
        patch=("nas_attn.search.studydb.storage.sqlite3.connect", LOCKED),
    ),
    # 8. tracebacks: stored data, Ctrl-C, module options ---------------------------------------
    Case(
        "front: a trial's arch is a string",
        8,
        ["front", "--study", "tiny"],
        "trial 0's stored 'arch' attribute is not a valid placement (a string, not a mapping)",
        setup=trial_attr('"resnet18"'),
    ),
    Case(
        "report: a trial's arch is a list",
        8,
        ["report", "--study", "tiny", "--out", "r.html"],
        "trial 1's stored 'arch' attribute is not a valid placement (a list, not a mapping)",
        setup=trial_attr('["layer1", "se"]', trial=1),
    ),
    Case(
        "export --trial: a trial's arch has stages that are not a mapping",
        8,
        ["export", "--study", "tiny", "--trial", "2", "--out", "b.yaml"],
        "search again into a new --study",
        setup=trial_attr('{"stages": 5}', trial=2),
    ),
    Case(
        "export --knee: a trial's arch is a number",
        8,
        ["export", "--study", "tiny", "--knee", "--out", "b.yaml"],
        "trial 0's stored 'arch' attribute is not a valid placement (a number, not a mapping)",
        setup=trial_attr("42"),
    ),
    Case(
        "front: a trial's params is a string",
        8,
        ["front", "--study", "tiny"],
        "trial 1's stored 'params' attribute is a string, not a number; the study was changed outside",
        setup=trial_attr('"11M"', trial=1, key="params"),
    ),
    Case(
        "report: a trial's params is a list",
        8,
        ["report", "--study", "tiny", "--out", "r.html"],
        "trial 2's stored 'params' attribute is a list, not a number",
        setup=trial_attr("[1, 2]", trial=2, key="params"),
    ),
    Case(
        "train: ECA gamma 0",
        8,
        TRAIN,
        "stages.layer1: eca option gamma: must be a number > 0 and <= 64, got 0",
        setup=stage("{gamma: 0}"),
    ),
    Case(
        "train: ECA even kernel_size",
        8,
        TRAIN,
        "eca option kernel_size: must be an odd integer in 1..63, got 4",
        setup=stage("{kernel_size: 4}"),
    ),
    Case(
        "train: CBAM kernel_size 10001",
        8,
        TRAIN,
        "cbam option kernel_size: must be an odd integer in 1..31, got 10001",
        setup=stage("{kernel_size: 10001}", "cbam"),
    ),
    Case(
        "train: MobileViT depth 1000",
        8,
        TRAIN,
        "mobilevit option depth: must be an integer in 1..12, got 1000",
        setup=stage("{depth: 1000}", "mobilevit"),
    ),
    Case(
        "train: GC fusion 'mul'",
        8,
        TRAIN,
        "gc option fusion: must be one of 'add', 'scale', got 'mul'",
        setup=stage("{fusion: mul}", "gc"),
    ),
    Case(
        "train: SimAM e_lambda 0",
        8,
        TRAIN,
        "simam option e_lambda: must be a number > 0 and <= 1000, got 0",
        setup=stage("{e_lambda: 0}", "simam"),
    ),
    Case(
        "train: an option a module does not have",
        8,
        TRAIN,
        "eca has no option 'gama'; its options: beta, gamma, kernel_size",
        setup=stage("{gama: 2}"),
    ),
    Case(
        "train: SE takes no options",
        8,
        TRAIN,
        "se takes no options; remove 'bogus'",
        setup=stage("{bogus: 1}", "se"),
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.cls}:{c.id}") for c in CASES])
@pytest.mark.slow
def test_hostile_source_is_one_line_and_changes_nothing(
    case: Case, hostile_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_case(case, hostile_dir, capsys, monkeypatch)


def test_the_sources_table_has_a_case_per_finding() -> None:
    per_class = {cls: sum(c.cls == cls for c in CASES) for cls in (2, 3, 6, 8)}
    assert len(CASES) >= 25 and all(n >= 5 for n in per_class.values()), per_class
    assert len({c.id for c in CASES}) == len(CASES)


# -- commands that succeed: the secret reaches none of the places a storage URL is echoed -------
SPELLINGS = {
    "';' and '#' in the value": "password=al;hunter2#etPw",
    "unencoded '@' and '/'": "password=s3cr@hunter2/x",
    "percent-encoded '@'": "password=s3cr%40hunter2",
    "encoded parameter name": "pass%77ord=hunter2",
    "among other parameters": "timeout=20&sslpassword=hunter2;x&cached_statements=10",
    "token with '&' after it": "token=x9z#hunter2&uri=false",
}


@pytest.mark.parametrize("query", list(SPELLINGS.values()), ids=list(SPELLINGS))
@pytest.mark.slow
def test_no_spelling_reaches_export_report_summary_or_banner(
    query: str, hostile_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna_dashboard

    monkeypatch.setattr(optuna_dashboard, "run_server", lambda *a, **k: None)  # the banner, then return
    url = f"sqlite:///{DB}?{query}"
    commands = {
        "export": ["export", "--study", "tiny", "--knee", "--out", "b.yaml", "--storage", url],
        "report": ["report", "--study", "tiny", "--out", "r.html", "--storage", url],
        "search": ["search", "--space", "tiny.yaml", "--n-trials", "3", "--storage", url],
        "dashboard": ["dashboard", "--storage", url],
    }
    rendered = {}
    for name, args in commands.items():
        code, out, err = run_cli(args, hostile_dir, capsys)
        assert code == 0 and "Traceback" not in out + err, (name, out, err)
        rendered[name] = out + err
    rendered["export YAML"] = (hostile_dir / "b.yaml").read_text()
    rendered["report HTML"] = (hostile_dir / "r.html").read_text()
    assert "storage: sqlite:///nas_attn.db?" in rendered["export YAML"] and "***" in rendered["export YAML"]
    assert "target already reached" in rendered["search"] and "***" in rendered["search"]
    assert f"dashboard for sqlite:///{DB}?" in rendered["dashboard"] and "***" in rendered["dashboard"]
    assert "***" in rendered["report HTML"]
    pieces = ("hunter2", "etPw", "x9z", "s3cr")
    leaks = {where: [p for p in (*SECRETS, *pieces) if p in text] for where, text in rendered.items()}
    assert not any(leaks.values()), leaks


# -- the wrong causes, each with its real one ------------------------------------------------------
@pytest.mark.slow
def test_a_real_lock_is_reported_as_a_lock_and_released_it_opens(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from nas_attn.search.studydb import storage

    monkeypatch.setattr(storage, "SQLITE_CHECK_TIMEOUT_S", 0.1)
    before = (hostile_dir / DB).read_bytes()
    holder = sqlite3.connect(hostile_dir / DB, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # what a writer in another process holds mid-transaction
    try:
        code, _, err = run_cli(["front", "--study", "tiny"], hostile_dir, capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1 and err.strip() == (
        "nas-attn: error: 'nas_attn.db' is locked by another process (still locked after 0.1 s: a write "
        "in progress, or a program holding it open in a transaction); wait for it to finish or stop it, "
        "then re-run"
    )
    assert (hostile_dir / DB).read_bytes() == before
    code, out, _ = run_cli(["front", "--study", "tiny"], hostile_dir, capsys)
    assert code == 0 and "trials of 'tiny'" in out


@pytest.mark.slow
def test_following_the_schema_fix_opens_the_older_database(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nas_attn.search.studydb.optuna_private import schema_problem

    schema("old.db", OLDER)(hostile_dir)
    problem = schema_problem(OLDER, "sqlite:///old.db")
    assert problem is not None and "`optuna storage upgrade --storage sqlite:///old.db`" in problem
    # what the fix does: Optuna's own upgrade of an older revision (here only the stamp differs)
    with sqlite3.connect(hostile_dir / "old.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'v3.2.0.a'")
    conn.close()
    code, out, err = run_cli(
        ["front", "--study", "tiny", "--storage", "sqlite:///old.db"], hostile_dir, capsys
    )
    assert code == 0 and "trials of 'tiny'" in out, err


@pytest.mark.slow
def test_report_on_a_plain_optuna_study_renders_without_a_placement_heatmap(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(["report", "--study", "foreign", "--out", "f.html"], hostile_dir, capsys)
    assert code == 0 and not err.strip() and "report -> f.html" in out
    page = (hostile_dir / "f.html").read_text()
    assert "record no attention placement (not made by nas-attn search)" in page
    assert "<svg" in page  # the scatter and hypervolume plots are still there


@pytest.mark.slow
def test_ctrl_c_while_the_dashboard_answers_a_request_stops_it_with_one_line(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real server on a real port; the Ctrl-C lands inside the request's handler (where wsgiref
    printed its traceback and kept serving). Bottle's own start-up lines are the dashboard's."""
    before = snapshot(f"sqlite:///{hostile_dir / DB}"), tree_state(hostile_dir)
    request_when_serving()(hostile_dir)
    patch_raising(monkeypatch, "optuna.storages._rdb.storage.RDBStorage.get_all_studies", INTERRUPT)
    code, out, err = run_cli(["dashboard", "--port", str(DASHBOARD_PORT)], hostile_dir, capsys)
    monkeypatch.undo()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 130 and "Traceback" not in out + err, err
    assert lines[-1] == (
        "nas-attn: error: dashboard stopped (Ctrl-C); the study is unchanged: run the same command to "
        "serve it again"
    )
    assert [line for line in lines[:-1] if not line.startswith(BOTTLE_BANNER)] == [], lines
    assert (snapshot(f"sqlite:///{hostile_dir / DB}"), tree_state(hostile_dir)) == before


BOTTLE_BANNER = ("Bottle v", "Listening on http://", "Hit Ctrl-C to quit.")


@pytest.mark.slow
def test_ctrl_c_while_the_dashboard_idles_is_the_same_one_line(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    import optuna_dashboard

    def serve_until_ctrl_c(*_args: object, **_kwargs: object) -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C, through the real handler
            time.sleep(5)
        except KeyboardInterrupt:
            return  # what bottle does with a Ctrl-C while it serves

    monkeypatch.setattr(optuna_dashboard, "run_server", serve_until_ctrl_c)
    code, _, err = run_cli(["dashboard"], hostile_dir, capsys)
    assert code == 130 and err.strip().splitlines() == [
        "nas-attn: error: dashboard stopped (Ctrl-C); the study is unchanged: run the same command to "
        "serve it again"
    ]
    assert not (hostile_dir / "nas_attn_artifacts").exists()  # a dashboard writes nothing


@pytest.mark.slow
@pytest.mark.parametrize("revision", [OLDER, NEWER])
def test_a_server_database_of_another_optuna_schema_is_one_line_and_untouched(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], revision: str
) -> None:
    """What the SQLite cases of the table show, on a real PostgreSQL server: Optuna's own schema
    check (a RuntimeError) is reported with its cause and fix, the password redacted, nothing
    written to the database."""
    import sqlalchemy as sa

    optuna.create_study(study_name="tiny", storage=postgres_url)
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})

        def state() -> tuple[object, ...]:
            with engine.connect() as conn:
                tables = conn.execute(
                    sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
                )
                version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
                studies = conn.execute(sa.text("SELECT study_name FROM studies")).scalars().all()
                return tuple(sorted(row[0] for row in tables)), version, tuple(studies)

        before = state()
        for command in (["front", "--study", "tiny"], ["report", "--study", "tiny", "--out", "r.html"]):
            code, out, err = run_cli([*command, "--storage", postgres_url], tmp_path, capsys)
            lines = [line for line in err.splitlines() if line.strip()]
            assert code == 1 and len(lines) == 1 and "Traceback" not in err, err
            expected = (
                "written by an older Optuna" if revision == OLDER else "written by another Optuna version"
            )
            assert lines[0].startswith("nas-attn: error: ") and expected in lines[0], lines[0]
            password = sa.engine.make_url(postgres_url).password
            assert password and password not in err + out
        assert state() == before
        assert not (tmp_path / "r.html").exists()
    finally:
        engine.dispose()
