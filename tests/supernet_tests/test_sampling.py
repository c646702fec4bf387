"""Strict-fair (FairNAS) and uniform (SPOS) path sampling: exact counts, seeds, resumable state."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from nas_attn.exceptions import NasAttnError
from nas_attn.supernet import FairSampler, UniformSampler, make_sampler


def counts(paths: list[tuple[int, ...]], slot: int) -> Counter[int]:
    return Counter(path[slot] for path in paths)


def test_with_g_equal_to_the_slot_size_every_candidate_trains_once_per_step() -> None:
    sampler = FairSampler([5, 5, 5], seed=3)
    assert sampler.paths_per_step == 5
    for _ in range(4):
        paths = sampler.step()
        assert len(paths) == 5
        for slot in range(3):
            assert counts(paths, slot) == Counter(range(5))


def test_with_fewer_paths_counts_are_exactly_equal_over_an_epoch_and_never_differ_by_more_than_one() -> None:
    sizes, g = [5, 4, 3, 1], 2
    sampler = FairSampler(sizes, paths_per_step=g, seed=0)
    epoch = math.lcm(*(n // math.gcd(n, g) for n in sizes))  # steps until every queue ends a permutation
    assert epoch == 30
    seen: list[tuple[int, ...]] = []
    for _ in range(epoch):
        seen.extend(sampler.step())
        for slot, n in enumerate(sizes):
            got = [counts(seen, slot)[c] for c in range(n)]
            assert max(got) - min(got) <= 1
    for slot, n in enumerate(sizes):
        assert counts(seen, slot) == Counter(dict.fromkeys(range(n), epoch * g // n))
    # slot of 5, G=2: the first 5 steps (10 draws, two permutations) train each candidate twice
    assert counts(seen[:10], 0) == Counter(dict.fromkeys(range(5), 2))


def test_fair_paths_are_seeded_random_permutations() -> None:
    first = [FairSampler([6, 6], seed=1).step() for _ in range(2)]
    assert first[0] == first[1]
    assert FairSampler([6, 6], seed=2).step() != first[0]
    assert [p[0] for p in first[0]] != list(range(6))  # shuffled, not in order


def test_a_restored_sampler_continues_identically() -> None:
    for sampler in (FairSampler([4, 3], paths_per_step=2, seed=5), UniformSampler([4, 3], 2, seed=5)):
        sampler.step()
        state = sampler.state()
        expected = [sampler.step() for _ in range(3)]
        fresh = type(sampler)([4, 3], 2, seed=99)
        fresh.restore(state)
        assert [fresh.step() for _ in range(3)] == expected


def test_uniform_sampling_is_seeded_single_path_and_covers_every_candidate() -> None:
    sampler = make_sampler("uniform", [4, 2], None, seed=0)
    paths = [p for _ in range(200) for p in sampler.step()]
    assert len(paths) == 200  # one path per step
    again = make_sampler("uniform", [4, 2], None, seed=0)
    assert paths == [p for _ in range(200) for p in again.step()]
    assert set(counts(paths, 0)) == {0, 1, 2, 3} and set(counts(paths, 1)) == {0, 1}


def test_restoring_another_kind_of_state_is_refused() -> None:
    with pytest.raises(NasAttnError, match="cannot resume"):
        FairSampler([3]).restore(UniformSampler([3]).state())
    with pytest.raises(NasAttnError, match="at least one candidate"):
        FairSampler([3, 0])
