"""Audio files: a session as WAV, FLAC, Ogg Vorbis or MP3 (with chapters), in flat memory.

The audio is pulled from a render(start, n) in blocks and encoded as it comes;
a lossy file is decoded and measured once written, and encoded again, turned
down where it peaks over the promise (see _write_lossy). The file is written
atomically (files.atomic): an export that fails or is interrupted never
leaves a broken file under the target's name.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from mutagen import MutagenError

from voicecoach import level, meter
from voicecoach.chapters import write_tags
from voicecoach.errors import ExportError, InputError
from voicecoach.files import atomic, reason
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


def format_for(path: Path, table: dict, what: str) -> object:
    suffix = path.suffix.lower()
    if suffix in table:
        return table[suffix]
    choices = _choices(list(table))
    if not path.suffix:
        raise InputError(f"{path.name!r} has no file suffix; choose {choices}")
    raise InputError(f"{path.suffix!r} is not {what} voicecoach writes; choose {choices}")


# --- failures, in the words of the system -------------------------------------


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
        # mutagen wraps the system's error: its own says which
        cause = err.__context__ if isinstance(err, MutagenError) and isinstance(err.__context__, OSError) else err
        raise ExportError(f"cannot write {path}: {reason(cause)}") from err


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
    fmt = format_for(path, FORMATS, "a format")
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
