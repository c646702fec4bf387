"""Artifacts the way a running trial would upload them, for tests of the dashboard's artifact view.

The search itself writes artifact links in the transaction that completes a trial
(:func:`nas_attn.search.studydb.artifacts.store_trial_artifacts`); only tests upload them for a
trial still running.
"""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.artifacts import FileSystemArtifactStore

from nas_attn.backbones import ArchConfig
from nas_attn.search.studydb.artifacts import store_trial_artifacts
from nas_attn.search.studydb.optuna_private import ARTIFACTS_ATTR_PREFIX, trial_id_of


def upload_trial_artifacts(
    store: FileSystemArtifactStore,
    trial: optuna.Trial,
    arch: ArchConfig,
    train_loss: Sequence[float],
    val_accuracy: Sequence[float],
) -> list[str]:
    """Upload the arch YAML and learning curve of a still-running ``trial``; return artifact ids."""
    links = store_trial_artifacts(store, arch, train_loss, val_accuracy)
    for key, value in links.items():
        trial.storage.set_trial_system_attr(trial_id_of(trial), key, value)
    return [key.removeprefix(ARTIFACTS_ATTR_PREFIX) for key in links]
