"""The README is the first thing a user runs: keep it in step with the code."""

import re
from pathlib import Path

from nas_attn.attention import get_attention_info, list_attentions
from nas_attn.data import list_datasets

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def section(heading: str) -> str:
    """The README's text under ``heading`` (a whole line, e.g. ``"### Proxy datasets"``), up to
    the next heading of any level."""
    body = README.split(f"\n{heading}\n", 1)[1]
    return re.split(r"\n#{1,6} ", body, maxsplit=1)[0]


def table_rows(text: str) -> list[str]:
    """The body rows of the markdown table in ``text`` (header and rule left out)."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return rows[2:]


def test_readme_quick_start_has_exactly_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in quick.splitlines() if line.strip()]
    assert commands == [
        "./run nas-attn search --space search_spaces/resnet18_stages.yaml --n-trials 6",
        "./run pytest",
    ]


def test_readme_zoo_table_lists_every_module_with_its_paper() -> None:
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in section("## The attention zoo").splitlines()
        if line.startswith("| `")
    }
    assert set(rows) == set(list_attentions())
    for name, row in rows.items():
        assert get_attention_info(name).paper in row, name


def test_readme_dataset_table_names_every_dataset_kind_once() -> None:
    named = [
        name
        for row in table_rows(section("### Proxy datasets"))
        for name in re.findall(r"`([^`]+)`", row.split("|")[1])
    ]
    assert sorted(named) == sorted(list_datasets())
