"""Writing the files commands produce: atomically (temp file + rename), and never onto an input.

Every output path is checked before anything is computed or written: an existing folder, a
missing parent folder, the study's own database (or any SQLite database), and the command's
input files are refused with one line naming the fix. A failed write (full disk, no permission)
leaves the old file, if any, as it was and removes the temp file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from nas_attn.exceptions import NasAttnError

SQLITE_MAGIC = b"SQLite format 3\x00"


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
    return [Path(database + suffix) for suffix in ("", "-journal", "-wal", "-shm")]


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def check_output(path: str | Path, inputs: Iterable[str | Path] = (), flag: str = "--out") -> Path:
    """``path`` if a file may be written there; else one NasAttnError naming the fix."""
    path = Path(path)
    if path.is_dir():
        raise NasAttnError(f"{flag} {path} is a folder; pass a file name inside it, e.g. {path / 'out'}")
    parent = path.parent
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise NasAttnError(f"{flag} {path}: the folder {parent} {what}; create it first or pick another path")
    check_not_input(path, inputs, flag)
    if path.is_file() and _is_sqlite(path):
        raise NasAttnError(
            f"{flag} {path} is a SQLite database (a study storage?); it is left unchanged: "
            "pick another output path"
        )
    return path


def check_not_input(path: Path, inputs: Iterable[str | Path], flag: str = "--out") -> None:
    """Refuse ``path`` if it is (or links to) one of ``inputs``."""
    for source in inputs:
        if _same_file(path, Path(source)):
            raise NasAttnError(
                f"{flag} {path} is an input of this command ({source}); it is left unchanged: "
                "pick another output path"
            )


def write_atomic(
    path: str | Path, data: str | bytes, inputs: Iterable[str | Path] = (), flag: str = "--out"
) -> Path:
    """Write ``data`` (str as UTF-8) to ``path`` atomically after :func:`check_output`."""
    blob = data.encode("utf-8") if isinstance(data, str) else data
    return write_atomic_with(path, lambda tmp: tmp.write_bytes(blob), inputs, flag)


def write_atomic_with(
    path: str | Path, write: Callable[[Path], object], inputs: Iterable[str | Path] = (), flag: str = "--out"
) -> Path:
    """Let ``write`` produce a temp file next to ``path``, then rename it over ``path``."""
    path = check_output(path, inputs, flag)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch/onnx writers raise RuntimeError on a full disk
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc).strip().splitlines()[0]
        raise NasAttnError(
            f"cannot write {flag} {path}: {reason}; free disk space, check permissions or "
            "pick another path (nothing was changed)"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


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
