"""Starting a private, single-machine Ray for a local search with only the processes it needs.

A local search never scales and never serves Ray's web dashboard, so it starts without the
dashboard's modules (``include_dashboard=False``) and without the autoscaler's monitor process.
``ray.init`` has no public switch for the monitor; the node parameter it sets is the one
``ray start --no-monitor`` uses, applied here only while a local head starts. When a Ray release
renames it, the monitor simply starts as before.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def without_autoscaler() -> Iterator[bool]:
    """While active, a head node started by ``ray.init`` skips the autoscaler monitor; yields
    whether that could be arranged with the installed Ray."""
    try:
        from ray._private.parameter import RayParams
    except ImportError:  # pragma: no cover - a Ray without the module: start as usual
        yield False
        return
    original = RayParams.__init__
    if "no_monitor" not in inspect.signature(original).parameters:
        yield False
        return

    def init(self: RayParams, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("no_monitor", True)
        original(self, *args, **kwargs)

    RayParams.__init__ = init  # type: ignore[method-assign]
    try:
        yield True
    finally:
        RayParams.__init__ = original  # type: ignore[method-assign]
