"""Optuna storage from a URL: SQLite (default) or PostgreSQL; credentials never printed.

SQLite waits up to ``SQLITE_LOCK_TIMEOUT_S`` for a lock instead of failing at once (readers
such as optuna-dashboard share the file). PostgreSQL (``postgresql+psycopg://user:pass@host/db``)
gets a connect timeout, so an unreachable server is reported in seconds, and pre-ping, so a
restarted server's dropped connections are replaced.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import URL, make_url

from nas_attn.exceptions import NasAttnError

DEFAULT_STORAGE = "sqlite:///nas_attn.db"
SQLITE_LOCK_TIMEOUT_S = 60
POSTGRES_CONNECT_TIMEOUT_S = 10
EXAMPLES = "e.g. sqlite:///nas_attn.db or postgresql+psycopg://user:password@host:5432/db"


def redact_url(url: str) -> str:
    """The storage URL with any password replaced by ``***`` (safe for logs and errors)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL: still hide anything that looks like user:pass@
        return _hide_userinfo(url)


def _hide_userinfo(text: str) -> str:
    return re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", text)


def redact_text(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with the URL's password removed wherever it appears."""
    try:
        password = make_url(url).password
    except Exception:
        password = None
    if password:
        text = text.replace(str(password), "***")
    return _hide_userinfo(text)


def _sqlite_options(url: URL, safe: str) -> dict[str, object]:
    database = url.database or ""
    if database and database != ":memory:" and not Path(database).parent.resolve().is_dir():
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
        if database and database != ":memory:" and not Path(database).is_file():
            raise NasAttnError(
                f"no SQLite database at '{database}'; run nas-attn search first, or pass the --storage "
                "the search used"
            )
    return open_storage(url)


def error_reason(exc: BaseException, url: str) -> str:
    """The first line of a storage error (or its type), with the URL's password removed."""
    return redact_text(_first_line(str(exc)) or type(exc).__name__, url)
