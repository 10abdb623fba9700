"""File writers: a session as WAV, FLAC, Ogg Vorbis or MP3 (with chapters),
as subtitles, as timeline JSON, and a playlist of exported sessions.

Every writer is atomic: it writes a dot-named temporary file beside the
target, flushes it to disk and renames it over the target in one step. An
export that fails or is interrupted (an exception, Ctrl-C, SIGKILL) never
leaves a broken file under the target's name; a file that was there before
stays as it was. Only a SIGKILL can leave the hidden temporary file behind.
"""
from __future__ import annotations

import errno
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from mutagen import MutagenError

from voicecoach.chapters import write_tags
from voicecoach.errors import ExportError, InputError
from voicecoach.subtitles import SUBTITLE_FORMATS, one_line
from voicecoach.timeline import Timeline

Render = Callable[[int, int], np.ndarray]
"""render(start_sample, n) -> float32 mono block of exactly n samples in [-1, 1]."""


@dataclass(frozen=True)
class AudioFormat:
    """How one file suffix is written: libsndfile's format and subtype, and its chapter tags."""

    format: str
    subtype: str
    chapters: str | None  # "id3", "flac", "ogg" or None: see chapters.write_tags


FORMATS: dict[str, AudioFormat] = {
    ".wav": AudioFormat("WAV", "PCM_16", None),
    ".flac": AudioFormat("FLAC", "PCM_16", "flac"),
    ".ogg": AudioFormat("OGG", "VORBIS", "ogg"),
    ".mp3": AudioFormat("MP3", "MPEG_LAYER_III", "id3"),
}


def _choices(suffixes: list[str]) -> str:
    return ", ".join(suffixes[:-1]) + " or " + suffixes[-1]


def _format_for(path: Path, table: dict, what: str) -> object:
    suffix = path.suffix.lower()
    if suffix in table:
        return table[suffix]
    choices = _choices(list(table))
    if not path.suffix:
        raise InputError(f"{path.name!r} has no file suffix; choose {choices}")
    raise InputError(f"{path.suffix!r} is not {what} voicecoach writes; choose {choices}")


# --- atomic files ---------------------------------------------------------


def _reason(err: BaseException) -> str:
    """Return a short lower-case reason for an OSError or a mutagen error."""
    if isinstance(err, MutagenError) and isinstance(err.__context__, OSError):
        err = err.__context__
    if isinstance(err, OSError) and err.strerror:
        if err.errno == errno.ENOSPC:
            return "the disk is full (no space left on device)"
        return err.strerror[0].lower() + err.strerror[1:]
    return str(err) or type(err).__name__


def _libsndfile_reason(
    folder: Path, sound: soundfile.SoundFile | None, err: soundfile.LibsndfileError
) -> str:
    """Return libsndfile's own account of a failure, which names the system error.

    soundfile's exception only says "System error."; sf_strerror on the open
    file says e.g. "System error : No space left on device.". Once the file is
    closed that detail is gone, so a nearly full disk is taken as the cause.
    """
    text = err.error_string
    try:
        if sound is not None and not sound.closed:
            text = soundfile._ffi.string(soundfile._snd.sf_strerror(sound._file)).decode()
    except (AttributeError, TypeError, UnicodeDecodeError):
        pass  # an older or newer soundfile without these internals: keep its message
    text = text.removeprefix("System error : ").strip().rstrip(".")
    if "No space left" in text or (text == "System error" and _nearly_full(folder)):
        return "the disk is full (no space left on device)"
    return (text[:1].lower() + text[1:]) or "unknown error"


def _nearly_full(folder: Path) -> bool:
    """Return True if `folder`'s disk has under 64 KiB free (a bare "System error" then means a full disk)."""
    try:
        return shutil.disk_usage(folder).free < 64 * 1024
    except OSError:
        return False


@contextmanager
def _reported(path: Path, sound: soundfile.SoundFile | None = None) -> Iterator[None]:
    """Turn a file-system or encoder failure inside the block into an ExportError naming `path`."""
    try:
        yield
    except soundfile.LibsndfileError as err:
        raise ExportError(f"cannot write {path}: {_libsndfile_reason(path.parent, sound, err)}") from err
    except (OSError, MutagenError) as err:
        raise ExportError(f"cannot write {path}: {_reason(err)}") from err


