"""``none``: the identity, i.e. no attention in this slot."""

from __future__ import annotations

from typing import Any

from torch import nn

from nas_attn.attention._registry import AttentionInfo, register_attention


@register_attention(AttentionInfo(name="none", kind="identity", paper="(no attention)", uses_reduction=False))
def identity(channels: int, **_: Any) -> nn.Module:
    """Return ``nn.Identity``; ``channels`` is accepted for the common factory signature."""
    return nn.Identity()
