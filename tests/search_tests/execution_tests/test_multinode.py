"""A real multi-node Ray cluster (``ray.cluster_utils.Cluster``): a head with no worker resources
and two 1-CPU worker nodes, so each of the two workers lives on its own node.

Trials run on the worker nodes only (every result records its Ray node), both nodes train, and
removing one node mid-search still ends with exactly the requested COMPLETE trials, nothing
RUNNING. The proxy data is an image folder at a relative path: the driver runs where it exists,
the worker nodes (whose processes keep the directory they were started in) where it does not.
Workers that load their own files cannot start; with the data shipped through the object store
every trial trains, the replacement worker's included. The workers are ``HeldWorker``s
(nas_attn.testing.held_trials): the first two trials run freely, later ones wait at a gate, so
the node is removed while both nodes hold a trial, and the gate opens once its trial is lost.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from ray.cluster_utils import Cluster
from support.search import (
    FaultyPool,
    State,
    assert_consistent,
    held_fault,
    make_study,
    ray_cluster,
    run_with,
    write_space,
)
from support.spaces import space_yaml

from nas_attn.exceptions import NasAttnError
from nas_attn.search.execution.pool import PoolConfig, WorkerPool
from nas_attn.search.studydb.attrs import WORKER_NODE
from nas_attn.testing.held_trials import HeldWorker, TrialGate

pytestmark = [pytest.mark.ray, pytest.mark.slow]
FREE_TRIALS = 2  # one per worker node; later trials are held at the gate
COLOURS = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}


def image_folder(root: Path, per_class: int = 8) -> Path:
    """An ``imagefolder:`` dataset: train/ and val/ with one folder of PNGs per class."""
    for split, count in (("train", per_class), ("val", 2)):
        for name, colour in COLOURS.items():
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                shade = tuple(max(0, c - 9 * i) for c in colour)
                Image.new("RGB", (12, 12), shade).save(root / split / name / f"{i}.png")
    return root


def space_on(data: str, directory: Path) -> Path:
    """The tiny space (exhaustive sampler) training on the image folder at ``data``."""
    text = space_yaml(sampler="exhaustive").replace("dataset: digits", f"dataset: 'imagefolder:{data}'")
    return write_space(directory, text)


def node_ids(cluster: Cluster) -> set[str]:
    return {n.node_id for n in cluster.worker_nodes}


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(driver directory holding ``images/``, empty directory the worker nodes run in)."""
    monkeypatch.setenv("NAS_ATTN_CACHE_DIR", str(tmp_path / "cache"))
    driver, nodes = tmp_path / "driver", tmp_path / "nodes"
    nodes.mkdir()
    image_folder(driver / "images")
    return driver, nodes


@pytest.fixture
def cluster(places: tuple[Path, Path]) -> Iterator[Cluster]:
    driver, nodes = places
    with (
        working_directory(nodes),
        ray_cluster(worker_nodes=2, cpus_per_node=1) as started,
        working_directory(driver),
    ):
        yield started


def test_trials_run_on_worker_nodes_and_survive_losing_one(
    cluster: Cluster, places: tuple[Path, Path], tmp_path: Path
) -> None:
    nodes = places[1]
    space_file = space_on("images", tmp_path)  # relative: found from the driver's directory only
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", space_file)
    config = PoolConfig(workers=2, device="cpu")
    own_files = WorkerPool(dataclasses.replace(config, ship_data=False))
    try:
        with pytest.raises(NasAttnError, match="workers cannot load the proxy data.*does not exist"):
            own_files.check_ready(space.proxy)
    finally:
        own_files.shutdown()
    head = cluster.head_node.node_id
    first_nodes = node_ids(cluster)
    removed: list[str] = []
    gate = TrialGate(tmp_path / "gate")

    def both_trained_and_both_busy(pool: FaultyPool) -> bool:
        return set(pool.nodes) == first_nodes and gate.started() >= FREE_TRIALS + 2

    def remove_a_busy_node(pool: FaultyPool) -> None:
        doomed = next(n for n in cluster.worker_nodes if n.node_id in first_nodes)
        with working_directory(nodes):
            cluster.add_node(num_cpus=1)  # where the replacement worker will go
        cluster.remove_node(doomed, allow_graceful=False)
        removed.append(doomed.node_id)

    fault = held_fault(gate, both_trained_and_both_busy, remove_a_busy_node, lost=1)
    held = FaultyPool(config, fault, HeldWorker, gate.actor_args(config, hold_from=FREE_TRIALS))
    outcome = run_with(held, study, space, 6)

    assert removed, "the node was never removed"
    assert outcome.evaluated == 6
    assert_consistent(study, 6)
    complete = study.get_trials(states=(State.COMPLETE,))
    ran_on = [t.user_attrs[WORKER_NODE] for t in complete]
    assert head not in ran_on, "a trial ran on the head node"
    assert first_nodes <= set(ran_on), "both worker nodes should have trained"
    assert set(ran_on) <= first_nodes | node_ids(cluster)
    failed = [t for t in study.trials if t.state == State.FAIL]
    assert failed, "the trial on the removed node should have been lost"
    assert all(t.user_attrs["fail_reason"].startswith("worker lost") for t in failed)
    for lost in failed:
        retry = next(t for t in study.trials if t.user_attrs.get("retry_of") == lost.number)
        assert retry.state == State.COMPLETE and retry.params == lost.params
