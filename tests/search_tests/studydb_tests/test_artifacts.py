from pathlib import Path

import optuna
from optuna.artifacts import download_artifact, get_all_artifact_meta

from nas_attn import ArchConfig
from nas_attn.search.studydb.artifacts import (
    ARTIFACT_DIR,
    artifact_dir_for,
    artifact_store_for,
)
from nas_attn.testing.artifacts import upload_trial_artifacts


def test_artifact_dir_sits_next_to_the_sqlite_file(tmp_path: Path) -> None:
    assert artifact_dir_for(f"sqlite:///{tmp_path}/x/nas.db") == tmp_path / "x" / ARTIFACT_DIR
    assert artifact_dir_for("postgresql+psycopg://u:p@h/db") == (Path.cwd() / ARTIFACT_DIR)


def test_trial_carries_arch_yaml_and_learning_curve(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nas.db"
    study = optuna.create_study(storage=url, directions=["maximize", "minimize"])
    store = artifact_store_for(url)
    arch = ArchConfig(image_size=16, stages={"layer2": {"module": "cbam", "reduction": 8}})
    trial = study.ask()
    ids = upload_trial_artifacts(store, trial, arch, [2.1, 1.5, 0.9], [0.4, 0.7, 0.9])
    study.tell(trial, [0.9, 1.0])
    metas = {m.filename: m for m in get_all_artifact_meta(study.trials[0], storage=study._storage)}
    assert set(metas) == {"arch.yaml", "learning_curve.csv"} and {
        m.artifact_id for m in metas.values()
    } == set(ids)
    download_artifact(
        artifact_store=store, artifact_id=metas["arch.yaml"].artifact_id, file_path=str(tmp_path / "a.yaml")
    )
    assert ArchConfig.from_yaml(tmp_path / "a.yaml") == arch
    download_artifact(
        artifact_store=store,
        artifact_id=metas["learning_curve.csv"].artifact_id,
        file_path=str(tmp_path / "c.csv"),
    )
    lines = (tmp_path / "c.csv").read_text().splitlines()
    assert lines[0] == "epoch,train_loss,val_accuracy" and lines[3] == "3,0.900000,0.900000"
