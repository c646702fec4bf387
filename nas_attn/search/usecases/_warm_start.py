"""The pool a search or re-run uses when its proxy warm-starts (``proxy.warm_start``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import optuna

from nas_attn.search.execution.protocol import TrialPool
from nas_attn.search.execution.warm_start import BackbonePool, WarmStartPool
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.search.studydb.artifacts import artifact_dir_for
from nas_attn.search.studydb.warm_backbones import StudyBackbones


def with_warm_start(
    pool: TrialPool, study: optuna.Study, space: SearchSpace, storage_url: str, notice: Callable[[str], None]
) -> TrialPool:
    """``pool`` itself, or with ``proxy.warm_start`` a pool that starts each placement from the
    study's backbone for its seed (trained once, kept with the study's artifacts)."""
    if space.proxy.warm_start is None:
        return pool
    store = StudyBackbones(study, artifact_dir_for(storage_url), notice)
    return WarmStartPool(cast(BackbonePool, pool), store, notice)
