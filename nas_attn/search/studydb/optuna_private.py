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
    "rdb_storage_of",
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
