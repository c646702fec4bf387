"""Simulated trials: a worker that sleeps instead of training and returns a TrialResult-shaped dict.

For orchestration benchmarks and tests of the driver, the pool and storage at scale. The actor
must start fast (64 of them on a laptop), so this module imports nothing from ``nas_attn`` at
module level (the package imports torch) and is pickled *by value* for Ray: a worker process
receives the class without importing ``nas_attn``. The result's field list comes from
:func:`result_template`, built once on the driver side; the values a simulated trial sets go
through :func:`result_fields`, which mypy checks against ``TrialResult``'s constructor, so a
renamed or retyped field fails the type check rather than a test.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec

from ray import cloudpickle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from nas_attn.worker.evaluate import TrialResult
    from nas_attn.worker.request import WireRequest

cloudpickle.register_pickle_by_value(sys.modules[__name__])

_P = ParamSpec("_P")


def _keywords_of(signature: Callable[_P, object]) -> Callable[_P, dict[str, Any]]:
    """A function that returns its keyword arguments, typed with ``signature``'s parameters."""

    def keywords(*args: _P.args, **kwargs: _P.kwargs) -> dict[str, Any]:
        return dict(kwargs)

    return keywords


if TYPE_CHECKING:
    result_fields = _keywords_of(TrialResult)
else:

    def result_fields(**fields: Any) -> dict[str, Any]:
        """The given TrialResult fields as a dict (mypy checks them against ``TrialResult``)."""
        return fields


_BY_TYPE: dict[str, Any] = {"int": 0, "float": 0.0, "str": "", "bool": False}


def result_template() -> dict[str, Any]:
    """Every TrialResult field with its default (or a zero of its type): the shape to fill."""
    import dataclasses

    from nas_attn.worker.evaluate import TrialResult

    out: dict[str, Any] = {}
    for f in dataclasses.fields(TrialResult):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = _BY_TYPE.get(str(f.type).split("|")[0].strip(), 0.0)
    return out


def simulated_result(arch: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """A realistic TrialResult dict that depends only on the placement ``arch`` (an arch dict)."""
    return {**template, **simulated_fields(arch)}


def simulated_fields(arch: dict[str, Any]) -> dict[str, Any]:
    """The TrialResult fields a simulated trial of ``arch`` sets (every required one included)."""
    h = int(hashlib.sha256(json.dumps(arch, sort_keys=True).encode()).hexdigest()[:12], 16)
    latency = 1.0 + (h // 997) % 1000 / 100
    return result_fields(
        accuracy=(h % 997) / 997,
        latency_ms=latency,
        latency_iqr_ms=0.01,
        latency_ratio=latency / 1.0,
        latency_ratio_iqr=0.01,
        baseline_latency_ms=1.0,
        params=11_000_000 + h % 100_000,
        macs=140_000_000 + h % 1_000_000,
        train_seconds=0.0,
        images_per_second=0.0,
        device="simulated",
        epochs=1,
        epochs_completed=1.0,
        val_accuracy_curve=[(h % 997) / 997],
        train_loss_curve=[1.0],
    )


def node_id() -> str:
    """The Ray node this process runs on ('' outside Ray)."""
    import ray

    return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else ""


class SimulatedWorker:
    """A pool actor (the PoolWorker interface) whose trials sleep ``trial_seconds`` and succeed."""

    def __init__(self, trial_seconds: float, template: dict[str, Any]) -> None:
        self.trial_seconds = trial_seconds
        self.template = template

    def warm_up(self, proxy: dict[str, Any], data: Any = None) -> str:
        return ""

    def run(self, **request: Unpack[WireRequest]) -> dict[str, Any]:
        time.sleep(self.trial_seconds)
        result = simulated_result(request["arch"], self.template)
        return {"status": "ok", "result": result, "node_id": node_id()}
