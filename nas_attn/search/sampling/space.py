"""SearchSpace: the typed search-space YAML, and sampling an ArchConfig from an Optuna trial.

Validated once at load: unknown keys, unknown modules, module/position combinations, stage
names and reductions are checked against the backbone's real stage geometry, so a bad space
fails before any trial starts, with the YAML key path of every problem.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any, Literal

import optuna
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from nas_attn._types import Bool, Float, Int, Seed
from nas_attn._yaml import read_yaml_mapping, validate_model
from nas_attn.attention import Position, get_attention_info, list_attentions, reduction_problem
from nas_attn.backbones import ArchConfig, StageGeometry, StagePlacement, get_adapter, stage_geometry
from nas_attn.backbones.arch_config import ExistingAttention, Stem
from nas_attn.backbones.builder import stage_problems
from nas_attn.data import get_dataset_spec
from nas_attn.defaults import DEFAULT_REDUCTION, SamplerName
from nas_attn.exceptions import NasAttnError
from nas_attn.worker.config import Constraint, LatencyConfig, ProxyConfig
from nas_attn.worker.evaluate import OBJECTIVE_NAMES
from nas_attn.worker.request import TrainRequest

Direction = Literal["maximize", "minimize"]
_DEFAULT_POSITIONS: tuple[Position, ...] = ("block",)
#: Validation context key for a space read back from a study (its dump holds every default).
STORED_SPACE_KEY = "stored_space"


class BackboneSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "resnet18"
    stem: Stem = "cifar"
    existing_attention: ExistingAttention = "keep"  # replace: the backbone's own block attention


class StageChoices(BaseModel):
    """The choices the sampler may take for one stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    module: list[str] = Field(min_length=1)
    reduction: list[Int] = Field(default_factory=lambda: [DEFAULT_REDUCTION], min_length=1)
    position: list[Position] = Field(default_factory=lambda: list(_DEFAULT_POSITIONS), min_length=1)

    @field_validator("module")
    @classmethod
    def _known_modules(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in list_attentions()]
        if unknown:
            raise ValueError(
                f"unknown attention module {', '.join(repr(n) for n in unknown)}; "
                f"available: {', '.join(list_attentions())}"
            )
        if len(set(names)) != len(names):
            raise ValueError("module choices contain duplicates; list each module once")
        return names

    @field_validator("reduction")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError(f"reduction ratios must be positive integers, got {values}")
        return values

    @model_validator(mode="after")
    def _positions_supported(self) -> StageChoices:
        for module in self.module:
            if module == "none":
                continue
            bad = [p for p in self.position if p not in get_attention_info(module).positions]
            if bad:
                raise ValueError(f"module '{module}' cannot be placed at {bad}; drop it or the position")
        return self

    @model_validator(mode="after")
    def _reduction_applies(self, info: ValidationInfo) -> StageChoices:
        stored = (info.context or {}).get(STORED_SPACE_KEY, False)  # a study's dump lists every field
        if (
            not stored
            and "reduction" in self.model_fields_set
            and not any(get_attention_info(m).uses_reduction for m in self.module)
        ):
            raise ValueError(
                f"reduction {self.reduction} cannot apply: none of {self.module} uses a reduction; "
                "remove the reduction key or add a module that uses one (e.g. se)"
            )
        return self


