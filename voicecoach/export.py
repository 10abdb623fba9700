"""A whole session to files: its audio (see encoding.py), subtitles, timeline JSON, and a playlist of sessions.

Every file is written atomically (files.py): it appears whole under its name or
not at all, and a file that was there before stays as it was when an export
fails or is interrupted (an exception, Ctrl-C, SIGKILL). Only a SIGKILL can
leave a hidden temporary file behind, which the next export of it removes.
"""
from __future__ import annotations

import errno
import json
import math
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import ContextManager

import soundfile

from voicecoach.encoding import FORMATS, export_audio, format_for
from voicecoach.errors import ExportError, InputError, NotReplaced
from voicecoach.files import kind, reason, staged, write_text
from voicecoach.subtitles import SUBTITLE_FORMATS
from voicecoach.text import one_line
from voicecoach.timeline import Timeline

# --- text files --------------------------------------------------------------


def write_timeline_json(timeline: Timeline, path: Path) -> Path:
    """Write exactly `timeline.to_dict()` as UTF-8 JSON (indent 2), atomically; return `path`."""
    path = Path(path)
    text = json.dumps(timeline.to_dict(), indent=2, ensure_ascii=False) + "\n"
    return write_text(path, text)


def write_subtitles(timeline: Timeline, path: Path) -> Path:
    """Write one cue per spoken phrase as .vtt, .srt or .lrc (by suffix), atomically; return `path`.

    Raises InputError for any other suffix, ExportError if the file cannot be written.
    """
    path = Path(path)
    to_text = format_for(path, SUBTITLE_FORMATS, "a subtitle format")
    return write_text(path, to_text(timeline))


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
    return write_text(path, "\n".join(lines) + "\n")


# --- whole sessions ------------------------------------------------------------


def _quiet(label: str):
    return nullcontext(None)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _why_not(folder: Path, err: OSError) -> str:
    """Why no file can be made in `folder`, in words a user can act on."""
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write in {folder}"
    if err.errno == errno.EROFS:
        return f"{folder} is on a read-only file system"
    if err.errno == errno.ENOENT:
        return f"no file can be made in {folder}"  # e.g. /proc: the folder is there, new names are not
    return reason(err)


def check_targets(targets: list[Path], force: bool = False) -> None:
    """Refuse, before any work, files that could not be written or would be overwritten unasked.

    Each must not be named twice, must not be a folder, must be in a folder that
    exists and takes new files (tried with a hidden file, removed at once), and
    must not exist unless `force`. Raises ExportError; nothing is left behind.
    """
    seen: set[str] = set()
    for path in map(Path, targets):
        key = os.path.abspath(path)
        if key in seen:
            raise InputError(f"{path} is named twice; give each file its own name")
        seen.add(key)
        folder = path.parent
        found = kind(path, ExportError)
        if found == "folder":
            raise ExportError(f"cannot write {path}: it is a folder")
        if kind(folder, ExportError) != "folder":
            raise ExportError(f"cannot write {path}: the folder {folder} does not exist")
        if found is not None and not force:
            raise NotReplaced(path)
        probe = folder / f".{path.name}.probe-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as err:
            raise ExportError(f"cannot write {path}: {_why_not(folder, err)}") from err
        try:
            probe.unlink()
        except OSError:
            pass  # made but not removable: the export's own temp file handling will say more


def export_session(session, output: Path, timeline_json: Path | None = None, subtitles: Path | None = None,
                   progress: Callable[[str], ContextManager] = _quiet) -> str:
    """Write a prepared session as audio (and its side files); return a one-line summary of what was written.

    `progress(label)` is a context manager giving a progress(done, total) callback or None.
    The side files are written first under hidden names and renamed into place only
    once the audio is there too, so a failed export leaves none of them.
    """
    from voicecoach.duration import clock

    output = Path(output)
    tl = session.timeline
    with ExitStack() as staged_files:
        for path, text in ((timeline_json, _timeline_text), (subtitles, _subtitle_text)):
            if path:
                staged_files.enter_context(staged(Path(path), text(tl, Path(path))))
        with progress(f"Writing {output.name}") as report:
            export_audio(tl, session.render, output, progress=report)
    parts = _count(len(tl.steps), "chapter" if FORMATS[output.suffix.lower()].chapters else "step")
    return f"wrote {output} ({clock(tl.seconds)}, {parts})"


def _timeline_text(timeline: Timeline, path: Path) -> str:
    return json.dumps(timeline.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _subtitle_text(timeline: Timeline, path: Path) -> str:
    return format_for(path, SUBTITLE_FORMATS, "a subtitle format")(timeline)


def export_routine(routine, output: Path, voice_of: Callable | None = None, options=None,
                   timeline_json: Path | None = None, subtitles: Path | None = None,
                   progress: Callable[[str], ContextManager] = _quiet, force: bool = False,
                   limit: int | None = None) -> str:
    """Load (by id or path, or take) a routine, prepare it with `voice_of(routine)` and export it
    (`limit`: the speech cache's size in bytes, None for its default).

    Every output is checked before the slow part (its suffix, its folder, and that it
    does not exist unless `force`: see check_targets), so a typo costs nothing and
    leaves nothing.
    """
    from voicecoach.routines import load
    from voicecoach.session import prepare_session

    output = Path(output)
    for path, table, what in ((output, FORMATS, "an audio"), (subtitles, SUBTITLE_FORMATS, "a subtitle")):
        if path is not None and Path(path).suffix.lower() not in table:
            raise InputError(f"'{Path(path).suffix or Path(path).name}' is not {what} format voicecoach writes; "
                             "choose " + ", ".join(table))
    check_targets([p for p in (output, timeline_json, subtitles) if p is not None], force)
    r = load(routine) if isinstance(routine, (str, Path)) else routine
    with progress("Preparing speech") as report:
        session = prepare_session(r, options, voice_of(r) if voice_of else None, report, limit)
    return export_session(session, output, timeline_json, subtitles, progress)


def export_all(folder: Path, voice_of: Callable | None = None, options=None,
               progress: Callable[[str], ContextManager] = _quiet, limit: int | None = None) -> Iterator[str]:
    """Export every built-in routine as mp3 with .vtt subtitles, then an .m3u playlist; yield a line per file.

    The folder is made if missing. It is meant to be synced to a phone, so the files
    this writes (ID.mp3, ID.vtt, voicecoach.m3u) replace those of an earlier run
    without asking; nothing else in it is touched.
    """
    from voicecoach.routines import builtin_ids, load

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"cannot write into {folder}: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(f"cannot make the folder {folder}: {_why_not(folder.parent, err)}") from err
    ids = builtin_ids()
    check_targets([folder / name for rid in ids for name in (f"{rid}.mp3", f"{rid}.vtt")]
                  + [folder / "voicecoach.m3u"], force=True)
    entries = []
    for rid in ids:
        r = load(rid)
        target = folder / f"{rid}.mp3"
        yield export_routine(r, target, voice_of, options, subtitles=folder / f"{rid}.vtt", progress=progress,
                             force=True, limit=limit)
        entries.append((target, soundfile.info(str(target)).duration, r.title))
    playlist = folder / "voicecoach.m3u"
    write_playlist(entries, playlist)
    yield f"wrote {playlist} ({_count(len(entries), 'routine')})"
