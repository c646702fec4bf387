"""nas_attn.outputs: where an output may go (output_target / check_outputs) and the one writer
(write_output): regular files atomically, FIFOs, character devices and stdout streamed, the rest
refused; never an input, a SQLite database or its journal."""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from support.devices import FULL, NEEDS_MKNOD, NULL

from nas_attn.exceptions import NasAttnError
from nas_attn.outputs import (
    check_outputs,
    output_target,
    storage_files,
    write_atomic,
    write_output,
)


def refused(fragment: str, path: str | Path, **kwargs: object) -> None:
    with pytest.raises(NasAttnError) as err:
        output_target(path, **kwargs)  # type: ignore[arg-type]
    assert fragment in str(err.value), str(err.value)


def sqlite_file(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    return path


def test_a_new_or_existing_regular_file_is_replaced_atomically(tmp_path: Path) -> None:
    new = output_target(tmp_path / "a.yaml")
    assert not new.stream and new.dest == tmp_path / "a.yaml"
    (tmp_path / "b.yaml").write_text("old")
    assert write_atomic(tmp_path / "b.yaml", "new") == tmp_path / "b.yaml"
    assert (tmp_path / "b.yaml").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.yaml"]  # no temp file left


def test_a_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text("old")
    (tmp_path / "link.yaml").symlink_to("real.yaml")
    (tmp_path / "dangling.yaml").symlink_to("sub/new.yaml")
    (tmp_path / "sub").mkdir()
    assert output_target(tmp_path / "link.yaml").dest == tmp_path / "real.yaml"
    write_atomic(tmp_path / "link.yaml", "new")
    write_atomic(tmp_path / "dangling.yaml", "made")
    assert (
        os.readlink(tmp_path / "link.yaml") == "real.yaml" and (tmp_path / "real.yaml").read_text() == "new"
    )
    assert (tmp_path / "sub" / "new.yaml").read_text() == "made" and (tmp_path / "dangling.yaml").is_symlink()


def test_folders_missing_folders_and_loops_are_refused(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "plain").write_text("x")
    (tmp_path / "loop").symlink_to("loop")
    refused("--out {} is a folder; pass a file name inside it".format(tmp_path / "dir"), tmp_path / "dir")
    refused("the folder {} does not exist; create it first".format(tmp_path / "no"), tmp_path / "no" / "f")
    refused("is not a folder", tmp_path / "plain" / "f")
    refused("is a symlink loop", tmp_path / "loop")
    (tmp_path / "dangling.yaml").symlink_to("gone/x.yaml")
    refused(f"the folder {tmp_path / 'gone'} does not exist", tmp_path / "dangling.yaml")


def test_a_folder_the_command_will_create_may_hold_the_output(tmp_path: Path) -> None:
    target = output_target(tmp_path / "run" / "m.onnx", pending_dirs=[tmp_path / "run"])
    assert target.dest == tmp_path / "run" / "m.onnx"
    refused("does not exist", tmp_path / "other" / "m.onnx", pending_dirs=[tmp_path / "run"])


def test_inputs_and_links_to_them_are_refused_by_the_name_given(tmp_path: Path) -> None:
    (tmp_path / "best.pt").write_bytes(b"weights")
    (tmp_path / "alias.pt").symlink_to("best.pt")
    refused(
        "--onnx {} is an input of this command".format(tmp_path / "alias.pt"),
        tmp_path / "alias.pt",
        inputs=[tmp_path / "best.pt"],
        flag="--onnx",
    )
    refused(
        "is an input", tmp_path / "x" / ".." / "best.pt", inputs=[tmp_path / "best.pt"]
    )  # x missing: lexical


def test_sqlite_databases_and_their_journals_are_refused(tmp_path: Path) -> None:
    db = sqlite_file(tmp_path / "app.bin")
    refused("is a SQLite database or its journal", db)
    refused("is a SQLite database or its journal", tmp_path / "app.bin-wal")  # not there yet: still refused
    (tmp_path / "notes-wal").write_text("x")
    assert output_target(tmp_path / "notes-wal").dest == tmp_path / "notes-wal"  # no database beside it
    assert storage_files("sqlite:///s.db") == [
        Path("s.db"),
        Path("s.db-journal"),
        Path("s.db-wal"),
        Path("s.db-shm"),
    ]
    assert storage_files("postgresql+psycopg://h/db") == []


def test_a_fifo_streams_only_where_the_caller_allows_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    refused(
        "--out {} is a FIFO; it is left unchanged: pass a regular file".format(tmp_path / "pipe"),
        tmp_path / "pipe",
    )
    target = output_target(tmp_path / "pipe", streams=True)
    assert target.stream and target.fd is None


def test_stdout_names_stream_to_descriptor_1(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to("/dev/stdout")
    for name in ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", str(tmp_path / "out")):
        target = output_target(name, streams=True)
        assert target.stream and target.fd == 1 and target.to_stdout, name
    refused("is a stream; this output must be a regular file", "-")
    refused("is the standard input", "/dev/stdin", streams=True)
    refused("is the standard input", "/dev/fd/0", streams=True)


def test_a_socket_is_refused(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "s.sock"))
    server.close()
    refused(
        "is a socket; it is left unchanged: pass a regular file, a character device, a FIFO or - (stdout)",
        tmp_path / "s.sock",
        streams=True,
    )


@NEEDS_MKNOD
def test_device_nodes_a_char_device_streams_a_block_device_never(tmp_path: Path) -> None:
    os.mknod(tmp_path / "null", stat.S_IFCHR | 0o600, NULL)
    os.mknod(tmp_path / "disk", stat.S_IFBLK | 0o600, os.makedev(7, 0))
    assert output_target(tmp_path / "null", streams=True).stream
    refused("is a character device; it is left unchanged: pass a regular file", tmp_path / "null")
    refused("is a block device", tmp_path / "disk", streams=True)


def test_check_outputs_refuses_two_outputs_on_one_file_or_stream(tmp_path: Path) -> None:
    with pytest.raises(NasAttnError, match="--out and --onnx name the same file"):
        check_outputs({"--out": tmp_path / "a", "--onnx": tmp_path / "a"})
    with pytest.raises(NasAttnError, match="--out and --torchscript name the same file"):
        check_outputs({"--out": Path("-"), "--onnx": None, "--torchscript": Path("/dev/stdout")})
    (tmp_path / "link").symlink_to("a")
    with pytest.raises(NasAttnError, match="name the same file"):
        check_outputs({"--out": tmp_path / "a", "--onnx": tmp_path / "link"})
    targets = check_outputs({"--out": tmp_path / "a", "--onnx": Path("-"), "--torchscript": None})
    assert list(targets) == ["--out", "--onnx"] and targets["--onnx"].to_stdout


def test_check_outputs_lets_two_outputs_share_the_null_device() -> None:
    targets = check_outputs({"--onnx": Path("/dev/null"), "--torchscript": Path("/dev/null")})
    assert all(t.stream for t in targets.values())


def test_a_failed_check_of_the_finished_file_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"the old graph")

    def verify(tmp: Path) -> None:
        assert tmp.read_bytes() == b"a broken graph" and tmp.parent == tmp_path
        raise NasAttnError("ONNX output differs from PyTorch")

    with pytest.raises(NasAttnError, match="differs from PyTorch"):
        write_output(tmp_path / "m.onnx", lambda tmp: tmp.write_bytes(b"a broken graph"), verify=verify)
    assert (tmp_path / "m.onnx").read_bytes() == b"the old graph"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_a_full_disk_leaves_the_old_file_and_names_the_fix(tmp_path: Path) -> None:
    (tmp_path / "r.html").write_text("old")

    def full(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(NasAttnError) as err:
        write_output(tmp_path / "r.html", full, flag="--out")
    assert str(err.value) == (
        f"cannot write --out {tmp_path / 'r.html'}: No space left on device; free disk space, check "
        "permissions or pick another path (nothing was changed)"
    )
    assert (tmp_path / "r.html").read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_the_file_system_is_checked_again_when_writing(tmp_path: Path) -> None:
    target = output_target(tmp_path / "late.pt")
    os.mkfifo(tmp_path / "late.pt")  # appeared during a long run
    with pytest.raises(NasAttnError, match="is a FIFO"):
        write_output(target, lambda tmp: tmp.write_bytes(b"x"))
    assert stat.S_ISFIFO((tmp_path / "late.pt").lstat().st_mode)


def test_a_stream_gets_the_finished_file_and_stays_what_it_was(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append((tmp_path / "pipe").read_bytes()), daemon=True)
    reader.start()
    checked: list[bytes] = []
    write_output(
        tmp_path / "pipe",
        lambda tmp: tmp.write_bytes(b"payload" * 20_000),  # larger than a pipe's buffer
        streams=True,
        verify=lambda tmp: checked.append(tmp.read_bytes()),
    )
    reader.join(timeout=30)
    assert got == [b"payload" * 20_000] and checked == got
    assert stat.S_ISFIFO((tmp_path / "pipe").lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_stdout_gets_the_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    write_atomic("-", "to stdout\n", streams=True)
    assert capsys.readouterr().out == "to stdout\n"


@NEEDS_MKNOD
def test_a_device_that_refuses_the_write_is_reported_and_stays_a_device(tmp_path: Path) -> None:
    os.mknod(tmp_path / "full", stat.S_IFCHR | 0o600, FULL)
    with pytest.raises(NasAttnError, match="cannot write --onnx .*full: No space left on device"):
        write_atomic(tmp_path / "full", b"graph", flag="--onnx", streams=True)
    info = (tmp_path / "full").lstat()
    assert stat.S_ISCHR(info.st_mode) and info.st_rdev == FULL
