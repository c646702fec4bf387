"""Scoring one placement on a trained supernet.

BatchNorm statistics are reset and re-fitted on a fixed set of training images with only the
placement's path active (never the supernet's own running statistics: SPOS, Guo et al., ECCV
2020), then the score is the mean cross-entropy on a fixed validation set, the same images for
every placement; accuracy is reported beside it. Cross-entropy ranks supernet paths better than
accuracy and ties less often (the CVPR 2021 lightweight-NAS track solutions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nas_attn.backbones import ArchConfig
from nas_attn.data import ProxyData
from nas_attn.exceptions import NasAttnError
from nas_attn.supernet.batchnorm import refit_bn
from nas_attn.supernet.choices import PathIndices
from nas_attn.supernet.net import Supernet
from nas_attn.worker.augment import BatchTransform


@dataclass(frozen=True)
class PathScore:
    """A placement's supernet score: mean validation cross-entropy (lower is better) and top-1."""

    cross_entropy: float
    accuracy: float


@dataclass(frozen=True)
class ScoringSet:
    """The fixed model inputs every placement is scored on (normalised, not augmented)."""

    refit_images: torch.Tensor
    val_images: torch.Tensor
    val_labels: torch.Tensor

    @classmethod
    def from_data(
        cls, data: ProxyData, refit: int = 1024, val: int | None = None, seed: int = 0
    ) -> ScoringSet:
        """``refit`` training images drawn once with ``seed`` and the first ``val`` validation
        images (all by default), normalised as the proxy normalises them, on ``data``'s device."""
        if refit < 1 or (val is not None and val < 1):
            raise NasAttnError(f"a scoring set needs at least one image of each kind, got {refit} and {val}")
        transform = BatchTransform(data.mean, data.std, data.device)
        order = torch.randperm(len(data.train_labels), generator=torch.Generator().manual_seed(seed))
        chosen = order[:refit].to(data.device)
        n_val = len(data.val_labels) if val is None else min(val, len(data.val_labels))
        return cls(
            refit_images=transform.normalize(data.train_images[chosen]),
            val_images=transform.normalize(data.val_images[:n_val]),
            val_labels=data.val_labels[:n_val],
        )


@torch.no_grad()
def score(
    supernet: Supernet,
    placement: ArchConfig | PathIndices,
    refit_images: torch.Tensor,
    val_images: torch.Tensor,
    val_labels: torch.Tensor,
    batch_size: int = 256,
) -> PathScore:
    """Re-fit the path's BatchNorms on ``refit_images``, then evaluate on the validation set
    (model inputs, already normalised). Leaves the supernet in eval mode, that path active."""
    if len(val_images) == 0 or len(val_images) != len(val_labels):
        raise NasAttnError(
            "scoring needs as many validation labels as images (> 0), "
            f"got {len(val_images)} and {len(val_labels)}"
        )
    refit_bn(supernet, placement, refit_images, batch_size)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = 0
    for start in range(0, len(val_images), batch_size):
        logits = supernet(val_images[start : start + batch_size]).float()
        labels = val_labels[start : start + batch_size]
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").double().cpu()
        correct += int((logits.argmax(dim=1) == labels).sum())
    n = len(val_labels)
    return PathScore(cross_entropy=float(loss_sum) / n, accuracy=correct / n)
