"""``proxy.warm_start`` through ``nas-attn search`` as a user runs it (real Ray workers, SQLite)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml
from support.cli import nas_attn
from support.spaces import SMALL_STAGES, space_yaml

from nas_attn.search.studydb.warm_backbones import stored_backbones
from nas_attn.worker.warm_start import WarmBackbone

WARM_SPACE = space_yaml(SMALL_STAGES, name="warm").replace(
    "crop_padding: 1}", "crop_padding: 1, warm_start: {epochs: 1}}"
)


def _trained(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The complete trials that trained (not answered as duplicates of another)."""
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    return [t for t in complete if "duplicate_of" not in t.user_attrs]


@pytest.mark.ray
@pytest.mark.slow
def test_a_search_trains_the_backbone_once_and_every_trial_and_resume_starts_from_it(tmp_path: Path) -> None:
    space = tmp_path / "warm.yaml"
    space.write_text(WARM_SPACE)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    common = ("--space", str(space), "--storage", storage, "--workers", "2", "--device", "cpu")
    first = nas_attn("search", "--n-trials", "3", *common, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("training the plain backbone for seed 0") == 1
    assert "1 epochs from the plain backbone trained 1 epochs once per seed (warm start)" in first.stdout
    assert "+ 1 warm-start backbone(s) (1 epochs)" in first.stdout  # the search summary's compute line

    study = optuna.load_study(study_name="warm", storage=storage)
    [stored] = stored_backbones(study.user_attrs)
    path = tmp_path / "nas_attn_artifacts" / "warm_start" / stored.file
    assert WarmBackbone.from_bytes(path.read_bytes()).key == stored.key
    trials = _trained(study)
    assert len(trials) == 3 and {t.user_attrs["warm_start_key"] for t in trials} == {stored.key}

    exported = nas_attn(
        "export", "--study", "warm", "--storage", storage, "--knee", "--out", "knee.yaml", cwd=tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    provenance = yaml.safe_load((tmp_path / "knee.yaml").read_text())["provenance"]
    assert provenance["warm_start"] == {
        "backbone": stored.key,
        "epochs": 1,
        "seed": 0,
        "backbone_accuracy": stored.accuracy,
    }

    resumed = nas_attn("search", "--n-trials", "4", *common, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "training the plain backbone" not in resumed.stdout  # kept with the study: not retrained
    study = optuna.load_study(study_name="warm", storage=storage)
    assert stored_backbones(study.user_attrs) == [stored]
    trials = _trained(study)
    assert len(trials) == 4 and {t.user_attrs["warm_start_key"] for t in trials} == {stored.key}
