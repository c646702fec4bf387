"""The one YAML boundary: read a file or text into a dict, and pydantic errors into NasAttnError."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nas_attn.exceptions import NasAttnError

ModelT = TypeVar("ModelT", bound=BaseModel)


MAX_YAML_BYTES = 1 << 20  # 1 MiB: the shipped spaces and exported archs are a few KB
MAX_YAML_DEPTH = 32
MAX_YAML_ALIASES = 64


class LimitedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with a nesting depth and alias count limit and no duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _LimitError(f"more than {MAX_YAML_ALIASES} aliases (*name); write the values out")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _LimitError(f"nested more than {MAX_YAML_DEPTH} levels deep; flatten it")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    mark = key_node.start_mark
                    raise _LimitError(f"duplicate key '{key}' at line {mark.line + 1}; keep one of them")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _LimitError(Exception):
    """A YAML document over one of the limits above."""


MAX_YAML_NODES = 200_000  # values after aliases are expanded (an alias bomb has billions)


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand to more than MAX_YAML_NODES values, or that
    refers to itself (memoised over the node graph, so the check itself stays cheap)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _LimitError("an alias refers to the value that contains it; remove the cycle")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        if total > MAX_YAML_NODES:
            raise _LimitError(
                f"its aliases expand to more than {MAX_YAML_NODES} values; write it out plainly"
            )
        sizes[key] = total
        return total

    size(root)


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """Load a YAML file that must hold a mapping; every failure is one clear NasAttnError."""
    path = Path(path)
    if not path.is_file():
        hint = "" if path.suffix in {".yaml", ".yml"} else " (expected a .yaml file)"
        raise NasAttnError(f"{what} file not found: {path}{hint}; check the path")
    try:
        with path.open("rb") as f:
            blob = f.read(MAX_YAML_BYTES + 1)
    except OSError as exc:
        raise NasAttnError(f"cannot read {what} file {path}: {exc.strerror or exc}; check the path") from None
    if len(blob) > MAX_YAML_BYTES:
        raise NasAttnError(
            f"{what} file {path} is larger than {MAX_YAML_BYTES >> 20} MiB; a {what} is a few KB: "
            "check that this is the right file"
        )
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NasAttnError(
            f"{what} file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    return parse_yaml_mapping(text, f"{what} {path}")


def parse_yaml_mapping(text: str, where: str) -> dict[str, Any]:
    """Parse YAML text that must hold a mapping (size, depth, alias and duplicate-key limits)."""
    if len(text) > MAX_YAML_BYTES:
        raise NasAttnError(
            f"{where} is larger than {MAX_YAML_BYTES >> 20} MiB; check that it is the right text"
        )
    try:
        loader = LimitedSafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expanded_size(node)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _LimitError as exc:
        raise NasAttnError(f"{where} is refused: {exc}") from None
    except RecursionError:
        raise NasAttnError(f"{where} is refused: nested too deep; flatten it") from None
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
