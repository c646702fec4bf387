"""Device nodes for tests of outputs: whether this process may make them (root with CAP_MKNOD,
as in a default Docker container), and a pytest mark that skips a test saying why when not."""

from __future__ import annotations

import functools
import os
import stat
import tempfile
from pathlib import Path

import pytest

NULL = os.makedev(1, 3)  # /dev/null's numbers: writes vanish
FULL = os.makedev(1, 7)  # /dev/full's numbers: every write fails with ENOSPC


@functools.cache
def can_mknod() -> bool:
    """True if a character device node can be made here (tried once, in a temp folder)."""
    if os.geteuid() != 0:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        try:
            os.mknod(Path(tmp) / "null", stat.S_IFCHR | 0o600, NULL)
        except OSError:
            return False
    return True


NEEDS_MKNOD = pytest.mark.skipif(
    not can_mknod(), reason="making a device node (os.mknod) needs root with CAP_MKNOD"
)