def _check_folder(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: the folder {folder} does not exist")
    if path.is_dir():
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
            raise ExportError(f"cannot write {path}: {_reason(err)}") from err
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
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; when the block ends normally, sync it and rename it to `path`.

    If the block raises (anything, KeyboardInterrupt included) the temp file is
    removed and `path` is left untouched.
    """
    tmp = _create_temp(path)
    try:
        yield tmp
        with _reported(path):
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


def _write_text(path: Path, text: str) -> Path:
    with _atomic(path) as tmp:
        with _reported(path), open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return path


# --- audio -------------------------------------------------------------------


def _block(render: Render, start: int, n: int, pcm16: bool) -> np.ndarray:
    """Return render(start, n) checked for length, clipped, and as int16 for 16-bit PCM.

    Quantizing here (round(x * 32767)) keeps WAV and FLAC bytes independent of
    libsndfile's float conversion, and clipping keeps an overshoot from wrapping around.
    """
    block = np.asarray(render(start, n), dtype=np.float32).reshape(-1)
    if block.shape[0] != n:
        raise ValueError(f"render({start}, {n}) returned {block.shape[0]} samples, not {n}")
    block = np.clip(block, -1.0, 1.0)
    if pcm16:
        return np.rint(block * 32767.0).astype(np.int16)
    return block


def export_audio(
    timeline: Timeline,
    render: Render,
    path: Path,
    *,
    block_seconds: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the whole timeline as audio to `path` and return `path`.

    The format comes from the suffix (.wav, .flac, .ogg, .mp3; any case).
    The audio is pulled from `render` in consecutive blocks of `block_seconds`
    (the last one shorter), so memory stays flat for any length; `progress`,
    if given, is called with (samples written, total samples) after each block.
    FLAC, Ogg and MP3 files get the title and one chapter per step.

    Raises InputError for an unknown suffix or an empty timeline, ExportError when the file cannot
    be written (missing folder, no permission, full disk); in every failure,
    and whatever `render` raises, nothing is left at `path` that was not there before.
    """
    path = Path(path)
    fmt = _format_for(path, FORMATS, "a format")
    if timeline.total_samples <= 0:
        # libsndfile writes a 0-byte FLAC for no samples, which no reader accepts.
        raise InputError(f"{timeline.title!r} is empty (0 samples); there is nothing to export")
    if not block_seconds > 0:
        raise ValueError(f"block_seconds must be positive, not {block_seconds!r}")
    if fmt.format not in soundfile.available_formats():
        raise ExportError(
            f"cannot write {path}: this libsndfile ({soundfile.__libsndfile_version__}) "
            f"has no {fmt.format} encoder; choose another format"
        )
    rate = timeline.sample_rate
    total = timeline.total_samples
    step = max(1, round(block_seconds * rate))
    pcm16 = fmt.subtype == "PCM_16"

    with _atomic(path) as tmp:
        with _reported(path):
            sound = soundfile.SoundFile(
                tmp, "w", samplerate=rate, channels=1, format=fmt.format, subtype=fmt.subtype
            )
        try:
            if fmt.format == "WAV":
                # No chapter convention for WAV, but a LIST INFO chunk still names the session.
                sound.title = one_line(timeline.title)
            # One write per block: libsndfile 1.2.2 has crashed encoding ten
            # minutes of Vorbis handed over in a single write call.
            for start in range(0, total, step):
                n = min(step, total - start)
                data = _block(render, start, n, pcm16)
                with _reported(path, sound):
                    sound.write(data)
                if progress is not None:
                    progress(start + n, total)
        except BaseException:
            try:
                sound.close()
            except (RuntimeError, OSError):
                pass  # already failing: the first error is the one to report
            raise
        with _reported(path, sound):
            sound.close()
        with _reported(path):
            write_tags(tmp, fmt.chapters, timeline)
    return path


# --- text files --------------------------------------------------------------


def write_timeline_json(timeline: Timeline, path: Path) -> Path:
    """Write exactly `timeline.to_dict()` as UTF-8 JSON (indent 2), atomically; return `path`."""
    path = Path(path)
    text = json.dumps(timeline.to_dict(), indent=2, ensure_ascii=False) + "\n"
    return _write_text(path, text)


def write_subtitles(timeline: Timeline, path: Path) -> Path:
    """Write one cue per spoken phrase as .vtt, .srt or .lrc (by suffix), atomically; return `path`.

    Raises InputError for any other suffix, ExportError if the file cannot be written.
    """
    path = Path(path)
    to_text = _format_for(path, SUBTITLE_FORMATS, "a subtitle format")
    return _write_text(path, to_text(timeline))


def write_playlist(entries: list[tuple[Path, float, str]], path: Path) -> Path:
    """Write an extended M3U playlist of (file, seconds, title) entries, atomically; return `path`.

    Files are written relative to the playlist's folder with forward slashes,
    so the folder can be moved or copied as a whole; seconds are rounded to
    whole seconds (-1, M3U's "unknown", when not finite).
    """
    path = Path(path)
    folder = os.path.abspath(path.parent)
    lines = ["#EXTM3U"]
    for file, seconds, title in entries:
        try:
            name = Path(os.path.relpath(os.path.abspath(file), folder)).as_posix()
        except ValueError:  # another drive on Windows: no relative path exists
            name = Path(os.path.abspath(file)).as_posix()
        length = math.floor(seconds + 0.5) if math.isfinite(seconds) else -1
        lines.append(f"#EXTINF:{length},{one_line(title)}")
        lines.append(name)
    return _write_text(path, "\n".join(lines) + "\n")
