"""Faults with real Ray and real storage: an actor killed and a worker node removed mid-trial,
and two real drivers (CLI processes) on one PostgreSQL study over one Ray cluster.

Each ends with exactly the requested number of COMPLETE trials (the exhaustive sampler never
proposes a duplicate) and nothing RUNNING or WAITING. Trials really train; their workers
(``HeldWorker``, nas_attn.testing.held_trials) say when a trial starts and hold it at a gate,
so the test acts once the trials it needs are running and opens the gate after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from ray.cluster_utils import Cluster
from support.search import (
    FaultyPool,
    State,
    assert_consistent,
    exhaustive_space,
    held_fault,
    make_study,
    ray_cluster,
    reload,
    run_with,
    write_space,
)
from support.spaces import space_yaml

from nas_attn.search import start_ray
from nas_attn.search.execution.pool import PoolConfig
from nas_attn.testing.held_trials import HeldWorker, TrialGate

pytestmark = [pytest.mark.ray, pytest.mark.slow]
WAIT_S = 300.0


def complete(study: Any) -> list[Any]:
    return study.get_trials(states=(State.COMPLETE,))


@pytest.fixture
def local_ray() -> Iterator[None]:
    start_ray(None, 2)
    yield
    ray.shutdown()


def test_an_actor_killed_mid_trial(local_ray: None, tmp_path: Path) -> None:
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", exhaustive_space(tmp_path))
    gate = TrialGate(tmp_path / "gate")
    killed: list[Any] = []

    def kill(pool: FaultyPool) -> None:
        assert pool.first is not None
        actor = pool.worker_for(pool.first[0])
        killed.append(actor)
        ray.kill(actor)

    # both workers' first trials are held: kill the first one's actor, open the gate once it is lost
    fault = held_fault(gate, lambda pool: gate.started() >= 2, kill, lost=1)
    config = PoolConfig(workers=2, device="cpu")
    outcome = run_with(FaultyPool(config, fault, HeldWorker, gate.actor_args(config)), study, space, 3)
    assert killed and killed[0] is not None
    assert outcome.evaluated == 3 and len(complete(study)) == 3
    assert_consistent(study, 3)
    failed = [t for t in study.trials if t.state == State.FAIL]
    assert len(failed) == 1 and failed[0].user_attrs["fail_reason"].startswith("worker lost")
    retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == failed[0].number)
    assert retry.state == State.COMPLETE and retry.params == failed[0].params


@pytest.fixture
def two_node_cluster() -> Iterator[Cluster]:
    """A head without CPUs (so no trial runs next to the driver) and one 2-CPU worker node."""
    with ray_cluster(worker_nodes=1, cpus_per_node=2) as cluster:
        yield cluster


def test_a_worker_node_removed_mid_trial(two_node_cluster: Cluster, tmp_path: Path) -> None:
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", exhaustive_space(tmp_path))
    doomed = next(iter(two_node_cluster.worker_nodes))
    gate = TrialGate(tmp_path / "gate")

    def replace_node(pool: FaultyPool) -> None:
        two_node_cluster.add_node(num_cpus=2)  # where the replacement workers will go
        two_node_cluster.remove_node(doomed, allow_graceful=False)

    # both workers' first trials are held on the doomed node; the gate opens once both are lost
    fault = held_fault(gate, lambda pool: gate.started() >= 2, replace_node, lost=2)
    config = PoolConfig(workers=2, device="cpu")
    outcome = run_with(FaultyPool(config, fault, HeldWorker, gate.actor_args(config)), study, space, 3)
    assert doomed not in two_node_cluster.worker_nodes
    assert outcome.evaluated == 3 and len(complete(study)) == 3
    assert_consistent(study, 3)
    failed = [t for t in study.trials if t.state == State.FAIL]
    assert len(failed) == 2  # both workers lived on the removed node, each held in its first trial
    assert all(t.user_attrs["fail_reason"].startswith("worker lost") for t in failed)
    for lost in failed:
        retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == lost.number)
        assert retry.state == State.COMPLETE and retry.params == lost.params


def nas_attn_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, gate: TrialGate | None = None
) -> subprocess.Popen[str]:
    """``nas-attn ARGS`` in a new process; with ``gate``, its workers are HeldWorkers at that gate."""
    entry = ["nas_attn"] if gate is None else ["nas_attn.testing.held_cli", "--events", str(gate.directory)]
    return subprocess.Popen(
        [sys.executable, "-m", *entry, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        start_new_session=True,
    )


def still_running(*procs: subprocess.Popen[str]) -> Callable[[], None]:
    """A check that fails the test (with the process's stderr) once one of ``procs`` has ended."""

    def check() -> None:
        for proc in procs:
            if proc.poll() is not None:
                for other in procs:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(other.pid, signal.SIGKILL)
                out, err = proc.communicate()
                pytest.fail(f"a driver ended early (exit {proc.returncode}): {err[-2000:]} {out[-2000:]}")

    return check


@pytest.fixture
def shared_cluster() -> Iterator[str]:
    """A 2-CPU Ray cluster that two CLI drivers join with --ray-address."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    yield str(cluster.address)
    cluster.shutdown()


def test_two_cli_drivers_on_one_postgres_study(
    shared_cluster: str, postgres_url: str, tmp_path: Path
) -> None:
    space_file = write_space(tmp_path, space_yaml(sampler="random", seed=1))
    args = ["search", "--space", str(space_file), "--storage", postgres_url, "--n-trials", "4"]
    args += ["--workers", "1", "--ray-address", shared_cluster, "--device", "cpu"]
    gate = TrialGate(tmp_path / "gate")
    first = nas_attn_cli(*args, cwd=tmp_path, gate=gate)
    second = nas_attn_cli(*args, cwd=tmp_path, gate=gate)  # joins while the first is setting up
    # Each driver has one worker, so two trials held at the gate are one from each driver:
    # both train, however fast either one starts.
    gate.wait_started(2, WAIT_S, check=still_running(first, second))
    gate.open()
    outs = [p.communicate(timeout=500) for p in (first, second)]
    for proc, (out, err) in zip((first, second), outs, strict=True):
        assert proc.returncode == 0, err
        password = postgres_url.split(":")[2].split("@")[0]
        assert password not in out + err
    study = reload(postgres_url)
    assert_consistent(study, 4)
    trained = [t.user_attrs["arch_digest"] for t in study.trials if "evaluation_slot" in t.user_attrs]
    assert len(trained) == len(set(trained)) == 4, "a placement was trained twice"
    drivers = {t.user_attrs["driver"] for t in study.trials if "evaluation_slot" in t.user_attrs}
    assert len(drivers) == 2, "one driver did all the training"
