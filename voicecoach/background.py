"""The background bed's file side: finding a bed or a file, checking it, and decoding it for the mixer.

bed.py plans how a bed sits under the voice (pure); this reads what it plays.
A background is a built-in bed (a seamless FLAC loop made by
scripts/make_sounds.py) or any audio file libsndfile reads. A file is never
loaded whole: it is decoded in blocks, resampled as a stream and kept as
16-bit samples in an unlinked temporary file, from which the mixer reads any
block it needs.
"""
from __future__ import annotations

import difflib
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile
import soxr

from voicecoach.errors import EnvironmentProblem, InputError
from voicecoach.meter import HopMeter
from voicecoach.sounds import builtin_dir, is_path
from voicecoach.text import one_line

if TYPE_CHECKING:  # names for the signatures: the config file checks a bed name without loading routines
    from voicecoach.bed import BedChoice
    from voicecoach.routines.model import Routine
    from voicecoach.timeline import Timeline

BEDS: dict[str, str] = {
    "rain": "steady soft rain, with scattered drops",
    "ocean": "slow waves on a distant shore",
    "pad": "a warm low chord that slowly breathes",
}
BED_MIN_S = 1.0  # of sound, once silence at both ends is left out
_SILENT = 10 ** (-60 / 20)  # sound below -60 dBFS at a file's start and end is left out of the loop
_BLOCK = 65536  # frames decoded at a time
_HALF = 16384.0  # files are kept at half scale in 16 bits, so a resampler's overshoot never clips


def bed_path(name: str) -> Path:
    return builtin_dir() / f"{name}.flac"


def beds() -> list[tuple[str, float, str]]:
    """Every built-in bed: (name, seconds before it loops, what it sounds like)."""
    return [(name, soundfile.info(str(bed_path(name))).duration, text) for name, text in BEDS.items()]


def resolve_background(name: str, folder: Path | None = None, confined: bool = False) -> tuple[str, Path]:
    """("bed", path) for a built-in bed name, ("file", path) for an audio file.

    A file is relative to `folder` (the current folder when None) after `~` is
    expanded; with `confined` it must lie inside `folder` once `..` and symlinks
    are resolved (a routine's own files). Raises InputError for an empty or
    unknown name (naming the closest bed), a path outside the folder, a
    missing file or a folder.
    """
    beds = ", ".join(BEDS)
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"empty background name {name!r}; built-in beds: {beds}, or give an audio file")
    if not is_path(name):
        if name in BEDS:
            return "bed", bed_path(name).resolve()
        near = difflib.get_close_matches(name.lower(), list(BEDS), n=1, cutoff=0.5)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise InputError(f"unknown background '{name}'{hint}; built-in beds: {beds}, or give the path of an audio file")
    root = Path(folder).resolve() if folder is not None else Path.cwd()
    path = (root / Path(name).expanduser()).resolve()
    if confined and not path.is_relative_to(root):
        raise InputError(f"background file '{name}' is outside the routine's folder: it must be inside {root}")
    if path.is_dir():
        raise InputError(f"background file '{name}' is a folder, not an audio file")
    if not path.is_file():
        raise InputError(f"background file '{name}' not found (looked for {path})")
    return "file", path


def _unreadable(name: str, exc: Exception) -> InputError:
    # libsndfile says "Error opening '/the/path': Error : unknown error in flac decoder."
    text = one_line(str(exc))
    text = re.sub(r"^Error opening '.*?': ", "", text).removeprefix("Error : ").rstrip(".") or "unknown error"
    text = text[:1].lower() + text[1:]
    if "not recognised" in text or "unknown format" in text.lower():
        text = "not an audio format voicecoach reads (WAV, FLAC, Ogg, MP3, AIFF and the others libsndfile knows)"
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror[:1].lower() + exc.strerror[1:]
    return InputError(f"cannot read background file '{name}': {text}")


def probe_background(path: Path, name: str) -> None:
    """Check, without decoding it, that libsndfile opens `path` and finds audio in it; InputError if not."""
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        if path.is_file() and path.stat().st_size == 0:
            raise InputError(f"background file '{name}' is empty: it holds no audio") from None
        raise _unreadable(name, exc) from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise InputError(f"background file '{name}' is empty: it holds no audio")


class LoopBed:
    """A built-in bed in memory: a seamless loop of `length` samples."""

    def __init__(self, samples: np.ndarray, loud_db: float):
        self.samples, self.length, self.loud_db = samples, len(samples), loud_db

    def read(self, pos: int, n: int) -> np.ndarray:
        return self.samples[pos:pos + n]


class FileBed:
    """A decoded file in an unlinked temporary file: read(pos, n) is one pread, safe from the audio thread."""

    def __init__(self, handle, length: int, loud_db: float):
        self._handle, self.length, self.loud_db = handle, length, loud_db
        self._fd = handle.fileno()
        self._lock = threading.Lock()  # for systems without pread, where seek and read must not interleave

    def read(self, pos: int, n: int) -> np.ndarray:
        if hasattr(os, "pread"):
            data = os.pread(self._fd, 2 * n, 2 * pos)
        else:
            with self._lock:
                os.lseek(self._fd, 2 * pos, os.SEEK_SET)
                data = os.read(self._fd, 2 * n)
        if len(data) != 2 * n:
            raise OSError(f"the decoded background ends at {len(data) // 2 + pos} samples, not {pos + n}")
        return np.frombuffer(data, dtype="<i2").astype(np.float32) * np.float32(1.0 / _HALF)

    def close(self) -> None:
        self._handle.close()


_beds: dict[tuple[Path, int, int], LoopBed] = {}


