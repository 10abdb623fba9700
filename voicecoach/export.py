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
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import ContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from mutagen import MutagenError

from voicecoach.chapters import write_tags
from voicecoach.errors import ExportError, InputError
from voicecoach.files import atomic
from voicecoach.subtitles import SUBTITLE_FORMATS
from voicecoach.text import one_line
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


def _write_text(path: Path, text: str) -> Path:
    with atomic(path, _reported) as tmp:
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

    with atomic(path, _reported) as tmp:
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


# --- whole sessions ------------------------------------------------------------


def _quiet(label: str):
    return nullcontext(None)


def export_session(session, output: Path, timeline_json: Path | None = None, subtitles: Path | None = None,
                   progress: Callable[[str], ContextManager] = _quiet) -> str:
    """Write a prepared session as audio (and its side files); return a one-line summary of what was written.

    `progress(label)` is a context manager giving a progress(done, total) callback or None.
    """
    from voicecoach.duration import clock

    output = Path(output)
    tl = session.timeline
    with progress(f"Writing {output.name}") as report:
        export_audio(tl, session.render, output, progress=report)
    if timeline_json:
        write_timeline_json(tl, timeline_json)
    if subtitles:
        write_subtitles(tl, subtitles)
    parts = f"{len(tl.steps)} chapters" if FORMATS[output.suffix.lower()].chapters else f"{len(tl.steps)} steps"
    return f"wrote {output} ({clock(tl.seconds)}, {parts})"


def export_routine(routine, output: Path, voice_of: Callable | None = None, options=None,
                   timeline_json: Path | None = None, subtitles: Path | None = None,
                   progress: Callable[[str], ContextManager] = _quiet) -> str:
    """Load (by id or path, or take) a routine, prepare it with `voice_of(routine)` and export it.

    Every suffix is checked before the slow part, so a typo costs nothing.
    """
    from voicecoach.routines import load
    from voicecoach.session import prepare_session

    output = Path(output)
    for path, table, what in ((output, FORMATS, "audio"), (subtitles, SUBTITLE_FORMATS, "subtitle")):
        if path is not None and Path(path).suffix.lower() not in table:
            raise InputError(f"'{Path(path).suffix or Path(path).name}' is not an {what} format voicecoach writes; "
                             "choose " + ", ".join(table))
    r = load(routine) if isinstance(routine, (str, Path)) else routine
    with progress("Preparing speech") as report:
        session = prepare_session(r, options, voice_of(r) if voice_of else None, report)
    return export_session(session, output, timeline_json, subtitles, progress)


def export_all(folder: Path, voice_of: Callable | None = None, options=None,
               progress: Callable[[str], ContextManager] = _quiet) -> Iterator[str]:
    """Export every built-in routine as mp3 with .vtt subtitles, then an .m3u playlist; yield a line per file."""
    from voicecoach.routines import builtin_ids, load

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for rid in builtin_ids():
        r = load(rid)
        target = folder / f"{rid}.mp3"
        yield export_routine(r, target, voice_of, options, subtitles=folder / f"{rid}.vtt", progress=progress)
        entries.append((target, soundfile.info(str(target)).duration, r.title))
    playlist = folder / "voicecoach.m3u"
    write_playlist(entries, playlist)
    yield f"wrote {playlist} ({len(entries)} routines)"
