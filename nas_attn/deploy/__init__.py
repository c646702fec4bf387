"""From a chosen placement to something you can train and ship.

- :mod:`~nas_attn.deploy.select`: a study's trial (by number, the knee, a latency budget) and its
  arch YAML with provenance.
- :mod:`~nas_attn.deploy.train`: ``nas-attn train``, full training with checkpoints and resume;
  :mod:`~nas_attn.deploy.checkpoint`: the checkpoint format, written and read back.
- :mod:`~nas_attn.deploy.formats`: ONNX / TorchScript / safetensors files, checked against PyTorch;
  :mod:`~nas_attn.deploy.weights_file`: the safetensors file read back, its tensors checked
  (:mod:`~nas_attn.deploy.tensors`) against the arch before use.
- :mod:`~nas_attn.deploy.timm_entry`: the timm model ``nas_attn`` (registered by ``import
  nas_attn``); :mod:`~nas_attn.deploy.timm_command`: the ``nas-attn with-timm train.py ...``
  line; :mod:`~nas_attn.deploy.with_timm`: runs such a script with the model registered.

The names below are exported lazily (PEP 562), so importing one module of the package (as
``import nas_attn`` does with the timm entrypoint) loads no other. Only ``select`` reads the
search's results and study database (never the driver or the worker pool, so never Ray).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas_attn._lazy import lazy_exports

if TYPE_CHECKING:
    from nas_attn.deploy.checkpoint import load_trained
    from nas_attn.deploy.formats import (
        Written,
        export_trained,
        write_onnx,
        write_safetensors,
        write_torchscript,
    )
    from nas_attn.deploy.weights_file import load_safetensors

_LAZY = {
    "load_trained": "checkpoint",
    "Written": "formats",
    "export_trained": "formats",
    "load_safetensors": "weights_file",
    "write_onnx": "formats",
    "write_safetensors": "formats",
    "write_torchscript": "formats",
}

__all__ = [
    "Written",
    "export_trained",
    "load_safetensors",
    "load_trained",
    "write_onnx",
    "write_safetensors",
    "write_torchscript",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
