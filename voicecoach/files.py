"""Atomic files: every file voicecoach writes appears whole under its name or not at all.

A writer gets a dot-named temporary file beside the target, and only when it
finishes is the file flushed to disk and renamed over the target in one step.
A failed or interrupted write (an exception, Ctrl-C) leaves nothing; a SIGKILL
can leave the hidden temporary file, which the next write of the same file removes.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ContextManager

from .errors import ExportError, InputError
from .text import quote


def reason(err: BaseException) -> str:
    """A short lower-case reason for an OSError ("the disk is full ..." for ENOSPC)."""
    if isinstance(err, OSError) and err.strerror:
        if err.errno == errno.ENOSPC:
            return "the disk is full (no space left on device)"
        return err.strerror[0].lower() + err.strerror[1:]
    return str(err) or type(err).__name__


def kind(path: Path, fail: Callable[[str], Exception] = InputError, name: str | None = None) -> str | None:
    """What a user-given `path` names: "file", "folder", "other", or None when nothing is there.

    Path.is_file() and friends raise for a name the system refuses outright
    (over 255 bytes: "file name too long", or a folder that may not be searched);
    here that becomes `fail(one line)`, an InputError unless the caller says otherwise.
    The line quotes `name` (what the user wrote), else the path.
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise fail(f"cannot use {quote(name or str(path))}: {reason(err)}") from None
    return "file" if stat.S_ISREG(mode) else "folder" if stat.S_ISDIR(mode) else "other"


@contextmanager
def _reported(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as err:
        raise ExportError(f"cannot write {path}: {reason(err)}") from err


def _check_folder(path: Path) -> None:
    folder = path.parent
    if kind(folder, ExportError) != "folder":
        raise ExportError(f"cannot write {path}: the folder {folder} does not exist")
    if kind(path, ExportError) == "folder":
        raise ExportError(f"cannot write {path}: it is a folder")


def _partial_prefix(path: Path) -> str:
    return f".{path.stem}.partial-"


def _create_temp(path: Path) -> Path:
    """Create an empty, uniquely named `.NAME.partial-PID-XXXXXXXX.SUFFIX` beside `path`.

    The temp keeps the target's suffix so anything that looks at names sees the
    right format; it is created with mode 0666 minus the umask, as the target would be.
    The writer's process id in the name lets a later export tell a temp file
    whose writer was killed from one still being written.
    """
    _check_folder(path)
    for _ in range(100):
        tmp = path.with_name(f"{_partial_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as err:
            raise ExportError(f"cannot write {path}: {reason(err)}") from err
        os.close(fd)
        return tmp
    raise ExportError(f"cannot write {path}: no free temporary name in {path.parent}")


def _alive(pid: int) -> bool:
    """Whether process `pid` exists here; where that cannot be asked safely, assume it does."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate it on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, but belongs to someone else
    return True


def _remove_stale(path: Path) -> None:
    """Remove the temp files of earlier exports of `path` whose process was killed.

    A SIGKILL or a power cut gives no chance to clean up; the next export of
    the same file does it, and leaves alone any temp file whose writer still runs.
    """
    prefix = _partial_prefix(path)
    try:
        names = [p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(path.suffix)]
    except OSError:
        return
    for old in names:
        pid = old.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                old.unlink()
            except OSError:
                pass  # someone else's file, or already gone: the export itself succeeded


def _fsync_file(tmp: Path) -> None:
    # "rb+": Windows only flushes a handle that is open for writing.
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX only; best effort)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the file itself is already synced
    finally:
        os.close(fd)


@contextmanager
def atomic(path: Path, reported: Callable[[Path], ContextManager] | None = None) -> Iterator[Path]:
    """Yield a temp path beside `path`; when the block ends normally, sync it and rename it to `path`.

    If the block raises (anything, KeyboardInterrupt included) the temp file is
    removed and `path` is left untouched. `reported(path)` turns a failure of
    the sync or rename into the caller's error (default: an ExportError naming the reason).
    """
    path = Path(path)
    tmp = _create_temp(path)
    try:
        yield tmp
        with (reported or _reported)(path):
            _fsync_file(tmp)
            os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # the original error matters more than a temp file we could not remove
        raise
    _fsync_folder(path.parent)
    _remove_stale(path)


def write_bytes(path: Path, data: bytes, mode: int | None = None) -> Path:
    """Write `data` to `path` atomically and durably; ExportError when it cannot be written."""
    path = Path(path)
    with atomic(path) as tmp:
        with _reported(path):
            tmp.write_bytes(data)
            if mode is not None:
                os.chmod(tmp, mode)
    return path


def write_text(path: Path, text: str) -> Path:
    """Write `text` as UTF-8 with \n line ends, atomically and durably."""
    return write_bytes(path, text.encode("utf-8"))


@contextmanager
def staged(path: Path, text: str) -> Iterator[Path]:
    """Write `text` (UTF-8) beside `path` under a hidden name; rename it into place when the block ends normally.

    For files that go together: enter one per file (an ExitStack), do the rest
    of the work inside, and either all of them appear or none does.
    """
    path = Path(path)
    with atomic(path) as tmp:
        with _reported(path):
            tmp.write_bytes(text.encode("utf-8"))
        yield tmp
