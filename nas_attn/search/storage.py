"""Optuna storage from a URL: SQLite with lock timeouts by default; credentials never printed."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from nas_attn.exceptions import NasAttnError

DEFAULT_STORAGE = "sqlite:///nas_attn.db"
SQLITE_LOCK_TIMEOUT_S = 60


def redact_url(url: str) -> str:
    """The storage URL with any password replaced by ``***`` (safe for logs and errors)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a SQLAlchemy URL: still hide anything that looks like user:pass@
        return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage for ``url``; problems become one NasAttnError without secrets."""
    safe = redact_url(url)
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        raise NasAttnError(
            f"invalid storage URL '{safe}'; use e.g. sqlite:///nas_attn.db or postgresql+psycopg://user@host/db"
        ) from None
    engine_kwargs: dict[str, object] = {}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not Path(database).parent.resolve().is_dir():
            raise NasAttnError(f"storage directory does not exist for '{safe}'; create it first")
        engine_kwargs["connect_args"] = {"timeout": SQLITE_LOCK_TIMEOUT_S}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NasAttnError(
            f"cannot open storage '{safe}': {redact_url(reason)}; check the URL and server"
        ) from None
