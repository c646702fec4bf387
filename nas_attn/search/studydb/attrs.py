"""Every user attribute key the study stores, on its trials and on the study itself.

The values are what existing studies hold: never change one (a study written before would read
differently). Writers and readers alike take the key from here; outside this package they read and write
through the typed records of :mod:`~nas_attn.search.studydb.records`.
"""

from __future__ import annotations

# -- trial bookkeeping: what the driver writes on a trial beside its result ------------------
ARCH = "arch"  # the ArchConfig dict
DIGEST = "arch_digest"  # ArchConfig.digest(): the de-duplication key
DRIVER = "driver"  # id of the driver that asked the trial (its heartbeat covers the trial)
SLOT = "evaluation_slot"  # set when the trial was sent to a worker for training
DUPLICATE_OF = "duplicate_of"  # number of the trial whose result answered this one
FAIL_REASON = "fail_reason"
RETRIES = "retries"  # how many times these parameters were re-enqueued after a loss
RETRY_OF = "retry_of"  # number of the lost trial these parameters come from
BASELINE = "baseline"  # "none" or "se": a reference placement enqueued when the study was created
WORKER_NODE = "worker_node"  # the Ray node id the trial trained on (beside the result fields)

BOOKKEEPING = frozenset(
    {ARCH, DIGEST, DRIVER, SLOT, DUPLICATE_OF, FAIL_REASON, RETRIES, RETRY_OF, BASELINE, WORKER_NODE}
)

# -- result fields: TrialResult fields, stored one attribute each (TrialResult.to_dict) --------
ACCURACY = "accuracy"
LATENCY_MS = "latency_ms"
PARAMS = "params"
EPOCHS = "epochs"  # the budget the result was trained at
DEVICE = "device"
VERSIONS = "versions"
INPUT_MEAN = "input_mean"  # the proxy's normalization, exported with the arch
INPUT_STD = "input_std"
TRAINED = "trained"  # False when a constraint screened the placement out
LATENCY_REFERENCE_MS = "latency_reference_ms"  # the reference a trial's latency_ms used
LATENCY_IQR_MS = "latency_iqr_ms"
LATENCY_RATIO = "latency_ratio"  # over the plain backbone, timed interleaved
LATENCY_RAW_MS = "latency_raw_ms"  # the uncalibrated median
MACS = "macs"
PEAK_MEMORY_MB = "peak_memory_mb"
WARM_START_KEY = "warm_start_key"  # the warm-start backbone the trial started from ("" : from scratch)

# the measured metrics export writes into an arch YAML's provenance, in this order
METRICS = (ACCURACY, LATENCY_MS, LATENCY_IQR_MS, LATENCY_RATIO, LATENCY_RAW_MS, PARAMS, MACS, PEAK_MEMORY_MB)

# -- fidelity: a multi-fidelity bracket member's budgets (driver/fidelity.py) ----------------
FIDELITY_EPOCHS = "fidelity_epochs"  # the budget its values come from (the highest it reached)
FIDELITY_HISTORY = "fidelity_history"  # [{epochs, <objective>: value, ...}] per budget trained
FIDELITY_SPENT = "fidelity_epochs_spent"  # epochs trained over all its budgets
FIDELITY_NOTE = "fidelity_note"  # why a promoted run did not count (it failed at the larger budget)

# -- study-level: attributes of the study itself --------------------------------------------
SPACE_ATTR = "nas_attn_space"  # the space identity the study stores (study.py)
OBJECTIVES_ATTR = "objectives"  # the objective names, in the order of the study's values
LATENCY_REFERENCE_ATTR = "latency_reference"  # {device: LatencyReference dict}
PROXY_VALIDATION_ATTR = "proxy_validation"  # [ProxyValidation dict] per validate-proxy run
CLAIMS_ATTR = "claims"  # {method, alpha, compared, significant}: claims against the plain backbone
SEED_RUNS_PREFIX = "seed_runs:"  # + trial number: that trial's extra seeds (seeds/runner.py)
WARM_START_PREFIX = "warm_start:"  # + backbone key: a warm-start backbone kept with the study
RACING_PREFIX = "racing:"  # + trial number: the seed decisions taken for that trial


def seed_runs_key(trial_number: int) -> str:
    """The study user attribute holding the seed re-runs of trial ``trial_number``."""
    return f"{SEED_RUNS_PREFIX}{trial_number}"


def racing_key(trial_number: int) -> str:
    """The study user attribute holding the seed decisions taken for trial ``trial_number``."""
    return f"{RACING_PREFIX}{trial_number}"
