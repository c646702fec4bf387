"""The README's "Training an exported placement" commands, run as written.

The test makes what the README assumes: a finished study of the default space in
``nas_attn.db`` (trials recording the digits proxy's real normalisation at 16 px), an image
folder ``data/``, and timm's ``train.py`` / ``validate.py`` (stand-ins, see timm_scripts.py:
timm's scripts are not in the timm wheel). Each command runs as a user runs it, ``nas-attn``
being ``python -m nas_attn``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_cli
from support.finished_study import make_finished_study
from support.timm_scripts import make_image_folder, write_scripts

from nas_attn.data import load_dataset
from nas_attn.deploy.timm_command import DATA_DIR_PLACEHOLDER

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SECTION = "### Training an exported placement"


def readme_commands() -> list[str]:
    block = README.split(SECTION, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command)
    assert words[0] == "nas-attn", command
    env = {**os.environ, "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "nas_attn", *words[1:]], cwd=cwd, capture_output=True, text=True, env=env
    )


def test_the_readme_shows_export_train_and_validate() -> None:
    commands = readme_commands()
    assert [shlex.split(c)[:3] for c in commands] == [
        ["nas-attn", "export", "--study"],
        ["nas-attn", "with-timm", "train.py"],
        ["nas-attn", "with-timm", "validate.py"],
    ]


@pytest.mark.slow
def test_readme_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    digits = load_dataset("digits", 16)  # what the default space's proxy normalises with
    make_finished_study(
        tmp_path,
        name="resnet18_stages",
        db="nas_attn.db",
        normalization=(list(digits.mean), list(digits.std)),
    )
    write_scripts(tmp_path)
    make_image_folder(tmp_path / "data")
    export, train, validate = readme_commands()

    exported = run(export, tmp_path)
    assert exported.returncode == 0, exported.stderr
    printed = next(line.strip() for line in exported.stdout.splitlines() if "with-timm" in line)
    # the README's train command is the one export printed, on data/, plus training choices
    assert train.startswith(printed.replace(f"--data-dir {DATA_DIR_PLACEHOLDER}", "--data-dir data") + " ")

    trained = run(train, tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "batch (32, 3, 16, 16), classes 10" in trained.stdout
    assert (tmp_path / "output/train/best/model_best.pth.tar").is_file()

    validated = run(validate, tmp_path)
    assert validated.returncode == 0, validated.stderr
    assert "validated nas_attn on 10 images, input (3, 16, 16): top-1 " in validated.stdout

    # --pretrained, which the README says is refused, is refused with the backbone_weights fix
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli([*shlex.split(train)[1:], "--pretrained"], tmp_path, capsys)
    assert code == 1
    assert (
        err.startswith('nas-attn: error: timm model "nas_attn" has no hub weights') and err.count("\n") == 1
    )
    assert "set backbone_weights: PATH" in err
