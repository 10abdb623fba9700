"""Where the episodes are kept: the folder, what it holds, and clearing it (`voicecoach cache`)."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import EnvironmentProblem


def cache_folder() -> Path:
    """Where episodes are kept: `episodes/` in the speech cache's base folder ($VOICECOACH_CACHE_DIR overrides)."""
    from ..speech.cache import cache_dir

    return cache_dir().parent / "episodes"


def usage(folder: Path | None = None) -> tuple[int, int]:
    """(bytes, episodes) in the episodes folder: every file counts to the size, each MP3 is an episode."""
    folder = Path(folder) if folder is not None else cache_folder()
    size = count = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0, 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                size += entry.stat(follow_symlinks=False).st_size
                count += entry.name.endswith(".mp3")
        except OSError:
            continue
    return size, count


def clear(folder: Path | None = None) -> tuple[int, int]:
    """Remove every episode's files (a running serve makes them again when asked): (bytes, episodes) freed.

    EnvironmentProblem when the folder cannot be changed.
    """
    from ..files import reason

    folder = Path(folder) if folder is not None else cache_folder()
    size, count = usage(folder)
    try:
        for path in folder.iterdir() if folder.is_dir() else ():
            if path.is_file() or path.is_symlink():
                path.unlink(missing_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot clear the episodes of voicecoach serve {folder}: {reason(exc)}") from None
    return size, count
