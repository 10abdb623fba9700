"""Where voicecoach keeps its files: every platform folder, and the environment variables that move them.

All `platformdirs` calls are here, so a folder is decided in one place and
nothing else needs to know which platform it runs on. Nothing is created.
"""
from __future__ import annotations

import os
from pathlib import Path

APP = "voicecoach"


def config_dir() -> Path:
    """The platform config folder (~/.config/voicecoach on Linux): config.yaml, schedule.yaml, routines/."""
    import platformdirs

    return Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    """Where history and remembered answers live ($VOICECOACH_DATA overrides)."""
    override = os.environ.get("VOICECOACH_DATA")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP))


def cache_base() -> Path:
    """The platform cache folder (which honours XDG_CACHE_HOME): the speech cache's clips go under it."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP))


def config_path() -> Path:
    """The config file: $VOICECOACH_CONFIG, else config.yaml in the config folder."""
    return Path(os.environ.get("VOICECOACH_CONFIG") or config_dir() / "config.yaml")


def routines_dir() -> Path:
    """The user's routine folder ($VOICECOACH_ROUTINES, else `routines` in the config folder)."""
    override = os.environ.get("VOICECOACH_ROUTINES")
    return Path(override) if override else config_dir() / "routines"
