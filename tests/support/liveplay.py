"""`voicecoach play` run live for the tests: the routine, the plan, what is heard, a terminal, the bus.

Shared by the end-to-end tests of playing (keys, hands-free control, signals,
the session lock, progress), so each test file imports these from here.
"""
from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from support.audiofind import find
from voicecoach import sounds
from voicecoach.routines import load_file

ROUTINE = Path(__file__).resolve().parent.parent / "data" / "play" / "pacing.yaml"
RATE = 22050
SOUNDS = ("bell", "bell-double", "halfway", "tick")


def plan(env, path: Path = ROUTINE):
    """The timeline `play --lead-in 0` will play (same speech cache, so the same clips)."""
    from voicecoach.session import options, prepare_session, voice_for

    with pytest.MonkeyPatch.context() as mp:
        for key in ("VOICECOACH_CACHE_DIR", "VOICECOACH_CONFIG"):
            mp.setenv(key, env[key])
        routine = load_file(path)
        return prepare_session(routine, options(lead_in=0.0), voice_for(routine)).timeline


def heard(recording: np.ndarray) -> list[tuple[int, str]]:
    hits = []
    for name in SOUNDS:
        hits += [(i, name) for i in find(recording, sounds.load(name, RATE), threshold=0.6)]
    return sorted(hits)


def planned(timeline) -> list[tuple[int, str]]:
    return sorted((e.sample, e.sound) for e in timeline.events if e.sound in SOUNDS)


def drone(seconds: float = 3.0) -> np.ndarray:
    """A rising sweep (300 Hz up): no two stretches alike, so any piece of it has one place."""
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * (300 * t + 100 * t ** 2))).astype(np.float32)


def silences(x: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """[start, end) of every run of exact zeros at least `min_len` long (the null sink's silence is exact)."""
    edges = np.diff(np.concatenate(([0], (x == 0).astype(np.int8), [0])))
    return [(int(a), int(b)) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))
            if b - a >= min_len]


class Terminal:
    """`voicecoach play` on a pseudo-terminal, as a person runs it: keys go in, the screen is drained."""

    def __init__(self, cmd: list[str], env: dict):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(cmd, env={**env, "TERM": "xterm", "COLUMNS": "100"}, stdin=slave,
                                     stdout=slave, stderr=subprocess.PIPE, close_fds=True, start_new_session=True)
        os.close(slave)
        self.screen = b""
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                if ready:
                    data = os.read(self.master, 4096)
                    if not data:
                        return
                    self.screen += data
            except OSError:
                return

    def key(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        os.close(self.master)
        return code


def confirmed_safety(env: dict) -> None:
    """The contraindication question was answered yes before (it is asked once, on a terminal)."""
    data = Path(env["VOICECOACH_DATA"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "safety-confirmed").write_text('{"confirmed": "2026-01-01"}\n')


def wait_for_first(rec, name: str, timeout: float = 30.0) -> int:
    """Block until `name` has been heard; return its index in the recording.

    Only what arrived since the last look (and one template's length before it)
    is searched, so the look stays quick however long the recording grows and
    however busy the machine is.
    """
    template = sounds.load(name, RATE)
    deadline = time.monotonic() + timeout
    searched = 0
    while time.monotonic() < deadline:
        time.sleep(0.1)
        so_far = np.frombuffer(b"".join(rec._chunks), dtype="<i2").astype(np.float32) / 32768.0
        start = max(0, searched - len(template))
        hits = find(so_far[start:], template, threshold=0.6)
        if hits:
            return start + hits[0]
        searched = len(so_far)
    raise AssertionError(f"{name} was never heard")


def play(routine: Path, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "voicecoach", "play", str(routine),
                             "--lead-in", "0", *extra], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def playerctl(env: dict, player: str, *args: str) -> str:
    return subprocess.run(["playerctl", "-p", player, *args], env=env, capture_output=True, text=True,
                          timeout=10).stdout.strip()


def wait_listed(env: dict, pid: int, timeout: float = 60.0) -> str:
    """Block until voicecoach's player is on the bus (after the speech is prepared); return its playerctl name."""
    name = f"voicecoach.instance{pid}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listed = subprocess.run(["playerctl", "-l"], env=env, capture_output=True, text=True, timeout=10).stdout
        if name in listed.split():
            return name
        time.sleep(0.1)
    raise AssertionError(f"{name} never appeared on the bus")


def last_history(env: dict) -> dict:
    return json.loads((Path(env["VOICECOACH_DATA"]) / "history.jsonl").read_text().splitlines()[-1])
