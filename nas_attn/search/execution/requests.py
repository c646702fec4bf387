"""The one place the search builds worker requests (:class:`~nas_attn.worker.TrainRequest`).

The search's trials (at each multi-fidelity budget), the extra seeds of racing, ``final_seeds``
and ``reseed``, and ``validate-proxy``'s long-budget re-runs all come from :func:`train_request`,
so every training carries the space's latency settings and screening constraints, its epoch
budget and its training seed (the proxy's data split stays the space's).
"""

from __future__ import annotations

from nas_attn.backbones import ArchConfig
from nas_attn.search.sampling.space import SearchSpace
from nas_attn.worker.request import TrainRequest


def train_request(
    space: SearchSpace, arch: ArchConfig, *, epochs: int | None = None, seed: int | None = None
) -> TrainRequest:
    """Train ``arch`` with ``space``'s proxy at ``epochs`` (default: the proxy's) and training
    ``seed`` (default: the proxy's), timed and screened as the space says."""
    return TrainRequest(
        arch=arch,
        proxy=space.proxy_at(epochs=epochs, train_seed=seed),
        latency=space.latency,
        constraints=tuple(space.constraints),
    )
