"""TrialStore: the driver's one-transaction trial writes, read back through Optuna itself, on
SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import threading
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState
from support.search import make_study

from nas_attn import NasAttnError
from nas_attn.search.studydb.optuna_private import KNOWN_SCHEMA, check_schema, rdb_storage_of
from nas_attn.search.studydb.trial_store import TrialDraft, TrialStore

CHOICE = CategoricalDistribution(("none", "se", "eca"))


def store_for(url: str, space_file: Path) -> tuple[optuna.Study, TrialStore]:
    study, _ = make_study(url, space_file)
    storage = rdb_storage_of(study)
    return study, TrialStore(storage, storage.get_study_id_from_name(study.study_name))


def reloaded(url: str, study: optuna.Study) -> dict[int, optuna.trial.FrozenTrial]:
    fresh = optuna.load_study(study_name=study.study_name, storage=url)
    return {t.number: t for t in fresh.get_trials(deepcopy=False)}


def test_the_schema_written_is_the_one_optuna_declares(tmp_path: Path) -> None:
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'x.db'}")
    assert storage.get_head_version() == KNOWN_SCHEMA
    check_schema(storage)


def test_another_schema_is_refused_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setattr(storage, "get_head_version", lambda: "v9.9.9")
    with pytest.raises(NasAttnError, match="schema v9.9.9.*install the Optuna version pinned"):
        check_schema(storage)


def test_a_trial_started_and_finished_reads_back_as_optuna_wrote_it(
    storage_url: str, tiny_space_file: Path
) -> None:
    study, store = store_for(storage_url, tiny_space_file)
    before = len(study.get_trials())  # the enqueued baselines
    draft = TrialDraft(
        {"layer1.module": "se"}, {"layer1.module": CHOICE}, {"driver": "d1"}, {"nsga2:generation": 0}
    )
    trial = store.start(None, draft)
    assert trial.number == before
    store.finish(
        trial,
        TrialState.COMPLETE,
        [0.75, 12.5],
        {"accuracy": 0.75, "curve": [0.5, 0.75]},
        {"constraints:params <= 1": -2.0},
    )
    got = reloaded(storage_url, study)[trial.number]
    assert got.state == TrialState.COMPLETE and got.values == [0.75, 12.5]
    assert got.params == {"layer1.module": "se"} and got.distributions == {"layer1.module": CHOICE}
    assert got.user_attrs == {"driver": "d1", "accuracy": 0.75, "curve": [0.5, 0.75]}
    assert got.system_attrs["nsga2:generation"] == 0 and got.constraints == {"params <= 1": -2.0}
    assert got.datetime_start is not None and got.datetime_complete is not None
    assert got.datetime_complete >= got.datetime_start


def test_a_finished_trial_is_refused_as_optuna_refuses_it(storage_url: str, tiny_space_file: Path) -> None:
    study, store = store_for(storage_url, tiny_space_file)
    trial = store.start(None, TrialDraft({}, {}, {"driver": "d1"}, {}))
    rdb_storage_of(study).set_trial_state_values(trial.trial_id, TrialState.FAIL)  # recovered elsewhere
    with pytest.raises(UpdateFinishedTrialError):
        store.finish(trial, TrialState.COMPLETE, [0.5, 1.0], {"accuracy": 0.5})
    got = reloaded(storage_url, study)[trial.number]
    assert got.state == TrialState.FAIL and "accuracy" not in got.user_attrs and got.values is None


def test_an_attribute_set_again_is_replaced_not_duplicated(storage_url: str, tiny_space_file: Path) -> None:
    study, store = store_for(storage_url, tiny_space_file)
    trial = store.start(None, TrialDraft({}, {}, {"driver": "d1", "note": "first"}, {}))
    store.finish(trial, TrialState.FAIL, user_attrs={"note": "third", "slot": 3})
    got = reloaded(storage_url, study)[trial.number]
    assert got.user_attrs == {"driver": "d1", "note": "third", "slot": 3}


def test_an_enqueued_trial_is_taken_once_with_its_parameters(storage_url: str, tiny_space_file: Path) -> None:
    study, store = store_for(storage_url, tiny_space_file)
    waiting = [t._trial_id for t in study.get_trials() if t.state == TrialState.WAITING]
    assert len(waiting) == 2  # the baselines
    first = store.take_waiting(waiting, {"driver": "d1"})
    assert first is not None and first.user_attrs == {"baseline": "none", "driver": "d1"}
    assert first.fixed_params == {"layer1.module": "none", "layer2.module": "none"}
    again = store.take_waiting([first.trial_id], {"driver": "d2"})
    assert again is None  # already RUNNING: nobody takes it twice
    distributions = dict.fromkeys(first.fixed_params, CHOICE)
    trial = store.start(first, TrialDraft(first.fixed_params, distributions, {"arch": {}}, {}))
    assert trial.user_attrs == {"baseline": "none", "driver": "d1", "arch": {}}
    got = reloaded(storage_url, study)[first.number]
    assert got.state == TrialState.RUNNING and got.user_attrs["driver"] == "d1"
    assert got.params == first.fixed_params


def test_concurrent_starts_get_distinct_consecutive_numbers(storage_url: str, tiny_space_file: Path) -> None:
    study, store = store_for(storage_url, tiny_space_file)
    before = len(study.get_trials())
    numbers: list[int] = []

    def start_five() -> None:
        numbers.extend(store.start(None, TrialDraft({}, {}, {"driver": "d"}, {})).number for _ in range(5))

    threads = [threading.Thread(target=start_five) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(before, before + 20))
    assert sorted(reloaded(storage_url, study)) == list(range(before + 20))


def test_many_trials_start_in_order_with_their_own_parameters(
    storage_url: str, tiny_space_file: Path
) -> None:
    study, store = store_for(storage_url, tiny_space_file)
    before = len(study.get_trials())
    drafts = [
        TrialDraft({"layer1.module": m}, {"layer1.module": CHOICE}, {"driver": "d1", "k": i}, {"g": i})
        for i, m in enumerate(["none", "se", "eca"])
    ]
    trials = store.start_many(drafts)
    assert [t.number for t in trials] == [before, before + 1, before + 2]
    assert [t.params for t in trials] == [d.params for d in drafts]
    got = reloaded(storage_url, study)
    for i, trial in enumerate(trials):
        back = got[trial.number]
        assert back._trial_id == trial.trial_id and back.state == TrialState.RUNNING
        assert back.params == drafts[i].params and back.user_attrs == {"driver": "d1", "k": i}
        assert back.system_attrs == {"g": i}
