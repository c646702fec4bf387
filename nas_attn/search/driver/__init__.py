"""The search driver: the loop that asks Optuna for trials, runs them on workers and tells results.

``loop`` is the loop and ``run_search``; ``api`` holds the public types (observer, outcome,
trial hook, interruption); ``fidelity`` is successive halving with Pareto promotion. Private to
this package (a leading underscore): ``_handles`` is the one handle a trial has, with its phase;
``_asking`` starts trials on idle workers, ``_telling`` turns outcomes into final trial states,
``_state`` is what those parts share, ``_racing`` trains extra seeds (``search.seeds``) on
workers the placements leave idle. Who a driver is and whether it lives is the study database's
(``studydb.drivers``); Ctrl-C and SIGTERM are ``search.interrupts``.
"""

from __future__ import annotations

from nas_attn.search.driver.api import (
    NullObserver,
    SearchInterrupted,
    SearchObserver,
    SearchOutcome,
    TrialHook,
)
from nas_attn.search.driver.loop import run_search

__all__ = [
    "NullObserver",
    "SearchInterrupted",
    "SearchObserver",
    "SearchOutcome",
    "TrialHook",
    "run_search",
]
