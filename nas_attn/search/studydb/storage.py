"""Optuna storage from a URL: SQLite (default) or PostgreSQL; credentials never printed.

SQLite waits up to ``SQLITE_LOCK_TIMEOUT_S`` for a lock instead of failing at once (readers
such as optuna-dashboard share the file). PostgreSQL (``postgresql+psycopg://user:pass@host/db``)
gets a connect timeout, so an unreachable server is reported in seconds, and pre-ping, so a
restarted server's dropped connections are replaced.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import URL, make_url

from nas_attn.defaults import (
    DEFAULT_STORAGE as DEFAULT_STORAGE,
)  # re-exported: nas_attn.search.DEFAULT_STORAGE
from nas_attn.exceptions import NasAttnError
from nas_attn.redact import redact_text, redact_url
from nas_attn.search.studydb.optuna_private import schema_error_problem, schema_problem

SQLITE_LOCK_TIMEOUT_S = 60
SQLITE_CHECK_TIMEOUT_S = 5.0  # a read-only look at a file waits this long for another writer
POSTGRES_CONNECT_TIMEOUT_S = 10
OPTUNA_TABLES = frozenset({"studies", "trials", "version_info"})
EXAMPLES = "e.g. sqlite:///nas_attn.db or postgresql+psycopg://user:password@host:5432/db"


def _sqlite_options(url: URL, safe: str) -> dict[str, object]:
    database = url.database or ""
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        raise NasAttnError(
            f"storage '{safe}' is an in-memory database that keeps nothing after the command; "
            "name a file, e.g. sqlite:///nas_attn.db"
        )
    if not Path(database).parent.resolve().is_dir():
        raise NasAttnError(f"storage directory does not exist for '{safe}'; create it first")
    check_sqlite_schema(Path(database), safe)
    return {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}}


def _postgres_options(url: URL, safe: str) -> dict[str, object]:
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}}


BACKENDS: dict[str, Callable[[URL, str], dict[str, object]]] = {
    "sqlite": _sqlite_options,
    "postgresql": _postgres_options,
}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def parse_storage_url(url: str) -> URL:
    """``url`` parsed, or one NasAttnError (without secrets) naming what is wrong with it."""
    try:
        return make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise NasAttnError(f"invalid storage URL '{redact_url(url)}'; use {EXAMPLES}") from None
    except ValueError:  # the port is not a number: a typo, or an IPv6 host without brackets
        raise NasAttnError(
            f"invalid storage URL '{redact_url(url)}': its host:port is malformed (the port must be "
            f"digits; an IPv6 host goes in brackets: [::1]:5432); use {EXAMPLES}"
        ) from None


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage for ``url``; problems become one NasAttnError without secrets."""
    safe = redact_url(url)
    parsed = parse_storage_url(url)
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise NasAttnError(f"unsupported storage '{safe}'; use {' or '.join(BACKENDS)}: {EXAMPLES}")
    engine_kwargs = BACKENDS[backend](parsed, safe)
    reason = ""
    for _attempt in range(3):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
            reason = error_reason(exc, url)  # maybe another driver creating the schema at this moment
            time.sleep(0.5)
        except (ImportError, sqlalchemy.exc.NoSuchModuleError):
            raise NasAttnError(
                f"storage '{safe}' needs a database driver that is not installed; "
                "for PostgreSQL use postgresql+psycopg://… (pip install 'nas-attn[postgres]')"
            ) from None
        except (sqlalchemy.exc.SQLAlchemyError, ValueError) as exc:
            raise NasAttnError(
                f"cannot open storage '{safe}': {error_reason(exc, url)}; check the URL and the server"
            ) from None
        except RuntimeError as exc:  # Optuna's schema check on a server database
            revision = server_schema_revision(url, engine_kwargs)
            problem = schema_problem(revision, safe) if revision else schema_error_problem(exc, safe)
            raise NasAttnError(problem or f"cannot open storage '{safe}': {error_reason(exc, url)}") from None
    raise NasAttnError(f"cannot set up storage '{safe}': {reason}; check the database user's rights")


