"""On-disk cache of decoded datasets as uint8 arrays (``.npz``), written atomically.

The folder is ``$NAS_ATTN_CACHE_DIR``, else ``$XDG_CACHE_HOME/nas-attn``, else
``~/.cache/nas-attn``. Entries are named by a key the caller derives from everything that
changes the content, so a stale entry is never read; delete the folder to reclaim space.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


def cache_dir() -> Path:
    """Where decoded datasets are kept."""
    if env := os.environ.get("NAS_ATTN_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nas-attn"


def cache_key(payload: Any) -> str:
    """Stable SHA-256 of a JSON-able description of the cached content."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def load_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays cached at ``path``, or None when absent or unreadable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile):
        return None


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` via a temporary file and rename; warn (not fail) on errors."""
    tmp_name = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp.npz", delete=False) as tmp:
            tmp_name = tmp.name
            np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp_name, path)
    except OSError as exc:
        if tmp_name:
            Path(tmp_name).unlink(missing_ok=True)
        warnings.warn(
            f"could not cache the decoded dataset at {path} ({exc}); set NAS_ATTN_CACHE_DIR to a "
            "writable folder so the next load is instant",
            stacklevel=2,
        )
