"""Shared fixtures: the tiny search space (support/spaces.py) as a file, and a real PostgreSQL.

The PostgreSQL server is started once per test session on a temporary directory and a free
loopback port (as the ``postgres`` user when the tests run as root), with password auth, so
tests see real credentials in real URLs. Without server binaries the tests that need it are
skipped, unless ``NAS_ATTN_REQUIRE_POSTGRES=1`` (CI) makes that a failure.

Under pytest-xdist (``-n 2`` in pyproject.toml) each worker process gets its share of the CPUs as
torch / OpenMP / MKL threads (1 each on a 2-core machine), set before any test runs, in
``os.environ`` too, so the processes its tests start (CLI runs, Ray workers) inherit the limit.
Each worker starts its own PostgreSQL server (its own temp dir and free port).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.spaces import TINY_SPACE

from nas_attn.testing.postgres_server import PostgresServer, PostgresUnavailable
from nas_attn.testing.postgres_server import postgres_server as start_postgres

REQUIRE_POSTGRES_ENV = "NAS_ATTN_REQUIRE_POSTGRES"
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _limit_threads_per_xdist_worker() -> None:
    """Two workers each with all the cores' threads would fight over them: under xdist each
    worker gets ``cores // workers`` threads (at least 1), for itself and its subprocesses."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not os.environ.get("PYTEST_XDIST_WORKER") or not workers:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = max(1, cores // max(1, int(workers)))
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)


_limit_threads_per_xdist_worker()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes() -> None:
    """Before pytest-xdist starts its workers (in the controlling process): pytest imports
    readline at start, and GNU readline puts COLUMNS and LINES (80x24 without a terminal) into
    the process's C environment, unseen by os.environ but inherited by the workers. There
    nas_attn.cli.console would print 80 columns wide where a serial run prints 140 (piped output).
    Workers get the environment os.environ shows."""
    for name in ("COLUMNS", "LINES"):
        if name not in os.environ:
            os.unsetenv(name)


@pytest.fixture
def tiny_space_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_POSTGRES_ENV}=1 requires a real PostgreSQL server")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        with start_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        _unavailable(str(exc))


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


def _uses_postgres(item: pytest.Item) -> bool:
    fixtures = getattr(item, "fixturenames", ())
    if "postgres_server" in fixtures or "postgres_url" in fixtures:
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("storage_url") == "postgresql"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start the session's PostgreSQL server carry the ``postgres`` marker, so the fast
    tier can leave them out (``-m "not postgres"``) without anyone marking them by hand."""
    for item in items:
        if _uses_postgres(item):
            item.add_marker(pytest.mark.postgres)
