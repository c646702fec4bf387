"""One handle per trial with a phase: the moves ``RunTrials`` makes, then a whole driver run in
which every trial it asked (trained, duplicate parked and answered, bracket member,
failed) ends TOLD and nothing is left in flight."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.search import make_study, write_space
from support.spaces import space_yaml

from nas_attn.search.driver import NullObserver
from nas_attn.search.driver._handles import Phase, TrialHandle
from nas_attn.search.driver._state import RunTrials, Setup
from nas_attn.search.driver.loop import _Driver
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.studydb.door import Asked
from nas_attn.testing.fakes import FakePool


def asked(number: int) -> Asked:
    return Asked(sql=SimpleNamespace(number=number), memory=None)  # type: ignore[arg-type]


def test_a_trained_trial_moves_asked_training_asked_told() -> None:
    trials = RunTrials()
    handle = trials.open(asked(3), None, "d3")
    assert handle.phase is Phase.ASKED and len(trials) == 1 and not trials.in_flight()
    trials.send(handle, ticket=7)
    assert handle.phase is Phase.TRAINING and handle.ticket == 7
    assert trials.training() == [handle] and trials.in_flight()
    assert trials.returned(7) is handle
    assert handle.phase is Phase.ASKED and handle.ticket is None and not trials.in_flight()
    with pytest.raises(KeyError):
        trials.returned(7)  # a ticket comes back once
    trials.told(handle)
    assert handle.phase is Phase.TOLD and len(trials) == 0


def test_a_duplicate_waits_for_its_holder_and_a_member_is_bracketed_between_rungs() -> None:
    trials = RunTrials()
    parked = trials.open(asked(1), None, "same")
    trials.park(parked, holder=0)
    assert parked.phase is Phase.WAITING and parked.holder == 0
    assert trials.waiting() == [parked] and trials.in_flight() and trials.training() == []
    member = trials.open(asked(2), None, "m")
    member.member = object()  # type: ignore[assignment]  # any bracket membership
    trials.send(member, ticket=1)
    trials.returned(1)
    assert member.phase is Phase.BRACKETED and len(trials) == 2
    trials.send(member, ticket=2)  # promoted: trains again at the next budget
    assert member.phase is Phase.TRAINING and trials.training() == [member]
    trials.told(member)  # told while training (another driver failed it): the ticket is let go
    trials.told(parked)
    assert trials.training() == [] and not trials.in_flight() and len(trials) == 0


class SpyTrials(RunTrials):
    """Records every phase each handle passes through."""

    def __init__(self) -> None:
        super().__init__()
        self.phases: dict[int, list[Phase]] = {}

    def _saw(self, handle: TrialHandle) -> None:
        self.phases.setdefault(handle.number, []).append(handle.phase)

    def open(self, *args: Any, **kwargs: Any) -> TrialHandle:
        handle = super().open(*args, **kwargs)
        self._saw(handle)
        return handle

    def send(self, handle: TrialHandle, ticket: int) -> None:
        super().send(handle, ticket)
        self._saw(handle)

    def returned(self, ticket: int) -> TrialHandle:
        handle = super().returned(ticket)
        self._saw(handle)
        return handle

    def park(self, handle: TrialHandle, holder: int) -> None:
        super().park(handle, holder)
        self._saw(handle)

    def told(self, handle: TrialHandle) -> None:
        super().told(handle)
        self._saw(handle)


def run_spied(
    tmp_path: Path, yaml: str, target: int, pool: FakePool, enqueue: list[dict[str, Any]]
) -> SpyTrials:
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", write_space(tmp_path, yaml))
    for params in enqueue:
        study.enqueue_trial(params)
    driver = _Driver(Setup.build(study, space, target, pool, NullObserver()))
    spy = SpyTrials()
    driver.state.trials = spy
    driver.run()
    assert len(spy) == 0 and not spy.in_flight()  # nothing left behind
    assert len(spy.phases) == len(study.get_trials())  # one handle per trial the run asked
    assert all(seen[-1] is Phase.TOLD and seen.count(Phase.TOLD) == 1 for seen in spy.phases.values())
    return spy


DUPLICATED = {
    "layer1.module": "none",
    "layer2.module": "cbam",
    "layer2.reduction": 16,
    "layer2.position": "block",
}


def test_a_run_tells_every_handle_once_duplicates_failures_included(tmp_path: Path) -> None:
    diverge = {2}

    def script(index: int, arch: object) -> Outcome | None:
        return Outcome("failed", reason="diverged") if index in diverge else None

    pool = FakePool(workers=2, polls=5, script=script)
    spy = run_spied(tmp_path, space_yaml(baselines=False), 4, pool, [DUPLICATED, DUPLICATED])
    assert spy.phases[0] == [Phase.ASKED, Phase.TRAINING, Phase.ASKED, Phase.TOLD]
    assert spy.phases[1] == [Phase.ASKED, Phase.WAITING, Phase.TOLD]  # parked until trial 0 ended
    trained = [
        seen for seen in spy.phases.values() if seen == [Phase.ASKED, Phase.TRAINING, Phase.ASKED, Phase.TOLD]
    ]
    assert len(trained) == len(pool.trained)  # every trained trial came back once and was told once


def test_bracket_members_are_bracketed_between_rungs_then_told_once(tmp_path: Path) -> None:
    yaml = space_yaml(sampler="exhaustive", fidelity="{epochs: [1, 3], bracket: 4}", baselines=False)
    spy = run_spied(tmp_path, yaml, 8, FakePool(workers=2), [])
    promoted = [seen for seen in spy.phases.values() if seen.count(Phase.TRAINING) == 2]
    assert promoted  # the front of each bracket trained again at 3 epochs
    for seen in spy.phases.values():
        rungs = seen.count(Phase.TRAINING)
        assert seen == [Phase.ASKED] + [Phase.TRAINING, Phase.BRACKETED] * rungs + [Phase.TOLD]
