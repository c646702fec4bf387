"""Property: mutating the shipped search spaces and an exported arch file (types, ranges, keys,
encodings, structure) never gives a traceback. A mutated file is either refused with one
NasAttnError line, or accepted, and then an accepted space runs the real driver (in-process
pool, real SQLite study) to its target and leaves no RUNNING trial, and an accepted arch builds.

Examples: SPACE_EXAMPLES mutated spaces + ARCH_EXAMPLES mutated arch files per run,
derandomised (the same examples in CI every time).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nas_attn import NasAttnError, load_space
from nas_attn._types import SEED_MAX
from nas_attn.backbones import ArchConfig, build_model
from nas_attn.search import open_storage, open_study
from nas_attn.search.driver.loop import run_search
from nas_attn.testing.fakes import FakePool

SPACE_EXAMPLES = 100
ARCH_EXAMPLES = 50
ROOT = Path(__file__).resolve().parents[3]
SHIPPED = sorted((ROOT / "search_spaces").glob("*.yaml"))
SCRATCH = Path(tempfile.mkdtemp(prefix="nas-attn-fuzz-"))

VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-3, max_value=300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.lists(st.integers(min_value=-2, max_value=300), max_size=4),
    st.lists(st.sampled_from(["none", "se", "eca", "simam", "cross", "mhsa", "shuffle"]), max_size=4),
    st.sampled_from(
        [
            "block",
            "stage_out",
            "latency_ms <= nan",
            "params <= 1e999",
            "latency_ms <= 3",
            "cifar10:/nope",
            "synthetic",
            "tpe",
            "exhaustive",
            "replace",
            "1e9",
            ".nan",
            "0x10",
        ]
    ),
    st.dictionaries(
        st.sampled_from(["module", "reduction", "position", "x", "limit"]), st.integers(), max_size=2
    ),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into a nested dict/list (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, child in items:
        out.append((*prefix, key))
        out += _paths(child, (*prefix, key))
    return out


@st.composite
def mutated(draw: st.DrawFn, documents: list[dict[str, Any]]) -> bytes:
    """One document with 1-3 structural mutations, then maybe one text/encoding mutation."""
    doc = yaml.safe_load(yaml.safe_dump(draw(st.sampled_from(documents))))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        action = draw(st.sampled_from(["set", "set", "set", "delete", "add", "rename"]))
        if action == "set":
            parent[key] = draw(VALUES)
        elif action == "delete":
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["seed", "extra", "existing_attention", "epochs", "7"]))] = draw(
                VALUES
            )
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = parent.pop(key)
    text = yaml.safe_dump(doc, sort_keys=draw(st.booleans()), allow_unicode=True)
    encoding = draw(
        st.sampled_from(["utf-8"] * 6 + ["utf-16", "latin-1", "dup", "truncate", "deep", "alias"])
    )
    if encoding in ("utf-16", "latin-1"):
        return ("# é\n" + text).encode(encoding)
    if encoding == "dup":
        lines = text.splitlines(keepends=True)
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        return "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]).encode()
    if encoding == "truncate":
        return text.encode()[: draw(st.integers(min_value=0, max_value=len(text)))]
    if encoding == "deep":
        depth = draw(st.integers(min_value=20, max_value=5000))
        return (text + "extra: " + "[" * depth + "]" * depth + "\n").encode()
    if encoding == "alias":
        levels = draw(st.integers(min_value=2, max_value=14))
        bomb = "b0: &b0 [x, x, x]\n" + "".join(
            f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}, *b{i - 1}]\n" for i in range(1, levels)
        )
        return (text + bomb).encode()
    return text.encode()


def _write(data: bytes, name: str) -> Path:
    path = SCRATCH / name
    path.write_bytes(data)
    return path


def _refused_as_one_line(exc: NasAttnError) -> None:
    message = str(exc)
    assert message and "\n" not in message and "Traceback" not in message, message


SPACES = [yaml.safe_load(p.read_text()) for p in SHIPPED]


def _cheap(space_doc: dict[str, Any]) -> dict[str, Any]:
    """The shipped space with a tiny proxy, so accepted mutants check fast."""
    space_doc = dict(space_doc)
    space_doc["proxy"] = {**space_doc.get("proxy", {}), "dataset": "synthetic", "image_size": 16}
    return space_doc


@settings(
    max_examples=SPACE_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated([_cheap(d) for d in SPACES]))
@pytest.mark.slow
def test_mutated_spaces_are_refused_in_one_line_or_search_cleanly(data: bytes) -> None:
    path = _write(data, "space.yaml")
    try:
        space = load_space(path)
    except NasAttnError as exc:
        _refused_as_one_line(exc)
        event("refused")
        return
    event("accepted: searched")
    for constraint in space.constraints:
        assert math.isfinite(constraint.limit)
    assert 0 <= space.proxy.seed <= SEED_MAX and 0 <= space.search.seed <= SEED_MAX
    assert math.isfinite(space.proxy.lr) and space.proxy.image_size <= 512
    db = SCRATCH / "study.db"
    db.unlink(missing_ok=True)
    storage = open_storage(f"sqlite:///{db}")
    try:
        study = open_study(storage, space.name, space, "random")
        run_search(study, space, 2, FakePool(workers=2))
        states = [t.state for t in study.get_trials(deepcopy=False)]
        assert optuna.trial.TrialState.RUNNING not in states, states
        assert states.count(optuna.trial.TrialState.COMPLETE) >= 1
    finally:
        storage.engine.dispose()


def _exported_arch() -> dict[str, Any]:
    space = load_space(ROOT / "search_spaces" / "resnet18_stages.yaml")
    arch = space.base_arch().to_dict()
    arch["image_size"] = 16
    arch["stages"] = {
        "layer1": {"module": "se", "reduction": 8, "position": "block"},
        "layer2": {"module": "eca", "position": "block"},
        "layer3": {"module": "none"},
        "layer4": {"module": "cbam", "reduction": 16, "position": "last_block"},
    }
    arch["provenance"] = {
        "study": "s",
        "trial": 3,
        "storage": "sqlite:///nas_attn.db",
        "objectives": {"accuracy": 0.9, "latency_ms": 1.5},
        "versions": {"torch": "2"},
    }
    return arch


@settings(
    max_examples=ARCH_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated([_exported_arch()]))
@pytest.mark.slow
def test_mutated_arch_files_are_refused_in_one_line_or_build(data: bytes) -> None:
    path = _write(data, "arch.yaml")
    try:
        arch = ArchConfig.from_yaml(path)
        if arch.image_size <= 64:
            model = build_model(arch)
            assert model is not None
        event("accepted")
    except NasAttnError as exc:
        _refused_as_one_line(exc)
        event("refused")


@pytest.mark.parametrize("doc", SPACES, ids=[p.name for p in SHIPPED])
def test_the_unmutated_shipped_spaces_load(doc: dict[str, Any]) -> None:
    assert load_space(_write(yaml.safe_dump(_cheap(doc)).encode(), "plain.yaml")).stages
