"""A local search's private Ray starts without the autoscaler's monitor process."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray

from nas_attn.search.execution._local_ray import without_autoscaler
from nas_attn.search.execution.pool import start_ray

pytestmark = pytest.mark.ray


def ray_commands() -> list[str]:
    """Command lines of the processes of this Ray session (each names the session's folder)."""
    session = ray._private.worker._global_node.get_session_dir_path()
    commands = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if session in text:
            commands.append(text)
    return commands


def test_a_local_start_has_no_autoscaler_monitor_and_still_runs_tasks() -> None:
    assert not ray.is_initialized()
    try:
        start_ray(None, 2)
        assert ray.get(ray.remote(lambda: 41 + 1).remote()) == 42
        commands = ray_commands()
        assert any("raylet" in c for c in commands)  # the node itself runs
        assert any("log_monitor.py" in c for c in commands)  # the listing sees Ray's helpers
        assert not [c for c in commands if "autoscaler/_private/monitor.py" in c]
    finally:
        ray.shutdown()


def test_the_switch_is_undone_after_the_start() -> None:
    from ray._private.parameter import RayParams

    original = RayParams.__init__
    with without_autoscaler() as applied:
        assert applied and RayParams.__init__ is not original
        assert RayParams().no_monitor is True
    assert RayParams.__init__ is original and RayParams().no_monitor is False