def server_schema_revision(url: str, engine_kwargs: dict[str, object]) -> str | None:
    """The Optuna schema revision a server database records (one read, nothing written), or None
    when it cannot be read. Optuna's own error names the Optuna version in the database's version
    table, which for a schema it does not know is not the one that wrote it."""
    engine = sqlalchemy.create_engine(url, **engine_kwargs)
    try:
        with engine.connect() as conn:
            return str(conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar_one())
    except sqlalchemy.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def open_existing_storage(url: str) -> optuna.storages.RDBStorage:
    """Like :func:`open_storage` for commands that only read a study: a SQLite file that does
    not exist is an error (naming the path) instead of a new empty database."""
    parsed = parse_storage_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            check_optuna_sqlite(Path(database))
    return open_storage(url)


def check_optuna_sqlite(path: Path) -> None:
    """Refuse a path that is not an existing SQLite database holding Optuna's tables (read-only
    look: opening it as a storage would create those tables in any other file)."""
    if not path.is_file():
        raise NasAttnError(
            f"no SQLite database at '{path}'; run nas-attn search first, or pass the --storage "
            "the search used"
        )
    tables, _ = read_sqlite_schema(path)
    if not tables >= OPTUNA_TABLES:
        raise NasAttnError(
            f"'{path}' is a SQLite database without nas-attn/Optuna studies (it is left unchanged); "
            "pass the --storage file a search wrote"
        )


def read_sqlite_schema(path: Path, timeout: float | None = None) -> tuple[set[str], str | None]:
    """The tables of the SQLite file ``path`` and its Optuna schema revision (None without one),
    read without writing (waiting up to ``timeout`` s for another writer's lock); a lock, a
    non-database or an unreadable file is one NasAttnError."""
    timeout = SQLITE_CHECK_TIMEOUT_S if timeout is None else timeout
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=timeout)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            revision = None
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = None if row is None else str(row[0])
    except sqlite3.Error as exc:
        raise NasAttnError(sqlite_problem(path, exc, timeout)) from None
    return tables, revision


def sqlite_problem(path: Path, exc: sqlite3.Error, timeout: float) -> str:
    """The real cause of a SQLite error on ``path`` and its fix (a lock is not a damaged file)."""
    name = getattr(exc, "sqlite_errorname", "") or ("SQLITE_BUSY" if "is locked" in str(exc) else "")
    for codes, message in SQLITE_CAUSES:
        if name in codes:
            return message.format(path=path, timeout=f"{timeout:g}", exc=exc)
    return f"'{path}' is not a SQLite database ({exc}); pass the --storage file a search wrote"


SQLITE_CAUSES: tuple[tuple[frozenset[str], str], ...] = (
    (
        frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"}),
        "'{path}' is locked by another process (still locked after {timeout} s: a write in progress, "
        "or a program holding it open in a transaction); wait for it to finish or stop it, then re-run",
    ),
    (
        frozenset({"SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH", "SQLITE_READONLY"}),
        "cannot open '{path}' ({exc}); check that you may read it and its folder",
    ),
    (
        frozenset({"SQLITE_IOERR", "SQLITE_FULL"}),
        "cannot read '{path}' ({exc}); check the disk it is on",
    ),
)


def check_sqlite_schema(path: Path, safe_url: str) -> None:
    """Refuse, before anything is written, an existing SQLite study database that another Optuna
    version set up (opening it would add tables to it, then fail)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    tables, revision = read_sqlite_schema(path, SQLITE_LOCK_TIMEOUT_S)  # a writer waits as long
    if revision is not None:
        problem = schema_problem(revision, safe_url)
        if problem is not None:
            raise NasAttnError(problem)
    elif tables & OPTUNA_TABLES:
        raise NasAttnError(
            f"'{path}' holds Optuna tables without a schema version (written by a very old Optuna or "
            "altered by hand); open it with the Optuna that wrote it, or pass another --storage"
        )


def error_reason(exc: BaseException, url: str) -> str:
    """The first line of a storage error (or its type), with the URL's password removed."""
    return redact_text(_first_line(str(exc)) or type(exc).__name__, url)
