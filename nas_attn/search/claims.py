"""The claims a study makes: which placements beat (or trail) the plain backbone, corrected for
the many comparisons and for the seeds that chose them.

A claim is "placement X differs from the plain backbone in accuracy". Three things would make the
naive rule (a paired 95% interval that excludes zero) claim too much, and each is handled here:

- **Selection (the winner's curse).** The search trains every placement at its first seed and
  puts the lucky ones on the front; racing then adds seeds where the front is open. A placement's
  first seed chose it, so that seed never enters its test: a claim rests only on *confirmation
  seeds*, those drawn after the placement was chosen (racing's, ``final_seeds``', ``reseed``'s).
  Placements with none are not tested (``p_value`` null).
- **Racing's data-dependent stopping.** Racing decides after each seed whether a placement gets
  another, so how many confirmation seeds a placement has depends on what they showed. The test
  uses only the confirmation seeds whose drawing did not depend on the placement's own
  confirmation results: the first one for every placement racing re-ran (racing re-runs every
  contender once, whatever it showed), all of them where seeds were fixed in advance
  (``final_seeds``, ``reseed``: every front placement gets the same number).
- **Many comparisons.** Every placement tested is one hypothesis of the family; Holm's step-down
  correction (Holm 1979) keeps the probability of any false claim at or below ``ALPHA`` whatever
  the dependence between the tests (they share the plain backbone's runs), and is uniformly more
  powerful than Bonferroni.

The test of one placement is a paired t-test of its confirmation differences to the plain
backbone (same seed: same backbone weights, batches and augmentation), with the seed noise of
paired differences pooled over every placement of the study (one trainer, data and budget:
one noise), so a single confirmation seed already gives a test with many degrees of freedom.
The pool includes the selecting seeds' differences, which selection makes larger than the
typical one: that only widens the noise, so it errs on the side of claiming less.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nas_attn.stats.significance import PairedTest, paired_t_test, pooled_noise
from nas_attn.stats.significance import holm as holm_adjust

ALPHA = 0.05
METHOD = "holm"

SeedAccuracy = Mapping[int, float]  # training seed -> accuracy


@dataclass(frozen=True)
class PlacementTest:
    """One placement's test against the plain backbone."""

    trial: int
    seeds: list[int]  # the confirmation seeds the test used
    test: PairedTest
    p_adjusted: float

    @property
    def significant(self) -> bool:
        return self.p_adjusted < ALPHA

    @property
    def beats(self) -> bool:
        return self.significant and self.test.mean > 0


@dataclass(frozen=True)
class Claims:
    """Every test a study makes against its plain backbone, corrected (``to_dict``: the public
    ``claims`` record: method, alpha, how many placements were compared, which are significant)."""

    tests: dict[int, PlacementTest] = field(default_factory=dict)  # by trial number
    baseline: int | None = None  # the plain backbone's trial (None: nothing to compare with)
    method: str = METHOD
    alpha: float = ALPHA

    @property
    def compared(self) -> int:
        return len(self.tests)

    @property
    def significant(self) -> list[int]:
        return sorted(n for n, t in self.tests.items() if t.significant)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "alpha": self.alpha,
            "compared": self.compared,
            "significant": self.significant,
        }

    def describe(self) -> str | None:
        """In words, e.g. ``compared 14 placements with the plain backbone, Holm-corrected at 5%:
        none beats it`` (None without a plain backbone)."""
        if self.baseline is None:
            return None
        if not self.tests:
            return (
                "no claims against the plain backbone: no placement has a seed drawn after the search "
                "chose it (racing, search.final_seeds or reseed add them); differences on the seed that "
                "chose a placement are not evidence"
            )
        head = (
            f"compared {self.compared} placement(s) with the plain backbone, "
            f"Holm-corrected at {self.alpha:.0%} on seeds drawn after selection"
        )
        beats = [t for t in self.tests.values() if t.beats]
        trails = [t for t in self.tests.values() if t.significant and not t.beats]
        if not beats and not trails:
            return f"{head}: none beats it or trails it; differences inside the noise are not wins"
        parts = []
        if beats:
            parts.append(f"{_listed(beats)} beat(s) it")
        else:
            parts.append("none beats it")
        if trails:
            parts.append(f"{_listed(trails)} trail(s) it")
        return f"{head}: " + "; ".join(parts)


def _listed(tests: Sequence[PlacementTest]) -> str:
    return ", ".join(
        f"trial {t.trial} ({100 * t.test.mean:+.2f} points, p_adj {t.p_adjusted:.3g})"
        for t in sorted(tests, key=lambda t: t.p_adjusted)
    )


def confirmation_seeds(seeds: Sequence[int], selecting_seed: int, fixed: bool) -> list[int]:
    """The seeds a claim may rest on, in the order they were drawn (``seeds``): never the
    selecting seed; with racing (``fixed`` False) only the first of the rest."""
    fresh = [s for s in seeds if s != selecting_seed]
    return fresh if fixed else fresh[:1]


def study_claims(
    accuracy: Mapping[int, SeedAccuracy],
    seed_order: Mapping[int, Sequence[int]],
    baseline: int | None,
    selecting_seed: int,
    fixed_seeds: Collection[int] = (),
) -> Claims:
    """The claims of a study: ``accuracy`` by trial and seed, ``seed_order`` each trial's seeds in
    the order they were trained, ``baseline`` the plain backbone's trial, ``selecting_seed`` the
    seed the search trained every placement with, ``fixed_seeds`` the trials whose extra seeds
    were all fixed in advance (``final_seeds``/``reseed``; the others were raced)."""
    if baseline is None or baseline not in accuracy:
        return Claims(baseline=None)
    plain = accuracy[baseline]
    differences = {
        trial: {s: by_seed[s] - plain[s] for s in by_seed if s in plain}
        for trial, by_seed in accuracy.items()
        if trial != baseline
    }
    noise = pooled_noise(list(d.values()) for d in differences.values())
    raw: dict[int, tuple[list[int], PairedTest]] = {}
    for trial, by_seed in differences.items():
        order = [s for s in seed_order.get(trial, sorted(by_seed)) if s in by_seed]
        seeds = confirmation_seeds(order, selecting_seed, trial in fixed_seeds)
        test = paired_t_test([by_seed[s] for s in seeds], noise)
        if test is not None:
            raw[trial] = (seeds, test)
    adjusted = holm_adjust([test.p_value for _, test in raw.values()])
    tests = {
        trial: PlacementTest(trial, seeds, test, p_adj)
        for (trial, (seeds, test)), p_adj in zip(raw.items(), adjusted, strict=True)
    }
    return Claims(tests=tests, baseline=baseline)
