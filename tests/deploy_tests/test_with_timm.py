"""``nas-attn with-timm``: a timm-style script runs with the ``nas_attn`` model registered.

The runner's contract (argv untouched, exit codes kept, -m MODULE, clear errors) is checked
in-process on tiny scripts; the end-to-end check runs a timm-style training script on an
exported arch as real subprocesses, with and without the wrapper.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_cli
from support.finished_study import make_finished_study
from support.timm_scripts import make_image_folder, write_scripts

from nas_attn.cli.app import EXIT_USAGE
from nas_attn.deploy.select import export_arch, select_trial

ECHO = """\
import json, sys
import helper  # a module next to the script: the script's folder is on sys.path
json.dump({"argv": sys.argv, "name": __name__}, open("seen.json", "w"))
"""


def script(folder: Path, body: str, name: str = "script.py") -> Path:
    path = folder / name
    path.write_text(body)
    return path


def test_args_reach_the_script_untouched_and_argv_is_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    script(scripts, "", "helper.py")
    path = script(scripts, ECHO)
    monkeypatch.chdir(tmp_path)
    argv_before = sys.argv[:]
    ours = ["--help", "--storage", "x", "-m", "--", "--study", "a b", ""]  # our own option names too
    assert run_cli(["with-timm", str(path), *ours], tmp_path, capsys)[0] == 0
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"argv": [str(path), *ours], "name": "__main__"}
    assert sys.argv == argv_before and str(scripts) not in sys.path


def test_module_form_runs_the_module_as_main(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "mytrainer"
    package.mkdir()
    script(package, "", "__init__.py")
    script(tmp_path, "", "helper.py")  # python -m puts the working directory first on sys.path
    script(package, ECHO, "train.py")
    monkeypatch.chdir(tmp_path)
    assert run_cli(["with-timm", "-m", "mytrainer.train", "--help", "-b", "2"], tmp_path, capsys)[0] == 0
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["name"] == "__main__" and seen["argv"][1:] == ["--help", "-b", "2"]
    assert Path(seen["argv"][0]) == package / "train.py"  # like python -m: argv[0] is the module's file


@pytest.mark.parametrize(
    ("body", "status", "stderr"),
    [
        ("pass\n", 0, ""),
        ("import sys\nsys.exit()\n", 0, ""),
        ("import sys\nsys.exit(0)\n", 0, ""),
        ("raise SystemExit(3)\n", 3, ""),
        ("import sys\nsys.exit(True)\n", 1, ""),
        ("import sys\nsys.exit('bad data dir: /nope')\n", 1, "bad data dir: /nope\n"),
    ],
)
def test_exit_status_is_the_scripts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, status: int, stderr: str
) -> None:
    code, _, err = run_cli(["with-timm", str(script(tmp_path, body))], tmp_path, capsys)
    assert code == status
    assert err == stderr


def test_an_uncaught_exception_shows_the_scripts_traceback_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = script(tmp_path, "def step():\n    raise RuntimeError('loss is nan')\n\nstep()\n")
    code, _, err = run_cli(["with-timm", str(path)], tmp_path, capsys)
    assert code == 1
    assert err.startswith("Traceback (most recent call last):\n")
    assert f'File "{path}", line 4, in <module>' in err and "RuntimeError: loss is nan" in err
    assert "runpy" not in err and "with_timm.py" not in err  # the runner's own frames are left out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.py", "--help"], "nas-attn: error: script not found: missing.py; give the path of"),
        (["-m", "no_such_module_x"], "nas-attn: error: no module named 'no_such_module_x'; check the name"),
        (
            ["-m", "no_such_package_x.train"],
            "nas-attn: error: no module named 'no_such_package_x.train'; check the name",
        ),
    ],
)
def test_a_missing_script_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(["with-timm", *args], tmp_path, capsys)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(message), err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            "pretrained=True, arch={'image_size': 16}",
            'nas-attn: error: timm model "nas_attn" has no hub weights, so --pretrained (pretrained=True) '
            "cannot load any; drop it and set backbone_weights: PATH",
        ),
        ("arch='missing.yaml'", "nas-attn: error: arch file not found: missing.yaml; check the path"),
    ],
)
def test_our_errors_from_the_script_are_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kwargs: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    body = f"import timm\ntimm.create_model('nas_attn', {kwargs})\n"
    code, _, err = run_cli(["with-timm", str(script(tmp_path, body))], tmp_path, capsys)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith(message), err


def test_help_explains_the_wrapper(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["with-timm", "--help"], tmp_path, capsys)
    assert code == 0
    out = " ".join(out.split())
    assert "Unknown model (nas_attn)" in out and "--model-kwargs arch=best.yaml" in out
    assert "exit code is kept" in out and "-m" in out


def test_options_before_the_script_are_ours(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["with-timm", "--epochs", "3", "train.py"], tmp_path, capsys)
    assert code == EXIT_USAGE
    assert "No such option: --epochs" in err


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=dict(os.environ), timeout=600
    )


@pytest.mark.slow
def test_a_timm_script_trains_an_exported_arch_only_through_the_wrapper(tmp_path: Path) -> None:
    study = make_finished_study(tmp_path)
    export_arch(study, select_trial(study, knee=True), "sqlite:///s.db", tmp_path / "best.yaml")
    write_scripts(tmp_path)
    make_image_folder(tmp_path / "data")
    args = shlex.split("train.py data --model nas_attn --model-kwargs arch=best.yaml -b 8 --epochs 1")

    wrapped = python("-m", "nas_attn", "with-timm", *args, cwd=tmp_path)
    assert wrapped.returncode == 0, wrapped.stderr
    line = wrapped.stdout.strip().splitlines()[-1]
    # the arch's class count, input size and normalisation reached timm's data pipeline
    assert line.startswith("trained nas_attn: 1 step, loss ") and "batch (8, 3, 16, 16), classes 10" in line
    assert "mean (0.25, 0.5, 0.75), std (0.2, 0.3, 0.4)" in line
    assert (tmp_path / "output/train/default/model_best.pth.tar").is_file()

    plain = python(*args, cwd=tmp_path)
    assert plain.returncode == 1
    assert plain.stderr.strip().splitlines()[-1] == "RuntimeError: Unknown model (nas_attn)"


@pytest.mark.slow
def test_the_script_gets_a_process_like_python_script_gives(tmp_path: Path) -> None:
    probe = "import json, sys\nprint(json.dumps({'ray': 'ray' in sys.modules, 'path0': sys.path[0]}))\n"
    script(tmp_path, probe, "probe.py")
    proc = python("-m", "nas_attn", "with-timm", "probe.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"ray": False, "path0": str(tmp_path.resolve())}
