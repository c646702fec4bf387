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

SQLITE_LOCK_TIMEOUT_S = 60
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
    return {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}}


def _postgres_options(url: URL, safe: str) -> dict[str, object]:
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}}


BACKENDS: dict[str, Callable[[URL, str], dict[str, object]]] = {
    "sqlite": _sqlite_options,
    "postgresql": _postgres_options,
}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage for ``url``; problems become one NasAttnError without secrets."""
    safe = redact_url(url)
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise NasAttnError(f"invalid storage URL '{safe}'; use {EXAMPLES}") from None
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
    raise NasAttnError(f"cannot set up storage '{safe}': {reason}; check the database user's rights")


def open_existing_storage(url: str) -> optuna.storages.RDBStorage:
    """Like :func:`open_storage` for commands that only read a study: a SQLite file that does
    not exist is an error (naming the path) instead of a new empty database."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        parsed = None
    if parsed is not None and parsed.get_backend_name() == "sqlite":
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
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as exc:
        raise NasAttnError(
            f"'{path}' is not a SQLite database ({exc}); pass the --storage file a search wrote"
        ) from None
    if not tables >= OPTUNA_TABLES:
        raise NasAttnError(
            f"'{path}' is a SQLite database without nas-attn/Optuna studies (it is left unchanged); "
            "pass the --storage file a search wrote"
        )


def error_reason(exc: BaseException, url: str) -> str:
    """The first line of a storage error (or its type), with the URL's password removed."""
    return redact_text(_first_line(str(exc)) or type(exc).__name__, url)