def _circular_resample(x: np.ndarray, n: int) -> np.ndarray:
    """A periodic signal resampled to n samples per period in the frequency domain: still a seamless loop."""
    spectrum = np.fft.rfft(x)
    keep = min(len(spectrum), n // 2 + 1)
    out = np.zeros(n // 2 + 1, dtype=complex)
    out[:keep] = spectrum[:keep]
    return np.fft.irfft(out, n) * (n / len(x))


def _builtin_bed(path: Path, sample_rate: int) -> LoopBed:
    key = (path, path.stat().st_mtime_ns, sample_rate)
    if key not in _beds:
        data, file_rate = soundfile.read(str(path), dtype="float64", always_2d=True)
        x = data.mean(axis=1)
        if file_rate != sample_rate:
            x = _circular_resample(x, int(round(len(x) * sample_rate / file_rate)))
        samples = np.ascontiguousarray(x, dtype=np.float32)
        samples.flags.writeable = False
        meter = HopMeter(sample_rate)
        meter.feed(np.concatenate([samples, samples[:4 * meter.hop]]))  # round the loop: every block counts
        _beds[key] = LoopBed(samples, meter.loud_passages())
    return _beds[key]


def open_background(kind: str, path: Path, name: str, sample_rate: int, need: int) -> LoopBed | FileBed:
    """The bed's samples at `sample_rate`: a built-in loop, or the first `need` samples of sound in a file.

    A file is mixed to mono, resampled, stripped of silence at its start (and at
    its end when it is shorter than `need`) and measured for loudness as it is
    decoded. Raises InputError when it cannot be decoded or holds under
    BED_MIN_S of sound, EnvironmentProblem when no temporary file can be written.
    """
    if kind == "bed":
        return _builtin_bed(path, sample_rate)
    try:
        handle = tempfile.TemporaryFile(prefix="voicecoach-bed-")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot decode the background: no temporary file ({exc.strerror})") from None
    try:
        length, meter = _decode(path, name, sample_rate, need, handle)
    except BaseException:
        handle.close()
        raise
    if length < BED_MIN_S * sample_rate:
        handle.close()
        if length == 0:
            raise InputError(f"background file '{name}' is silent: it holds no sound above -60 dBFS")
        raise InputError(f"background file '{name}' holds only {length / sample_rate:.1f} s of sound; "
                         f"a background needs at least {BED_MIN_S:g} s")
    return FileBed(handle, length, meter.loud_passages())


def _decode(path: Path, name: str, sample_rate: int, need: int, handle) -> tuple[int, HopMeter]:
    """Decode into `handle` as 16-bit mono; return (samples of sound kept, the meter fed with them)."""
    meter = HopMeter(sample_rate)
    written, last_loud, started = 0, -1, False
    try:
        with soundfile.SoundFile(str(path)) as f:
            stream = (soxr.ResampleStream(f.samplerate, sample_rate, 1, dtype="float32", quality="HQ")
                      if f.samplerate != sample_rate else None)
            while written < need:
                block = f.read(_BLOCK, dtype="float32", always_2d=True)
                end = len(block) < _BLOCK
                mono = block.mean(axis=1, dtype=np.float32)
                if stream is not None:
                    mono = stream.resample_chunk(mono, last=end)
                loud = np.flatnonzero(np.abs(mono) > _SILENT)
                if not started and len(loud):
                    mono, loud, started = mono[loud[0]:], loud - loud[0], True
                take = mono[:need - written] if started else mono[:0]
                if len(take):
                    meter.feed(take)
                    pcm = np.clip(np.rint(take * _HALF), -32768, 32767).astype("<i2")
                    handle.write(pcm.tobytes())
                    inside = loud[loud < len(take)]
                    if len(inside):
                        last_loud = written + int(inside[-1])
                    written += len(take)
                if end:
                    break
        handle.flush()
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise _unreadable(name, exc) from None
    except OSError as exc:
        raise EnvironmentProblem(f"cannot decode the background '{name}': {exc.strerror or exc}") from None
    return (written if written >= need else last_loud + 1), meter


# --- the bed of one session -------------------------------------------------------


@dataclass(frozen=True)
class BedSource:
    """A session's bed, found and checked but not decoded."""

    name: str  # as given
    kind: str  # "bed" or "file"
    path: Path
    where: object | None  # the routine's `background:` key, for errors found while decoding


def _at(where, call, *args):
    """call(*args); an InputError about a routine's own bed is pointed at its `background:` key (`where`)."""
    try:
        return call(*args)
    except InputError as exc:
        if where is None:
            raise
        raise where.error(str(exc)) from None


def choose(routine: Routine, choice: BedChoice) -> BedSource | None:
    """Which bed to mix: none when off, else the caller's, the routine's, the config file's; checked, not decoded."""
    if choice.off:
        return None
    where = None
    if choice.name is not None:
        name, kind_path = choice.name, resolve_background(choice.name)
    elif routine.background is not None:
        name, where = routine.background, routine.background_where
        kind_path = _at(where, resolve_background, name, routine.folder, True)
    elif choice.default is not None:
        name, kind_path = choice.default, resolve_background(choice.default)
    else:
        return None
    found = BedSource(name, *kind_path, where)
    if found.kind == "file":
        _at(where, probe_background, found.path, name)
    return found


def open_reader(timeline: Timeline, source: BedSource) -> LoopBed | FileBed:
    """The bed's reader: a file is decoded here, in blocks, once the session's length is known."""
    return _at(source.where, open_background, source.kind, source.path, source.name, timeline.sample_rate,
               timeline.total_samples)
