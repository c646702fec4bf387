"""Warm-start backbones kept with the study (``proxy.warm_start``), so a resumed search, its extra
seeds and a second driver start every placement from the same trained backbone, trained once.

The bytes (safetensors) live in the study's artifact folder under ``warm_start/``, named by key and
checksum; the study attribute ``warm_start:<key>`` records the file, its SHA-256, the seed, the
pretraining epochs, accuracy and seconds. A file that is missing or fails its checksum is not
used (the search trains the backbone again and says so).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nas_attn.outputs import write_atomic
from nas_attn.search.studydb import attrs
from nas_attn.search.studydb.latency_reference import StudyAttrs
from nas_attn.search.studydb.records import Attrs

FOLDER = "warm_start"


@dataclass(frozen=True)
class StoredBackbone:
    """What the study records of one warm-start backbone."""

    key: str
    file: str
    sha256: str
    seed: int
    epochs: int
    accuracy: float
    train_seconds: float
    stored_at: float

    @classmethod
    def from_attr(cls, value: Any) -> StoredBackbone | None:
        try:
            return cls(**value)
        except TypeError:  # not a mapping of these fields: not ours to use
            return None


def stored_backbones(study_attrs: Attrs) -> list[StoredBackbone]:
    """Every warm-start backbone the study records."""
    found = (
        StoredBackbone.from_attr(value)
        for name, value in study_attrs.items()
        if name.startswith(attrs.WARM_START_PREFIX) and isinstance(value, dict)
    )
    return [b for b in found if b is not None]


class StudyBackbones:
    """Load and keep a study's warm-start backbones (the ``BackboneStore`` a search's pool uses)."""

    def __init__(self, study: StudyAttrs, artifact_dir: Path, notice: Callable[[str], None]) -> None:
        self.study = study
        self.directory = artifact_dir / FOLDER
        self.notice = notice  # says why a stored backbone is not used

    def load(self, key: str) -> bytes | None:
        """The stored bytes of backbone ``key``, or None (not stored, file gone or altered)."""
        stored = StoredBackbone.from_attr(self.study.user_attrs.get(attrs.WARM_START_PREFIX + key))
        if stored is None:
            return None
        path = self.directory / stored.file
        if not path.is_file():
            self.notice(f"warm-start backbone {key}: {path} is missing; training it again")
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != stored.sha256:
            self.notice(f"warm-start backbone {key}: {path} fails its checksum; training it again")
            return None
        return data

    def save(
        self, key: str, data: bytes, seed: int, epochs: int, accuracy: float, train_seconds: float
    ) -> Path:
        """Write the bytes (atomically) and record them in the study."""
        digest = hashlib.sha256(data).hexdigest()
        self.directory.mkdir(parents=True, exist_ok=True)
        path = write_atomic(
            self.directory / f"{key}-{digest[:16]}.safetensors", data, flag="warm-start backbone"
        )
        stored = StoredBackbone(key, path.name, digest, seed, epochs, accuracy, train_seconds, time.time())
        self.study.set_user_attr(attrs.WARM_START_PREFIX + key, asdict(stored))
        return path
