"""The user's config file, parsed: each value checked, with the line it was set on.

config.yaml in the platform config folder (or $VOICECOACH_CONFIG) may set:
voice, rate, volume, engine, voice_model, tts_command, backend, device, lead_in;
the background bed: background (a bed name, or an audio file, relative to the
config file's folder), background_level and duck (dB); mpris (false: not
a media player on the session bus) and pause_others (true: pause other media
players while a session plays); listen (true: spoken commands) and listen_device (the microphone); cache_limit (the speech cache's size, e.g. 500MB);
serve_host and serve_port (where `serve` listens).

Which value wins over which is settings.py's business; where the file is, paths.py's.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_KEYS = ("voice", "rate", "volume", "engine", "voice_model", "tts_command", "backend", "device", "lead_in",
               "background", "background_level", "duck", "mpris", "pause_others", "cache_limit",
               "serve_host", "serve_port", "listen", "listen_device")
# The ranges the command line allows too: a bed up to 6 dB under the speech, a duck up to 40 dB.
BACKGROUND_LEVEL_RANGE = (-40.0, -6.0)
DUCK_RANGE = (0.0, 40.0)
SIZE_UNITS = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
              "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "TIB": 1024**4}


@dataclass(frozen=True)
class Config:
    voice: str | None = None
    rate: int | None = None
    volume: float | None = None
    engine: str | None = None
    voice_model: str | None = None
    tts_command: tuple[str, ...] | None = None
    backend: str | None = None
    device: str | None = None
    lead_in: float | None = None
    background: str | None = None  # a bed name, or an absolute path
    background_level: float | None = None
    duck: float | None = None
    mpris: bool | None = None
    pause_others: bool | None = None
    cache_limit: int | None = None  # bytes
    serve_host: str | None = None
    serve_port: int | None = None
    listen: bool | None = None
    listen_device: str | None = None
    path: Path | None = None  # the file read, None when there was none
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)  # key: the line it is set on

    def where(self, key: str) -> str | None:
        """`config.yaml:4` for a key the file sets, else None."""
        line = self.lines.get(key)
        return f"{self.path.name}:{line}" if line is not None and self.path is not None else None


def load_config(path: Path | None = None) -> Config:
    """The config file's settings; a missing file is an empty config, a bad one a RoutineError-style line."""
    from .paths import config_path
    from .routines import Validator, document

    path = path or config_path()
    if not path.is_file():
        return Config()
    root = document.read(path)
    b = Validator(path, ())
    fields = b.mapping(root, "settings")
    b.check_keys(root, CONFIG_KEYS, "the config file")
    values: dict = {}
    for key in ("voice", "engine", "voice_model", "backend", "device", "serve_host", "listen_device"):
        if key in fields:
            values[key] = b.text(fields[key], key)
    if "rate" in fields:
        values["rate"] = b.whole(fields["rate"], "rate", 40)
    if "serve_port" in fields:
        values["serve_port"] = b.whole(fields["serve_port"], "serve_port", 0, 65535)
    if "volume" in fields:
        values["volume"] = b.volume(fields["volume"])
    for key in ("mpris", "pause_others", "listen"):
        if key in fields:
            values[key] = b.flag(fields[key], key)
    if "lead_in" in fields:
        values["lead_in"] = b.seconds(fields["lead_in"], "lead_in", zero_ok=True)
    if "tts_command" in fields:
        node = fields["tts_command"]
        if isinstance(node.value, list):
            values["tts_command"] = tuple(b.text(n, "an argument") for n in node.value)
        else:
            from .errors import InputError
            from .speech.voice import parse_command

            try:
                values["tts_command"] = parse_command(b.text(node, "tts_command"))
            except InputError as exc:
                raise b.fail(node, str(exc)) from None
    if "background" in fields:
        values["background"] = _background(b, fields["background"], path.parent)
    for key, (low, high) in (("background_level", BACKGROUND_LEVEL_RANGE), ("duck", DUCK_RANGE)):
        if key in fields:
            value = fields[key].value
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise b.fail(fields[key], f"expected {key} in dB from {low:g} to {high:g}, found {value!r}")
            values[key] = float(value)
    if "cache_limit" in fields:
        values["cache_limit"] = _size(b, fields["cache_limit"], "cache_limit")
    lines = {key: root.keys[key][0] if key in root.keys else fields[key].line for key in values}
    return Config(**values, path=path, lines=lines)


def parse_size(text: str) -> int | None:
    """Bytes for a size such as ``500MB``, ``1.5 GB``, ``800MiB`` or ``0``; None when it is not one."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if m is None:
        return None
    number, unit = float(m.group(1)), m.group(2).upper()
    if not unit and number == 0:
        return 0
    if unit not in SIZE_UNITS:
        return None
    return int(number * SIZE_UNITS[unit])


def _size(b, node, key: str) -> int:
    value = node.value
    size = parse_size(value) if isinstance(value, str) else 0 if value == 0 and not isinstance(value, bool) else None
    if size is None:
        from .routines import document

        raise b.fail(node, f"expected {key} as a size such as 500MB or 2GB, found {document.describe(value)}")
    return size


def _background(b, node, folder: Path) -> str:
    """A bed name as it is; a file as an absolute path (relative to the config file's folder).

    Only a bed's name is checked here: a music file that has moved away must not stop
    every command, so a file is looked for when a session needs it.
    """
    from . import background, sounds
    from .errors import InputError

    name = b.text(node, "background")
    if sounds.is_path(name):
        return str((folder / Path(name).expanduser()).resolve())
    try:
        background.resolve_background(name)
    except InputError as exc:
        raise b.fail(node, str(exc)) from None
    return name
