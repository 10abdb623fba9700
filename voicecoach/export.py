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
from contextlib import ExitStack, contextmanager, nullcontext
from typing import ContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from mutagen import MutagenError

from voicecoach import level, meter
from voicecoach.chapters import write_tags
from voicecoach.errors import ExportError, InputError
from voicecoach.files import atomic, kind
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
    lossy: bool = False  # the decoded file is not the samples written: its peaks are checked (see _write_lossy)


FORMATS: dict[str, AudioFormat] = {
    ".wav": AudioFormat("WAV", "PCM_16", None),
    ".flac": AudioFormat("FLAC", "PCM_16", "flac"),
    ".ogg": AudioFormat("OGG", "VORBIS", "ogg", lossy=True),
    ".mp3": AudioFormat("MP3", "MPEG_LAYER_III", "id3", lossy=True),
}

# The true peak a lossy file must decode under, as this module measures it (8 times
# oversampled). 0.2 dB under the promised -1 dBFS: ffmpeg's ebur128 filter (192 kHz)
# reads a little differently (see tests/test_export_peaks.py, which holds the promise with it).
LOSSY_PEAK_DBTP = level.TRUE_PEAK_DBFS - 0.2
LOSSY_MARGIN_DB = 0.1  # a region over the peak is turned down this much further than its excess
LOSSY_REGION = 256  # samples: 12 ms at 22050 Hz
# An encoder spreads what it changes over its block (MP3 at 22050 Hz: 1152 samples
# with the overlap; Vorbis: up to 2048), so a dip covers 4 regions (1024 samples) on
# either side of a peak, and eases in and out over 2 * 128 samples (12 ms) beyond them.
LOSSY_REACH = 4
LOSSY_RAMP = 128
LOSSY_PASSES = 6  # encodings at most
LOSSY_LOUDNESS_LU = 0.1  # how far off the programme loudness a decoded lossy file may be


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

    with atomic(path, _reported) as tmp:
        if fmt.lossy:
            _write_lossy(tmp, path, fmt, rate, total, step, render, progress)
        else:
            # No chapter convention for WAV, but a LIST INFO chunk still names the session.
            title = one_line(timeline.title) if fmt.format == "WAV" else None
            _encode(tmp, path, fmt, rate, total, step, render, progress, title)
        with _reported(path):
            write_tags(tmp, fmt.chapters, timeline)
    return path


def _encode(tmp: Path, path: Path, fmt: AudioFormat, rate: int, total: int, step: int, render: Render,
            progress: Callable[[int, int], None] | None, title: str | None = None) -> None:
    """Write render(0, total) to `tmp` in blocks of `step` samples, as `fmt`."""
    pcm16 = fmt.subtype == "PCM_16"
    with _reported(path):
        sound = soundfile.SoundFile(tmp, "w", samplerate=rate, channels=1, format=fmt.format, subtype=fmt.subtype)
    try:
        if title is not None:
            sound.title = title
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


