"""ArchConfig: one attention placement per backbone stage (the arch YAML contract).

Typed once at the YAML boundary (pydantic, ``extra="forbid"``, frozen). ``digest()`` is a
canonical hash of everything that changes the built network or its proxy result, used for
de-duplication and caching; ``provenance`` (what export writes) never changes it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nas_attn._types import Bool, Float, Int
from nas_attn._yaml import parse_yaml_mapping, read_yaml_mapping, validate_model
from nas_attn.attention import (
    Position,
    default_reduction,
    get_attention_info,
    list_attentions,
    option_problem,
)
from nas_attn.outputs import write_atomic

Stem = Literal["cifar", "imagenet"]
ExistingAttention = Literal["keep", "replace"]
OptionValue = Bool | Int | Float | str
MAX_IMAGE_SIZE = 1024  # full training: beyond this no batch of activations fits a GPU


def _is_yaml_text(source: str) -> bool:
    """True for YAML content rather than a file name (a newline, or a colon and no such file)."""
    return "\n" in source or (":" in source and not Path(source).exists())


_SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's when built with it: ~10x faster


class StagePlacement(BaseModel):
    """What goes into one stage: module name, integer reduction ratio r, position."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    module: str = "none"
    reduction: Int | None = Field(default=None, ge=1, le=4096)
    position: Position = "block"
    options: dict[str, OptionValue] = Field(default_factory=dict)

    @field_validator("module")
    @classmethod
    def _known_module(cls, name: str) -> str:
        if name not in list_attentions():
            raise ValueError(f"unknown attention module '{name}'; available: {', '.join(list_attentions())}")
        return name

    @model_validator(mode="after")
    def _position_supported(self) -> StagePlacement:
        info = get_attention_info(self.module)
        if self.position not in info.positions:
            raise ValueError(
                f"module '{self.module}' cannot be placed at '{self.position}'; "
                f"use one of {', '.join(info.positions)}"
            )
        for key, value in self.options.items():  # each module declares its options' valid values
            problem = option_problem(self.module, key, value)
            if problem is not None:
                raise ValueError(problem)
        return self

    def effective_reduction(self) -> int | None:
        """The ratio the module is built with (its default when unset), or None if unused."""
        default = default_reduction(self.module)
        if default is None:
            return None
        return self.reduction if self.reduction is not None else default

    def canonical(self) -> dict[str, Any]:
        """The fields that change the built network, with defaults filled in."""
        if self.module == "none":
            return {"module": "none"}
        out: dict[str, Any] = {"module": self.module, "position": self.position}
        reduction = self.effective_reduction()
        if reduction is not None:
            out["reduction"] = reduction
        if self.options:
            out["options"] = dict(sorted(self.options.items()))
        return out

    def label(self) -> str:
        """Short human label, e.g. ``se/16`` or ``cbam/8@last_block``."""
        canon = self.canonical()
        text = canon["module"]
        if "reduction" in canon:
            text += f"/{canon['reduction']}"
        if canon.get("position", "block") != "block":
            text += f"@{canon['position']}"
        if self.options:
            text += "(" + ",".join(f"{k}={v}" for k, v in sorted(self.options.items())) + ")"
        return text


Channels3 = tuple[float, float, float]


class InputNormalization(BaseModel):
    """Per-channel mean and std (0..1 pixel scale) the proxy normalised its images with.

    Export records them so a training pipeline feeds the network the inputs it was searched on
    (timm's ``--mean`` / ``--std``). A property of the data, so never part of the digest.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: Channels3
    std: Channels3

    @field_validator("mean", "std", mode="before")
    @classmethod
    def _one_per_channel(cls, values: Any) -> Any:
        if isinstance(values, list | tuple) and len(values) != 3:
            raise ValueError(f"give 3 values, one per RGB channel; got {len(values)}")
        return values

    @field_validator("std")
    @classmethod
    def _positive(cls, std: Channels3) -> Channels3:
        if min(std) <= 0:
            raise ValueError(f"every std must be > 0, got {list(std)}")
        return std


class ArchConfig(BaseModel):
    """A complete, buildable placement of attention modules on a timm backbone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backbone: str = "resnet18"
    stem: Stem = "cifar"
    image_size: Int = Field(default=32, ge=4, le=MAX_IMAGE_SIZE)
    num_classes: Int = Field(default=10, ge=1, le=1_000_000)
    stages: dict[str, StagePlacement] = Field(default_factory=dict)
    existing_attention: ExistingAttention = "keep"
    backbone_weights: str | None = None
    normalization: InputNormalization | None = None
    provenance: dict[str, Any] | None = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchConfig:
        """Validate a plain dict (e.g. a trial's user attr) into an ArchConfig."""
        return validate_model(cls, data, "arch config")

    @classmethod
    def from_yaml(cls, source: str | Path) -> ArchConfig:
        """Load from an arch YAML file path, or from YAML text (as returned by ``to_yaml()``)."""
        if isinstance(source, str) and _is_yaml_text(source):
            return validate_model(cls, parse_yaml_mapping(str(source), "arch YAML text"), "arch YAML")
        data = read_yaml_mapping(source, "arch")
        return validate_model(cls, data, f"arch file {source}")

    @classmethod
    def coerce(cls, arch: ArchConfig | dict[str, Any] | str | Path) -> ArchConfig:
        """Accept an ArchConfig, a dict, or a path to an arch YAML."""
        if isinstance(arch, ArchConfig):
            return arch
        if isinstance(arch, dict):
            return cls.from_dict(arch)
        return cls.from_yaml(arch)

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON/YAML-safe dict; ``from_dict(to_dict())`` equals ``self``."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The arch YAML text; also written to ``path`` when given."""
        text = yaml.dump(self.to_dict(), Dumper=_SAFE_DUMPER, sort_keys=False)
        if path is not None:
            write_atomic(path, text)
        return text

    # -- identity -----------------------------------------------------------------------------
    def canonical(self) -> dict[str, Any]:
        """Everything that changes the network or its proxy result; stages with no attention
        are dropped so ``{}`` and ``{layer1: {module: none}}`` are the same network, and
        defaults are filled in (``existing_attention``/``backbone_weights`` only when set).
        ``normalization`` and ``provenance`` describe the data and the export, not the network."""
        stages = {
            name: stage.canonical() for name, stage in sorted(self.stages.items()) if stage.module != "none"
        }
        canon: dict[str, Any] = {
            "backbone": self.backbone,
            "stem": self.stem,
            "image_size": self.image_size,
            "num_classes": self.num_classes,
            "stages": stages,
        }
        if self.existing_attention != "keep":
            canon["existing_attention"] = self.existing_attention
        if self.backbone_weights is not None:
            canon["backbone_weights"] = self.backbone_weights
        return canon

    def digest(self) -> str:
        """Stable SHA-256 of :meth:`canonical` (independent of key order and process)."""
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def plain(self) -> ArchConfig:
        """The same backbone, stem, size and classes with no attention anywhere."""
        return self.model_copy(update={"stages": {}, "provenance": None})

    def label(self) -> str:
        """One-line placement summary, e.g. ``layer1=se/16 layer2=none ...``."""
        return " ".join(f"{name}={stage.label()}" for name, stage in self.stages.items())
