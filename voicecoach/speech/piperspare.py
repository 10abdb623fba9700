"""A Piper process started ahead of need, so its imports overlap voicecoach's own start.

The Piper program (piperhelper/seeded_piper.py) spends a quarter of a second or
more importing onnxruntime and Piper before it can load a voice, and a cold play
waits for all of it before its first sound. Started with ``--spare`` alone, it
does those imports at once and then reads its arguments from its first stdin
line; the next PiperBatch with the same command takes it over (`take`), so the
imports run while voicecoach loads the routine, opens the sound device and
plans the session. A spare nobody takes (every phrase was in the cache) is
killed (`discard`), at the latest when the process exits.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading

SPARE = "--spare"  # seeded_piper.SPARE
_LOCK = threading.Lock()
_WAITING: dict = {}  # "proc", "dir", "command": the spare not yet taken
_EXIT_HOOK: list = []  # discard is registered once


def launch(args: list[str], folder: str) -> subprocess.Popen:
    """Run Piper's program with `args` in `folder`, stdin and stderr piped; OSError when it cannot start."""
    # UTF-8 both ways whatever the locale; the working folder is ours, so nothing
    # Piper might write by default (output.wav) lands in the user's folder.
    env = {**os.environ, "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=folder, env=env, start_new_session=hasattr(os, "killpg"))


def start(command: list[str]) -> None:
    """Start a spare Piper with `command` (piper.piper_command()), unless one waits already."""
    with _LOCK:
        if _WAITING:
            return
        folder = tempfile.mkdtemp(prefix="voicecoach-piper-")
        try:
            proc = launch([*command, SPARE], folder)
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            return  # the usual start will say why
        _WAITING.update(proc=proc, dir=folder, command=list(command))
        if not _EXIT_HOOK:
            _EXIT_HOOK.append(atexit.register(discard))


def take(command: list[str]) -> tuple[subprocess.Popen, str] | None:
    """(the spare's process, its working folder) when one with `command` is running, else None."""
    with _LOCK:
        if _WAITING.get("command") != list(command) or _WAITING["proc"].poll() is not None:
            found = None
        else:
            found = (_WAITING.pop("proc"), _WAITING.pop("dir"))
            _WAITING.clear()
    if found is None:
        discard()  # another command's, or one that stopped (the usual start will say why)
    return found


def discard() -> None:
    """Kill the spare that waits, if any, and remove its folder."""
    with _LOCK:
        proc, folder = _WAITING.pop("proc", None), _WAITING.pop("dir", None)
        _WAITING.clear()
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (AttributeError, OSError):
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stderr):
        pipe.close()
    shutil.rmtree(folder, ignore_errors=True)
