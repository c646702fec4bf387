"""BatchNorm re-fitting on one path: the statistics a placement's score is read with.

The running statistics a supernet accumulates while training mix every path; scoring with them
is unstable (SPOS: Guo et al., ECCV 2020, recalculate BN per path). Here the active path's
BatchNorms are reset and re-fitted as an exact cumulative average (``momentum=None``, as
AttentiveNAS and Once-for-All do) over a fixed image set, forwarded in train mode without
gradients; candidates off the path are never touched.
"""

from __future__ import annotations

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from nas_attn.backbones import ArchConfig
from nas_attn.exceptions import NasAttnError
from nas_attn.supernet.choices import PathIndices
from nas_attn.supernet.net import Supernet


def path_norms(supernet: Supernet) -> list[_BatchNorm]:
    """The BatchNorms the active path runs: the shared ones and those of the active candidates."""
    seen: set[int] = set()
    norms: list[_BatchNorm] = []
    for module in supernet.active_modules():
        for sub in module.modules():
            if isinstance(sub, _BatchNorm) and id(sub) not in seen:
                seen.add(id(sub))
                norms.append(sub)
    return norms


@torch.no_grad()
def refit_bn(
    supernet: Supernet, placement: ArchConfig | PathIndices, images: torch.Tensor, batch_size: int
) -> None:
    """Activate ``placement``, reset its path's BatchNorm statistics and re-fit them on ``images``
    (model inputs, in order, ``batch_size`` at a time); leaves the supernet in eval mode.

    Every batch counts equally in the average (a multiple of ``batch_size`` images gives the
    exact per-image average); a last batch of one image fails on a 1x1 feature map.
    """
    if len(images) == 0 or batch_size < 1:
        raise NasAttnError("BatchNorm re-fitting needs at least one image and a batch size >= 1")
    supernet.activate(placement)
    norms = path_norms(supernet)
    momenta = [norm.momentum for norm in norms]
    supernet.eval()
    try:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
            norm.train()
        for start in range(0, len(images), batch_size):
            supernet(images[start : start + batch_size])
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        supernet.eval()
