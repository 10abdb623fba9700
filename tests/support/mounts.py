"""Folders that are read-only even for root: read-only bind mounts in a private mount namespace.

File permissions do not stop root (the test machine's user), so a command that
must meet an unwritable folder runs in a mount namespace of its own, where each folder is
bound onto itself and remounted read-only; nothing outside that process sees it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# mount --bind DIR DIR; mount -o remount,ro,bind DIR for every DIR before "--", then exec the rest
_SCRIPT = ('set -e; for d in "$@"; do shift; [ "$d" = "--" ] && break; '
           'mount --bind "$d" "$d"; mount -o remount,ro,bind "$d"; done; exec "$@"')


def private_mounts() -> list[str]:
    """The `unshare` command that gives a child a mount namespace of its own.

    Root needs only a mount namespace; anyone else also needs a user namespace
    in which they are root, or mount is refused.
    """
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to mount in a namespace of the test's own"
    return [unshare, "--mount"] if os.geteuid() == 0 else [unshare, "--user", "--map-root-user", "--mount"]


def read_only_command(folders: list[Path], argv: list[str]) -> list[str]:
    """`argv` as a command that runs with every folder in `folders` (which must exist) read-only."""
    return [*private_mounts(), "sh", "-c", _SCRIPT, "sh", *map(str, folders), "--", *argv]


def run_read_only(folders: list[Path], argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run `argv` (text output captured, no stdin) with `folders` read-only."""
    kwargs.setdefault("timeout", 300)
    return subprocess.run(read_only_command(folders, argv), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, **kwargs)
