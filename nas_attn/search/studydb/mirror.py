"""The sampler's view of the study, kept in memory next to the SQL study.

Optuna samplers read the whole study on every ask; on an RDB study that is a query per read that
reloads every RUNNING trial with all its rows (with 64 workers, 64 trials per read, several
reads per trial). The driver instead runs the study's sampler on an in-memory study that holds:

- every trial this driver asked, in the same state as in SQL (RUNNING, then COMPLETE or FAIL):
  the driver tells the mirror what it tells the storage;
- every COMPLETE trial of the SQL study asked by anyone else (another driver, an earlier run),
  added before each ask. Finding them is one small query (the ids and states of trials newer
  than the last one seen, and of others' unfinished ones), loading them one read per new trial.

So the sampler sees what it would see on the SQL study, except other drivers' RUNNING and
still-enqueued trials (the ledger keeps two drivers from training the same placement anyway).
Enqueued parameters (baselines, retries) are enqueued on the mirror when their SQL trial is
taken, so the sampler samples around them exactly as Optuna does.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Container
from typing import Any

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from nas_attn.search.studydb.optuna_private import trial_id_of
from nas_attn.search.studydb.trial_store import TrialStore


class SamplerMirror:
    """The in-memory study the sampler of ``study`` samples from (see the module docstring)."""

    def __init__(self, study: optuna.Study, store: TrialStore) -> None:
        self.store = store
        self.memory = optuna.create_study(directions=study.directions, sampler=study.sampler)
        self.mirrored: set[int] = set()  # SQL trial ids the mirror holds
        self.sql_numbers: dict[int, int] = {}  # mirror trial number -> SQL trial number
        self.last_seen = -1  # the newest SQL trial id seen
        self.unfinished: set[int] = set()  # others' trials seen RUNNING or WAITING: watched
        self.waiting: list[int] = []  # SQL trials seen WAITING (enqueued), oldest first
        self.sync()

    def sync(self) -> None:
        """Catch up with the SQL study: add others' newly COMPLETE trials, note enqueued ones."""
        changes = self.store.changes(self.last_seen, self.unfinished)
        if changes:
            self.last_seen = max(self.last_seen, changes[-1][0])
        complete, waiting = [], []
        for trial_id, state in changes:
            if trial_id in self.mirrored:
                continue
            self.unfinished.discard(trial_id)
            if state == TrialState.COMPLETE:
                complete.append(trial_id)
            elif not state.is_finished():
                self.unfinished.add(trial_id)
                if state == TrialState.WAITING:
                    waiting.append(trial_id)
        self.waiting = waiting
        if complete:
            loaded = self.store.load(complete)
            first = len(self.memory.get_trials(deepcopy=False))  # add_trials numbers them from here
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.memory.add_trials(loaded)
            self.sql_numbers.update({first + i: t.number for i, t in enumerate(loaded)})
            self.mirrored.update(complete)

    def ask(self, fixed_params: dict[str, Any] | None = None) -> optuna.Trial:
        """A new trial on the mirror; ``fixed_params`` as if it had been enqueued."""
        if fixed_params:
            self.memory.enqueue_trial(fixed_params, skip_if_exists=False)
        return self.memory.ask()

    def adopt(self, trial: optuna.Trial, sql_id: int, sql_number: int) -> None:
        """The SQL trial ``sql_id`` is the mirror's ``trial``: never add it again."""
        self.mirrored.add(sql_id)
        self.sql_numbers[trial.number] = sql_number
        self.unfinished.discard(sql_id)
        if sql_id in self.waiting:
            self.waiting.remove(sql_id)

    def system_attrs(self, trial: optuna.Trial) -> dict[str, Any]:
        """What the sampler stored on the mirror trial (e.g. its NSGA-II generation, constraints)."""
        return dict(trial.storage.get_trial_system_attrs(trial_id_of(trial)))

    def tell(
        self,
        trial: optuna.Trial,
        state: TrialState,
        values: list[float] | None = None,
        user_attrs: dict[str, Any] | None = None,
    ) -> None:
        """Finish the mirror trial as its SQL trial was finished, with the SQL trial's user
        attributes (the sampler's after_trial runs)."""
        if trial.storage.get_trial(trial_id_of(trial)).state.is_finished():
            return
        for key, value in (user_attrs or {}).items():
            trial.storage.set_trial_user_attr(trial_id_of(trial), key, value)
        self.memory.tell(trial, values if state == TrialState.COMPLETE else None, state=state)

    def complete_view(self, study: optuna.Study) -> CompleteTrials:
        """The study's COMPLETE trials as the mirror holds them (call :meth:`sync` first), under
        their SQL numbers: what ``results.py`` ranks, without reloading the study."""
        complete = self.memory.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        renumbered = []
        for trial in complete:
            twin = copy.copy(trial)
            twin.number = self.sql_numbers[trial.number]
            renumbered.append(twin)
        return CompleteTrials(sorted(renumbered, key=lambda t: t.number), study.user_attrs, study.directions)


class CompleteTrials:
    """COMPLETE trials with a study's attributes and directions: the part of ``optuna.Study``
    that ranking reads (``reads.TrialSource``)."""

    def __init__(
        self, trials: list[FrozenTrial], user_attrs: dict[str, Any], directions: list[StudyDirection]
    ) -> None:
        self.trials, self.user_attrs, self.directions = trials, user_attrs, directions

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        chosen = [t for t in self.trials if states is None or t.state in states]
        return copy.deepcopy(chosen) if deepcopy else chosen
