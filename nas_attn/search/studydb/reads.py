"""What every reader of a study's results reads it through: ``TrialSource`` (an ``optuna.Study``,
or the driver's in-memory view of one) and ``measured_trials``, the COMPLETE trials that
measured their own placement. The door uses it to adopt studies older than the ledger; the
results (``search.results``) rank from it.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, Protocol

import optuna

from nas_attn.search.studydb import attrs

__all__ = ["TrialSource", "measured_trials"]


class TrialSource(Protocol):
    """What ranking reads of a study: an ``optuna.Study``, or the driver's in-memory view of
    one (``mirror.CompleteTrials``)."""

    @property
    def user_attrs(self) -> dict[str, Any]: ...

    @property
    def directions(self) -> list[optuna.study.StudyDirection]: ...

    def get_trials(
        self, deepcopy: bool = ..., states: Container[optuna.trial.TrialState] | None = ...
    ) -> list[optuna.trial.FrozenTrial]: ...


def measured_trials(study: TrialSource) -> list[optuna.trial.FrozenTrial]:
    """COMPLETE trials that measured their own placement: the evaluated ones and the screened
    ones (duplicates, answered from another trial, left out)."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return [t for t in complete if attrs.DUPLICATE_OF not in t.user_attrs]
