"""Batched, on-device normalisation and augmentation (random translate via pad-crop, flip)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class BatchTransform:
    """uint8 (N, 3, H, W) -> normalised float, with optional random pad-crop and horizontal flip."""

    def __init__(
        self,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        device: torch.device,
        crop_padding: int = 0,
        flip: bool = False,
    ) -> None:
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)
        self.crop_padding = crop_padding
        self.flip = flip

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (images.float().div_(255.0) - self.mean) / self.std

    def augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Normalise, then translate each image by up to ``crop_padding`` px and maybe flip it."""
        x = self.normalize(images)
        n, c, h, w = x.shape
        device = x.device
        p = self.crop_padding
        if p > 0:
            mode = "reflect" if p < min(h, w) else "constant"
            padded = F.pad(x, (p, p, p, p), mode=mode)
            dy = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=device)
            dx = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=device)
            rows = (dy[:, None] + torch.arange(h, device=device)[None, :])[:, None, :, None]
            cols = (dx[:, None] + torch.arange(w, device=device)[None, :])[:, None, None, :]
            batch = torch.arange(n, device=device)[:, None, None, None]
            chans = torch.arange(c, device=device)[None, :, None, None]
            x = padded[batch, chans, rows, cols]
        if self.flip:
            flip_mask = torch.rand(n, generator=generator, device=device) < 0.5
            x = torch.where(flip_mask[:, None, None, None], x.flip(3), x)
        return x
