"""The hostile-input table's machinery (issues #17 and #32): a case, the setups that plant what a
careless or hostile user leaves in the folder, the folder every case starts from (tiny.yaml and a
study database with the studies 'tiny', 'noreduction' and 'foreign'), and the check every case must
pass: the exact exit code, one stderr line naming the problem, no traceback, no secret, the studies
unchanged and every file in the folder byte-for-byte unchanged (nothing new, nothing lost)."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pytest

from support import cifar_files
from support.cli import run_cli, snapshot
from support.spaces import TINY_LAYER1, TINY_SPACE

SECRETS = ("hunter2", "s3cr@hunter2", "x9z")
Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    id: str
    cls: int  # the class, 1..8
    args: list[str]
    fragment: str
    setup: Setup | None = None
    patch: tuple[str, BaseException] | None = None  # (dotted attribute, exception it raises)
    code: int = 1  # the exact exit code: 1 a user error, 2 a usage error, 130 interrupted
    extra: dict[str, str] = field(default_factory=dict)


# -- setups --------------------------------------------------------------------------------------
def space(replace: tuple[str, str] | None = None, text: str | None = None, raw: bytes | None = None) -> Setup:
    """Write case.yaml: the tiny space with one replacement, or the given text / bytes."""

    def make(root: Path) -> None:
        body = (root / "tiny.yaml").read_text()
        if replace is not None:
            assert replace[0] in body, f"{replace[0]!r} is not in the tiny space"
            body = body.replace(*replace, 1)
        data = raw if raw is not None else (text if text is not None else body).encode()
        (root / "case.yaml").write_bytes(data)

    return make


def arch(extra: str = "", replace: tuple[str, str] | None = None) -> Setup:
    """Write arch.yaml: a small valid arch (plus extra YAML lines or one replacement)."""

    def make(root: Path) -> None:
        body = (
            "backbone: resnet18\nstem: cifar\nimage_size: 8\nnum_classes: 10\n"
            "stages:\n  layer1: {module: se, reduction: 4}\n"
        )
        if replace is not None:
            body = body.replace(*replace, 1)
        (root / "arch.yaml").write_text(body + extra)

    return make


def both(*setups: Setup) -> Setup:
    def make(root: Path) -> None:
        for setup in setups:
            setup(root)

    return make


def file(name: str, data: bytes = b"x") -> Setup:
    def make(root: Path) -> None:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)

    return make


def folder(name: str) -> Setup:
    return lambda root: (root / name).mkdir(parents=True)


def symlink(name: str, target: str) -> Setup:
    return lambda root: (root / name).symlink_to(target)


def other_sqlite(name: str) -> Setup:
    """A SQLite database that is not a study (an application's own data)."""

    def make(root: Path) -> None:
        with sqlite3.connect(root / name) as conn:
            conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            conn.execute("INSERT INTO customers (name) VALUES ('ada')")
        conn.close()

    return make


def cifar_payload(kind: str, victim: str) -> Setup:
    def make(root: Path) -> None:
        writer = cifar_files.write_cifar10 if kind == "cifar10" else cifar_files.write_cifar100
        data = writer(root / "cifar")
        cifar_files.plant_payload(data / victim, root / "PAYLOAD_RAN")
        space(("dataset: digits", f"dataset: '{kind}:{data}'"))(root)

    return make


def checkpoint(content: str) -> Setup:
    """run/last.pt for the arch of :func:`arch`: a list, missing keys, or wrong tensor shapes."""

    def make(root: Path) -> None:
        import torch

        from nas_attn.backbones import ArchConfig
        from nas_attn.deploy.train import TrainSettings

        arch()(root)
        (root / "run").mkdir()
        cfg = ArchConfig.from_yaml(root / "arch.yaml")
        identity = TrainSettings(epochs=1).identity()
        payload: object = {
            "list": [1, 2, 3],
            "missing": {"model": {}, "epoch": 1},
            "shapes": {
                "model": {"fc.weight": torch.zeros(3)},
                "optimizer": {},
                "generator": torch.zeros(1),
                "torch_rng": torch.zeros(1),
                "epoch": 0,
                "history": [],
                "best": 0.0,
                "arch_digest": cfg.digest(),
                "settings": identity,
            },
        }[content]
        torch.save(payload, root / "run" / "last.pt")

    return make


def image_folder(kind: str) -> Setup:
    """data/train/{a,b}, data/val/a with one small PNG each, plus a bomb or a symlink loop."""

    def make(root: Path) -> None:
        from PIL import Image

        for split, cls in (("train", "a"), ("train", "b"), ("val", "a")):
            (root / "data" / split / cls).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (10, 20, 30)).save(root / "data" / split / cls / "ok.png")
        if kind == "bomb":
            Image.new("1", (9000, 5000)).save(root / "data" / "train" / "a" / "bomb.png")
        else:
            (root / "data" / "train" / "b" / "loop.png").symlink_to("loop.png")
        arch()(root)

    return make


