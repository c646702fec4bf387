"""The README is the first thing a user runs: keep it in step with the code."""

from pathlib import Path

from nas_attn.attention import get_attention_info, list_attentions

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_quick_start_has_exactly_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in quick.splitlines() if line.strip()]
    assert commands == [
        "./run nas-attn search --space search_spaces/resnet18_stages.yaml --n-trials 6",
        "./run pytest",
    ]


def test_readme_zoo_table_lists_every_module_with_its_paper() -> None:
    rows = {
        line.split("|")[1].strip().strip("`"): line for line in README.splitlines() if line.startswith("| `")
    }
    assert set(rows) == set(list_attentions())
    for name, row in rows.items():
        assert get_attention_info(name).paper in row, name
