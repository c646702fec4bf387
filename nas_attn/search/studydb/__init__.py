"""The study database: the Optuna study on SQL storage and the driver's tables and writes next to it.

``storage`` opens a storage URL (SQLite or PostgreSQL, credentials never printed); ``study``
creates or resumes a space's study; ``ledger`` holds the slot table that makes several drivers on
one study safe and ``drivers`` the driver rows beside it (who a driver is, its heartbeat, whether
it lives); their schema is ``_ledger_schema`` (private to this package). ``trial_store`` writes
each step of a trial in one transaction; ``door`` is the driver's one front door for every write
of a trial's life (and its contract); ``mirror`` is the sampler's in-memory view of the study;
``recovery`` fails and re-enqueues what dead drivers and lost workers leave behind; ``attrs``
names every user attribute the study stores (trials and study), ``records`` reads and writes
them as typed records; ``reads`` is how results read a
study (``TrialSource``, ``measured_trials``); ``latency_reference`` keeps the study's
plain-backbone latency for calibration; ``optuna_private`` is every private Optuna name we use.

The names below are what the driver and the use cases need, importable from the package. Modules
of this package import each other by module path, never from here (that would be a cycle).
"""

from __future__ import annotations

from nas_attn.search.studydb import attrs
from nas_attn.search.studydb.door import (
    Asked,
    Draft,
    DriverReads,
    LedgerReads,
    MirrorReads,
    StudyDatabase,
    TrialReport,
)
from nas_attn.search.studydb.drivers import HEARTBEAT_S, STALE_AFTER_S, DriverInfo, DriverRow, driver_alive
from nas_attn.search.studydb.latency_reference import LatencyReferences
from nas_attn.search.studydb.ledger import (
    EVALUATED,
    FAILED,
    RESERVED,
    RUNNING,
    SCREENED,
    Evaluation,
    SlotState,
)
from nas_attn.search.studydb.recovery import can_retry, retry_note
from nas_attn.search.studydb.storage import (
    DEFAULT_STORAGE,
    error_reason,
    open_existing_storage,
    open_storage,
    redact_url,
)
from nas_attn.search.studydb.study import check_study, load_existing_study, open_study
from nas_attn.search.studydb.trial_store import TakenTrial

__all__ = [
    "DEFAULT_STORAGE",
    "EVALUATED",
    "FAILED",
    "HEARTBEAT_S",
    "RESERVED",
    "RUNNING",
    "SCREENED",
    "STALE_AFTER_S",
    "Asked",
    "Draft",
    "DriverInfo",
    "DriverReads",
    "DriverRow",
    "Evaluation",
    "LatencyReferences",
    "LedgerReads",
    "MirrorReads",
    "SlotState",
    "StudyDatabase",
    "TakenTrial",
    "TrialReport",
    "attrs",
    "can_retry",
    "check_study",
    "driver_alive",
    "error_reason",
    "load_existing_study",
    "open_existing_storage",
    "open_storage",
    "open_study",
    "redact_url",
    "retry_note",
]
