"""Racing during the search: workers the placements leave idle train extra seeds.

When the space races (``search.racing``), a worker that finds no placement to start (every
slot of the target is running or evaluated, or the space is used up: the search's tail, or a
multi-fidelity bracket waiting on its rung) is offered to the racing policy, which gives it the
most useful seed of the placements evaluated so far (:class:`~nas_attn.search.seeds.policy.Racing`:
the plain backbone at every seed used, then unresolved placements on or near the front).
Placements always come first: a seed training is only started on a worker the asking left
idle, so ``--n-trials`` placements cost the same wall time as without racing, and the seeds
measured here are ones the racing after the search would otherwise still have to train.

With several drivers on the study too: every seed training is claimed in the ledger before it
is submitted (``studydb/seed_ledger.py``), those other live drivers hold count as running, and
each result is stored once, so two drivers racing the same study never train the same seed and
never pass ``max_seeds``.
"""

from __future__ import annotations

from nas_attn.search.driver._state import Setup, State
from nas_attn.search.execution.protocol import Outcome
from nas_attn.search.results import TrialRow, first_seed, ranked_rows
from nas_attn.search.seeds.policy import racing_policy
from nas_attn.search.seeds.runner import SeedRunner


class RacingDuringSearch:
    """The driver's seed trainings (see the module docstring); inert when the space does not race."""

    def __init__(self, setup: Setup, state: State) -> None:
        self.setup, self.state = setup, state
        policy = racing_policy(setup.space, first_seed(setup.study.user_attrs))
        self.runner = (
            SeedRunner(
                setup.study,
                setup.space,
                setup.pool,
                policy,
                setup.observer.notice,
                setup.db.seed_ledger(),
                rows=self._rows,
            )
            if policy is not None
            else None
        )

    @property
    def busy(self) -> bool:
        return self.runner is not None and self.runner.busy

    def offer(self) -> None:
        """Give the workers the asking left idle to the racing policy, if it wants any."""
        runner, setup, state = self.runner, self.setup, self.state
        if runner is None or state.stopping or not state.nothing_to_ask or setup.pool.idle <= 0:
            return
        runner.offer()

    def take(self, arrived: list[tuple[int, Outcome]]) -> list[tuple[int, Outcome]]:
        """Store the outcomes of this module's seed trainings; the search's own are returned."""
        if self.runner is None or not self.runner.busy:
            return arrived
        rest = []
        for ticket, outcome in arrived:
            if self.runner.owns(ticket):
                self.runner.landed(ticket, outcome)
            else:
                rest.append((ticket, outcome))
        return rest

    def changed(self) -> None:
        """A trial was told: the racing plan may change."""
        if self.runner is not None:
            self.runner.changed()

    def abandon(self) -> None:
        """The pool was shut down: running seed trainings will not report."""
        if self.runner is not None:
            self.runner.abandon()

    def _rows(self) -> list[TrialRow]:
        self.setup.mirror.sync()
        return ranked_rows(self.setup.mirror.complete_view(self.setup.study))
