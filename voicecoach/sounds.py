"""The chimes, ticks and breath tones: finding a sound by name and loading it.

A sound is a built-in name (a WAV file in the package `voicecoach.soundfiles`,
made by scripts/make_sounds.py) or a WAV/FLAC/OGG file a routine names by a
path relative to its own folder. Loaded sounds are mono float32 at the
session's rate.

The background beds' files are background.py's.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import soundfile
import soxr

from voicecoach.errors import InputError

SOUND_NAMES: tuple[str, ...] = (
    "bell",
    "bell-double",
    "halfway",
    "complete",
    "tick",
    "breath-in",
    "breath-out",
    "rest",
    "prompt",
)

from .wording import DEFAULT_CHIMES  # noqa: E402,F401  (the timeline needs it without reading files)

SOUND_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg")

# (resolved path, mtime in ns, sample rate) -> samples. Sessions load the same
# few sounds again and again (every tick, every chime), so decode each once.
_cache: dict[tuple[Path, int, int], np.ndarray] = {}


def builtin_dir() -> Path:
    """The folder holding the built-in WAV files (inside the installed package)."""
    return Path(str(importlib.resources.files("voicecoach.soundfiles")))


def is_path(name: str) -> bool:
    # Built-in names have no suffix and no folder; anything else is a file.
    return "/" in name or "\\" in name or Path(name).suffix != ""


def resolve(name: str, routine_dir: Path | None = None) -> Path:
    """The absolute, symlink-free path of the sound called `name`.

    `name` is a built-in name (see SOUND_NAMES) or a path to a .wav/.flac/.ogg
    file, relative to `routine_dir` (or to the built-in folder when there is no
    routine folder). The file must lie inside the routine's folder or the
    built-in folder once `..` and symlinks are resolved; absolute paths are
    held to the same rule.

    Raises InputError for an unknown name, a path that escapes those folders,
    an unsupported suffix, or a missing file.
    """
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"empty sound name {name!r}; built-in sounds: {', '.join(SOUND_NAMES)}")
    if not is_path(name):
        if name in SOUND_NAMES:
            return (builtin_dir() / f"{name}.wav").resolve()
        raise InputError(
            f"unknown sound {name!r}; built-in sounds: {', '.join(SOUND_NAMES)}"
            f" (or give a path to a {'/'.join(s[1:] for s in SOUND_SUFFIXES)} file)"
        )

    roots = [builtin_dir().resolve()]
    if routine_dir is not None:
        roots.insert(0, Path(routine_dir).resolve())
    given = Path(name).expanduser()
    path = (roots[0] / given).resolve()  # an absolute `given` replaces the root here
    if not any(path.is_relative_to(root) for root in roots):
        allowed = " or ".join(str(root) for root in roots)
        raise InputError(f"sound file {name!r} is outside the routine's folder: sound files must be inside {allowed}")
    if path.suffix.lower() not in SOUND_SUFFIXES:
        raise InputError(f"sound file {name!r} must be one of: {', '.join(SOUND_SUFFIXES)}")
    if not path.is_file():
        raise InputError(f"sound file {name!r} not found (looked for {path})")
    return path


def load(name: str, sample_rate: int, routine_dir: Path | None = None) -> np.ndarray:
    """The sound `name` as mono float32 samples at `sample_rate`.

    Channels are averaged; other rates are resampled with soxr. The result is
    cached and shared, so it is read-only: copy it before changing it.
    Raises InputError if the sound cannot be found (see `resolve`) or decoded.
    """
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise InputError(f"sample rate must be a positive whole number, not {sample_rate!r}")
    path = resolve(name, routine_dir)
    key = (path, path.stat().st_mtime_ns, sample_rate)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as exc:
        raise InputError(f"cannot read sound file {name!r} ({path}): {exc}") from exc
    samples = data.mean(axis=1, dtype=np.float32)
    if file_rate != sample_rate and len(samples):
        samples = soxr.resample(samples, file_rate, sample_rate, quality="HQ").astype(np.float32)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    samples.flags.writeable = False
    _cache[key] = samples
    return samples


def clear_cache() -> None:
    """Forget every loaded sound (the next load reads the file again)."""
    _cache.clear()
