"""The package's layers hold: every import inside ``nas_attn/`` follows the table below.

An ``ast`` pass reads every ``import`` of every module (at the top, inside functions and under
``TYPE_CHECKING`` alike), maps each module to its component (the longest name in ``LAYERS``
that prefixes it) and fails on any edge between two components that the table does not allow.
The table is a one-way graph (checked acyclic), so nothing can point back up; the diagram in
``docs/architecture.md`` ("Layers") is this table, rendered by :func:`render_layers`, and a test
keeps the two identical.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "nas_attn"
DOC = REPO / "docs" / "architecture.md"
DOC_BEGIN = "<!-- layers: generated from tests/test_layers.py LAYERS; edit the table there -->"
DOC_END = "<!-- /layers -->"

# The ground floor: small shared modules every component may import; among themselves only as
# the last entries of LAYERS say.
BASE = ("outputs", "_yaml", "exceptions", "defaults", "_types", "_lazy", "_version", "_startup", "redact")

# component -> the components it may import (besides itself and the ground floor), top to bottom.
LAYERS: dict[str, tuple[str, ...]] = {
    "nas_attn": ("deploy", "backbones", "search.sampling"),  # the package root: public API + timm entry
    "__main__": ("cli",),
    "testing": (
        "cli",
        "deploy",
        "search",
        "search.usecases",
        "search.driver",
        "search.seeds",
        "search.execution",
        "search.results",
        "search.claims",
        "search.studydb",
        "search.sampling",
        "worker",
        "backbones",
        "attention",
        "data",
        "nas_attn",
    ),
    "cli": (
        "report",
        "deploy",
        "search",
        "search.usecases",
        "search.driver",
        "search.results",
        "search.claims",
        "search.studydb",
        "search.execution",
        "search.sampling",
        "stats",
        "worker",
        "backbones",
        "attention",
        "data",
        "nas_attn",
    ),
    "report": ("search.results", "search.claims", "search.studydb", "stats", "backbones"),
    "deploy": ("search.results", "search.studydb", "worker", "backbones", "data"),
    "search": (
        "search.usecases",
        "search.driver",
        "search.execution",
        "search.results",
        "search.claims",
        "search.studydb",
        "search.sampling",
    ),
    "search.usecases": (
        "search.driver",
        "search.seeds",
        "search.interrupts",
        "search.results",
        "search.claims",
        "search.execution",
        "search.studydb",
        "search.sampling",
        "stats",
        "worker",
        "backbones",
        "data",
    ),
    "search.driver": (
        "search.seeds",
        "search.interrupts",
        "search.results",
        "search.claims",
        "search.execution",
        "search.studydb",
        "search.sampling",
        "stats",
        "worker",
        "backbones",
    ),
    "search.seeds": (
        "search.interrupts",
        "search.results",
        "search.claims",
        "search.execution",
        "search.studydb",
        "search.sampling",
        "stats",
        "worker",
        "backbones",
    ),
    "search.interrupts": (),
    "search.results": ("search.claims", "search.studydb", "stats", "backbones", "worker"),
    "search.claims": ("stats",),
    "search.execution": ("search.interrupts", "worker", "backbones", "data"),
    "search.studydb": ("search.sampling", "stats", "worker", "backbones"),
    "supernet": ("search.sampling", "worker", "backbones", "attention", "data"),
    "search.sampling": ("worker", "backbones", "attention", "data"),
    "stats": (),
    "worker": ("backbones", "attention", "data"),
    "backbones": ("attention",),
    "attention": (),
    "data": (),
    "outputs": ("exceptions",),
    "_yaml": ("exceptions",),
    **{name: () for name in BASE if name not in ("outputs", "_yaml")},
}


def allowed_imports(component: str) -> set[str]:
    """What ``component`` may import: its row of LAYERS, plus the ground floor above it."""
    return set(LAYERS[component]) | (set() if component in BASE else set(BASE))


def component_of(module: str) -> str:
    """The component of a dotted module name under ``nas_attn`` (the longest table entry)."""
    if module == "nas_attn":
        return "nas_attn"
    rest = module.removeprefix("nas_attn.")
    parts = rest.split(".")
    for size in range(len(parts), 0, -1):
        candidate = ".".join(parts[:size])
        if candidate in LAYERS:
            return candidate
    raise KeyError(f"{module} belongs to no component of LAYERS; add it to the table")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    base = REPO.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """Every ``nas_attn`` module ``path`` imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "nas_attn")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "nas_attn":
            assert node.level == 0, f"{path}: relative import"
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _is_module(sub) else node.module)
    return found


def component_edges() -> dict[tuple[str, str], list[str]]:
    """``(importer component, imported component) -> ["module -> module", ...]``."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        for imported in sorted(imported_modules(path)):
            pair = (component_of(importer), component_of(imported))
            if pair[0] != pair[1]:
                edges[pair].append(f"{importer} -> {imported}")
    return edges


def render_layers() -> str:
    """The table as the text block architecture.md shows (one component a line)."""
    width = max(len(name) for name in LAYERS)
    lines = []
    for name, allowed in LAYERS.items():
        targets = ", ".join(allowed) or "(nothing)"
        lines.append(f"{name:<{width}}  ->  {targets}{'' if name in BASE else '  + ground floor'}")
    return "\n".join(lines)


def test_every_module_belongs_to_a_component() -> None:
    modules = [module_name(p) for p in PACKAGE.rglob("*.py")]
    assert len(modules) > 100, "the package's modules were not found"
    for module in modules:
        component_of(module)


def test_the_table_points_one_way() -> None:
    for name, allowed in LAYERS.items():
        unknown = set(allowed) - set(LAYERS)
        assert not unknown, f"{name} allows unknown components {unknown}"
    try:
        order = list(TopologicalSorter({name: allowed_imports(name) for name in LAYERS}).static_order())
    except CycleError as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"LAYERS has a cycle: {exc.args[1]}")
    assert set(order) == set(LAYERS)


def test_no_import_breaks_the_layers() -> None:
    edges = component_edges()
    assert edges, "no import between components was found: the scan is broken"
    broken = {pair: modules for pair, modules in edges.items() if pair[1] not in allowed_imports(pair[0])}
    listing = "\n".join(f"{a} -> {b}: {'; '.join(m)}" for (a, b), m in sorted(broken.items()))
    assert not broken, f"imports that break the layers (tests/test_layers.py LAYERS):\n{listing}"


def test_architecture_doc_shows_the_table() -> None:
    text = DOC.read_text()
    assert DOC_BEGIN in text and DOC_END in text, f"docs/architecture.md lacks the block {DOC_BEGIN}"
    block = text.split(DOC_BEGIN, 1)[1].split(DOC_END, 1)[0].strip().strip("`").strip()
    assert block == render_layers(), "docs/architecture.md's layer table is stale; paste render_layers()"
