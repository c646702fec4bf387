"""The search driver: the loop that asks Optuna for trials, runs them on workers and tells results.

``loop`` is the loop and ``run_search``; ``handles`` holds the public types and the one handle a
trial has, with its phase; ``liveness`` says who a driver is and whether it is alive;
``fidelity`` is successive halving with Pareto promotion; ``interrupts`` handles Ctrl-C and
SIGTERM. Private to this package (a leading underscore): ``_asking`` starts trials on idle
workers, ``_telling`` turns outcomes into final trial states, ``_state`` is what those parts
share, ``_racing`` trains extra seeds on workers the placements leave idle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas_attn._lazy import lazy_exports

# Lazy (PEP 562), like ``nas_attn.search``: the study database and the results import
# ``liveness`` and ``fidelity`` from this package, and the loop imports them back, so importing
# the loop here eagerly would make every such import a circular one.
_HOMES: dict[str, str] = {
    "NullObserver": "handles",
    "SearchInterrupted": "handles",
    "SearchObserver": "handles",
    "SearchOutcome": "handles",
    "TrialHook": "handles",
    "run_search": "loop",
}

__all__ = [
    "NullObserver",
    "SearchInterrupted",
    "SearchObserver",
    "SearchOutcome",
    "TrialHook",
    "run_search",
]


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)


if TYPE_CHECKING:
    from nas_attn.search.driver.handles import (
        NullObserver,
        SearchInterrupted,
        SearchObserver,
        SearchOutcome,
        TrialHook,
    )
    from nas_attn.search.driver.loop import run_search
