"""Speech: engines that turn a phrase into a clip, and the Speaker that caches them.

Engines register by name through `register(name, factory)`; the built-ins
("pyttsx3", the default, and "command", any TTS program) use the same path.
An engine writes one phrase as an audio file; the Speaker reads it, keeps it
in the clip cache (see clipcache.py) and hands out mono float32 clips at the
session's sample rate. Loudness and silence are left alone (level.py does that).

pyttsx3 runs in a worker process (ttsworker.py), started only when a phrase is
missing, with its output sent to /dev/null ("Audio saved to ..." never reaches
the user) and a timeout per phrase.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np
import soundfile as sf

from . import clipcache, ttsworker
from .clipcache import CACHE_FORMAT, ClipCache, cache_dir
from .errors import InputError, SpeechEngineMissing, SpeechError

__all__ = [
    "CACHE_FORMAT", "Engine", "Speaker", "Voice", "VoiceInfo", "cache_dir", "engine_names",
    "parse_command", "register", "resolve_voice",
]

ESPEAK_HINT = "install espeak-ng: sudo apt-get install espeak-ng"


@dataclass(frozen=True)
class Voice:
    """How to speak: which engine and its settings (None = the engine's default)."""

    engine: str = "pyttsx3"
    voice: str | None = None  # engine voice id, name or language code, e.g. "en-us"
    rate: int | None = None  # words per minute
    volume: float | None = None  # 0..1
    command: tuple[str, ...] | None = None  # argument list for the "command" engine

    def __post_init__(self) -> None:
        if not isinstance(self.engine, str) or not self.engine:
            raise InputError(f"speech engine must be a name, not {self.engine!r}")
        if self.rate is not None and (isinstance(self.rate, bool) or not isinstance(self.rate, int)
                                      or self.rate <= 0):
            raise InputError(f"speech rate must be a positive whole number of words per minute, not {self.rate!r}")
        if self.volume is not None and not 0.0 <= float(self.volume) <= 1.0:
            raise InputError(f"speech volume must be between 0 and 1, not {self.volume!r}")
        if self.command is not None:
            if isinstance(self.command, str) or not all(isinstance(a, str) for a in self.command):
                raise InputError(f"a TTS command is a list of arguments, not {self.command!r}")
            object.__setattr__(self, "command", tuple(self.command))

    def cache_key(self, text: str) -> str:
        """Return the hex sha256 naming the clip of `text` spoken with these settings."""
        fields = [CACHE_FORMAT, self.engine, self.voice, self.rate,
                  None if self.volume is None else float(self.volume),
                  None if self.command is None else list(self.command), text]
        return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine offers."""

    id: str
    name: str
    languages: tuple[str, ...] = ()


class Engine(Protocol):
    """What a speech engine provides; `factory(voice)` builds one for a Voice."""

    def synthesize(self, text: str, out: Path, timeout: float) -> None:
        """Write `text` spoken as an audio file soundfile can read at `out`, within
        `timeout` seconds, or raise SpeechError / SpeechEngineMissing."""

    def voices(self) -> list[VoiceInfo]:
        """Return the voices this engine offers (may be empty when it cannot tell)."""

    def close(self) -> None:
        """Release processes; the engine may be used again afterwards."""


_ENGINES: dict[str, Callable[[Voice], Engine]] = {}


def register(name: str, factory: Callable[[Voice], Engine]) -> None:
    """Make `factory(voice)` the engine called `name` (replacing any earlier one)."""
    _ENGINES[name] = factory


def engine_names() -> list[str]:
    """Return the registered engine names, sorted."""
    return sorted(_ENGINES)


def _phrase(text: str) -> str:
    """The phrase as an error message names it: quoted, shortened when long."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def parse_command(s: str) -> tuple[str, ...]:
    """Split a command line like ``espeak-ng -w {out} {text}`` into arguments (shell
    quoting rules, nothing is run through a shell); raise InputError when it cannot."""
    try:
        args = tuple(shlex.split(s))
    except ValueError as exc:
        raise InputError(f"cannot read the TTS command {s!r}: {exc}") from None
    if not args:
        raise InputError("the TTS command is empty")
    return args


def resolve_voice(query: str, voices: list[VoiceInfo]) -> str:
    """Return the id of the voice `query` names: matched without regard to case against
    ids, then names, then the id's last part ("en-us" in "gmw/en-us"), then languages.
    Raise InputError naming `query` and a few close voices when none matches."""
    q = query.strip().lower()
    tests = (lambda v: v.id.lower() == q, lambda v: v.name.lower() == q,
             lambda v: v.id.lower().rsplit("/", 1)[-1] == q,
             lambda v: q in (lang.lower() for lang in v.languages))
    for test in tests:
        for v in voices:
            if test(v):
                return v.id
    # Suggest voices of the same language first ("en-martian" -> the English ones).
    tails = {v.id.lower().rsplit("/", 1)[-1]: v.id for v in voices}
    lang = re.split(r"[-_ ]", q, maxsplit=1)[0]
    near = [v.id for v in voices if q and (q in v.id.lower() or q in v.name.lower())]
    near = near or [i for t, i in tails.items() if lang and re.split(r"[-_]", t, maxsplit=1)[0] == lang]
    near = near or [tails[t] for t in difflib.get_close_matches(q, list(tails), n=5, cutoff=0.4)]
    near = near or [v.id for v in voices]
    shown = ", ".join(near[:5]) if near else "none"
    raise InputError(f"unknown voice {query!r}; try one of: {shown} (`voicecoach voices` lists them all)")


# ------------------------------------------------------------------ pyttsx3 worker

_ENGINE_HINT = ESPEAK_HINT if sys.platform.startswith("linux") else "check the system's text-to-speech"


class Pyttsx3Engine:
    """pyttsx3 (espeak-ng on Linux) in a worker process started on first use."""

    def __init__(self, voice: Voice):
        self.voice = voice
        self._proc = None
        self._conn = None
        self._voices: list[VoiceInfo] = []
        self._voice_id: str | None = None

    def _wait(self, timeout: float):
        """The worker's next message, or None when it died or stayed silent past `timeout`."""
        from multiprocessing.connection import wait

        if wait([self._conn, self._proc.sentinel], timeout) and self._conn.poll():
            try:
                return self._conn.recv()
            except (EOFError, OSError):
                return None
        return None

    def _start(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        self.close()
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        proc = ctx.Process(target=ttsworker.worker_main, args=(child,), daemon=True, name="voicecoach-speech")
        try:
            proc.start()
        except (OSError, RuntimeError) as exc:
            # No process could be started (out of processes or memory): close()
            # must not wait for a process that never existed.
            self.close()
            child.close()
            raise SpeechEngineMissing(f"cannot start the speech engine pyttsx3: {exc}; {_ENGINE_HINT}") from exc
        self._proc = proc
        child.close()
        reply = self._wait(ttsworker.STARTUP_TIMEOUT)
        if reply is None or reply[0] != "ready":
            self.close()
            why, hint = reply[1:3] if reply else ("the speech worker did not start", None)
            raise SpeechEngineMissing(f"cannot start the speech engine pyttsx3: {why}; {hint or _ENGINE_HINT}")
        self._voices = [VoiceInfo(*v) for v in reply[1]]
        self._voice_id = resolve_voice(self.voice.voice, self._voices) if self.voice.voice else None

    def voices(self) -> list[VoiceInfo]:
        self._start()
        return list(self._voices)

    def synthesize(self, text: str, out: Path, timeout: float) -> None:
        self._start()
        v = self.voice
        self._conn.send(("synth", text, str(out), self._voice_id, v.rate, v.volume, timeout))
        # The worker enforces `timeout` itself; this margin covers the fork and
        # the pipe, and only a worker that is itself stuck runs past it.
        reply = self._wait(timeout + min(5.0, max(1.0, timeout)))
        if reply is None:
            died = not self._proc.is_alive()
            self.close()
            if died:
                raise SpeechError(f"the speech engine stopped while speaking {_phrase(text)}")
            raise SpeechError(f"the speech engine hung on {_phrase(text)} (no answer in {timeout:g} s)")
        if reply[0] == "timeout":
            raise SpeechError(f"the speech engine took longer than {timeout:g} s on {_phrase(text)}")
        if reply[0] == "error":
            raise SpeechError(f"the speech engine failed on {_phrase(text)}: {reply[1]}")

    def close(self) -> None:
        proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        if conn is not None:
            try:
                conn.send(("close",))
            except OSError:
                pass  # already gone
        if proc is not None:
            proc.join(1.0)
            if proc.is_alive():
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (AttributeError, OSError):
                    proc.kill()
                proc.join(5.0)
        if conn is not None:
            conn.close()


# ------------------------------------------------------------------ command engine

_PLACEHOLDER = re.compile(r"\{(text|out)\}")


class CommandEngine:
    """Any TTS program, run without a shell: ``{text}`` in an argument becomes the
    phrase (else the phrase goes to stdin), ``{out}`` the WAV path (else the program
    writes audio to stdout). Arguments are substituted in one pass, so a phrase
    containing "{out}" is spoken literally. A phrase is one argument, never parsed
    by a shell; put ``--`` before ``{text}`` if the program may read a phrase that
    starts with "-" as an option. Its voices are chosen in its own arguments, so
    `voices()` is empty."""

    def __init__(self, voice: Voice):
        if not voice.command:
            raise InputError("the command engine needs a command, e.g. --tts-command 'espeak-ng -w {out} {text}'")
        self.command = voice.command

    def voices(self) -> list[VoiceInfo]:
        return []

    def synthesize(self, text: str, out: Path, timeout: float) -> None:
        values = {"text": text, "out": str(out)}
        args = [_PLACEHOLDER.sub(lambda m: values[m.group(1)], a) for a in self.command]
        text_on_stdin = not any("{text}" in a for a in self.command)
        audio_on_stdout = not any("{out}" in a for a in self.command)
        prog = self.command[0]
        try:
            proc = subprocess.Popen(
                args, shell=False, stdin=subprocess.PIPE if text_on_stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if audio_on_stdout else subprocess.DEVNULL, stderr=subprocess.PIPE,
                start_new_session=hasattr(os, "killpg"))  # its own group, so a timeout kills its children too
        except (FileNotFoundError, NotADirectoryError):
            raise SpeechEngineMissing(f"speech program {prog!r} not found; install it or fix the TTS command") from None
        except PermissionError:
            raise SpeechEngineMissing(f"speech program {prog!r} cannot be run (not executable)") from None
        try:
            stdout, stderr = proc.communicate(text.encode("utf-8") if text_on_stdin else None, timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (AttributeError, OSError):
                proc.kill()
            proc.communicate()
            raise SpeechError(f"speech program {prog!r} took longer than {timeout:g} s on {_phrase(text)}") from None
        if proc.returncode != 0:
            lines = stderr.decode("utf-8", "replace").strip().splitlines()
            why = lines[-1].strip() if lines else "no message"
            raise SpeechError(f"speech program {prog!r} failed (exit {proc.returncode}) on {_phrase(text)}: {why}")
        if audio_on_stdout:
            out.write_bytes(stdout)

    def close(self) -> None:
        pass


register("pyttsx3", Pyttsx3Engine)
register("command", CommandEngine)


# ------------------------------------------------------------------ the speaker


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
    the most seconds one phrase may take (a public attribute, may be changed).
    """

    def __init__(self, voice: Voice, sample_rate: int = 22050, cache_dir: Path | None = None,
                 timeout: float = 30.0):
        if voice.engine not in _ENGINES:
            raise InputError(f"unknown speech engine {voice.engine!r}; choose one of: {', '.join(engine_names())}")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise InputError(f"sample rate must be a positive whole number, not {sample_rate!r}")
        if not timeout > 0:
            raise InputError(f"speech timeout must be positive, not {timeout!r}")
        self.voice = voice
        self.sample_rate = sample_rate
        self.timeout = float(timeout)
        self.cache = ClipCache(Path(cache_dir) if cache_dir is not None else clipcache.cache_dir())
        self._engine: Engine | None = None

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
                if t.strip() and self.cache.load(self.voice.cache_key(t)) is None]

    def clips(self, texts: Iterable[str], progress: Callable[[int, int], None] | None = None
              ) -> dict[str, np.ndarray]:
        """Return {text: mono float32 clip at sample_rate} for every unique text.

        Cached clips are read; the rest are synthesized, with progress(0, total)
        first and progress(done, total) after each one. A blank text is an empty
        clip. Clips are as the engine spoke them: not trimmed, not normalized.
        """
        self.cache.refresh()
        raw: dict[str, tuple[np.ndarray, int]] = {}
        todo = []
        for text in self._unique(texts):
            if not text.strip():
                raw[text] = (np.zeros(0, dtype=np.float32), self.sample_rate)
                continue
            found = self.cache.load(self.voice.cache_key(text))
            if found is None:
                todo.append(text)
            else:
                raw[text] = found
        if todo:
            if progress is not None:
                progress(0, len(todo))
            with tempfile.TemporaryDirectory(prefix="voicecoach-speech-") as tmp:
                for done, text in enumerate(todo, 1):
                    out = Path(tmp) / f"clip-{done}.wav"
                    self.engine.synthesize(text, out, self.timeout)
                    data, rate, subtype = _read_output(out, text)
                    self.cache.store(self.voice.cache_key(text), data, rate, subtype)
                    raw[text] = (data, rate)
                    if progress is not None:
                        progress(done, len(todo))
        return {text: self._at_rate(*raw[text]) for text in raw}

    def _at_rate(self, data: np.ndarray, rate: int) -> np.ndarray:
        if rate == self.sample_rate or data.size == 0:
            return data
        import soxr

        return np.ascontiguousarray(soxr.resample(data, rate, self.sample_rate), dtype=np.float32)

    def voices(self) -> list[VoiceInfo]:
        """Return the voices the engine offers (starts the engine)."""
        return self.engine.voices()

    def close(self) -> None:
        """Stop the engine's processes; a later call starts them again."""
        if self._engine is not None:
            self._engine.close()

    def __enter__(self) -> "Speaker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
