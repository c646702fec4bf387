"""nas-attn: search which attention module, reduction and position to place in each CNN stage.

Public API::

    from nas_attn import ArchConfig, build_model, load_space, NasAttnError
    from nas_attn.attention import create_attention, get_attention_info, list_attentions
"""

from nas_attn._version import __version__
from nas_attn.backbones import ArchConfig, build_model
from nas_attn.exceptions import NasAttnError
from nas_attn.search.space import SearchSpace, load_space

__all__ = ["ArchConfig", "NasAttnError", "SearchSpace", "__version__", "build_model", "load_space"]
