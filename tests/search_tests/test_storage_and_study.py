from pathlib import Path

import optuna
import pytest

from nas_attn import NasAttnError, load_space
from nas_attn.search import open_storage, open_study, redact_url


def test_redact_hides_passwords() -> None:
    assert (
        redact_url("postgresql+psycopg://alice:s3cret@db:5432/nas")
        == "postgresql+psycopg://alice:***@db:5432/nas"
    )
    assert "s3cret" not in redact_url("weird://bob:s3cret@host")
    assert redact_url("sqlite:///nas_attn.db") == "sqlite:///nas_attn.db"


def test_storage_errors_are_clear_and_secret_free(tmp_path: Path) -> None:
    with pytest.raises(NasAttnError, match="storage directory does not exist"):
        open_storage(f"sqlite:///{tmp_path}/missing/dir/x.db")
    with pytest.raises(NasAttnError) as err:
        open_storage("postgresql+psycopg://alice:s3cret@127.0.0.1:1/nas")
    assert "s3cret" not in str(err.value) and "cannot open storage" in str(err.value)
    with pytest.raises(NasAttnError, match="invalid storage URL"):
        open_storage("not a url")


def test_study_is_created_once_and_resumed(tmp_path: Path, tiny_space_file: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    space = load_space(tiny_space_file)
    study = open_study(open_storage(url), "tiny", space, "nsga2")
    study.tell(study.ask(), [0.5, 1.0])
    again = open_study(open_storage(url), "tiny", space, "random")
    assert again._study_id == study._study_id and len(again.trials) == 1
    assert len(optuna.get_all_study_summaries(url)) == 1
    assert again.user_attrs["objectives"] == ["accuracy", "latency_ms"]


def test_resuming_with_a_different_space_is_refused(tmp_path: Path, tiny_space_file: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    open_study(open_storage(url), "tiny", load_space(tiny_space_file), "nsga2")
    changed = tiny_space_file.read_text().replace("reduction: [4, 16]", "reduction: [8, 16]", 1)
    other = tiny_space_file.with_name("changed.yaml")
    other.write_text(changed)
    with pytest.raises(NasAttnError, match="different search space.*--study NEW_NAME"):
        open_study(open_storage(url), "tiny", load_space(other), "nsga2")
    # the number of trials is not part of a study's identity
    more = tiny_space_file.with_name("more.yaml")
    more.write_text(tiny_space_file.read_text().replace("n_trials: 3", "n_trials: 30"))
    open_study(open_storage(url), "tiny", load_space(more), "nsga2")
