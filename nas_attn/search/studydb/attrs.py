"""Names of the user attributes the driver writes on trials (beside the TrialResult fields)."""

from __future__ import annotations

ARCH = "arch"  # the ArchConfig dict
DIGEST = "arch_digest"  # ArchConfig.digest(): the de-duplication key
DRIVER = "driver"  # id of the driver that asked the trial (its heartbeat covers the trial)
SLOT = "evaluation_slot"  # set when the trial was sent to a worker for training
DUPLICATE_OF = "duplicate_of"  # number of the trial whose result answered this one
FAIL_REASON = "fail_reason"
RETRIES = "retries"  # how many times these parameters were re-enqueued after a loss
RETRY_OF = "retry_of"  # number of the lost trial these parameters come from
TRAINED = "trained"  # TrialResult field: False when a constraint screened the placement out
BASELINE = "baseline"  # "none" or "se": a reference placement enqueued when the study was created
WORKER_NODE = "worker_node"  # the Ray node id the trial trained on (beside the result fields)

BOOKKEEPING = frozenset(
    {ARCH, DIGEST, DRIVER, SLOT, DUPLICATE_OF, FAIL_REASON, RETRIES, RETRY_OF, BASELINE, WORKER_NODE}
)
