"""Attention module zoo behind one registry.

``create_attention(name, channels, reduction=16, **kwargs)`` builds a shape-preserving module on
(N, C, H, W); ``get_attention_info(name)`` describes it; ``list_attentions()`` names them all.
Each family lives in its own file and cites its paper.
"""

from nas_attn.attention import cbam, eca, identity, squeeze_excite  # noqa: F401  (fill the registry)
from nas_attn.attention._registry import (
    ALL_POSITIONS,
    AttentionInfo,
    Position,
    check_reduction,
    create_attention,
    get_attention_info,
    list_attentions,
    register_attention,
)

__all__ = [
    "ALL_POSITIONS",
    "AttentionInfo",
    "Position",
    "check_reduction",
    "create_attention",
    "get_attention_info",
    "list_attentions",
    "register_attention",
]
