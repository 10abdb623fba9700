"""How to speak: the Voice settings, the engine interface and the engine registry.

Engines register by name through `register(name, factory)`; the built-ins
(engines.py) use the same path as anything added later.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from ..errors import InputError
from .cache import CACHE_FORMAT

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