DB = "nas_attn.db"
STORAGE = f"sqlite:///{DB}"
SEARCH = ["search", "--space", "case.yaml"]
UNREACHABLE = "127.0.0.1:1/nas"
PG = "postgresql+psycopg://"
NODES = "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n" for i in range(1, 12))
BOMB = "a0: &a0 [x, x, x, x]\n" + NODES
SIMAM_1X1 = "layer2: {module: [none, simam]}"
INTERRUPT = KeyboardInterrupt()
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def tree_state(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (links not followed) and a digest of its content."""
    state: dict[str, str] = {}
    for base, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(base) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                state[key] = "link:" + os.readlink(path)
            elif path.is_dir():
                state[key] = "dir"
            elif not path.is_file():  # a FIFO, device or socket: never read, its kind and number
                info = path.lstat()
                state[key] = f"special:{stat.S_IFMT(info.st_mode):o}:{info.st_rdev}"
            else:
                state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def _tell(study: optuna.Study, arch: dict[str, object], values: list[float], **attrs: object) -> None:
    trial = study.ask()
    trial.set_user_attr("arch", arch)
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    study.tell(trial, values)


def build_template(root: Path) -> Path:
    """The starting folder, built once: tiny.yaml and nas_attn.db with three studies."""
    from nas_attn import load_space
    from nas_attn.search import open_storage, open_study, sample_arch

    (root / "tiny.yaml").write_text(TINY_SPACE)
    storage = open_storage(f"sqlite:///{root / DB}")
    tiny = load_space(root / "tiny.yaml")
    study = open_study(storage, "tiny", tiny, "random")
    for number, (accuracy, latency) in enumerate([(0.5, 2.0), (0.7, 3.0), (0.4, 1.0)]):
        trial = study.ask()
        trial.set_user_attr("arch", sample_arch(trial, tiny).to_dict())
        trial.set_user_attr("accuracy", accuracy)
        trial.set_user_attr("latency_ms", latency)
        trial.set_user_attr("params", 11_000_000 + number)
        study.tell(trial, [accuracy, latency])
    _tell(study, tiny.base_arch().to_dict(), [0.0, 9.0], trained=False, latency_ms=9.0)  # screened out
    (root / "nr.yaml").write_text(
        TINY_SPACE.replace("name: tiny", "name: noreduction").replace(
            TINY_LAYER1, "layer1: {module: [none, eca]}"
        )
    )
    plain = load_space(root / "nr.yaml")
    (root / "nr.yaml").unlink()
    other = open_study(storage, "noreduction", plain, "random")
    for accuracy, latency in [(0.5, 2.0), (0.6, 3.0)]:
        trial = other.ask()
        trial.set_user_attr("arch", sample_arch(trial, plain).to_dict())
        other.tell(trial, [accuracy, latency])
    foreign = optuna.create_study(study_name="foreign", storage=storage, directions=["maximize", "minimize"])
    foreign.tell(foreign.ask(), [0.1, 1.0])
    storage.engine.dispose()
    return root


def copy_template(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the starting folder for one case."""
    import shutil

    root = tmp_path / "work"
    shutil.copytree(template, root, symlinks=True)
    return root


def patch_raising(monkeypatch: pytest.MonkeyPatch, target: str, error: BaseException) -> None:
    import importlib

    module_name, attr = target.rsplit(".", 1)
    owner: object
    try:
        owner = importlib.import_module(module_name)
    except ModuleNotFoundError:  # an attribute of a module (os.replace inside nas_attn.outputs)
        parent, child = module_name.rsplit(".", 1)
        owner = getattr(importlib.import_module(parent), child)

    def boom(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(owner, attr, boom)


def check_case(
    case: Case, hostile_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run ``case`` in ``hostile_dir`` and assert everything a rejected command must guarantee."""
    if case.setup is not None:
        case.setup(hostile_dir)
    storage = f"sqlite:///{hostile_dir / DB}"
    studies, files = snapshot(storage), tree_state(hostile_dir)
    if case.patch is not None:
        patch_raising(monkeypatch, *case.patch)
    args = [a.replace("{root}", str(hostile_dir)) for a in case.args]
    code, out, err = run_cli(args, hostile_dir, capsys)
    monkeypatch.undo()
    assert code == case.code, (code, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("nas-attn: error: "), lines[0]
    assert case.fragment in lines[0], lines[0]
    assert "Traceback" not in out + err
    assert not any(secret in out + err for secret in SECRETS), out + err
    assert snapshot(storage) == studies
    assert tree_state(hostile_dir) == files  # every input unchanged, nothing new (no payload marker)
