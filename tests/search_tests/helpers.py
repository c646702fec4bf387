"""Building small spaces and studies for the search tests."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import optuna

from nas_attn import load_space
from nas_attn.search import open_storage, open_study
from nas_attn.search.space import SearchSpace

State = optuna.trial.TrialState

SMALL_STAGES = "  layer1: {module: [none, se, eca], reduction: [4, 16]}\n"  # 4 placements
TINY_STAGES = (
    "  layer1: {module: [none, se, eca, cbam], reduction: [4, 16]}\n"
    "  layer2: {module: [none, se, eca, cbam], reduction: [4, 16]}\n"
)  # 36 placements


def space_yaml(stages: str = TINY_STAGES, name: str = "tiny", **search: Any) -> str:
    settings = {"sampler": "random", "n_trials": 3, "seed": 0, "population_size": 4, **search}
    flat = ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in settings.items())
    return (
        f"name: {name}\nbackbone: {{name: resnet18, stem: cifar}}\nstages:\n{stages}"
        "proxy: {dataset: digits, image_size: 8, epochs: 1, batch_size: 64, crop_padding: 1}\n"
        "latency: {warmup: 1, repeats: 5}\n"
        f"search: {{{flat}}}\n"
    )


def write_space(directory: Path, text: str, filename: str = "space.yaml") -> Path:
    path = directory / filename
    path.write_text(text)
    return path


def make_study(url: str, space_file: Path, sampler: str | None = None) -> tuple[optuna.Study, SearchSpace]:
    space = load_space(space_file)
    study = open_study(open_storage(url), space.name, space, sampler or space.search.sampler)
    return study, space


def reload(url: str, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=url)


def states(study: optuna.Study) -> Counter[str]:
    return Counter(t.state.name for t in study.get_trials(deepcopy=False))


def evaluated(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(State.COMPLETE,))
        if "duplicate_of" not in t.user_attrs
    ]


def assert_consistent(study: optuna.Study, evaluated_target: int) -> None:
    """Exactly ``evaluated_target`` evaluated placements, all distinct; nothing RUNNING/WAITING;
    every duplicate points at an evaluated trial with the same placement and values."""
    trials = study.get_trials(deepcopy=False)
    assert not [t.number for t in trials if t.state in (State.RUNNING, State.WAITING)]
    done = evaluated(study)
    assert len(done) == evaluated_target, states(study)
    digests = [t.user_attrs["arch_digest"] for t in done]
    assert len(set(digests)) == len(digests), "a placement was evaluated twice"
    by_number = {t.number: t for t in done}
    for t in trials:
        if t.state == State.COMPLETE and "duplicate_of" in t.user_attrs:
            source = by_number[t.user_attrs["duplicate_of"]]
            assert source.user_attrs["arch_digest"] == t.user_attrs["arch_digest"]
            assert source.values == t.values
        if t.state == State.FAIL:
            assert t.user_attrs.get("fail_reason"), f"trial {t.number} failed without a reason"
