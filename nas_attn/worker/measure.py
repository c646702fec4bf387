"""Static costs of a model: parameter count and multiply-accumulates of one forward pass.

Counted by :mod:`nas_attn.attention.costs`; this module runs the count on an image batch.
"""

from __future__ import annotations

import torch
from torch import nn

from nas_attn.attention.costs import count_params, forward_macs

__all__ = ["count_macs", "count_params"]


def count_macs(model: nn.Module, image_size: int, batch_size: int = 1) -> int:
    """Multiply-accumulates of one eval-mode forward on (batch, 3, size, size)
    (see :func:`~nas_attn.attention.costs.forward_macs` for what is counted)."""
    was_training = model.training
    device = next(model.parameters(), torch.empty(0)).device
    model.eval()
    try:
        return forward_macs(model, torch.zeros(batch_size, 3, image_size, image_size, device=device))
    finally:
        model.train(was_training)
