"""From a finished study to something a training pipeline can use.

- :func:`select_trial` picks a trial: by number, the knee of the Pareto front, or the most
  accurate one within a latency budget (both as the front shows them: means over seeds).
- :func:`export_arch` turns it into an arch YAML with provenance (study, trial, metrics, device,
  versions); :func:`export_onnx` / :func:`export_torchscript` write deployable graphs.
- Importing :mod:`nas_attn` registers the timm entrypoint ``nas_attn``, so
  ``timm.create_model("nas_attn", arch="best.yaml", num_classes=...)`` builds the exported
  network in any timm-based training script; scripts that do not import :mod:`nas_attn` (timm's
  own ``train.py``) run under ``nas-attn with-timm`` (:mod:`nas_attn.deploy.with_timm`).
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import NasAttnError
from nas_attn.outputs import storage_files, write_atomic

if TYPE_CHECKING:  # not at import: keeps `import nas_attn` free of Ray
    from nas_attn.search.results import TrialRow
    from nas_attn.search.studydb.records import StoredResult


def _complete(study: optuna.Study) -> dict[int, optuna.trial.FrozenTrial]:
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return {t.number: t for t in trials}


def select_trial(
    study: optuna.Study, trial: int | None = None, knee: bool = False, max_latency_ms: float | None = None
) -> optuna.trial.FrozenTrial:
    """Exactly one of: ``trial`` number, ``knee`` of the front, or most accurate under ``max_latency_ms``."""
    if sum([trial is not None, knee, max_latency_ms is not None]) != 1:
        raise NasAttnError("choose exactly one of --trial N, --knee or --max-latency-ms X")
    complete = _complete(study)
    if not complete:
        raise NasAttnError(
            f"study '{study.study_name}' has no complete trials yet; run nas-attn search first"
        )
    if trial is not None:
        if trial not in complete:
            raise NasAttnError(
                f"trial {trial} is not a complete trial of '{study.study_name}'; complete trials: "
                f"{', '.join(map(str, sorted(complete)))}"
            )
        _check_trained(complete[trial], study)
        return complete[trial]
    from nas_attn.search.results import ranked_rows  # not at import: keeps `import nas_attn` free of Ray

    rows = ranked_rows(study)  # trained, feasible, at the top budget
    if knee:
        chosen = next((r.number for r in rows if r.knee), None)
        if chosen is None:
            raise NasAttnError(
                f"study '{study.study_name}' has no ranked trial (its complete trials were screened out "
                "by a constraint or answered as duplicates); run more trials or export one with --trial N"
            )
        return complete[chosen]
    assert max_latency_ms is not None
    return complete[_most_accurate_within(rows, complete, max_latency_ms).number]


def _most_accurate_within(
    rows: list[TrialRow], complete: dict[int, optuna.trial.FrozenTrial], max_latency_ms: float
) -> TrialRow:
    """The ranked row with the highest accuracy the front shows (the mean over its seeds) among
    those within ``max_latency_ms`` (calibrated, on the study's current reference when it is an
    objective); ties: the lower trial number. Without such an objective, the trial's own stored
    value."""
    from nas_attn.search.studydb.records import StoredResult

    def latency(row: TrialRow) -> float:
        stored = StoredResult.of(complete[row.number]).latency_ms
        return row.values.get("latency_ms", math.inf if stored is None else stored)

    def accuracy(row: TrialRow) -> float:
        stored = StoredResult.of(complete[row.number]).accuracy
        return row.values.get("accuracy", 0.0 if stored is None else stored)

    latencies = {r.number: latency(r) for r in rows}
    within = [r for r in rows if latencies[r.number] <= max_latency_ms]
    if not within:
        fastest = min(latencies.values(), default=math.inf)
        raise NasAttnError(
            f"no trial is within {max_latency_ms} ms (fastest: {fastest:.3f} ms); raise the budget"
        )
    return max(within, key=lambda r: (accuracy(r), -r.number))


def _check_trained(trial: optuna.trial.FrozenTrial, study: optuna.Study) -> None:
    """A trial screened out by a constraint was never trained: its accuracy is no result."""
    from nas_attn.search.studydb.records import StoredResult

    if StoredResult.of(trial).trained:
        return
    from nas_attn.search.results import evaluated_trials

    trained = ", ".join(str(t.number) for t in evaluated_trials(study)) or "none yet"
    raise NasAttnError(
        f"trial {trial.number} was screened out by a constraint and never trained, so it has no accuracy "
        f"to export; export a trained trial (trained trials: {trained}) or use --knee"
    )


def _normalization(stored: StoredResult) -> dict[str, Any]:
    """``{"normalization": ...}`` from the proxy data's mean/std a trial recorded (empty if none)."""
    from nas_attn.deploy.timm_command import NORM_DECIMALS

    recorded = stored.input_normalization
    if recorded is None:  # trials of studies made before the worker recorded them
        return {}
    mean, std = recorded
    rounded = {k: [round(float(v), NORM_DECIMALS) for v in vs] for k, vs in (("mean", mean), ("std", std))}
    return {"normalization": rounded}


