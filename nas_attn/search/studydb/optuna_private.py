"""Every private Optuna name nas-attn relies on, in one place, beside the schema pin (KNOWN_SCHEMA).

The driver writes Optuna's trial tables itself (``trial_store``) and the seed runs' study
attributes under the study row's lock (``seed_ledger``), reads the RDB storage under a
study's cache layer (``ledger``, ``trial_store``), addresses trials by their storage id, and
records artifact links under the key Optuna's own ``upload_artifact`` uses. None of that is
public API, so it is named here only: a newer Optuna is refused at start by :func:`check_schema`
(with the fix), and ``tests/search_tests/test_trial_store.py`` pins the rest. Upgrading Optuna
means reading this file and its tests, nothing else.
"""

from __future__ import annotations

import re
from typing import Any

import optuna
from optuna.artifacts._upload import ARTIFACTS_ATTR_PREFIX
from optuna.storages._rdb import models

from nas_attn.exceptions import NasAttnError

__all__ = [
    "ARTIFACTS_ATTR_PREFIX",
    "FINITE",
    "FIXED_PARAMS",
    "KNOWN_SCHEMA",
    "PARAMS",
    "STUDIES",
    "STUDY_USER_ATTRS",
    "SYSTEM_ATTRS",
    "TRIALS",
    "USER_ATTRS",
    "VALUES",
    "check_schema",
    "optuna_schemas",
    "rdb_storage_of",
    "schema_error_problem",
    "schema_problem",
    "trial_id_of",
]

KNOWN_SCHEMA = "v3.2.0.a"  # Optuna's RDB schema (alembic revision) our trial writes were written for
FIXED_PARAMS = "fixed_params"  # Optuna's system attribute on an enqueued trial

# Optuna's declared tables (so column types and enum names match what Optuna itself writes)
TRIALS = models.TrialModel.__table__
PARAMS = models.TrialParamModel.__table__
VALUES = models.TrialValueModel.__table__
USER_ATTRS = models.TrialUserAttributeModel.__table__
SYSTEM_ATTRS = models.TrialSystemAttributeModel.__table__
STUDIES = models.StudyModel.__table__
STUDY_USER_ATTRS = models.StudyUserAttributeModel.__table__
FINITE = models.TrialValueModel.TrialValueType.FINITE


def check_schema(storage: optuna.storages.RDBStorage) -> None:
    """Refuse a storage whose Optuna schema is not the one our trial writes were made for."""
    head = storage.get_head_version()
    if head != KNOWN_SCHEMA:
        raise NasAttnError(
            f"this Optuna declares storage schema {head}, but nas-attn writes trials for schema "
            f"{KNOWN_SCHEMA}; install the Optuna version pinned in constraints.txt"
        )


def optuna_schemas() -> list[str]:
    """Every storage schema (alembic revision) this Optuna can upgrade from, newest first."""
    from pathlib import Path

    from alembic.script import ScriptDirectory
    from optuna.storages import _rdb

    return [r.revision for r in ScriptDirectory(str(Path(_rdb.__file__).parent / "alembic")).walk_revisions()]


def schema_problem(revision: str, safe_url: str) -> str | None:
    """Why a database of Optuna schema ``revision`` cannot be opened, with the fix (None: it can).

    An older schema this Optuna knows is upgraded in place by Optuna's own command; a schema it
    does not know was written by a newer Optuna (or another program)."""
    if revision == KNOWN_SCHEMA:
        return None
    if revision in optuna_schemas():
        return (
            f"storage '{safe_url}' was written by an older Optuna (schema {revision}; Optuna "
            f"{optuna.__version__} here uses {KNOWN_SCHEMA}); back it up, then upgrade it with "
            f"`optuna storage upgrade --storage {safe_url}`"
        )
    return (
        f"storage '{safe_url}' was written by another Optuna version (schema {revision}, unknown to "
        f"Optuna {optuna.__version__} here, which uses {KNOWN_SCHEMA}); open it with the Optuna "
        "that wrote it, or pass another --storage (it is left unchanged)"
    )


def schema_error_problem(exc: RuntimeError, safe_url: str) -> str | None:
    """:func:`schema_problem` for Optuna's own "no longer compatible with the table schema" error
    (a server database, whose schema is read by Optuna itself), or None for another error."""
    text = str(exc)
    if "table schema" not in text:
        return None
    match = re.search(r"set up by optuna ([^)\s]+)", text)
    writer = f"Optuna {match[1]}" if match else "another Optuna"
    if "optuna storage upgrade" in text:
        return (
            f"storage '{safe_url}' was written by an older Optuna ({writer}); back it up, then "
            f"upgrade it with `optuna storage upgrade --storage {safe_url}`"
        )
    return (
        f"storage '{safe_url}' was written by a newer Optuna ({writer}) than Optuna {optuna.__version__} "
        "here; open it with the Optuna that wrote it, or pass another --storage (it is left unchanged)"
    )


def rdb_storage_of(study: optuna.Study) -> optuna.storages.RDBStorage:
    """The RDBStorage under ``study`` (Optuna wraps it in a private cache layer)."""
    storage = getattr(study, "_storage", None)
    storage = getattr(storage, "_backend", storage)
    if not isinstance(storage, optuna.storages.RDBStorage):
        raise NasAttnError(
            "nas-attn needs an SQL storage for its study ledger; use sqlite:///FILE or postgresql+psycopg://…"
        )
    return storage


def trial_id_of(trial: optuna.Trial | optuna.trial.FrozenTrial | Any) -> int:
    """The storage's id of ``trial`` (Optuna numbers trials per study; storages address them by id)."""
    return int(trial._trial_id)
