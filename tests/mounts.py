"""Folders that are read-only even for root: read-only bind mounts in a private mount namespace.

File permissions do not stop root (the test machine's user), so a command that
must meet an unwritable folder runs under `unshare -m`, where each folder is
bound onto itself and remounted read-only; nothing outside that process sees it.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# mount --bind DIR DIR; mount -o remount,ro,bind DIR for every DIR before "--", then exec the rest
_SCRIPT = ('set -e; for d in "$@"; do shift; [ "$d" = "--" ] && break; '
           'mount --bind "$d" "$d"; mount -o remount,ro,bind "$d"; done; exec "$@"')


def read_only_command(folders: list[Path], argv: list[str]) -> list[str]:
    """`argv` as a command that runs with every folder in `folders` (which must exist) read-only."""
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to make a folder read-only for root"
    return [unshare, "-m", "sh", "-c", _SCRIPT, "sh", *map(str, folders), "--", *argv]


def run_read_only(folders: list[Path], argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run `argv` (text output captured, no stdin) with `folders` read-only."""
    kwargs.setdefault("timeout", 300)
    return subprocess.run(read_only_command(folders, argv), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, **kwargs)
