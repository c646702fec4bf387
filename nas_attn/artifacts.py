"""Per-trial artifacts in Optuna's artifact store, so optuna-dashboard shows them.

Every complete trial gets its arch YAML (``arch.yaml``) and its learning curve
(``learning_curve.csv``: epoch, train loss, validation accuracy). The store is a folder next to
an SQLite database (``nas_attn.db`` -> ``nas_attn_artifacts/``) or, for server databases, in the
working directory; ``nas-attn dashboard`` opens the same folder.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact
from sqlalchemy.engine import make_url

from nas_attn.backbones import ArchConfig

ARTIFACT_DIR = "nas_attn_artifacts"


def artifact_dir_for(storage_url: str) -> Path:
    """Where a study's artifacts live for ``storage_url``."""
    try:
        url = make_url(storage_url)
    except Exception:
        return Path(ARTIFACT_DIR)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / ARTIFACT_DIR
    return Path(ARTIFACT_DIR).resolve()


def artifact_store_for(storage_url: str) -> FileSystemArtifactStore:
    directory = artifact_dir_for(storage_url)
    directory.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(directory))


def upload_trial_artifacts(
    store: FileSystemArtifactStore,
    trial: optuna.Trial,
    arch: ArchConfig,
    train_loss: Sequence[float],
    val_accuracy: Sequence[float],
) -> list[str]:
    """Upload the arch YAML and learning curve of a still-running ``trial``; return artifact ids."""
    with tempfile.TemporaryDirectory() as tmp:
        arch_path = Path(tmp) / "arch.yaml"
        arch.to_yaml(arch_path)
        curve_path = Path(tmp) / "learning_curve.csv"
        with curve_path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", "train_loss", "val_accuracy"])
            for epoch, (loss, acc) in enumerate(zip(train_loss, val_accuracy, strict=False), start=1):
                writer.writerow([epoch, f"{loss:.6f}", f"{acc:.6f}"])
        return [
            upload_artifact(
                artifact_store=store, file_path=str(arch_path), study_or_trial=trial, mimetype="text/yaml"
            ),
            upload_artifact(
                artifact_store=store, file_path=str(curve_path), study_or_trial=trial, mimetype="text/csv"
            ),
        ]