def _warm_start_provenance(study_attrs: dict[str, Any], key: str) -> dict[str, Any]:
    """What the placement's proxy run started from: the backbone's key and its pretraining."""
    from nas_attn.search.studydb.warm_backbones import stored_backbones

    stored = next((b for b in stored_backbones(study_attrs) if b.key == key), None)
    if stored is None:
        return {"backbone": key}
    return {
        "backbone": key,
        "epochs": stored.epochs,
        "seed": stored.seed,
        "backbone_accuracy": stored.accuracy,
    }


def export_arch(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, storage: str, out: str | Path | None = None
) -> ArchConfig:
    """The trial's ArchConfig with provenance and the proxy's input normalisation; written to
    ``out`` when given."""
    from nas_attn.search.results import objective_names, ranked_rows_and_claims
    from nas_attn.search.studydb.latency_reference import CALIBRATION_NOTE, LatencyReferences
    from nas_attn.search.studydb.records import StoredResult

    stored = StoredResult.of(trial)
    searched = stored.arch
    if searched is None:
        raise NasAttnError(
            f"trial {trial.number} carries no 'arch' user attribute; it was not made by nas-attn"
        )
    objectives = objective_names(study)
    ranked, claims = ranked_rows_and_claims(study)
    row = next((r for r in ranked if r.number == trial.number), None)
    provenance: dict[str, Any] = {
        "study": study.study_name,
        "trial": trial.number,
        "storage": storage,
        "objectives": row.values if row else dict(zip(objectives, trial.values, strict=True)),
        "metrics": stored.metrics,
        "device": stored.device or "unknown",
        "versions": stored.versions,
        "arch_digest": stored.digest,
        "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    reference = LatencyReferences.of(study.user_attrs).by_device.get(stored.device or "")
    if reference is not None and "latency_ms" in objectives:
        provenance["latency_calibration"] = {
            "note": CALIBRATION_NOTE,
            "plain_backbone_ms": reference.median_ms,
            "measured_by_trial": reference.trial,
        }
    if row is not None and row.delta_vs_baseline is not None:
        provenance["delta_vs_baseline"] = row.delta_vs_baseline.to_dict()
        provenance["p_value"], provenance["p_adjusted"] = row.p_value, row.p_adjusted
        provenance["significant"] = row.significant
        provenance["claims"] = {**claims.to_dict(), "summary": claims.describe()}
    if row is not None and row.accuracy_ci95 is not None:
        provenance["accuracy_ci95"] = row.accuracy_ci95
    if row is not None and row.seeds > 1:  # the objectives above are means over the seeds
        provenance["seeds"], provenance["objectives_std"] = row.seeds, row.spread
    if row is not None and row.fidelity_epochs is not None:
        provenance["proxy_epochs"] = row.fidelity_epochs
    if row is not None and row.racing is not None:  # the last seed decision taken for it
        provenance["racing"] = row.racing
    if stored.warm_start_key is not None:  # ranked from the study's trained plain backbone
        provenance["warm_start"] = _warm_start_provenance(study.user_attrs, stored.warm_start_key)
    arch = ArchConfig.from_dict({**searched.to_dict(), **_normalization(stored), "provenance": provenance})
    if out is not None:
        write_atomic(out, arch.to_yaml(), storage_files(storage), streams=True)
    return arch
