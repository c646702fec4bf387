"""Small studies for the search tests and checks of what they hold; Ray clusters and faulty
pools (with held trials, so a fault lands mid-trial). The spaces themselves: ``support.spaces``."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import ray
from ray.cluster_utils import Cluster

from nas_attn import load_space
from nas_attn.search import SearchOutcome, open_storage, open_study, run_search
from nas_attn.search.execution.pool import PoolConfig, PoolWorker, WorkerPool
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb.reads import measured_trials
from nas_attn.testing.held_trials import TrialGate
from nas_attn.worker.request import TrainRequest
from support.spaces import space_yaml

State = optuna.trial.TrialState


def write_space(directory: Path, text: str, filename: str = "space.yaml") -> Path:
    path = directory / filename
    path.write_text(text)
    return path


def make_study(url: str, space_file: Path, sampler: str | None = None) -> tuple[optuna.Study, SearchSpace]:
    space = load_space(space_file)
    study = open_study(open_storage(url), space.name, space, sampler or space.search.sampler)
    return study, space


def reload(url: str, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def states(study: optuna.Study) -> Counter[str]:
    return Counter(t.state.name for t in study.get_trials(deepcopy=False))


def assert_consistent(study: optuna.Study, evaluated_target: int) -> None:
    """Exactly ``evaluated_target`` evaluated placements, all distinct; nothing RUNNING/WAITING;
    every duplicate points at an evaluated trial with the same placement and values."""
    trials = study.get_trials(deepcopy=False)
    assert not [t.number for t in trials if t.state in (State.RUNNING, State.WAITING)]
    done = measured_trials(study)
    assert len(done) == evaluated_target, states(study)
    digests = [t.user_attrs["arch_digest"] for t in done]
    assert len(set(digests)) == len(digests), "a placement was evaluated twice"
    by_number = {t.number: t for t in done}
    for t in trials:
        if t.state == State.COMPLETE and "duplicate_of" in t.user_attrs:
            source = by_number[t.user_attrs["duplicate_of"]]
            assert source.user_attrs["arch_digest"] == t.user_attrs["arch_digest"]
            assert source.values == t.values
        if t.state == State.FAIL:
            assert t.user_attrs.get("fail_reason"), f"trial {t.number} failed without a reason"


def exhaustive_space(directory: Path) -> Path:
    """The tiny space with the exhaustive sampler (never proposes a duplicate)."""
    return write_space(directory, space_yaml(sampler="exhaustive"))


@contextlib.contextmanager
def ray_cluster(worker_nodes: int, cpus_per_node: int) -> Iterator[Cluster]:
    """A connected local Ray cluster: a head without CPUs (no trial runs beside the driver) and
    ``worker_nodes`` nodes of ``cpus_per_node`` CPUs."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(worker_nodes):
        cluster.add_node(num_cpus=cpus_per_node)
    cluster.wait_for_nodes()
    cluster.connect()
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


Fault = Callable[["FaultyPool"], bool]
FAULT_WAIT_S = 300.0  # a fault's condition not met by then fails the test


class FaultyPool(WorkerPool):
    """A real pool that calls ``fault(pool)`` at each poll until it returns True (it fired).

    It runs in the driver's own poll, the main thread (Ray's node management installs signal
    handlers). ``first`` is the first trial's (ticket, submit time); ``nodes`` lists the Ray
    node of every trial result, in order; ``lost`` counts the trials lost with their worker.
    ``actor``, ``actor_args``: as for WorkerPool (e.g. a HeldWorker and its gate's arguments).
    """

    def __init__(
        self,
        config: PoolConfig,
        fault: Fault,
        actor: type = PoolWorker,
        actor_args: tuple[Any, ...] | None = None,
    ) -> None:
        super().__init__(config, actor, actor_args)
        self.fault = fault
        self.first: tuple[int, float] | None = None
        self.fired = False
        self.nodes: list[str] = []
        self.lost = 0

    def submit(self, request: TrainRequest) -> int:
        ticket = super().submit(request)
        if self.first is None:
            self.first = (ticket, time.monotonic())
        return ticket

    def poll(self, timeout: float) -> list[tuple[int, Outcome]]:
        if not self.fired:
            self.fired = self.fault(self)
        outcomes = super().poll(timeout)
        self.nodes += [o.node_id or "" for _, o in outcomes if o.result is not None]
        self.lost += sum(o.kind == "lost" for _, o in outcomes)
        return outcomes


def held_fault(
    gate: TrialGate, ready: Callable[[FaultyPool], bool], action: Callable[[FaultyPool], None], lost: int
) -> Fault:
    """A fault for a pool of HeldWorkers at ``gate``: once ``ready(pool)`` (e.g. enough trials
    have started, and wait at the gate), ``action(pool)``; once the pool has seen ``lost``
    trials lost, open the gate (it fired). So the action lands mid-trial, and no held trial
    goes on before the pool knows what the action cost. AssertionError when either takes
    longer than ``FAULT_WAIT_S``."""
    acted = False
    deadline: float | None = None

    def fault(pool: FaultyPool) -> bool:
        nonlocal acted, deadline
        if deadline is None:
            deadline = time.monotonic() + FAULT_WAIT_S
        if not acted:
            if not ready(pool):
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"the fault's condition never held within {FAULT_WAIT_S:.0f}s "
                        f"({gate.started()} trials started at the gate, results from nodes {pool.nodes})"
                    )
                return False
            action(pool)
            acted = True
        if pool.lost < lost:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the pool saw {pool.lost} of {lost} trials lost within {FAULT_WAIT_S:.0f}s"
                )
            return False
        gate.open()
        return True

    return fault


def run_with(
    pool: WorkerPool,
    study: optuna.Study,
    space: SearchSpace,
    n_trials: int,
    before_trials: Callable[[], None] | None = None,
) -> SearchOutcome:
    """Warm the pool up, call ``before_trials``, run the real driver to ``n_trials``, shut the
    pool down."""
    try:
        pool.check_ready(space.proxy)
        if before_trials is not None:
            before_trials()
        return run_search(study, space, n_trials, pool)
    finally:
        pool.shutdown()
