"""The Speaker: clips for phrases, from the clip cache or the engine, at the session's sample rate.

An engine writes one phrase as an audio file; the Speaker reads it, keeps it
in the clip cache (cache.py) and hands out mono float32 clips. Loudness and
silence are left alone (level.py does that).

A Speaker also keeps every clip it has handed out for as long as it lives, so
it never speaks one phrase twice: a neural engine's takes of a phrase differ
by a few hundred samples, and a session plans its timeline from the first take
(a second pass that levels the speech again must get the same one, whether or
not the cache folder could be written).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import soundfile as sf

from ..errors import InputError, SpeechError, VoicecoachError
from ..text import one_line
from . import cache as clipcache
from .cache import ClipCache
from .voice import _ENGINES, Engine, Voice, VoiceInfo, _phrase, engine_names, parse_command, resolved


def _read_output(path: Path, text: str) -> tuple[np.ndarray, int, str]:
    """The engine's file as (mono float32, rate, subtype); SpeechError when it is no audio."""
    try:
        info = sf.info(str(path))
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise SpeechError(f"the speech engine wrote no readable audio for {_phrase(text)}: {exc}") from None
    if data.shape[0] == 0:
        raise SpeechError(f"the speech engine wrote an empty clip for {_phrase(text)}")
    subtype = info.subtype if data.shape[1] == 1 else "FLOAT"  # a channel average is no longer 16-bit
    return np.ascontiguousarray(data.mean(axis=1, dtype=np.float32)), int(rate), subtype


class Speaker:
    """Clips for phrases, from the cache or the engine; use as a context manager.

    `cache_dir` is the clip folder itself (default: `cache_dir()`); `timeout` is
    the most seconds one phrase may take (a public attribute, may be changed);
    `cache_limit` the cache's size in bytes (the caller reads the config file's; default 500 MB),
    kept when the Speaker closes.
    """

    def __init__(self, voice: Voice, sample_rate: int = 22050, cache_dir: Path | None = None,
                 timeout: float = 30.0, cache_limit: int | None = None):
        if voice.engine not in _ENGINES:
            raise InputError(f"unknown speech engine {voice.engine!r}; choose one of: {', '.join(engine_names())}")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise InputError(f"sample rate must be a positive whole number, not {sample_rate!r}")
        if not timeout > 0:
            raise InputError(f"speech timeout must be positive, not {timeout!r}")
        self.voice = resolved(voice)  # e.g. a neural voice's file identity, for its cache keys
        self.sample_rate = sample_rate
        self.timeout = float(timeout)
        self.cache = ClipCache(Path(cache_dir) if cache_dir is not None else clipcache.cache_dir(), cache_limit)
        self._engine: Engine | None = None
        self._kept: dict[str, np.ndarray] = {}  # text -> the clip handed out (see the module docstring)

    @property
    def engine(self) -> Engine:
        """The engine, built on first use (a fully cached session never builds it)."""
        if self._engine is None:
            self._engine = _ENGINES[self.voice.engine](self.voice)
        return self._engine

    @staticmethod
    def _unique(texts: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(texts))

    def missing(self, texts: Iterable[str]) -> list[str]:
        """Return the unique texts (in first-seen order) that `clips` would synthesize."""
        self.cache.refresh()
        return [t for t in self._unique(texts)
                if t.strip() and t not in self._kept and self.cache.load(self.voice.cache_key(t)) is None]

    def clips(self, texts: Iterable[str], progress: Callable[[int, int], None] | None = None,
              each: Callable[[str, np.ndarray], None] | None = None) -> dict[str, np.ndarray]:
        """Return {text: mono float32 clip at sample_rate} for every unique text.

        Cached clips are read; the rest are synthesized, with progress(0, total)
        first and progress(done, total) after each one. A blank text is an empty
        clip. Clips are as the engine spoke them: not trimmed, not normalized.
        `each(text, clip)`, when given, gets every clip as soon as it is there
        (the cached ones first), so a caller can work on it while the engine speaks.
        """
        self.cache.refresh()
        out: dict[str, np.ndarray] = {}

        def deliver(text: str, data: np.ndarray, rate: int) -> None:
            out[text] = self._kept[text] = self._at_rate(data, rate)
            if each is not None:
                each(text, out[text])

        todo = []
        for text in self._unique(texts):
            if not text.strip():
                deliver(text, np.zeros(0, dtype=np.float32), self.sample_rate)
                continue
            if text in self._kept:
                deliver(text, self._kept[text], self.sample_rate)
                continue
            found = self.cache.load(self.voice.cache_key(text))
            if found is None:
                todo.append(text)
            else:
                deliver(text, *found)
        if todo:
            if progress is not None:
                progress(0, len(todo))
            with tempfile.TemporaryDirectory(prefix="voicecoach-speech-") as tmp:
                for done, text in enumerate(todo, 1):
                    path = Path(tmp) / f"clip-{done}.wav"
                    self.engine.synthesize(text, path, self.timeout)
                    data, rate, subtype = _read_output(path, text)
                    self.cache.store(self.voice.cache_key(text), data, rate, subtype)
                    deliver(text, data, rate)
                    if progress is not None:
                        progress(done, len(todo))
        return out

    def _at_rate(self, data: np.ndarray, rate: int) -> np.ndarray:
        if rate == self.sample_rate or data.size == 0:
            return data
        import soxr

        return np.ascontiguousarray(soxr.resample(data, rate, self.sample_rate), dtype=np.float32)

    def voices(self) -> list[VoiceInfo]:
        """Return the voices the engine offers (starts the engine)."""
        return self.engine.voices()

    def close(self) -> None:
        """Stop the engine's processes (a later call starts them again) and, when this Speaker
        added clips, hold the cache to its limit (never removing a clip this Speaker used)."""
        if self._engine is not None:
            self._engine.close()
        if self.cache.wrote:
            self.cache.trim()
            self.cache.wrote = 0

    def __enter__(self) -> "Speaker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def all_voices(tts_command: str | None = None) -> list[tuple[str, list[VoiceInfo] | str]]:
    """[(engine name, its voices)] for every registered engine, in name order; "command" only
    with a `tts_command`. An engine that cannot start gives the one-line reason instead of a list."""
    found: list[tuple[str, list[VoiceInfo] | str]] = []
    for name in engine_names():
        if name == "command" and not tts_command:
            continue
        engine = None
        try:
            engine = _ENGINES[name](Voice(engine=name, command=parse_command(tts_command) if name == "command"
                                          else None))
            found.append((name, engine.voices()))
        except VoicecoachError as exc:
            found.append((name, one_line(str(exc))))
        finally:
            if engine is not None:
                engine.close()
    return found