class Objective(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    direction: Direction

    @field_validator("name")
    @classmethod
    def _known_objective(cls, name: str) -> str:
        if name not in OBJECTIVE_NAMES:
            raise ValueError(f"unknown objective '{name}'; available: {', '.join(OBJECTIVE_NAMES)}")
        return name


def _default_objectives() -> list[Objective]:
    return [
        Objective(name="accuracy", direction="maximize"),
        Objective(name="latency_ms", direction="minimize"),
    ]


class FidelitySettings(BaseModel):
    """Successive halving for a multi-objective search (``search.fidelity``).

    Placements are trained in brackets of ``bracket`` at ``epochs[0]``; when a rung is done,
    only its non-dominated placements (``promote: front``) or its best ``promote`` fraction by
    non-dominated rank then crowding distance are retrained at the next budget. A trial's values
    are those of the highest budget it reached; the front ranks the highest budget reached.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: list[Int] = Field(min_length=2)
    bracket: Int = Field(default=8, ge=2, le=10_000)
    promote: Literal["front"] | Float = "front"

    @field_validator("epochs")
    @classmethod
    def _increasing(cls, epochs: list[int]) -> list[int]:
        if epochs[0] < 1 or any(b <= a for a, b in itertools.pairwise(epochs)):
            raise ValueError(f"fidelity epochs must be positive and strictly increasing, got {epochs}")
        return epochs

    @field_validator("promote")
    @classmethod
    def _fraction(cls, promote: str | float) -> str | float:
        if isinstance(promote, float) and not 0 < promote < 1:
            raise ValueError(f"promote must be 'front' or a fraction between 0 and 1, got {promote}")
        return promote


class RacingSettings(BaseModel):
    """Extra seeds where the front is still open (``nas_attn.search.seeds.policy.Racing``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_seeds: Int = Field(default=3, ge=2, le=20)  # per placement, its own seed included


class SearchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sampler: SamplerName = "nsga2"
    n_trials: Int = Field(default=40, ge=1, le=1_000_000)
    seed: Seed = 0
    population_size: Int = Field(default=16, ge=2, le=10_000)
    baselines: Bool = True  # evaluate "no attention" and "SE everywhere" first
    fidelity: FidelitySettings | None = None
    final_seeds: Int = Field(default=1, ge=1, le=20)  # re-run the final front with this many seeds
    racing: RacingSettings | None = None  # extra seeds only where the front is still open

    @model_validator(mode="after")
    def _one_seed_rule(self) -> SearchSettings:
        if self.racing is not None and self.final_seeds > 1:
            raise ValueError(
                "search.final_seeds and search.racing both add seeds after the search; keep one "
                "(racing spends seeds only where the front is still open)"
            )
        return self


class SearchSpace(BaseModel):
    """A whole search: backbone, per-stage choices, proxy budget, latency protocol, objectives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    backbone: BackboneSpec = Field(default_factory=BackboneSpec)
    stages: dict[str, StageChoices] = Field(min_length=1)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    objectives: list[Objective] = Field(default_factory=_default_objectives, min_length=1)
    constraints: list[Constraint] = Field(default_factory=list)
    search: SearchSettings = Field(default_factory=SearchSettings)

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ValueError(f"'{name}' is not a valid study name; use letters, digits, '_', '-', '.'")
        return name

    @field_validator("objectives")
    @classmethod
    def _unique_objectives(cls, objectives: list[Objective]) -> list[Objective]:
        names = [o.name for o in objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objectives repeat a name: {names}")
        return objectives

    @property
    def directions(self) -> list[Direction]:
        return [o.direction for o in self.objectives]

    @property
    def num_classes(self) -> int:
        return get_dataset_spec(self.proxy.dataset).num_classes

    def base_arch(self) -> ArchConfig:
        """The backbone with no attention, at the proxy's image size."""
        return ArchConfig(
            backbone=self.backbone.name,
            stem=self.backbone.stem,
            existing_attention=self.backbone.existing_attention,
            image_size=self.proxy.image_size,
            num_classes=self.num_classes,
        )

    def identity(self) -> dict[str, Any]:
        """Everything that defines what a trial of this study means (not how many to run).

        ``constraints``, ``proxy.train_seed``, ``proxy.warm_start`` and
        ``backbone.existing_attention`` join the identity only when set, so studies made before
        they existed still resume."""
        exclude: dict[str, Any] = {"search": True}
        if self.backbone.existing_attention == "keep":
            exclude["backbone"] = {"existing_attention"}
        if not self.constraints:
            exclude["constraints"] = True
        proxy_unset = {name for name in ("train_seed", "warm_start") if getattr(self.proxy, name) is None}
        if proxy_unset:
            exclude["proxy"] = proxy_unset
        return self.model_dump(mode="json", exclude=exclude)

    def proxy_at(
        self, epochs: int | None = None, train_seed: int | None = None, *, from_scratch: bool = False
    ) -> ProxyConfig:
        """The proxy config with its epoch budget and/or training seed replaced (same data);
        ``from_scratch`` drops its warm start."""
        update: dict[str, object] = {}
        if epochs is not None:
            update["epochs"] = epochs
        if train_seed is not None:
            update["train_seed"] = train_seed
        if from_scratch:
            update["warm_start"] = None
        return self.proxy.model_copy(update=update)

    def train_request(
        self,
        arch: ArchConfig,
        *,
        epochs: int | None = None,
        seed: int | None = None,
        from_scratch: bool = False,
    ) -> TrainRequest:
        """The one worker request the search builds: train ``arch`` with the proxy at ``epochs``
        (default: the proxy's) and training ``seed`` (default: the proxy's), from the proxy's warm
        start unless ``from_scratch``, timed and screened as the space says. The search's trials,
        the extra seeds and ``validate-proxy``'s re-runs all come from here, so every training
        carries the latency settings and constraints."""
        return TrainRequest(
            arch=arch,
            proxy=self.proxy_at(epochs=epochs, train_seed=seed, from_scratch=from_scratch),
            latency=self.latency,
            constraints=tuple(self.constraints),
        )


def _check_against_backbone(space: SearchSpace, where: str) -> None:
    """Stage names and reductions against the backbone's real geometry; all problems at once."""
    get_adapter(space.backbone.name)
    geometry: dict[str, StageGeometry] = stage_geometry(space.base_arch())
    problems = []
    for name, choices in space.stages.items():
        if name not in geometry:
            problems.append(
                f"stages.{name}: unknown stage for {space.backbone.name}; stages are {', '.join(geometry)}"
            )
            continue
        uses_reduction = any(get_attention_info(m).uses_reduction for m in choices.module)
        too_big = reduction_problem(f"stages.{name}.reduction", choices.reduction, geometry[name].channels)
        if uses_reduction and too_big is not None:
            problems.append(too_big)
            continue
        problems.extend(_impossible_choices(space, name, choices, geometry[name]))
    if problems:
        raise NasAttnError(f"invalid {where}: " + "; ".join(problems))


def _impossible_choices(
    space: SearchSpace, name: str, choices: StageChoices, geo: StageGeometry
) -> list[str]:
    """Probe every module x position x reduction the sampler could pick, so a choice that can
    never be built (e.g. shuffle's 64 groups on 64 channels) is refused now, not as failed trials."""
    base = space.base_arch()
    problems: list[str] = []
    for module in choices.module:
        if module == "none":
            continue
        reductions: list[int | None] = (
            list(choices.reduction) if get_attention_info(module).uses_reduction else [None]
        )
        for position, reduction in itertools.product(choices.position, reductions):
            placement = StagePlacement(module=module, position=position, reduction=reduction)
            found = stage_problems(base, name, placement, geo)
            if found:
                problems.append(
                    f"{found[0]} (drop '{module}' from stages.{name}.module or change the choice)"
                )
                break
    return problems


def load_space(path: str | Path) -> SearchSpace:
    """Read and fully validate a search-space YAML file."""
    where = f"search space {path}"
    space = validate_model(SearchSpace, read_yaml_mapping(path, "search space"), where)
    _check_against_backbone(space, where)
    return space


StageField = Literal["module", "reduction", "position"]


def param_name(stage: str, field: StageField) -> str:
    """The sampler's parameter name for ``field`` of stage ``stage`` (e.g. ``layer1.module``)."""
    return f"{stage}.{field}"


def sample_arch(trial: optuna.Trial | optuna.trial.FixedTrial, space: SearchSpace) -> ArchConfig:
    """The only ``suggest_*`` caller. ``reduction`` is sampled only for modules that use it."""
    stages: dict[str, dict[str, Any]] = {}
    for name, choices in space.stages.items():
        module = trial.suggest_categorical(param_name(name, "module"), choices.module)
        stage: dict[str, Any] = {"module": module}
        if module != "none":
            if get_attention_info(module).uses_reduction:
                stage["reduction"] = trial.suggest_categorical(
                    param_name(name, "reduction"), choices.reduction
                )
            stage["position"] = trial.suggest_categorical(param_name(name, "position"), choices.position)
        stages[name] = stage
    return ArchConfig.from_dict({**space.base_arch().to_dict(), "stages": stages})
