"""The one writer of every file a command produces, and the one check every output path passes.

:func:`output_target` says where an output goes, before anything is computed: a regular file
(new or existing, a symlink followed to it) is replaced atomically (temp file + rename, so the
symlink stays a symlink); a character device, a FIFO, ``-`` (stdout) and ``/dev/stdout`` or
``/dev/fd/N`` are streamed into, where the caller allows it (``streams=True``); anything else (a
folder, a block device, a socket, a symlink loop) is refused. So is a path that is one of the
command's inputs, a SQLite database (the study's or any other) or its journal, or that lies in a
missing folder. :func:`check_outputs` checks a command's output flags together (no two on the
same file); :func:`write_output` writes one, running an optional check on the finished temp file
before anything is replaced or streamed. A failed write (full disk, no permission) leaves the old
file, if any, as it was and removes the temp file. Every refusal is one NasAttnError naming the fix.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from nas_attn.exceptions import NasAttnError

SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_SIDECARS = ("-journal", "-wal", "-shm")
STDOUT = "-"
MAX_LINKS = 40  # symlink hops before a path is called a loop (the kernel's own limit)
_FD_PATH = re.compile(r"^/(?:dev/(?P<std>stdin|stdout|stderr)|dev/fd/(?P<fd>\d+)|proc/self/fd/(?P<pfd>\d+))$")
_STD_FDS = {"stdin": 0, "stdout": 1, "stderr": 2}
_CHUNK = 1 << 20


def storage_files(storage_url: str) -> list[Path]:
    """The files of a SQLite storage URL (database, journal, WAL); none for a server database."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(storage_url)
    except Exception:
        return []
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return []
    return [Path(database + suffix) for suffix in ("", *SQLITE_SIDECARS)]


@dataclass(frozen=True)
class Target:
    """Where one output goes: ``dest`` replaced atomically (``stream`` False), or streamed into
    (the open descriptor ``fd`` for ``-`` / ``/dev/stdout``, else the device or FIFO ``dest``)."""

    path: Path  # as the user gave it (for messages)
    flag: str
    dest: Path  # symlinks followed
    stream: bool = False
    fd: int | None = None

    @property
    def identity(self) -> str:
        """What two outputs must not share (a char device such as /dev/null may be shared)."""
        if self.fd is not None:
            return f"fd:{self.fd}"
        return str(self.dest)

    @property
    def to_stdout(self) -> bool:
        return self.fd == 1


# -- the check -------------------------------------------------------------------------------------
def _fd_of(path: str) -> int | None:
    match = _FD_PATH.match(path)
    if match is None:
        return None
    std, fd, pfd = match.group("std"), match.group("fd"), match.group("pfd")
    return _STD_FDS[std] if std else int(fd or pfd)


def _follow(path: Path, flag: str) -> tuple[Path, int | None]:
    """The file ``path`` names after its symlinks (each hop made absolute), or the descriptor it
    names (``/dev/stdout``, ``/dev/fd/1``, ``/proc/self/fd/1``, also through a symlink)."""
    current = Path(os.path.abspath(path))
    for _ in range(MAX_LINKS):
        fd = _fd_of(str(current))
        if fd is not None:
            return current, fd
        if not current.is_symlink():
            parent = Path(os.path.realpath(current.parent))
            return parent / current.name, None
        current = Path(os.path.abspath(current.parent / os.readlink(current)))
    raise NasAttnError(f"{flag} {path} is a symlink loop; pick another output path")


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError):
        return False


def check_not_input(
    path: Path, inputs: Iterable[str | Path], flag: str = "--out", shown: Path | None = None
) -> None:
    """Refuse ``path`` if it is (or links to) one of ``inputs`` (``shown``: the path as given)."""
    for source in inputs:
        if _same_file(path, Path(source)):
            raise NasAttnError(
                f"{flag} {shown or path} is an input of this command ({source}); it is left unchanged: "
                "pick another output path"
            )


def _check_not_sqlite(path: Path, dest: Path, flag: str) -> None:
    """Refuse a SQLite database (a study storage or an application's data) and its journals."""
    sidecar_of = next(
        (dest.with_name(dest.name[: -len(s)]) for s in SQLITE_SIDECARS if dest.name.endswith(s)), None
    )
    if _is_sqlite(dest) or (sidecar_of is not None and _is_sqlite(sidecar_of)):
        raise NasAttnError(
            f"{flag} {path} is a SQLite database or its journal (a study storage?); it is left unchanged: "
            "pick another output path"
        )


