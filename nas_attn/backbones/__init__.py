"""Placement engine on timm backbones: ArchConfig, adapters, build_model."""

from nas_attn.backbones import resnet  # noqa: F401  (register the ResNet adapter)
from nas_attn.backbones.adapter import BackboneAdapter, StageGeometry, get_adapter, list_adapters
from nas_attn.backbones.arch_config import ArchConfig, StagePlacement
from nas_attn.backbones.builder import build_model, stage_geometry

__all__ = [
    "ArchConfig",
    "BackboneAdapter",
    "StageGeometry",
    "StagePlacement",
    "build_model",
    "get_adapter",
    "list_adapters",
    "stage_geometry",
]