def _write_lossy(tmp: Path, path: Path, fmt: AudioFormat, rate: int, total: int, step: int, render: Render,
                 progress: Callable[[int, int], None] | None) -> None:
    """Encode, decode and measure; where the decoded file peaks over LOSSY_PEAK_DBTP, turn down and encode again.

    A lossy encoder leaves out what it judges inaudible, and what is left rings
    higher: sessions whose true peak is -1.5 dBFS decoded at up to -0.3 dBFS from MP3
    and -0.7 dBFS from Ogg Vorbis. Only the places that went over are turned down,
    each by its excess and LOSSY_MARGIN_DB more, for a tenth of a second (a few
    syllables in a session). The first encoding has no dips; a second one settles
    most sessions, a third nearly all (every built-in, both voices). Should
    LOSSY_PASSES encodings not settle it, the last one stands.

    The file as a whole is set to the programme loudness, measured on the render
    and checked on the decoded file: a lossless export is play's samples exactly
    and may sit up to a quarter LU off -16 LUFS, a lossy one need not (and ffmpeg's
    meter reads these 22050 Hz sessions 0.08 LU louder than ours).
    """
    from voicecoach.session import PROGRAMME_LUFS

    source = meter.HopMeter(rate)
    for start in range(0, total, step):
        source.feed(render(start, min(step, total - start)))
    lufs = source.integrated()
    gain_db = PROGRAMME_LUFS - lufs if np.isfinite(lufs) else 0.0
    dips: dict[int, float] = {}  # region -> dB to turn it down by
    before: dict[int, tuple[float, float]] = {}  # region -> (its dip, its peak) in the last encoding
    check = max(1, total // 4)  # decoding and measuring, in samples' worth of progress
    for attempt in range(LOSSY_PASSES):
        done_before, planned = attempt * (total + check), (attempt + 1) * (total + check)

        def report(done: int, _total: int, done_before: int = done_before, planned: int = planned) -> None:
            if progress is not None:
                progress(done_before + done, planned)

        scaled = _scaled(render, gain_db)
        _encode(tmp, path, fmt, rate, total, step, level.dipped(scaled, dips, LOSSY_REGION, LOSSY_REACH, LOSSY_RAMP),
                report)
        over, decoded = _measure(tmp, path, rate, lambda n: report(total + n * check // total, planned))
        loudness_off = decoded - PROGRAMME_LUFS if np.isfinite(decoded) else 0.0
        if not over and abs(loudness_off) <= LOSSY_LOUDNESS_LU:
            return
        if abs(loudness_off) > LOSSY_LOUDNESS_LU:
            gain_db -= loudness_off
        for k, peak in over.items():
            # A dB of dip lowers the decoded peak by a dB or less (the encoder's noise
            # does not scale exactly): once a region has been turned down, its own slope
            # says how far to go (couch-stretch's worst MP3 peak: 0.25 dB for a dB).
            slope = 1.0
            if k in before and dips[k] > before[k][0]:
                slope = min(1.0, max(0.2, (before[k][1] - peak) / (dips[k] - before[k][0])))
            before[k] = (dips.get(k, 0.0), peak)
            dips[k] = dips.get(k, 0.0) + (peak - LOSSY_PEAK_DBTP) / slope + LOSSY_MARGIN_DB


def _scaled(render: Render, gain_db: float) -> Render:
    gain = 10.0 ** (gain_db / 20.0)
    return lambda start, n: (np.asarray(render(start, n), dtype=np.float64) * gain).astype(np.float32)


def _measure(file: Path, path: Path, rate: int, decoded: Callable[[int], None]) -> tuple[dict[int, float], float]:
    """Decode `file`: the regions whose true peak is over LOSSY_PEAK_DBTP (with their peaks), and its loudness.

    Decoded by miniaudio, in blocks: libsndfile 1.2.2 decodes an MP3 correctly only in
    one read of the whole file (read in blocks of 64k samples, some came out up to 0.7 off).
    `decoded(n)` is told the samples decoded so far.
    """
    import miniaudio

    peaks = meter.TruePeakMeter(floor_dbfs=LOSSY_PEAK_DBTP, region=LOSSY_REGION)
    loudness = meter.HopMeter(rate)
    n = 0
    try:
        for chunk in miniaudio.stream_file(str(file), miniaudio.SampleFormat.FLOAT32, 1, rate, 1 << 16):
            block = np.frombuffer(chunk, dtype=np.float32)
            peaks.feed(block)
            loudness.feed(block)
            n += len(block)
            decoded(n)
    except miniaudio.MiniaudioError as err:
        raise ExportError(f"cannot write {path}: the encoded file does not decode ({err})") from err
    peaks.peak_dbfs()
    return peaks.over, loudness.integrated()


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
    return _reason(err)


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
            raise ExportError(f"{path} exists already; choose another name or pass --force to overwrite it")
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
    with ExitStack() as staged:
        for path, text in ((timeline_json, _timeline_text), (subtitles, _subtitle_text)):
            if path:
                tmp = staged.enter_context(atomic(Path(path), _reported))
                with _reported(Path(path)), open(tmp, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(text(tl, Path(path)))
        with progress(f"Writing {output.name}") as report:
            export_audio(tl, session.render, output, progress=report)
    parts = _count(len(tl.steps), "chapter" if FORMATS[output.suffix.lower()].chapters else "step")
    return f"wrote {output} ({clock(tl.seconds)}, {parts})"


def _timeline_text(timeline: Timeline, path: Path) -> str:
    return json.dumps(timeline.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _subtitle_text(timeline: Timeline, path: Path) -> str:
    return _format_for(path, SUBTITLE_FORMATS, "a subtitle format")(timeline)


def export_routine(routine, output: Path, voice_of: Callable | None = None, options=None,
                   timeline_json: Path | None = None, subtitles: Path | None = None,
                   progress: Callable[[str], ContextManager] = _quiet, force: bool = False) -> str:
    """Load (by id or path, or take) a routine, prepare it with `voice_of(routine)` and export it.

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
        session = prepare_session(r, options, voice_of(r) if voice_of else None, report)
    return export_session(session, output, timeline_json, subtitles, progress)


def export_all(folder: Path, voice_of: Callable | None = None, options=None,
               progress: Callable[[str], ContextManager] = _quiet) -> Iterator[str]:
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
                             force=True)
        entries.append((target, soundfile.info(str(target)).duration, r.title))
    playlist = folder / "voicecoach.m3u"
    write_playlist(entries, playlist)
    yield f"wrote {playlist} ({_count(len(entries), 'routine')})"
