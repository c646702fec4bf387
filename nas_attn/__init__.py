"""nas-attn: search which attention module, reduction and position to place in each CNN stage.

Public API::

    from nas_attn import ArchConfig, build_model, load_space, NasAttnError
    from nas_attn.attention import create_attention, get_attention_info, list_attentions

Importing the package registers the timm model ``nas_attn`` (see
:mod:`nas_attn.deploy.timm_entry`), so ``timm.create_model("nas_attn", arch="best.yaml")`` works
in any timm training script.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas_attn._startup import quiet_ctrl_c_while_starting

quiet_ctrl_c_while_starting()  # the CLI only: Ctrl-C while torch imports is one line, not a traceback

from nas_attn._lazy import lazy_exports  # noqa: E402
from nas_attn._version import __version__  # noqa: E402
from nas_attn.deploy import timm_entry as _timm_entry  # noqa: F401, E402  (registers the timm entrypoint "nas_attn")
from nas_attn.exceptions import NasAttnError  # noqa: E402

if TYPE_CHECKING:
    from nas_attn.backbones import ArchConfig, build_model
    from nas_attn.search.sampling.space import SearchSpace, load_space

_LAZY = {
    "ArchConfig": "backbones",
    "build_model": "backbones",
    "SearchSpace": "search.sampling.space",
    "load_space": "search.sampling.space",
}

__all__ = ["ArchConfig", "NasAttnError", "SearchSpace", "__version__", "build_model", "load_space"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
