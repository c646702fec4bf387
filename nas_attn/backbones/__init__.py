"""Placement engine on timm backbones: ArchConfig, family adapters, build_model, weight loading."""

from nas_attn.backbones import convnext, regnet, resnet  # noqa: F401  (register the adapters)
from nas_attn.backbones.adapter import BackboneAdapter, StageGeometry, get_adapter, list_adapters
from nas_attn.backbones.arch_config import ArchConfig, InputNormalization, StagePlacement
from nas_attn.backbones.builder import build_model, stage_geometry, weights_report
from nas_attn.backbones.weights import WeightLoadReport, load_backbone_weights, read_state_dict

__all__ = [
    "ArchConfig",
    "BackboneAdapter",
    "InputNormalization",
    "StageGeometry",
    "StagePlacement",
    "WeightLoadReport",
    "build_model",
    "get_adapter",
    "list_adapters",
    "load_backbone_weights",
    "read_state_dict",
    "stage_geometry",
    "weights_report",
]
