"""The claims a study makes against its plain backbone (nas_attn.search.claims): corrected for
many comparisons and for the seeds that chose a placement, through the real driver and racing
with a simulated trainer whose truth is known (nas_attn.testing.noisy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nas_attn.search.claims import Claims, confirmation_seeds, study_claims
from nas_attn.search.results import claims_of, first_seed, ranked_rows
from nas_attn.search.studydb.attrs import CLAIMS_ATTR
from nas_attn.testing.noisy import NoisyWorld, simulated_study, uniform_module

FASHION_NOISE = {"noise": 1.41, "paired_noise": 0.86}  # points, measured on the Fashion space


def test_a_claim_never_rests_on_the_seed_that_chose_the_placement() -> None:
    assert confirmation_seeds([0, 1, 2], selecting_seed=0, fixed=True) == [1, 2]
    assert confirmation_seeds([0, 1, 2], selecting_seed=0, fixed=False) == [1]  # racing: the first only
    assert confirmation_seeds([0], selecting_seed=0, fixed=True) == []
    assert confirmation_seeds([5, 6, 7], selecting_seed=5, fixed=False) == [6]


def _tight_study(lucky_first: float) -> dict[int, dict[int, float]]:
    """Forty placements equal to the plain backbone within 0.2 points at seeds 0-2, and trial 1
    ``lucky_first`` ahead at seed 0 only."""
    plain = {0: 0.800, 1: 0.790, 2: 0.805}
    accuracy = {0: plain}
    for trial in range(1, 41):
        wiggle = [0.001, -0.002, 0.0015, -0.001][trial % 4]
        accuracy[trial] = {s: a + wiggle * (1 if s % 2 else -1) for s, a in plain.items()}
    accuracy[1] = {**accuracy[1], 0: plain[0] + lucky_first}
    return accuracy


def test_a_placement_lucky_on_the_selecting_seed_only_is_not_claimed() -> None:
    accuracy = _tight_study(lucky_first=0.03)
    order = {trial: [0, 1, 2] for trial in accuracy}
    claims = study_claims(accuracy, order, baseline=0, selecting_seed=0, fixed_seeds=set(accuracy))
    assert claims.compared == 40 and claims.significant == []
    assert claims.tests[1].seeds == [1, 2]
    # the same numbers, had seed 0 been drawn after the choice, would be a claim: the exclusion
    # of the selecting seed is what stops it
    naive = study_claims(accuracy, order, baseline=0, selecting_seed=99, fixed_seeds=set(accuracy))
    assert naive.significant == [1]


def test_p_adjusted_is_never_below_p_value_and_holm_needs_more_than_one_test_alone() -> None:
    accuracy = _tight_study(lucky_first=0.0)
    accuracy[2] = {s: a + 0.006 for s, a in accuracy[0].items()}  # +0.6 points at every seed
    order = {trial: [0, 1, 2] for trial in accuracy}
    claims = study_claims(accuracy, order, baseline=0, selecting_seed=0, fixed_seeds=set(accuracy))
    for test in claims.tests.values():
        assert test.p_adjusted >= test.test.p_value
    assert claims.significant == [2] and claims.tests[2].beats
    assert claims.tests[2].p_adjusted == pytest.approx(min(1.0, 40 * claims.tests[2].test.p_value))


def test_without_a_plain_backbone_nothing_is_compared() -> None:
    claims = study_claims({1: {0: 0.8, 1: 0.81}}, {1: [0, 1]}, baseline=None, selecting_seed=0)
    assert claims == Claims(baseline=None) and claims.describe() is None
    assert claims.to_dict() == {"method": "holm", "alpha": 0.05, "compared": 0, "significant": []}


@pytest.mark.slow  # two simulated searches through the real driver (~5 s each)
def test_a_study_with_a_true_winner_claims_it_and_stores_its_claims(tmp_path: Path) -> None:
    world = NoisyWorld(
        **FASHION_NOISE, seed=0, effect=lambda arch: 4.0 if uniform_module(arch) == "se" else 0.0
    )
    study, pool = simulated_study(world, 16, tmp_path, max_seeds=3, sampler_seed=0)
    rows = ranked_rows(study)
    winner = next(r for r in rows if r.arch is not None and uniform_module(r.arch) == "se")
    assert winner.beats_baseline and winner.p_adjusted is not None and winner.p_adjusted < 0.05
    assert [r.number for r in rows if r.significant] == [winner.number]
    claims = claims_of(study)
    assert study.user_attrs[CLAIMS_ATTR] == claims.to_dict()
    assert claims.to_dict()["significant"] == [winner.number] and claims.compared >= 1
    for row in rows:
        assert (row.p_value is None) == (row.p_adjusted is None)
        if row.p_value is not None and row.p_adjusted is not None:
            assert row.p_adjusted >= row.p_value
    selecting = first_seed(study.user_attrs)
    for test in claims.tests.values():  # racing: the first seed drawn after the choice, only
        assert len(test.seeds) == 1 and test.seeds[0] != selecting
    assert max(len(seeds) for seeds in pool.seeds_trained().values()) <= 3


@pytest.mark.slow
def test_a_null_study_claims_nothing_where_the_uncorrected_rule_claims_one(tmp_path: Path) -> None:
    study, _ = simulated_study(NoisyWorld(**FASHION_NOISE, seed=1), 16, tmp_path, max_seeds=3, sampler_seed=1)
    rows = ranked_rows(study)
    uncorrected = [
        r.number for r in rows if r.delta_vs_baseline is not None and r.delta_vs_baseline.excludes_zero
    ]
    assert uncorrected  # the paired 95% interval alone, over every seed, claims a difference
    assert [r.number for r in rows if r.significant] == []
    assert study.user_attrs[CLAIMS_ATTR]["significant"] == []
    assert "none beats it or trails it" in str(claims_of(study).describe())


@pytest.mark.slow
def test_fixed_extra_seeds_are_all_confirmation_seeds(tmp_path: Path) -> None:
    study, _ = simulated_study(
        NoisyWorld(**FASHION_NOISE, seed=2), 8, tmp_path, max_seeds=None, final_seeds=3
    )
    claims = claims_of(study)
    assert claims.compared >= 1
    selecting = first_seed(study.user_attrs)
    for test in claims.tests.values():  # final_seeds: every front placement gets 2 more, fixed in advance
        assert len(test.seeds) == 2 and selecting not in test.seeds
