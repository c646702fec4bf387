"""The one YAML boundary: read a file or text into a dict, and pydantic errors into NasAttnError."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nas_attn.exceptions import NasAttnError

ModelT = TypeVar("ModelT", bound=BaseModel)


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """Load a YAML file that must hold a mapping; every failure is one clear NasAttnError."""
    path = Path(path)
    if not path.is_file():
        hint = "" if path.suffix in {".yaml", ".yml"} else " (expected a .yaml file)"
        raise NasAttnError(f"{what} file not found: {path}{hint}; check the path")
    return parse_yaml_mapping(path.read_text(encoding="utf-8"), f"{what} {path}")


def parse_yaml_mapping(text: str, where: str) -> dict[str, Any]:
    """Parse YAML text that must hold a mapping."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise NasAttnError(f"YAML syntax error in {where}{at}: {problem}; fix the YAML") from None
    if not isinstance(data, dict):
        raise NasAttnError(f"{where} must be a YAML mapping (key: value), got {type(data).__name__}")
    return data


def format_validation_error(exc: ValidationError, where: str) -> str:
    """Render pydantic errors as ``where: key.path: message`` joined with '; '."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling"
        parts.append(f"{loc}: {msg}")
    return f"invalid {where}: " + "; ".join(parts)


def validate_model(model: type[ModelT], data: Any, where: str) -> ModelT:
    """``model.model_validate(data)`` with errors turned into one NasAttnError line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise NasAttnError(format_validation_error(exc, where)) from None
