"""A restricted unpickler for data files from elsewhere (CIFAR python batches).

Only plain data comes back: dicts, lists, tuples, bytes, strings, numbers, booleans, None and
numpy arrays / scalars. Every other global a pickle names (``os.system``, ``builtins.eval``,
any class) is refused before it is looked up, so a crafted file cannot run code on load.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

#: (module, name) pairs a numpy array or scalar pickle needs, across numpy 1.x/2.x and protocols.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    [
        (module, name)
        for module in ("numpy.core.multiarray", "numpy._core.multiarray")
        for name in ("_reconstruct", "scalar")
    ]
    + [(module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")]
    + [("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")]
)

MAX_PICKLE_BYTES = 1 << 30  # larger than any CIFAR batch (~31 MB) by far


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global outside :data:`ALLOWED_GLOBALS`."""


class DataOnlyUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(f"it names {module}.{name}, which is not plain data")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("it uses persistent ids, which plain data never does")


def load_data_pickle(path: Path, encoding: str = "bytes") -> Any:
    """Unpickle ``path`` allowing plain data only; raises UnsafePickleError on anything else."""
    if path.stat().st_size > MAX_PICKLE_BYTES:
        raise UnsafePickleError(f"it is larger than {MAX_PICKLE_BYTES >> 20} MB")
    data = path.read_bytes()
    return DataOnlyUnpickler(io.BytesIO(data), encoding=encoding).load()
