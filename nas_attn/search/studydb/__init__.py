"""The study database: the Optuna study on SQL storage and the driver's tables and writes next to it.

``storage`` opens a storage URL (SQLite or PostgreSQL, credentials never printed); ``study``
creates or resumes a space's study; ``ledger`` holds the slot and driver tables that make several
drivers on one study safe (their schema: ``_ledger_schema``, private to this package);
``trial_store`` writes each step of a trial in one transaction; ``door`` is the driver's one
front door for every write of a trial's life (and its contract); ``mirror`` is the sampler's
in-memory view of the study; ``recovery`` fails and re-enqueues what dead drivers and lost
workers leave behind; ``trial_attrs`` names the trial attributes the driver writes;
``latency_reference`` keeps the study's plain-backbone latency for calibration.
"""
