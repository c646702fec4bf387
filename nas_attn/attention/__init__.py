"""Attention module zoo behind one registry.

``create_attention(name, channels, reduction=None, **kwargs)`` builds a shape-preserving module on
(N, C, H, W) (``reduction`` defaults to the module's own default, 16 for most);
``get_attention_info(name)`` describes it; ``list_attentions()`` names them all.
Each family lives in its own file and cites its paper.

``AttentionInfo`` fields: name, kind, paper, uses_reduction, positions, constraints,
needs_feat_size (constructor takes ``feat_size=(H, W)``), needs_context (constructor takes
``context_channels=``, forward takes ``(x, context)``), defaults, options (each constructor
option a config may set, with its valid values: checked when an arch is loaded).
"""

from nas_attn.attention import (  # noqa: F401  (fill the registry)
    bam,
    cbam,
    coord,
    cot,
    cross,
    eca,
    effective_se,
    gather_excite,
    global_context,
    identity,
    mhsa,
    mobilevit,
    nonlocal_block,
    parnet,
    s2,
    sagan,
    sam,
    selective_kernel,
    shuffle,
    simam,
    splat,
    squeeze_excite,
    triplet,
)
from nas_attn.attention._registry import (
    ALL_POSITIONS,
    AttentionInfo,
    AttentionKind,
    OptionRange,
    Position,
    check_options,
    check_reduction,
    create_attention,
    default_reduction,
    get_attention_info,
    list_attentions,
    option_problem,
    reduction_problem,
    register_attention,
)
from nas_attn.attention.catalog import ZooRow, describe_zoo

__all__ = [
    "ALL_POSITIONS",
    "AttentionInfo",
    "AttentionKind",
    "OptionRange",
    "Position",
    "ZooRow",
    "check_options",
    "check_reduction",
    "create_attention",
    "default_reduction",
    "describe_zoo",
    "get_attention_info",
    "list_attentions",
    "option_problem",
    "reduction_problem",
    "register_attention",
]
