"""The user's config file and folders: what the command line falls back on.

config.yaml in the platform config folder (or $VOICECOACH_CONFIG) may set:
voice, rate, volume, engine, voice_model, tts_command, backend, device, lead_in.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONFIG_KEYS = ("voice", "rate", "volume", "engine", "voice_model", "tts_command", "backend", "device", "lead_in")


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


def config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("voicecoach"))


def data_dir() -> Path:
    """Where history and remembered answers live ($VOICECOACH_DATA overrides)."""
    override = os.environ.get("VOICECOACH_DATA")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("voicecoach"))


def config_path() -> Path:
    return Path(os.environ.get("VOICECOACH_CONFIG") or config_dir() / "config.yaml")


def load_config(path: Path | None = None) -> Config:
    """The config file's settings; a missing file is an empty config, a bad one a RoutineError-style line."""
    from .routines import document
    from .routines import Validator

    path = path or config_path()
    if not path.is_file():
        return Config()
    root = document.read(path)
    b = Validator(path, ())
    fields = b.mapping(root, "settings")
    b.check_keys(root, CONFIG_KEYS, "the config file")
    values: dict = {}
    for key in ("voice", "engine", "voice_model", "backend", "device"):
        if key in fields:
            values[key] = b.text(fields[key], key)
    if "rate" in fields:
        values["rate"] = b.whole(fields["rate"], "rate", 40)
    if "volume" in fields:
        values["volume"] = b.volume(fields["volume"])
    if "lead_in" in fields:
        values["lead_in"] = b.seconds(fields["lead_in"], "lead_in", zero_ok=True)
    if "tts_command" in fields:
        node = fields["tts_command"]
        if isinstance(node.value, list):
            values["tts_command"] = tuple(b.text(n, "an argument") for n in node.value)
        else:
            from .speech import parse_command

            values["tts_command"] = parse_command(b.text(node, "tts_command"))
    return Config(**values)
