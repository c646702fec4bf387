"""Shared fixtures: a tiny search space that trains in seconds on a CPU, and a real PostgreSQL.

The PostgreSQL server is started once per test session on a temporary directory and a free
loopback port (as the ``postgres`` user when the tests run as root), with password auth, so
tests see real credentials in real URLs. Without server binaries the tests that need it are
skipped, unless ``NAS_ATTN_REQUIRE_POSTGRES=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

TINY_SPACE = """\
name: tiny
backbone: {name: resnet18, stem: cifar}
stages:
  layer1: {module: [none, se, eca, cbam], reduction: [4, 16]}
  layer2: {module: [none, se, eca, cbam], reduction: [4, 16]}
proxy: {dataset: digits, image_size: 8, epochs: 1, batch_size: 64, crop_padding: 1}
latency: {warmup: 1, repeats: 5}
search: {sampler: nsga2, n_trials: 3, seed: 0, population_size: 4}
"""

REQUIRE_POSTGRES_ENV = "NAS_ATTN_REQUIRE_POSTGRES"
POSTGRES_BIN_ENV = "NAS_ATTN_POSTGRES_BIN"  # a bin folder with initdb and pg_ctl, if not the default
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"


@pytest.fixture
def tiny_space_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL (with the password)."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        dsn = f"host={self.host} port={self.port} user={self.user} password={self.password} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _postgres_bin() -> Path | None:
    if os.environ.get(POSTGRES_BIN_ENV):
        candidates = [Path(os.environ[POSTGRES_BIN_ENV])]
    else:
        candidates = sorted(Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/")), reverse=True)
        found = shutil.which("initdb")
        if found:
            candidates.append(Path(found).parent)
    return next((d for d in candidates if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None)


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_POSTGRES_ENV}=1 requires a real PostgreSQL server")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _postgres_bin()
    if bindir is None:
        where = os.environ.get(POSTGRES_BIN_ENV) or f"{POSTGRES_BIN_GLOB} or PATH"
        _unavailable(f"PostgreSQL server binaries (initdb, pg_ctl) not found in {where}")
    assert bindir is not None
    as_postgres: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="nas_attn_pg_"))
    if os.geteuid() == 0:  # initdb refuses to run as root
        if shutil.which("runuser") is None:
            _unavailable("running as root without runuser to start PostgreSQL as the postgres user")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    password = f"pw-{secrets.token_hex(8)}"
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if as_postgres:
        shutil.chown(pwfile, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(*args: str) -> None:
        proc = subprocess.run([*as_postgres, *args], capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
            pytest.fail(f"{' '.join(args[:2])} failed: {proc.stderr.strip()} {log[-2000:]}")

    run(
        str(bindir / "initdb"),
        "-D", str(data), "-U", "nas", f"--pwfile={pwfile}", "-A", "scram-sha-256", "-E", "UTF8",
        "--no-sync",
    )  # fmt: skip
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-o", options, "start")
    try:
        yield PostgresServer("127.0.0.1", port, "nas", password)
    finally:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh database on the session's PostgreSQL server (URL with the password in it)."""
    return postgres_server.create_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage backend in turn: a fresh SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return str(request.getfixturevalue("postgres_url"))
