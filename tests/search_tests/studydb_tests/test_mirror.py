"""SamplerMirror: the sampler's in-memory view follows the SQL study it mirrors."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import TrialState
from support.search import make_study, write_space
from support.spaces import space_yaml

from nas_attn.search.studydb.mirror import SamplerMirror
from nas_attn.search.studydb.optuna_private import rdb_storage_of
from nas_attn.search.studydb.trial_store import TrialDraft, TrialStore


def mirror_for(study: optuna.Study) -> SamplerMirror:
    storage = rdb_storage_of(study)
    return SamplerMirror(study, TrialStore(storage, storage.get_study_id_from_name(study.study_name)))


def complete_elsewhere(study: optuna.Study, value: float) -> optuna.trial.FrozenTrial:
    """A COMPLETE trial written by someone else (another driver), through Optuna."""
    trial = study.ask({"layer1.module": optuna.distributions.CategoricalDistribution(("none", "se"))})
    trial.set_user_attr("arch", {"v": value})
    study.tell(trial, [value, 1.0])
    return study.trials[trial.number]


def test_others_complete_trials_appear_once_with_their_numbers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study, _ = make_study(url, write_space(tmp_path, space_yaml(baselines=False)))
    first = complete_elsewhere(study, 0.5)
    mirror = mirror_for(study)  # a resumed driver: the study's COMPLETE trials are loaded
    assert len(mirror.memory.trials) == 1
    second = complete_elsewhere(study, 0.7)
    running = study.ask()  # another driver's RUNNING trial: not the sampler's business yet
    mirror.sync()
    mirror.sync()  # nothing new: nothing added twice
    held = mirror.memory.get_trials(states=(TrialState.COMPLETE,))
    assert [t.values for t in held] == [[0.5, 1.0], [0.7, 1.0]]
    view = mirror.complete_view(study)
    assert [t.number for t in view.get_trials()] == [first.number, second.number]
    assert view.get_trials()[1].user_attrs == {"arch": {"v": 0.7}}
    study.tell(running, [0.9, 1.0])  # it finishes: now the mirror takes it
    mirror.sync()
    assert [t.number for t in mirror.complete_view(study).get_trials()] == [0, 1, running.number]


def test_enqueued_trials_are_noticed_and_own_trials_never_added_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study, _ = make_study(url, write_space(tmp_path, space_yaml()))
    mirror = mirror_for(study)
    waiting = [t._trial_id for t in study.get_trials() if t.state == TrialState.WAITING]
    assert mirror.waiting == waiting  # the two baselines, oldest first
    taken = mirror.store.take_waiting(mirror.waiting, {"driver": "me"})
    assert taken is not None
    memory = mirror.ask(taken.fixed_params)
    assert memory.suggest_categorical("layer1.module", ["none", "se"]) == "none"  # as enqueued
    own = mirror.store.start(taken, TrialDraft(memory.params, memory.distributions, {}, {}))
    mirror.adopt(memory, own.trial_id, own.number)
    assert mirror.waiting == waiting[1:]
    mirror.store.finish(own, TrialState.COMPLETE, [0.5, 1.0])
    mirror.tell(memory, TrialState.COMPLETE, [0.5, 1.0], {"arch": {}})
    fresh = mirror.ask()  # a new trial of its own, created after the last sync
    fresh.suggest_categorical("layer1.module", ["none", "se"])
    new = mirror.store.start(None, TrialDraft(fresh.params, fresh.distributions, {}, {}))
    mirror.adopt(fresh, new.trial_id, new.number)
    mirror.store.finish(new, TrialState.COMPLETE, [0.6, 1.0])
    mirror.tell(fresh, TrialState.COMPLETE, [0.6, 1.0], {"arch": {}})
    mirror.sync()
    assert len(mirror.memory.trials) == 2  # its own trials, not second copies from SQL
    assert [t.number for t in mirror.complete_view(study).get_trials()] == [own.number, new.number]
