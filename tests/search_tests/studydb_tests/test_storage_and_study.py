from pathlib import Path

import optuna
import pytest
from support.search import State, make_study

from nas_attn import NasAttnError, load_space
from nas_attn.search import open_storage, open_study, redact_url, sample_arch
from nas_attn.search.studydb.drivers import DriverRows
from nas_attn.search.studydb.ledger import Ledger
from nas_attn.search.studydb.storage import redact_text


def test_redact_hides_passwords() -> None:
    assert (
        redact_url("postgresql+psycopg://alice:s3cret@db:5432/nas")
        == "postgresql+psycopg://alice:***@db:5432/nas"
    )
    assert "s3cret" not in redact_url("weird://bob:s3cret@host")
    assert redact_url("sqlite:///nas_attn.db") == "sqlite:///nas_attn.db"
    url = "postgresql+psycopg://alice:s3cret@db/nas"
    assert redact_text("failed for postgresql+psycopg://alice:s3cret@db/nas (s3cret)", url) == (
        "failed for postgresql+psycopg://alice:***@db/nas (***)"
    )


def test_storage_errors_are_clear_and_secret_free(tmp_path: Path) -> None:
    with pytest.raises(NasAttnError, match="storage directory does not exist"):
        open_storage(f"sqlite:///{tmp_path}/missing/dir/x.db")
    with pytest.raises(NasAttnError) as err:
        open_storage("postgresql+psycopg://alice:s3cret@127.0.0.1:1/nas")
    assert "s3cret" not in str(err.value) and "cannot open storage" in str(err.value)
    with pytest.raises(NasAttnError, match="invalid storage URL"):
        open_storage("not a url")
    with pytest.raises(NasAttnError, match="unsupported storage 'redis://"):
        open_storage("redis://localhost:6379")


def test_postgres_storage_opens_and_holds_a_study(postgres_url: str, tiny_space_file: Path) -> None:
    study, _ = make_study(postgres_url, tiny_space_file)
    assert open_storage(postgres_url).engine.dialect.name == "postgresql"
    assert [s.study_name for s in optuna.get_all_study_summaries(postgres_url)] == ["tiny"]
    assert DriverRows(Ledger.of(study)).drivers() == {}


def test_study_is_created_once_and_resumed(storage_url: str, tiny_space_file: Path) -> None:
    space = load_space(tiny_space_file)
    study = open_study(open_storage(storage_url), "tiny", space, "nsga2")
    assert [t.state for t in study.trials] == [State.WAITING, State.WAITING]  # the two baselines
    assert [t.user_attrs["baseline"] for t in study.trials] == ["none", "se"]
    trial = study.ask()
    sample_arch(trial, space)
    assert trial.number == 0 and trial.params == {"layer1.module": "none", "layer2.module": "none"}
    study.tell(trial, [0.5, 1.0])
    again = open_study(open_storage(storage_url), "tiny", space, "random")
    assert again._study_id == study._study_id and len(again.trials) == 2  # nothing enqueued twice
    assert len(optuna.get_all_study_summaries(storage_url)) == 1
    assert again.user_attrs["objectives"] == ["accuracy", "latency_ms"]


def test_resuming_with_a_different_space_is_refused(tmp_path: Path, tiny_space_file: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    open_study(open_storage(url), "tiny", load_space(tiny_space_file), "nsga2")
    changed = tiny_space_file.read_text().replace("reduction: [4, 16]", "reduction: [8, 16]", 1)
    other = tiny_space_file.with_name("changed.yaml")
    other.write_text(changed)
    with pytest.raises(NasAttnError, match="different search space; to search this space start a new study"):
        open_study(open_storage(url), "tiny", load_space(other), "nsga2")
    # the number of trials, the sampler and the seed are not part of a study's identity
    more = tiny_space_file.with_name("more.yaml")
    more.write_text(
        tiny_space_file.read_text().replace("n_trials: 3", "n_trials: 30").replace("seed: 0", "seed: 5")
    )
    open_study(open_storage(url), "tiny", load_space(more), "tpe")


def test_a_study_not_made_by_nas_attn_is_refused(tmp_path: Path, tiny_space_file: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    foreign = optuna.create_study(study_name="tiny", storage=url, directions=["maximize", "minimize"])
    foreign.tell(foreign.ask(), [0.1, 1.0])
    with pytest.raises(NasAttnError, match="exists but was not created by nas-attn; pass --study NEW_NAME"):
        open_study(open_storage(url), "tiny", load_space(tiny_space_file), "nsga2")
