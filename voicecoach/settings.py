"""The one resolver: every setting from default < config file < routine < environment < the caller's values.

`resolve(config, given, routine)` gives a frozen `Settings`; each value carries
its origin: `default`, `config.yaml:4`, `evening.yaml:3`, `VOICECOACH_NEURAL=off`,
or the label the caller gave its value (the command line uses the option, `--rate`).
Nothing here reads the config file: the caller loads it (config.load_config) and
passes it in, so a library call that passes values never depends on that file.

Adding a setting is one line in SPECS (and, for the command line, its option).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import bed
from .config import Config

DEFAULT = "default"
DEFAULT_WPM = 140  # words per minute, for every engine: unhurried, easy to follow with eyes closed
NEURAL_ENV = "VOICECOACH_NEURAL"


@dataclass(frozen=True)
class Spec:
    """One setting: its default, whether the config file may set it (same key), where a routine sets it."""

    name: str
    default: Any = None
    config: bool = True
    routine: str | None = None  # dotted, as in the routine file and on the Routine value: "voice.rate"


SPECS = (
    Spec("engine"),  # None here: the best installed engine, settled by _engine
    Spec("voice", routine="voice.voice"),
    Spec("rate", DEFAULT_WPM, routine="voice.rate"),
    Spec("volume", routine="voice.volume"),  # None: the engine's own
    Spec("voice_model"),
    Spec("tts_command"),
    Spec("backend"),  # None: the best one here
    Spec("device"),  # None: the backend's default device
    Spec("lead_in", 5.0),
    Spec("background", routine="background"),  # a bed name or file; False: none at all
    Spec("background_level", bed.LEVEL_DB),
    Spec("duck", bed.DUCK_DB),
    Spec("mpris", True),
    Spec("pause_others", False),
    Spec("cache_limit"),  # bytes; None: the speech cache's own default
    Spec("serve_host"),  # None: this machine's address on the local network
    Spec("serve_port", 8765),
    Spec("listen", False),  # spoken commands (listen/)
    Spec("listen_device"),  # None: the default microphone
    Spec("listen_log", False, config=False),
    Spec("scale", 1.0, config=False),
    Spec("safety", True, config=False),
    Spec("sample_rate", 22050, config=False),
    Spec("start", config=False),  # the step to start at: a number (1-based) or a title's start
    Spec("level", config=False),  # None: the level the history has reached
)
NAMES = tuple(s.name for s in SPECS)


@dataclass(frozen=True)
class Settings:
    """Every effective setting (`settings.rate`) and where it came from (`settings.origin("rate")`)."""

    values: Mapping[str, Any]
    origins: Mapping[str, str]
    note: str | None = None  # why this engine, when it is not the one expected; for the caller to say
    config: Config = field(default_factory=Config, repr=False)
    given: Mapping[str, tuple[Any, str]] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"no setting {name!r}")

    def origin(self, name: str) -> str:
        return self.origins[name]

    def for_routine(self, routine) -> Settings:
        """The same settings with `routine`'s own (its voice, its bed) in their place, above the config file.

        The engine stays as it was settled: nothing is looked for again.
        """
        values, origins = dict(self.values), dict(self.origins)
        for spec in SPECS:
            if spec.routine is not None and spec.name not in self.given:
                found = _routine_value(routine, spec.routine) if routine is not None else None
                values[spec.name], origins[spec.name] = found or _below_routine(self.config, spec)
        return Settings(values, origins, self.note, self.config, self.given)

    def voice_of(self, routine):
        """The speech.Voice for `routine` (its own voice settings in their place); reads no file, says nothing."""
        return self.for_routine(routine).to_voice()

    def to_voice(self):
        """The speech.Voice these settings speak with (the engine's settings only: a command, a model)."""
        from .speech import Voice

        engine = self.engine
        return Voice(engine=engine, voice=self.values["voice"], rate=self.rate, volume=self.volume,
                     command=self.tts_command if engine == "command" else None,
                     model=self.voice_model if engine == "piper" else None, note=self.note)

    def to_bed(self) -> bed.BedChoice:
        """The bed the session asks for: the caller's, or none; a routine's own is found when it is prepared,
        the config file's is the default for a routine that names none."""
        given = self.given.get("background", (None, ""))[0]
        return bed.BedChoice(name=given if given else None, off=given is False, default=self.config.background,
                             duck_db=self.duck, level_db=self.background_level)

    def rows(self) -> list[tuple[str, Any, str]]:
        """(name, value, origin) for every setting, in SPECS order."""
        return [(name, self.values[name], self.origins[name]) for name in NAMES]


def resolve(config: Config | None = None, given: Mapping[str, Any] | None = None, routine=None,
            env: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None) -> Settings:
    """Settings from the layers: SPECS' defaults < `config` < `routine` < the environment < `given`.

    `given` maps a setting's name to the caller's value (None: not given); `labels`
    names where each came from (the command line passes its options: `--rate`),
    else the origin is the setting's name. A TTS command given as text is split
    here (InputError when it cannot be).
    """
    config = config if config is not None else Config()
    env = os.environ if env is None else env
    labels = labels or {}
    unknown = sorted(set(given or ()) - set(NAMES))
    if unknown:
        raise KeyError(f"no setting {unknown[0]!r}; the settings are {', '.join(NAMES)}")
    chosen = {name: (_plain(name, value), labels.get(name, name))
              for name, value in (given or {}).items() if value is not None}
    values, origins = {}, {}
    for spec in SPECS:
        values[spec.name], origins[spec.name] = chosen.get(spec.name) or _below_routine(config, spec)
    engine, origin, note = _engine(config, chosen, env)
    values["engine"], origins["engine"] = engine, origin
    if engine == "command" and "rate" in chosen and not any("{rate}" in a for a in values["tts_command"] or ()):
        note = (f"{chosen['rate'][1]} {values['rate']} does not apply to the TTS command: it has no {{rate}} "
                "placeholder, so the program speaks at its own rate")
    settings = Settings(values, origins, note, config, chosen)
    return settings.for_routine(routine) if routine is not None else settings


def _plain(name: str, value: Any) -> Any:
    """A given value as the settings hold it: a TTS command as its arguments, a path as text."""
    if name == "tts_command" and isinstance(value, str):
        from .speech.voice import parse_command

        return parse_command(value)
    if name == "voice_model":
        return str(value)
    return value


def _below_routine(config: Config, spec: Spec) -> tuple[Any, str]:
    """The config file's value with its line, else the default."""
    if spec.config and getattr(config, spec.name, None) is not None:
        return getattr(config, spec.name), config.where(spec.name) or "config file"
    return spec.default, DEFAULT


def _routine_value(routine, dotted: str) -> tuple[Any, str] | None:
    """(value, "evening.yaml:3") when `routine` sets it, else None."""
    value: Any = routine
    for part in dotted.split("."):
        value = getattr(value, part, None)
    if value is None:
        return None
    return value, _routine_line(routine, dotted)


def _routine_line(routine, dotted: str) -> str:
    """Where the routine file sets `dotted`, as FILE:LINE; the file's name alone when the line is not found."""
    source = getattr(routine, "source", None)
    if source is None:
        return "routine"
    from .errors import VoicecoachError
    from .routines import document

    try:
        node = document.read(source)
        *outer, last = dotted.split(".")
        for part in outer:
            node = node.value[part]
        return f"{source.name}:{node.keys[last][0]}"
    except (VoicecoachError, KeyError, TypeError, AttributeError):
        return source.name


def _engine(config: Config, chosen: Mapping[str, tuple[Any, str]], env: Mapping[str, str]):
    """(engine, origin, note): named, else implied (a TTS command: command; a voice model: piper), the caller's
    before the config file's; else the best installed (piper when the neural extra and a voice are there)."""
    layers = [chosen,
              {k: (getattr(config, k), config.where(k) or "config file")
               for k in ("engine", "tts_command", "voice_model") if getattr(config, k) is not None}]
    for layer in layers:
        for key, implied in (("engine", None), ("tts_command", "command"), ("voice_model", "piper")):
            if key in layer:
                value, origin = layer[key]
                return implied or value, origin, None
    if env.get(NEURAL_ENV, "").strip().lower() == "off":
        return "pyttsx3", f"{NEURAL_ENV}=off", None
    from .speech.piper import unavailable

    why = unavailable()
    if why is None:
        return "piper", DEFAULT, None
    return "pyttsx3", DEFAULT, f"speaking with pyttsx3: {why}" if why else None
