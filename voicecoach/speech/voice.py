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
from dataclasses import dataclass, field
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
    model: str | None = None  # a neural voice's model file (.onnx, its config beside it as .onnx.json)
    model_id: str | None = None  # what the model files hold (a digest), so a changed voice never hits old clips
    note: str | None = field(default=None, compare=False)  # why this engine, when it is not the one expected

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
        if self.model is not None:
            object.__setattr__(self, "model", str(self.model))

    def cache_key(self, text: str) -> str:
        """Return the hex sha256 naming the clip of `text` spoken with these settings."""
        fields = [CACHE_FORMAT, self.engine, self.voice, self.rate,
                  None if self.volume is None else float(self.volume),
                  None if self.command is None else list(self.command), text]
        if self.model_id is not None:
            # Only voices with a model file add a field, so the keys of the other engines'
            # clips (and so their caches) stay as they were. The path is left out: the same
            # voice files copied elsewhere give the same clips.
            fields.insert(-1, self.model_id)
        return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine offers."""

    id: str
    name: str
    languages: tuple[str, ...] = ()
    source: str = ""  # where a voice file comes from (a package, a folder), for neural voices
    licence: str = ""  # the licence line of its model card, as the card says it


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
_RESOLVERS: dict[str, Callable[[Voice], Voice]] = {}


def register(name: str, factory: Callable[[Voice], Engine],
             resolve: Callable[[Voice], Voice] | None = None) -> None:
    """Make `factory(voice)` the engine called `name` (replacing any earlier one).

    `resolve(voice)`, when given, returns the voice with what its cache keys need
    filled in (a voice file's identity); it is cheap and starts no process.
    """
    _ENGINES[name] = factory
    if resolve is None:
        _RESOLVERS.pop(name, None)
    else:
        _RESOLVERS[name] = resolve


def resolved(voice: Voice) -> Voice:
    """`voice` as its engine's resolver completes it (unchanged for engines without one)."""
    resolve = _RESOLVERS.get(voice.engine)
    return resolve(voice) if resolve is not None else voice


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
