"""The timm entrypoint ``nas_attn`` and the arch's input as timm describes it.

Importing :mod:`nas_attn` imports this module, which registers the model, so
``timm.create_model("nas_attn", arch="best.yaml", num_classes=...)`` builds an exported network
in any timm-based training script; scripts that do not import :mod:`nas_attn` (timm's own
``train.py``) run under ``nas-attn with-timm`` (:mod:`nas_attn.deploy.with_timm`).

- :func:`data_config` is the arch's input as timm describes it (``input_size``, ``mean``, ``std``,
  ``crop_pct``, ``interpolation``); the entrypoint puts it in the model's ``pretrained_cfg``, so
  timm's ``resolve_data_config`` picks it up when a script gives no ``--input-size`` /
  ``--mean`` / ``--std`` of its own.
"""

from __future__ import annotations

from typing import Any

from timm.models import register_model
from torch import nn

from nas_attn.backbones import ArchConfig, build_model
from nas_attn.exceptions import NasAttnError


def data_config(arch: ArchConfig) -> dict[str, Any]:
    """timm data-config keys for ``arch``: the proxy fed whole images (shorter side resized,
    centre-cropped to ``image_size``, bilinear), normalised with the arch's ``normalization``."""
    config: dict[str, Any] = {
        "input_size": (3, arch.image_size, arch.image_size),
        "crop_pct": 1.0,
        "interpolation": "bilinear",
    }
    if arch.normalization is not None:
        config["mean"] = tuple(arch.normalization.mean)
        config["std"] = tuple(arch.normalization.std)
    return config


_KEPT_BACKBONE_KEYS = ("first_conv", "classifier", "crop_mode", "fixed_input_size")


def apply_data_config(model: nn.Module, arch: ArchConfig) -> None:
    """Replace ``model.pretrained_cfg`` (and its alias ``default_cfg``) with one describing ``arch``:
    its input, no hub weights, and the backbone's layer names (no 224-px test sizes left over)."""
    base = getattr(model, "pretrained_cfg", None)
    base = base if isinstance(base, dict) else {}
    cfg: dict[str, Any] = {"architecture": "nas_attn"}
    cfg |= {key: base[key] for key in _KEPT_BACKBONE_KEYS if key in base}
    cfg |= data_config(arch)
    cfg["num_classes"] = getattr(model, "num_classes", arch.num_classes)
    # nn.Module types unknown attributes as tensors or modules; timm models hold dicts there
    model.pretrained_cfg = cfg  # type: ignore[assignment]
    model.default_cfg = cfg  # type: ignore[assignment]


@register_model
def nas_attn(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """timm entrypoint: ``timm.create_model("nas_attn", arch=PATH_OR_DICT, num_classes=N)``.

    ``num_classes`` overrides the arch's; other timm options (``drop_rate``, ``drop_path_rate``,
    ``drop_block_rate``, ``global_pool``, ...) reach the backbone. Weights come from the arch's
    ``backbone_weights`` (local file), never from a hub. The model's ``pretrained_cfg`` carries the
    arch's input size and normalisation, which timm scripts use when given none of their own.
    """
    arch = kwargs.pop("arch", None)
    if arch is None:
        raise NasAttnError(
            'timm model "nas_attn" needs arch=PATH (an exported arch YAML) or a dict; '
            "in timm's scripts: --model-kwargs arch=best.yaml"
        )
    if pretrained:
        raise NasAttnError(
            'timm model "nas_attn" has no hub weights, so --pretrained (pretrained=True) cannot load any; '
            "drop it and set backbone_weights: PATH (a local checkpoint of the backbone) in the arch YAML"
        )
    in_chans = kwargs.pop("in_chans", 3)
    if in_chans != 3:
        raise NasAttnError(
            f'timm model "nas_attn" takes 3-channel RGB images, got in_chans={in_chans}; '
            "use --input-size 3 H W (timm's loaders convert grey images to RGB) and no --in-chans"
        )
    for key in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir"):
        kwargs.pop(key, None)
    cfg = ArchConfig.coerce(arch)
    model = build_model(cfg, num_classes=kwargs.pop("num_classes", None), **kwargs)
    apply_data_config(model, cfg)
    return model
