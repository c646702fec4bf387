"""A throwaway PostgreSQL server on a temporary directory and a free loopback port.

Used by the test fixtures and the benchmarks. It runs as the ``postgres`` user (via
``runuser``) when we are root, since ``initdb`` refuses root; it has password auth, so callers
see real credentials in real URLs, and ``fsync=off`` (the data is thrown away).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nas_attn.testing.ports import free_loopback_port

POSTGRES_BIN_ENV = "NAS_ATTN_POSTGRES_BIN"  # a bin folder with initdb and pg_ctl, if not the default
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
START_ATTEMPTS = 3  # a fresh free port each time the chosen one was taken before the server bound it


class PostgresUnavailable(RuntimeError):
    """No server can be started here (no binaries, or root without runuser)."""


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


def find_postgres_bin() -> Path | None:
    """The bin folder holding ``initdb`` and ``pg_ctl`` ($NAS_ATTN_POSTGRES_BIN, the newest
    /usr/lib/postgresql/*/bin, or PATH), or None."""
    if os.environ.get(POSTGRES_BIN_ENV):
        candidates = [Path(os.environ[POSTGRES_BIN_ENV])]
    else:
        candidates = sorted(Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/")), reverse=True)
        found = shutil.which("initdb")
        if found:
            candidates.append(Path(found).parent)
    return next((d for d in candidates if (d / "initdb").is_file() and (d / "pg_ctl").is_file()), None)


@contextlib.contextmanager
def postgres_server(max_connections: int = 200) -> Iterator[PostgresServer]:
    """Start a server, yield it, stop it and delete its files.

    PostgresUnavailable when it cannot be started here; RuntimeError when initdb or pg_ctl fails.
    """
    bindir = find_postgres_bin()
    if bindir is None:
        where = os.environ.get(POSTGRES_BIN_ENV) or f"{POSTGRES_BIN_GLOB} or PATH"
        raise PostgresUnavailable(f"PostgreSQL server binaries (initdb, pg_ctl) not found in {where}")
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        if shutil.which("runuser") is None:
            raise PostgresUnavailable(
                "running as root without runuser to start PostgreSQL as the postgres user"
            )
        as_postgres = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="nas_attn_pg_"))
    try:
        if as_postgres:
            shutil.chown(root, "postgres", "postgres")
        password = f"pw-{secrets.token_hex(8)}"
        pwfile = root / "pwfile"
        pwfile.write_text(password + "\n")
        if as_postgres:
            shutil.chown(pwfile, "postgres", "postgres")
        data, log = root / "data", root / "server.log"

        def run(*args: str) -> None:
            proc = subprocess.run([*as_postgres, *args], capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"{' '.join(args[:2])} failed: {proc.stderr.strip()} {tail}")

        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "nas", f"--pwfile={pwfile}"]
        run(*initdb, "-A", "scram-sha-256", "-E", "UTF8", "--no-sync")
        for attempt in range(1, START_ATTEMPTS + 1):
            # The port is free when chosen; another process (a second test worker's server, a
            # Ray node) may bind it before the server does: then try another one.
            port, logged = free_loopback_port(), log.stat().st_size if log.exists() else 0
            options = (
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c max_connections={max_connections}"
            )
            try:
                run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options, "start")
                break
            except RuntimeError:
                taken = log.exists() and b"Address already in use" in log.read_bytes()[logged:]
                if attempt == START_ATTEMPTS or not taken:
                    raise
        try:
            yield PostgresServer("127.0.0.1", port, "nas", password)
        finally:
            subprocess.run(
                [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=120,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