def _special(mode: int) -> str | None:
    """What a non-regular file is called in a refusal (None for a regular file)."""
    kinds = [
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next(
        (name for test, name in kinds if test(mode)), None if stat.S_ISREG(mode) else "not a regular file"
    )


def _stream_target(path: Path, flag: str, fd: int, streams: bool) -> Target:
    if not streams:
        raise NasAttnError(f"{flag} {path} is a stream; this output must be a regular file: pass a file path")
    if fd == 0:
        raise NasAttnError(f"{flag} {path} is the standard input; pass a file path or - for stdout")
    try:
        os.fstat(fd)
    except OSError:
        raise NasAttnError(f"{flag} {path}: descriptor {fd} is not open; pass a file path") from None
    return Target(path, flag, path, stream=True, fd=fd)


def output_target(
    path: str | Path,
    inputs: Iterable[str | Path] = (),
    flag: str = "--out",
    streams: bool = False,
    pending_dirs: Iterable[str | Path] = (),
) -> Target:
    """Where ``path`` may be written, or one NasAttnError naming the fix. ``streams``: a character
    device, a FIFO and ``-`` are allowed (streamed into); ``pending_dirs``: folders the command
    creates before it writes this output (the output's folder may be one of them)."""
    path = Path(path)
    if str(path) == STDOUT:
        return _stream_target(path, flag, 1, streams)
    dest, fd = _follow(path, flag)
    if fd is not None:
        return _stream_target(path, flag, fd, streams)
    check_not_input(dest, inputs, flag, shown=path)
    try:
        mode: int | None = os.stat(dest).st_mode
    except (FileNotFoundError, NotADirectoryError):  # new, or under a file: the folder check says so
        mode = None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NasAttnError(f"{flag} {path} is a symlink loop; pick another output path") from None
        raise NasAttnError(f"{flag} {path}: {exc.strerror}; pick another output path") from None
    kind = None if mode is None else _special(mode)
    if kind == "a folder":
        raise NasAttnError(f"{flag} {path} is a folder; pass a file name inside it, e.g. {path / 'out'}")
    if kind is not None:
        assert mode is not None
        if streams and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            return Target(path, flag, dest, stream=True)
        allowed = "a regular file, a character device, a FIFO or - (stdout)" if streams else "a regular file"
        raise NasAttnError(f"{flag} {path} is {kind}; it is left unchanged: pass {allowed}")
    parent = dest.parent
    if not parent.is_dir() and not any(_same_file(parent, Path(d)) for d in pending_dirs):
        what = "is not a folder" if parent.exists() else "does not exist"
        shown = parent if path.is_symlink() else path.parent  # a link: the folder it points into
        raise NasAttnError(f"{flag} {path}: the folder {shown} {what}; create it first or pick another path")
    _check_not_sqlite(path, dest, flag)
    return Target(path, flag, dest)


def check_output(
    path: str | Path, inputs: Iterable[str | Path] = (), flag: str = "--out", streams: bool = False
) -> Path:
    """``path`` if it may be written (see :func:`output_target`)."""
    output_target(path, inputs, flag, streams)
    return Path(path)


def check_outputs(
    outputs: Mapping[str, str | Path | None],
    inputs: Iterable[str | Path] = (),
    streams: bool = True,
    pending_dirs: Iterable[str | Path] = (),
) -> dict[str, Target]:
    """Check a command's output flags (``flag -> path``, None: not given) before any work: each
    as :func:`output_target`, and no two on the same file or stream."""
    sources, dirs = list(inputs), list(pending_dirs)
    targets = {
        flag: output_target(path, sources, flag, streams, dirs)
        for flag, path in outputs.items()
        if path is not None
    }
    seen: dict[str, str] = {}
    for flag, target in targets.items():
        shared = target.stream and target.fd is None and stat.S_ISCHR(os.stat(target.dest).st_mode)
        if target.identity in seen and not shared:
            raise NasAttnError(
                f"{seen[target.identity]} and {flag} name the same file; give each output its own path"
            )
        seen.setdefault(target.identity, flag)
    return targets


# -- the writer ------------------------------------------------------------------------------------
def _cannot_write(target: Target, exc: BaseException) -> NasAttnError:
    reason = (exc.strerror if isinstance(exc, OSError) else None) or (str(exc).strip().splitlines() or [""])[
        0
    ]
    return NasAttnError(
        f"cannot write {target.flag} {target.path}: {reason}; free disk space, check permissions or "
        "pick another path (nothing was changed)"
    )


def _copy_to_stream(source: Path, target: Target) -> None:
    """Stream the finished file into the descriptor, device or FIFO of ``target``."""
    if target.fd in (1, 2):
        stream = sys.stdout if target.fd == 1 else sys.stderr
        stream.flush()
        with source.open("rb") as src:
            shutil.copyfileobj(src, stream.buffer, _CHUNK)
        stream.buffer.flush()
        return
    fd = os.dup(target.fd) if target.fd is not None else os.open(target.dest, os.O_WRONLY)
    with os.fdopen(fd, "wb") as sink, source.open("rb") as src:
        shutil.copyfileobj(src, sink, _CHUNK)


def write_output(
    path: str | Path | Target,
    produce: Callable[[Path], object],
    inputs: Iterable[str | Path] = (),
    flag: str = "--out",
    streams: bool = False,
    verify: Callable[[Path], object] | None = None,
) -> Path:
    """Let ``produce`` write a temp file, ``verify`` it (raising NasAttnError leaves everything
    unchanged), then rename it over the target's file or stream it into the target."""
    if isinstance(path, Target):  # checked earlier: the file system may have changed since
        target = output_target(path.path, inputs, path.flag, path.stream or streams)
    else:
        target = output_target(path, inputs, flag, streams)
    workdir = tempfile.mkdtemp(prefix="nas-attn-") if target.stream else None
    tmp = (
        Path(workdir) / target.dest.name
        if workdir is not None
        else target.dest.with_name(f".{target.dest.name}.{os.getpid()}.tmp")
    )
    try:
        produce(tmp)
        if verify is not None:
            verify(tmp)
        if target.stream:
            _copy_to_stream(tmp, target)
        else:
            os.replace(tmp, target.dest)
    except (OSError, RuntimeError) as exc:  # torch/onnx writers raise RuntimeError on a full disk
        raise _cannot_write(target, exc) from None
    finally:
        tmp.unlink(missing_ok=True)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    return target.path


def write_atomic(
    path: str | Path | Target,
    data: str | bytes,
    inputs: Iterable[str | Path] = (),
    flag: str = "--out",
    streams: bool = False,
) -> Path:
    """Write ``data`` (str as UTF-8) to ``path`` with :func:`write_output`."""
    blob = data.encode("utf-8") if isinstance(data, str) else data
    return write_output(path, lambda tmp: tmp.write_bytes(blob), inputs, flag, streams)


def write_atomic_with(
    path: str | Path, write: Callable[[Path], object], inputs: Iterable[str | Path] = (), flag: str = "--out"
) -> Path:
    """A regular file produced by ``write`` (see :func:`write_output`)."""
    return write_output(path, write, inputs, flag)


# -- output folders --------------------------------------------------------------------------------
def check_output_dir(path: str | Path, inputs: Iterable[str | Path] = (), flag: str = "--out") -> Path:
    """``path`` if it is a folder or can be created as one (nothing is created here: see
    :func:`make_output_dir`); else one NasAttnError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NasAttnError(f"{flag} {path} is a file, not a folder; pass a folder (it is created if missing)")
    for source in inputs:
        if _same_file(path, Path(source)):
            raise NasAttnError(f"{flag} {path} is an input of this command; pick another folder")
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NasAttnError(f"cannot create {flag} folder {path}: {ancestor} is a file; pick another folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise NasAttnError(
            f"cannot create {flag} folder {path}: {ancestor} is not writable; pick another folder"
        )
    return path


def make_output_dir(path: Path, flag: str = "--out") -> Path:
    """Create the output folder ``path`` (and parents) when the first file is written into it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NasAttnError(
            f"cannot create {flag} folder {path}: {exc.strerror or exc}; pick another folder"
        ) from None
    return path
