"""A small finished study written exactly as a search writes one (values + user attrs), no training."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
import torch

from nas_attn import ArchConfig

ROWS = [("se", 0.60, 1.0), ("eca", 0.90, 2.0), ("cbam", 0.95, 5.0), ("none", 0.70, 3.0)]
NORMALIZATION = ([0.25, 0.5, 0.75], [0.2, 0.3, 0.4])  # the proxy data's mean and std a worker reports


def make_finished_study(
    directory: Path,
    rows: list[tuple[str, float, float]] = ROWS,
    name: str = "s",
    db: str = "s.db",
    normalization: tuple[list[float], list[float]] = NORMALIZATION,
    with_params: bool = False,
) -> optuna.Study:
    """Trials 0..n-1 with ``layer1`` = module and values (accuracy, latency_ms); plus one failed trial.

    ``with_params``: each trial also holds the sampled parameter ``layer1.module`` as a search
    records it, and the study names its metrics (what optuna-dashboard shows)."""
    study = optuna.create_study(
        study_name=name, storage=f"sqlite:///{directory}/{db}", directions=["maximize", "minimize"]
    )
    study.set_user_attr("objectives", ["accuracy", "latency_ms"])
    modules = sorted({module for module, _, _ in rows} | {"none"})
    if with_params:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(["accuracy", "latency_ms"])
    for module, accuracy, latency in rows:
        arch = ArchConfig(image_size=16, stages={"layer1": {"module": module}, "layer2": {"module": "none"}})
        if with_params:
            study.enqueue_trial({"layer1.module": module})
        trial = study.ask()
        if with_params:
            assert trial.suggest_categorical("layer1.module", modules) == module
        for key, value in {
            "arch": arch.to_dict(),
            "arch_digest": arch.digest(),
            "accuracy": accuracy,
            "latency_ms": latency,
            "params": 11_000_000,
            "device": "cpu test",
            "versions": {"torch": torch.__version__},
            "input_mean": normalization[0],
            "input_std": normalization[1],
        }.items():
            trial.set_user_attr(key, value)
        study.tell(trial, [accuracy, latency])
    failed = study.ask()
    failed.set_user_attr("fail_reason", "training diverged: loss is nan")
    study.tell(failed, state=optuna.trial.TrialState.FAIL)
    return study
