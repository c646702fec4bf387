"""Hostile outputs (issue #32): every flag that writes a file, pointed at what it must not replace.

Each case runs one command in the hostile folder (``support/hostile.py``: tiny.yaml, the study
database ``nas_attn.db`` and what the case's setup adds) and passes ``check_case``: the exact exit
code, one ``nas-attn: error:`` line naming the problem and the fix, no traceback, the studies and
every file (inputs, databases, FIFOs and device nodes, by kind and number) unchanged. The flags:
export --out/--onnx/--torchscript/--safetensors, train --out/--export-onnx/--export-torchscript/
--export-safetensors and report --out. Outputs that may stream (a FIFO, a character device, ``-``,
``/dev/stdout``) are shown streaming at the end of the module.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path

import pytest
from support.cli import run_cli
from support.devices import NEEDS_MKNOD
from support.hostile import DB, Case, Setup, arch, both, check_case, file, folder, other_sqlite, symlink

WEIGHTS = "runs/c/best.pt"
TRAIN = ["train", "--arch", "arch.yaml", "--epochs", "1", "--out", "runs/t"]


def trained(model: str = "good") -> Setup:
    """arch.yaml and runs/c/best.pt: the arch's fresh weights as a nas-attn train checkpoint, or
    one tampered with (``model``: not-tensors, empty, float64, shape; ``classes``/``arch``: a
    wrong-typed entry)."""

    def make(root: Path) -> None:
        import torch

        from nas_attn.backbones import ArchConfig, build_model

        arch()(root)
        cfg = ArchConfig.from_yaml(root / "arch.yaml")
        weights: dict[str, object] = dict(build_model(cfg).state_dict())
        payload: dict[str, object] = {"arch": cfg.to_dict(), "num_classes": 10}
        if model == "not-tensors":
            weights = {k: [1.0, 2.0] for k in weights}
        elif model == "empty":
            weights = {}
        elif model == "float64":
            weights = {k: v.double() if v.is_floating_point() else v for k, v in weights.items()}  # type: ignore[union-attr]
        elif model == "shape":
            weights["fc.weight"] = torch.zeros(3, 3)
        elif model == "classes":
            payload["num_classes"] = "ten"
        elif model == "arch":
            payload["arch"] = ["resnet18"]
        (root / "runs" / "c").mkdir(parents=True)
        torch.save({"model": weights, **payload}, root / WEIGHTS)

    return make


def fifo(name: str) -> Setup:
    return lambda root: os.mkfifo(root / name)


def device(name: str, kind: int = stat.S_IFCHR, major: int = 1, minor: int = 7) -> Setup:
    """A device node (default: a copy of /dev/full, which refuses every write with ENOSPC)."""

    def make(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.mknod(root / name, kind | 0o600, os.makedev(major, minor))

    return make


def unix_socket(name: str) -> Setup:
    def make(root: Path) -> None:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(root / name))
        server.close()

    return make


def export_trained(*outputs: str) -> list[str]:
    return ["export", "--arch", "arch.yaml", "--weights", WEIGHTS, *outputs]


def export_trial(*outputs: str) -> list[str]:
    return ["export", "--study", "tiny", "--trial", "0", *outputs]


# classes here: 1 an output that is an input or a database, 2 a special file, 3 a tampered checkpoint
CASES: list[Case] = [
    # 1. outputs that would destroy an input, the study database or another SQLite file ----------
    Case(
        "export --safetensors the study database",
        1,
        export_trained("--safetensors", DB),
        "--safetensors nas_attn.db is a SQLite database",
        setup=trained(),
    ),
    Case(
        "export --safetensors another SQLite file",
        1,
        export_trained("--safetensors", "app.db"),
        "is a SQLite database or its journal (a study storage?); it is left unchanged: pick another output",
        setup=both(trained(), other_sqlite("app.db")),
    ),
    Case(
        "export --safetensors the database's WAL name",
        1,
        export_trained("--safetensors", f"{DB}-wal"),
        "nas_attn.db-wal is a SQLite database or its journal",
        setup=trained(),
    ),
    Case(
        "export --onnx the checkpoint it reads",
        1,
        export_trained("--onnx", WEIGHTS),
        f"--onnx {WEIGHTS} is an input of this command ({WEIGHTS}); it is left unchanged",
        setup=trained(),
    ),
    Case(
        "export --safetensors the checkpoint it reads",
        1,
        export_trained("--safetensors", WEIGHTS),
        f"--safetensors {WEIGHTS} is an input of this command",
        setup=trained(),
    ),
    Case(
        "export --torchscript the arch it reads",
        1,
        export_trained("--torchscript", "arch.yaml"),
        "--torchscript arch.yaml is an input of this command (arch.yaml)",
        setup=trained(),
    ),
    Case(
        "export --onnx a symlink to the checkpoint",
        1,
        export_trained("--onnx", "model.onnx"),
        "--onnx model.onnx is an input of this command",
        setup=both(trained(), symlink("model.onnx", WEIGHTS)),
    ),
    Case(
        "export --safetensors into a missing folder",
        1,
        export_trained("--safetensors", "no/such/m.safetensors"),
        "--safetensors no/such/m.safetensors: the folder no/such does not exist; create it first",
        setup=trained(),
    ),
    Case(
        "export --safetensors an existing folder",
        1,
        export_trained("--safetensors", "weights"),
        "--safetensors weights is a folder; pass a file name inside it",
        setup=both(trained(), folder("weights")),
    ),
    Case(
        "export --onnx and --safetensors the same file",
        1,
        export_trained("--onnx", "m.bin", "--safetensors", "m.bin"),
        "--onnx and --safetensors name the same file",
        setup=trained(),
    ),
    Case(
        "train --export-onnx the arch it trains",
        1,
        [*TRAIN, "--export-onnx", "arch.yaml"],
        "--export-onnx arch.yaml is an input of this command",
        setup=arch(),
    ),
    Case(
        "train --export-onnx its own best.pt (run folder not made yet)",
        1,
        [*TRAIN, "--export-onnx", "runs/t/best.pt"],
        "--export-onnx runs/t/best.pt is an input of this command",
        setup=arch(),
    ),
    Case(
        "train --export-torchscript its own last.pt",
        1,
        [*TRAIN, "--export-torchscript", "runs/t/last.pt"],
        "--export-torchscript runs/t/last.pt is an input of this command",
        setup=both(arch(), file("runs/t/last.pt", b"an earlier run")),
    ),
    Case(
        "train --export-safetensors the study database",
        1,
        [*TRAIN, "--export-safetensors", DB],
        "--export-safetensors nas_attn.db is a SQLite database",
        setup=arch(),
    ),
    Case(
        "train --export-safetensors into a missing folder",
        1,
        [*TRAIN, "--export-safetensors", "no/such/m.safetensors"],
        "the folder no/such does not exist",
        setup=arch(),
    ),
    Case(
        "train --export-onnx and --export-safetensors the same file",
        1,
        [*TRAIN, "--export-onnx", "m.bin", "--export-safetensors", "m.bin"],
        "--export-onnx and --export-safetensors name the same file",
        setup=arch(),
    ),
    Case(
        "train --out whose last.pt is another SQLite file",
        1,
        TRAIN,
        "--out runs/t/last.pt is a SQLite database",
        setup=both(arch(), folder("runs/t"), other_sqlite("runs/t/last.pt")),
    ),
    # 2. outputs that are not regular files ------------------------------------------------------
    Case(
        "export --out - and --onnx - (both to stdout)",
        1,
        export_trial("--out", "-", "--onnx", "-"),
        "--out and --onnx name the same file",
    ),
    Case(
        "export --out a link to /dev/stdout and --torchscript - (both to stdout)",
        1,
        export_trial("--out", "out.yaml", "--torchscript", "-"),
        "--out and --torchscript name the same file",
        setup=symlink("out.yaml", "/dev/stdout"),
    ),
    Case(
        "export --out a link to the standard input",
        1,
        export_trial("--out", "in.yaml"),
        "--out in.yaml is the standard input; pass a file path or - for stdout",
        setup=symlink("in.yaml", "/dev/stdin"),
    ),
    Case(
        "export --out a symlink loop",
        1,
        export_trial("--out", "loop.yaml"),
        "--out loop.yaml is a symlink loop",
        setup=symlink("loop.yaml", "loop.yaml"),
    ),
    Case(
        "report --out a socket",
        1,
        ["report", "--study", "tiny", "--out", "r.sock"],
        "--out r.sock is a socket; it is left unchanged: pass a regular file, a character device, a FIFO",
        setup=unix_socket("r.sock"),
    ),
    Case(
        "train --out whose best.pt is a FIFO",
        1,
        TRAIN,
        "--out runs/t/best.pt is a FIFO; it is left unchanged: pass a regular file",
        setup=both(arch(), folder("runs/t"), fifo("runs/t/best.pt")),
    ),
    # 3. tampered checkpoints given to export --weights ------------------------------------------
    Case(
        "checkpoint whose weights are not tensors",
        3,
        export_trained("--safetensors", "m.safetensors"),
        "does not fit the arch's network (",
        setup=trained("not-tensors"),
    ),
    Case(
        "checkpoint with no weights",
        3,
        export_trained("--safetensors", "m.safetensors"),
        "does not fit the arch's network (missing",
        setup=trained("empty"),
    ),
    Case(
        "checkpoint of float64 weights",
        3,
        export_trained("--safetensors", "m.safetensors"),
        "differ in dtype, e.g. ",
        setup=trained("float64"),
    ),
    Case(
        "checkpoint with a tensor of another shape",
        3,
        export_trained("--onnx", "m.onnx"),
        "1 tensor(s) differ in shape, e.g. fc.weight: (3, 3) vs (10, 512)",
        setup=trained("shape"),
    ),
    Case(
        "checkpoint whose num_classes is text",
        3,
        export_trained("--onnx", "m.onnx"),
        "('num_classes' is str, not a whole number); pass the best.pt or last.pt",
        setup=trained("classes"),
    ),
    Case(
        "checkpoint whose arch is a list",
        3,
        export_trained("--onnx", "m.onnx"),
        "('arch' is list, not a mapping)",
        setup=trained("arch"),
    ),
    Case(
        "checkpoint that is an empty file",
        3,
        export_trained("--onnx", "m.onnx"),
        f"{WEIGHTS} is not a nas-attn train checkpoint",
        setup=both(arch(), file(WEIGHTS, b"")),
    ),
]

# cases that plant a device node: os.mknod needs root (with CAP_MKNOD)
DEVICE_CASES: list[Case] = [
    Case(
        "export --out a full device (streamed, refused by it)",
        2,
        export_trial("--out", "full"),
        "cannot write --out full: No space left on device",
        setup=device("full"),
    ),
    Case(
        "report --out a full device",
        2,
        ["report", "--study", "tiny", "--out", "full"],
        "cannot write --out full: No space left on device; free disk space",
        setup=device("full"),
    ),
    Case(
        "export --safetensors a full device",
        2,
        export_trained("--safetensors", "full"),
        "cannot write --safetensors full: No space left on device",
        setup=both(trained(), device("full")),
    ),
    Case(
        "export --torchscript a full device",
        2,
        export_trained("--torchscript", "full"),
        "cannot write --torchscript full: No space left on device",
        setup=both(trained(), device("full")),
    ),
    Case(
        "export --out a block device",
        2,
        export_trial("--out", "disk"),
        "--out disk is a block device; it is left unchanged",
        setup=device("disk", stat.S_IFBLK, 7, 0),
    ),
    Case(
        "train --export-onnx a block device",
        2,
        [*TRAIN, "--export-onnx", "disk"],
        "--export-onnx disk is a block device",
        setup=both(arch(), device("disk", stat.S_IFBLK, 7, 0)),
    ),
    Case(
        "train --out whose last.pt is a character device",
        2,
        TRAIN,
        "--out runs/t/last.pt is a character device; it is left unchanged: pass a regular file",
        setup=both(arch(), device("runs/t/last.pt")),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [*CASES, *(pytest.param(case, marks=NEEDS_MKNOD) for case in DEVICE_CASES)],
    ids=lambda c: c.id,
)
def test_hostile_output(
    case: Case, hostile_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check_case(case, hostile_dir, capsys, monkeypatch)


# -- outputs that stream -------------------------------------------------------------------------
class FifoReader:
    """Reads a FIFO in a thread until the writer closes it (``bytes`` after :meth:`wait`)."""

    def __init__(self, path: Path) -> None:
        self.path, self.bytes = path, b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with self.path.open("rb") as fifo:
            self.bytes = fifo.read()

    def wait(self) -> bytes:
        self.thread.join(timeout=60)
        if self.thread.is_alive():  # the command never opened it: release the reader
            os.close(os.open(self.path, os.O_WRONLY | os.O_NONBLOCK))
            self.thread.join(timeout=5)
        return self.bytes


def test_export_streams_the_arch_into_a_fifo_which_stays_a_fifo(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(hostile_dir / "pipe")
    reader = FifoReader(hostile_dir / "pipe")
    code, out, err = run_cli(export_trial("--out", "pipe"), hostile_dir, capsys)
    got = reader.wait()
    assert code == 0, err
    assert got.startswith(b"backbone: resnet18\n") and b"trial: 0\n" in got
    assert stat.S_ISFIFO((hostile_dir / "pipe").lstat().st_mode)
    assert "-> pipe" in out


# /dev/stdout itself is named through a link in the test folder: a regression would then replace
# that link, never the machine's /dev/stdout (the unit tests check the /dev names without writing)
@pytest.mark.parametrize("target", ["-", "page.html"], ids=["dash", "link-to-dev-stdout"])
def test_report_streams_to_stdout_and_its_own_lines_go_to_stderr(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    (hostile_dir / "page.html").symlink_to("/dev/stdout")
    code, out, err = run_cli(["report", "--study", "tiny", "--out", target], hostile_dir, capsys)
    assert code == 0, err
    assert out.lstrip().startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")
    assert f"report -> {target}" in err
    assert not (hostile_dir / "-").exists()
    assert os.readlink(hostile_dir / "page.html") == "/dev/stdout"  # streamed into, never replaced


def test_export_streams_the_arch_to_stdout_and_the_next_command_prints_there_again(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(export_trial("--out", "-"), hostile_dir, capsys)
    assert code == 0, err
    assert out.startswith("backbone: resnet18\n") and "trial 0 (" in err
    code, out, _ = run_cli(["front", "--study", "tiny"], hostile_dir, capsys)
    assert code == 0 and "trials of 'tiny' by Pareto rank" in out


@NEEDS_MKNOD
def test_export_streams_into_a_character_device_which_stays_one(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device("null", minor=3)(hostile_dir)  # a copy of /dev/null
    code, _, err = run_cli(export_trial("--out", "null", "--onnx", "null"), hostile_dir, capsys)
    assert code == 0, err
    info = (hostile_dir / "null").lstat()
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == os.makedev(1, 3)


def test_export_through_a_symlink_replaces_its_target_and_keeps_the_link(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (hostile_dir / "archs").mkdir()
    (hostile_dir / "archs" / "v1.yaml").write_text("old\n")
    (hostile_dir / "best.yaml").symlink_to("archs/v1.yaml")
    code, _, err = run_cli(export_trial("--out", "best.yaml"), hostile_dir, capsys)
    assert code == 0, err
    assert os.readlink(hostile_dir / "best.yaml") == "archs/v1.yaml"
    assert (hostile_dir / "archs" / "v1.yaml").read_text().startswith("backbone: resnet18\n")
    assert sorted(p.name for p in (hostile_dir / "archs").iterdir()) == ["v1.yaml"]  # no temp left


@pytest.mark.slow  # builds a network and checks the written file by loading it back
def test_trained_weights_stream_into_a_fifo_as_a_loadable_safetensors_file(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safetensors.torch import load

    trained()(hostile_dir)
    os.mkfifo(hostile_dir / "pipe")
    reader = FifoReader(hostile_dir / "pipe")
    code, out, err = run_cli(export_trained("--safetensors", "pipe"), hostile_dir, capsys)
    got = reader.wait()
    assert code == 0, err
    assert "safetensors -> pipe (max abs diff vs PyTorch" in out
    assert "fc.weight" in load(got) and stat.S_ISFIFO((hostile_dir / "pipe").lstat().st_mode)


@pytest.mark.slow  # a fresh interpreter importing torch and timm
def test_a_real_process_streams_to_its_stdout_pipe_through_a_link_to_dev_stdout(hostile_dir: Path) -> None:
    from support.cli import nas_attn

    (hostile_dir / "out.yaml").symlink_to("/dev/stdout")  # see the comment above the report test
    proc = nas_attn(*export_trial("--out", "out.yaml"), cwd=hostile_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("backbone: resnet18\n") and "trial: 0\n" in proc.stdout
    assert "trial 0 (" in proc.stderr and "Traceback" not in proc.stderr
    assert os.readlink(hostile_dir / "out.yaml") == "/dev/stdout"
