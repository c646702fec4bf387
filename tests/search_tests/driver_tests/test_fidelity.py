"""Multi-fidelity: the successive-halving schedule alone, then through the real driver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.search import State, make_study, write_space
from support.spaces import space_yaml

from nas_attn.exceptions import NasAttnError
from nas_attn.search import run_search
from nas_attn.search.driver.fidelity import FidelitySchedule, Member
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.results import ranked_rows
from nas_attn.search.sampling.space import load_space
from nas_attn.search.studydb.attrs import FIDELITY_EPOCHS, FIDELITY_HISTORY, FIDELITY_SPENT
from nas_attn.testing.fakes import FakePool, fake_result, ok_outcome
from nas_attn.worker.evaluate import TrialResult

OBJECTIVES = ["accuracy", "latency_ms"]
# the fields a result must have; only the objectives and "trained" matter to the schedule
BLANK = {
    "latency_iqr_ms": 0.0,
    "params": 0,
    "train_seconds": 0.0,
    "images_per_second": 0.0,
    "epochs": 1,
    "device": "cpu",
}
DIRECTIONS = ["maximize", "minimize"]


def schedule(
    bracket: int = 4, promote: str | float = "front", epochs: tuple[int, ...] = (1, 3)
) -> FidelitySchedule:
    return FidelitySchedule(list(epochs), bracket, promote, OBJECTIVES, DIRECTIONS)


def result(accuracy: float, latency: float, trained: bool = True) -> TrialResult:
    return TrialResult.from_dict({**BLANK, "accuracy": accuracy, "latency_ms": latency, "trained": trained})


def fill(s: FidelitySchedule, points: list[tuple[float, float]]) -> list[Member]:
    members = [s.admit(i, f"trial-{i}") for i in range(len(points))]
    for member, (acc, lat) in zip(members, points, strict=True):
        s.record(member, result(acc, lat))
    return members


def test_a_full_rung_promotes_only_its_non_dominated_members() -> None:
    s = schedule()
    # (0.9, 5) and (0.8, 2) are non-dominated; (0.7, 6) and (0.6, 3) are dominated
    members = fill(s, [(0.9, 5.0), (0.7, 6.0), (0.8, 2.0), (0.6, 3.0)])
    assert sorted(m.key for m in s.take_finals()) == [1, 3]
    promoted = [s.next_promotion(), s.next_promotion()]
    assert s.next_promotion() is None
    assert sorted(m.key for m in promoted if m) == [0, 2]
    assert all(s.budget(m) == 3 for m in promoted if m)
    for member in promoted:
        assert member is not None
        s.record(member, result(0.95, 5.0))
    finals = s.take_finals()
    assert sorted(m.key for m in finals) == [0, 2] and s.pending == 0
    assert all(len(m.results) == 2 for m in finals)
    assert members[1].results == [result(0.7, 6.0)]


def test_a_rung_waits_until_every_member_has_a_result() -> None:
    s = schedule()
    a, b = s.admit(0, "a"), s.admit(1, "b")
    s.record(a, result(0.9, 1.0))
    assert s.next_promotion() is None and not s.take_finals()  # bracket still open (2 of 4)
    s.admit(2, "c")
    d = s.admit(3, "d")
    s.record(b, result(0.1, 9.0))
    s.record(d, result(0.2, 8.0))
    assert s.next_promotion() is None  # c still running
    assert s.pending == 4


def test_a_fraction_promotes_the_best_by_rank_then_crowding() -> None:
    s = schedule(bracket=6, promote=0.5)
    fill(s, [(0.9, 5.0), (0.8, 2.0), (0.85, 3.0), (0.5, 9.0), (0.6, 8.0), (0.4, 9.5)])
    promoted = set()
    while (m := s.next_promotion()) is not None:
        promoted.add(m.key)
    # ceil(0.5 * 6) = 3: the whole first front (0, 1, 2) fits exactly
    assert promoted == {0, 1, 2}
    assert sorted(m.key for m in s.take_finals()) == [3, 4, 5]


def test_closing_a_partial_bracket_ranks_what_it_has() -> None:
    s = schedule(bracket=8)
    fill(s, [(0.9, 5.0), (0.7, 6.0)])
    assert s.next_promotion() is None
    s.close_open()
    promoted = s.next_promotion()
    assert promoted is not None and promoted.key == 0
    assert [m.key for m in s.take_finals()] == [1]


def test_screened_out_members_are_final_at_once_and_never_promoted() -> None:
    s = schedule(bracket=2)
    a, b = s.admit(0, "a"), s.admit(1, "b")
    s.record(a, result(0.0, 50.0, trained=False))
    assert [m.key for m in s.take_finals()] == [0]
    s.record(b, result(0.5, 5.0))
    promoted = s.next_promotion()
    assert promoted is not None and promoted.key == 1


def test_a_promoted_run_that_fails_keeps_its_previous_budget() -> None:
    s = schedule(bracket=2)
    fill(s, [(0.9, 5.0), (0.8, 2.0)])
    first, second = s.next_promotion(), s.next_promotion()
    assert first is not None and second is not None
    assert s.failed(first, "training diverged") is True
    s.record(second, result(0.95, 2.0))
    finals = {m.key: m for m in s.take_finals()}
    assert finals[first.key].rung == 0 and len(finals[first.key].results) == 1
    assert "diverged" in finals[first.key].note
    assert len(finals[second.key].results) == 2


def test_a_lost_promotion_is_retried_once_then_kept_at_its_previous_budget() -> None:
    s = schedule(bracket=1)
    fill(s, [(0.9, 5.0)])
    member = s.next_promotion()
    assert member is not None and s.lost(member, "worker lost") is True
    again = s.next_promotion()
    assert again is member
    assert s.lost(member, "worker lost") is True
    assert s.next_promotion() is None
    assert [m.key for m in s.take_finals()] == [0] and member.rung == 0


def test_a_first_budget_failure_leaves_the_bracket_to_the_driver() -> None:
    s = schedule(bracket=2)
    a, b = s.admit(0, "a"), s.admit(1, "b")
    assert s.failed(a, "bad placement") is False
    s.record(b, result(0.5, 5.0))
    assert s.next_promotion() is b


def test_stop_finalizes_everyone_not_running() -> None:
    s = schedule(bracket=2, epochs=(1, 2, 4))
    fill(s, [(0.9, 5.0), (0.8, 2.0)])
    running = s.next_promotion()
    assert running is not None
    s.stop()
    assert [m.key for m in s.take_finals()] == [1 - running.key]
    s.record(running, result(0.95, 5.0))
    assert [m.key for m in s.take_finals()] == [running.key] and s.pending == 0


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{epochs: [3, 1]}", "strictly increasing"),
        ("{epochs: [2]}", "at least 2"),
        ("{epochs: [1, 3], promote: 1.5}", "between 0 and 1"),
        ("{epochs: [1, 3], bracket: 1}", "greater than or equal to 2"),
    ],
)
def test_bad_fidelity_settings_are_refused_at_load(tmp_path: Path, block: str, message: str) -> None:
    path = write_space(tmp_path, space_yaml(fidelity=block))
    with pytest.raises(NasAttnError, match=message):
        load_space(path)


def accuracy_by_budget(pool: FakePool) -> Any:
    """Results whose accuracy grows with the epochs the payload asked for."""

    def script(index: int, arch: Any) -> Outcome:
        epochs = pool.payloads[index]["proxy"]["epochs"]
        out = fake_result(arch)
        out["accuracy"] = min(1.0, out["accuracy"] * 0.5 + 0.1 * epochs)
        out["epochs"] = epochs
        return ok_outcome(out)

    return script


def test_the_driver_trains_brackets_up_the_budgets_and_ranks_the_top_one(tmp_path: Path) -> None:
    path = write_space(
        tmp_path, space_yaml(sampler="exhaustive", fidelity="{epochs: [1, 3], bracket: 4}", baselines=False)
    )
    study, space = make_study(f"sqlite:///{tmp_path / 's.db'}", path)
    pool = FakePool(workers=2)
    pool.script = accuracy_by_budget(pool)
    outcome = run_search(study, space, 8, pool)

    trials = study.get_trials(deepcopy=False)
    assert outcome.evaluated == 8 and all(t.state == State.COMPLETE for t in trials) and len(trials) == 8
    budgets = [p["proxy"]["epochs"] for p in pool.payloads]
    assert budgets.count(1) == 8 and 2 <= budgets.count(3) < 8  # 2 brackets of 4; fronts promoted
    spent = 0
    for t in trials:
        history = t.user_attrs[FIDELITY_HISTORY]
        assert [h["epochs"] for h in history] == [1, 3][: len(history)]
        assert t.user_attrs[FIDELITY_EPOCHS] == history[-1]["epochs"]
        assert t.values[0] == pytest.approx(history[-1]["accuracy"])
        spent += t.user_attrs[FIDELITY_SPENT]
    assert spent == sum(budgets)
    promoted = {t.number for t in trials if t.user_attrs[FIDELITY_EPOCHS] == 3}
    assert {r.number for r in ranked_rows(study)} == promoted  # ranked at the highest budget only
    assert all(r.fidelity_epochs == 3 for r in ranked_rows(study))


def test_stop_finalizes_the_waiting_members_of_every_bracket() -> None:
    s = schedule(bracket=2, epochs=(1, 3, 9))
    fill(s, [(0.9, 5.0), (0.8, 2.0)])  # bracket 1: both promoted, queued
    second = [s.admit(2, "c"), s.admit(3, "d")]  # bracket 2
    for member, (acc, lat) in zip(second, [(0.7, 1.0), (0.6, 0.5)], strict=True):
        s.record(member, result(acc, lat))
    s.stop()
    assert sorted(m.key for m in s.take_finals()) == [0, 1, 2, 3] and s.pending == 0


def test_a_bracket_emptied_by_first_budget_failures_is_dropped() -> None:
    s = schedule(bracket=2)
    a, b = s.admit(0, "a"), s.admit(1, "b")
    s.failed(a, "bad placement")
    s.failed(b, "bad placement")
    assert s.brackets == [] and s.pending == 0
