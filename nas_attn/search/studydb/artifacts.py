"""Per-trial artifacts in Optuna's artifact store, so optuna-dashboard shows them.

Every complete trial gets its arch YAML (``arch.yaml``) and its learning curve
(``learning_curve.csv``: epoch, train loss, validation accuracy). The store is a folder next to
an SQLite database (``nas_attn.db`` -> ``nas_attn_artifacts/``) or, for server databases, in the
working directory; ``nas-attn dashboard`` opens the same folder.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import uuid
from collections.abc import Sequence
from pathlib import Path

from optuna.artifacts import ArtifactMeta, FileSystemArtifactStore
from sqlalchemy.engine import make_url

from nas_attn.backbones import ArchConfig
from nas_attn.search.studydb.optuna_private import ARTIFACTS_ATTR_PREFIX

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


def _learning_curve_csv(train_loss: Sequence[float], val_accuracy: Sequence[float]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["epoch", "train_loss", "val_accuracy"])
    for epoch, (loss, acc) in enumerate(zip(train_loss, val_accuracy, strict=False), start=1):
        writer.writerow([epoch, f"{loss:.6f}", f"{acc:.6f}"])
    return out.getvalue().encode()


def store_trial_artifacts(
    store: FileSystemArtifactStore,
    arch: ArchConfig,
    train_loss: Sequence[float],
    val_accuracy: Sequence[float],
) -> dict[str, str]:
    """Write a trial's arch YAML and learning curve to ``store``; return the trial system
    attributes that link them to the trial (what ``optuna.artifacts.upload_artifact`` writes),
    so the driver records them in the same transaction that completes the trial."""
    files = {
        "arch.yaml": ("text/yaml", arch.to_yaml().encode()),
        "learning_curve.csv": ("text/csv", _learning_curve_csv(train_loss, val_accuracy)),
    }
    links = {}
    for filename, (mimetype, content) in files.items():
        meta = ArtifactMeta(str(uuid.uuid4()), filename, mimetype, encoding=None)
        store.write(meta.artifact_id, io.BytesIO(content))
        links[ARTIFACTS_ATTR_PREFIX + meta.artifact_id] = json.dumps(dataclasses.asdict(meta))
    return links
