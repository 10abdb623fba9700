"""User journeys: the real `voicecoach` command, run as a person runs it, step by step.

A `Journey` is data: what the person's machine is like (a fresh home folder,
a sound server or none, a session bus with another player playing, folders
that cannot be written) and the commands they type in order, each with what
they do while it runs (wait for a text to appear, press a key, close the
terminal, press Stop on a headset) and what they would notice (the exit code as
their shell shows it, lines that appear or must not, a traceback never). `run`
plays one journey and returns every way it fell short, with the transcripts.

Each journey gets a fresh HOME with its own XDG config, cache, data, state and
runtime folders and no VOICECOACH_* variable but VOICECOACH_NEURAL (the suite
speaks with espeak-ng, see conftest.py), so voicecoach finds every file where
it finds a real user's. A command can run on a pseudo-terminal (the live panel,
keys, the one-time safety question a fresh home asks first) or on pipes (as a
script runs it). A folder is made read-only by a read-only bind mount in a
mount namespace of the command's own (mounts.py): the tests run as root,
which file permissions do not stop.
"""
from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from support.fakeplayer import FakePlayer
from support.mounts import read_only_command
from support.pulse import no_server_env
from support.sessionbus import SessionBus

VOICECOACH = Path(sys.executable).with_name("voicecoach")  # the command the virtualenv installed

# Where voicecoach keeps each kind of file under a fresh home on Linux (platformdirs' XDG folders).
FOLDERS = {"home": "", "config": ".config/voicecoach", "cache": ".cache/voicecoach",
           "data": ".local/share/voicecoach", "state": ".local/state/voicecoach", "work": "work"}

_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


# ----------------------------------------------------------------------------- what a person does

@dataclass(frozen=True)
class Expect:
    """Wait until `pattern` (a regex) appears on stdout (the screen on a terminal) or stderr."""

    pattern: str
    timeout: float = 90.0


@dataclass(frozen=True)
class Key:
    """Type `text` on the terminal."""

    text: str


@dataclass(frozen=True)
class Signal:
    """Send the signal SIG`name` to the command (HUP: the terminal closed; TERM: `kill`)."""

    name: str


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class OnBus:
    """Wait until voicecoach is a media player on the session bus (`playerctl -l`)."""

    timeout: float = 90.0


@dataclass(frozen=True)
class Playerctl:
    """`playerctl -p voicecoach ARGS`, as a headset button or a phone would send it."""

    args: tuple[str, ...]


@dataclass(frozen=True)
class OtherIs:
    """The other player shows `status` (within a few seconds)."""

    status: str


@dataclass(frozen=True)
class Meanwhile:
    """Run another command to its end while this one runs, and check what it promises."""

    step: "Step"


# ----------------------------------------------------------------------------- what a person sees

@dataclass(frozen=True)
class Step:
    """One command line and what the person notices of it.

    `code` is the exit status as a shell shows it (128+N after signal N), None for any.
    `within`: seconds, from the last action (from the start when there is none), for
    the command to end; after that it is killed and the step fails. `out` and `err`
    are regexes (multiline) that must match stdout (the screen on a terminal) and
    stderr; `absent` must match neither stream (a 'Traceback' never does),
    `absent_after` neither after the last action; `err_lines` is how many lines
    stderr holds; `rows` pairs a regex with how many stdout lines it matches.
    `heard`: sound reached the sound server while it ran.
    """

    args: tuple[str, ...]
    tty: bool = False
    actions: tuple = ()
    code: int | None = 0
    within: float = 180.0
    out: tuple[str, ...] = ()
    err: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    absent_after: tuple[str, ...] = ()
    err_lines: int | None = None
    rows: tuple[tuple[str, int], ...] = ()
    heard: bool = False


@dataclass(frozen=True)
class Probe:
    """An audio file checked with ffprobe: how many chapters, and their titles in order when given;
    its true peak (ffmpeg's ebur128 meter, on the decoded file) below `true_peak_below` dBFS when given."""

    path: str
    chapters: int
    titles: tuple[str, ...] = ()
    true_peak_below: float | None = None
    starts_with: bytes = b""  # for a text file written beside it (subtitles: b"WEBVTT")


@dataclass(frozen=True)
class Journey:
    """A person's machine and the commands they type on it, in order.

    `files` are written into the fresh home first ("config/routines/x.yaml": text;
    the first part names a folder of FOLDERS). `readonly` names folders every
    command sees read-only. `sound`: the private PulseAudio server (else no sound
    server at all); `bus`: a private session bus; `other_player`: a player called
    `music` on it, Playing. `warm_cache`: start with the speech clips earlier
    journeys made (what a journey is not about need not wait for espeak-ng).
    `history`: the history file's entries at the end, each given by some of its
    keys; `other_after`: the other player's status at the end; `probes` check
    the files written, `missing` names files that must not have been.
    """

    steps: tuple[Step, ...]
    files: Mapping[str, str] = field(default_factory=dict)
    readonly: tuple[str, ...] = ()
    sound: bool = False
    bus: bool = False
    other_player: bool = False
    warm_cache: bool = True
    history: tuple[Mapping, ...] | None = None
    other_after: str | None = None
    probes: tuple[Probe, ...] = ()
    missing: tuple[str, ...] = ()  # files that must not exist at the end ("work/kd4.mp3")


# ----------------------------------------------------------------------------- the machine

class Home:
    """A fresh home folder with its own XDG folders, and the environment a command started in it gets."""

    def __init__(self, root: Path):
        self.root = root
        for rel in FOLDERS.values():
            (root / rel).mkdir(parents=True, exist_ok=True)
        self.runtime = root / ".run"
        self.runtime.mkdir(mode=0o700, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("VOICECOACH_", "XDG_", "PULSE_", "DBUS_")) and k not in
               ("ALSA_CONFIG_PATH", "DISPLAY", "WAYLAND_DISPLAY")}
        env.update(HOME=str(root), XDG_CONFIG_HOME=str(root / ".config"), XDG_CACHE_HOME=str(root / ".cache"),
                   XDG_DATA_HOME=str(root / ".local/share"), XDG_STATE_HOME=str(root / ".local/state"),
                   XDG_RUNTIME_DIR=str(self.runtime), TERM="xterm", COLUMNS="100", LINES="30",
                   DBUS_SESSION_BUS_ADDRESS=f"unix:path={self.runtime / 'no-bus'}")
        if "VOICECOACH_NEURAL" in os.environ:
            env["VOICECOACH_NEURAL"] = os.environ["VOICECOACH_NEURAL"]
        env.update(no_server_env(root / ".no-sound"))
        self.env = env

    def path(self, ref: str) -> Path:
        """`config/routines/x.yaml` -> that file under this home (the first part names a folder)."""
        head, _, rest = ref.partition("/")
        return self.root / FOLDERS[head] / rest

    def expand(self, text: str) -> str:
        """Put this home's folders in for {home}, {config}, {cache}, {data}, {state}, {work}."""
        for name, rel in FOLDERS.items():
            text = text.replace("{" + name + "}", str(self.root / rel))
        return text

    def history(self) -> list[dict]:
        path = self.path("data/history.jsonl")
        if not path.exists():
            return []
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                pass
        return entries


class ClipPool:
    """Speech clips made by earlier journeys, linked into the next fresh cache (and new ones back).

    Hard links, not copies: a clip is written once under a name of its own and
    never changed, and a journey's cache would otherwise copy tens of megabytes.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def seed(self, cache: Path) -> None:
        shutil.copytree(self.folder, cache, dirs_exist_ok=True, copy_function=_link)

    def keep(self, cache: Path) -> None:
        for path in cache.rglob("*"):
            target = self.folder / path.relative_to(cache)
            if path.is_file() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _link(path, target)


def _link(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def clean(data: bytes) -> str:
    """Terminal output as text: escape sequences out, carriage returns as line ends."""
    return _ESCAPES.sub("", data.decode("utf-8", errors="replace")).replace("\r\n", "\n").replace("\r", "\n")


class Process:
    """A command running in a home: on a pseudo-terminal (stdin and stdout) or on pipes; stderr is kept apart."""

    def __init__(self, argv: list[str], env: dict, cwd: Path, tty: bool):
        self.argv = argv
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._master = None
        if tty:
            self._master, slave = pty.openpty()
            self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                                         close_fds=True, start_new_session=True)
            os.close(slave)
            out_fd = self._master
        else:
            self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, start_new_session=True)
            out_fd = self.proc.stdout.fileno()
        self._readers = [threading.Thread(target=self._drain, args=(out_fd, self._out), daemon=True),
                         threading.Thread(target=self._drain, args=(self.proc.stderr.fileno(), self._err),
                                          daemon=True)]
        for reader in self._readers:
            reader.start()
        self.timed_out = False
        self.marks = (0, 0)  # how far Expect has read stdout and stderr

    @staticmethod
    def _drain(fd: int, into: list[bytes]) -> None:
        while True:
            try:
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    data = os.read(fd, 65536)
                    if not data:
                        return
                    into.append(data)
            except (OSError, ValueError):
                return  # a pseudo-terminal whose other side has gone says EIO

    @property
    def out(self) -> str:
        return clean(b"".join(self._out))

    @property
    def err(self) -> str:
        return clean(b"".join(self._err))

    def key(self, text: str) -> None:
        os.write(self._master, text.encode())

    def signal(self, sig: int) -> None:
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self, timeout: float) -> int:
        """The exit status as a shell shows it (128+N after signal N); killed after `timeout`."""
        try:
            self.proc.wait(max(0.0, timeout))
        except subprocess.TimeoutExpired:
            self.timed_out = True
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for reader in self._readers:
            reader.join(5.0)
        if self._master is not None:
            os.close(self._master)
            self._master = None
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        code = self.proc.returncode
        return 128 - code if code < 0 else code


# ----------------------------------------------------------------------------- running a journey

class Trip:
    """One journey being run: the home, the services around it, and every shortfall noticed."""

    def __init__(self, journey: Journey, root: Path, sound=None, pool: ClipPool | None = None):
        self.journey = journey
        self.home = Home(root / "home")
        self.sound = sound
        self.pool = pool
        self.failures: list[str] = []
        self.transcripts: list[str] = []
        self.bus: SessionBus | None = None
        self.other: FakePlayer | None = None
        self.recordings = root / "recordings"
        self.recordings.mkdir(exist_ok=True)
        self.started: list[Process] = []

    # -- setting up

    def __enter__(self) -> "Trip":
        j, home = self.journey, self.home
        if sound := self.sound:
            home.env.update(sound.env)
        if j.bus or j.other_player:
            self.bus = SessionBus()
            self.bus.start()
            home.env.update(self.bus.env)
        if j.other_player:
            self.other = FakePlayer(home.env)
        for ref, text in j.files.items():
            path = home.path(ref)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(home.expand(text))
        if self.warm:
            self.pool.seed(home.path("cache/"))
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.started:  # a journey cut short by an error in the test leaves nothing running
            if proc.proc.poll() is None:
                os.killpg(proc.proc.pid, signal.SIGKILL)
                proc.proc.wait()
        if self.other is not None:
            self.other.stop()
        if self.bus is not None:
            self.bus.stop()
        if self.warm:
            self.pool.keep(self.home.path("cache/"))

    @property
    def warm(self) -> bool:
        """Whether this journey shares speech clips with the others (never through a read-only cache)."""
        return self.pool is not None and self.journey.warm_cache and "cache" not in self.journey.readonly

    def argv(self, step: Step) -> list[str]:
        argv = [str(VOICECOACH), *(self.home.expand(a) for a in step.args)]
        if self.journey.readonly:
            folders = [str(self.home.path(name + "/")) for name in self.journey.readonly]
            argv = read_only_command(folders, argv)  # exec: the process signalled is voicecoach itself
        return argv

    # -- running

    def run(self) -> list[str]:
        """Run every step in order (stopping at one that could not go on); return the shortfalls."""
        for n, step in enumerate(self.journey.steps, 1):
            if not self.step(step, f"step {n}"):
                break
        else:
            self.check_end()
        return self.failures

    def fail(self, what: str) -> None:
        self.failures.append(what)

    def step(self, step: Step, label: str) -> bool:
        """Run one command through its actions to its end and check it; False if the journey cannot go on."""
        rec = self.sound.record(self.recordings / f"{label.replace(' ', '-')}.wav") if step.heard else None
        proc = Process(self.argv(step), self.home.env, self.home.path("work/"), step.tty)
        self.started.append(proc)
        label = f"{label} `{' '.join(('voicecoach', *step.args))}`"
        marks = (0, 0)
        last = time.monotonic()
        going = True
        for action in step.actions:
            if not self.act(action, proc, label):
                going = False
                break
            marks = (len(proc.out), len(proc.err))
            last = time.monotonic()
        code = proc.wait(last + step.within - time.monotonic() if going else 0)
        if rec is not None:
            loudest = float(abs(rec.stop()).max(initial=0.0))
            if loudest < 0.01:
                self.fail(f"{label}: nothing was heard (loudest sample {loudest:.4f})")
        out, err = proc.out, proc.err
        self.transcripts.append(f"--- {label}: exit {code}{' (killed: it did not end in time)' if proc.timed_out else ''}"
                                f"\n[stdout]\n{tail(out)}\n[stderr]\n{tail(err)}")
        if not going:
            return False
        self.check(step, label, code, proc, out, err, marks)
        return True

    def act(self, action, proc: Process, label: str) -> bool:
        if isinstance(action, Expect):
            return self.expect(action, proc, label)
        if isinstance(action, Key):
            proc.key(action.text)
        elif isinstance(action, Signal):
            proc.signal(getattr(signal, "SIG" + action.name))
        elif isinstance(action, Sleep):
            time.sleep(action.seconds)
        elif isinstance(action, OnBus):
            return self.on_bus(action.timeout, proc, label)
        elif isinstance(action, Playerctl):
            subprocess.run(["playerctl", "-p", "voicecoach", *action.args], env=self.home.env, capture_output=True,
                           timeout=10)
        elif isinstance(action, OtherIs):
            self.other_is(action.status, label)
        elif isinstance(action, Meanwhile):
            self.step(action.step, f"{label}, meanwhile")
        else:
            raise TypeError(f"unknown action {action!r}")
        return True

    def expect(self, action: Expect, proc: Process, label: str) -> bool:
        """Wait for the pattern in what appeared since the last wait matched."""
        pattern = re.compile(action.pattern, re.M)
        deadline = time.monotonic() + action.timeout
        while True:
            texts = (proc.out[proc.marks[0]:], proc.err[proc.marks[1]:])
            for i, text in enumerate(texts):
                found = pattern.search(text)
                if found:
                    proc.marks = tuple(mark + (found.end() if k == i else 0) for k, mark in enumerate(proc.marks))
                    return True
            if proc.proc.poll() is not None or time.monotonic() > deadline:
                how = "it ended" if proc.proc.poll() is not None else f"{action.timeout:g} s passed"
                self.fail(f"{label}: waited for /{action.pattern}/, but {how} first")
                return False
            time.sleep(0.05)

    def on_bus(self, timeout: float, proc: Process, label: str) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.proc.poll() is None:
            listed = subprocess.run(["playerctl", "-l"], env=self.home.env, capture_output=True, text=True,
                                    timeout=10).stdout.split()
            if any(name.startswith("voicecoach") for name in listed):
                return True
            time.sleep(0.1)
        self.fail(f"{label}: voicecoach never appeared on the session bus")
        return False

    def other_is(self, status: str, label: str) -> None:
        deadline = time.monotonic() + 5.0
        while (now := self.other.status()) != status and time.monotonic() < deadline:
            time.sleep(0.1)
        if now != status:
            self.fail(f"{label}: the other player is {now or 'gone'}, not {status}")

    # -- checking

    def check(self, step: Step, label: str, code: int, proc: Process, out: str, err: str,
              marks: tuple[int, int]) -> None:
        if proc.timed_out:
            self.fail(f"{label}: still running {step.within:g} s after "
                      f"{'the last action' if step.actions else 'it started'}")
        elif step.code is not None and code != step.code:
            self.fail(f"{label}: exit {code}, expected {step.code}")
        for pattern in step.out:
            if not re.search(pattern, out, re.M):
                self.fail(f"{label}: stdout lacks /{pattern}/")
        for pattern in step.err:
            if not re.search(pattern, err, re.M):
                self.fail(f"{label}: stderr lacks /{pattern}/")
        for pattern in ("Traceback", *step.absent):
            if re.search(pattern, out, re.M) or re.search(pattern, err, re.M):
                self.fail(f"{label}: /{pattern}/ appeared")
        for pattern in step.absent_after:
            if re.search(pattern, out[marks[0]:], re.M) or re.search(pattern, err[marks[1]:], re.M):
                self.fail(f"{label}: /{pattern}/ appeared after the last action")
        if step.err_lines is not None and len(err.splitlines()) != step.err_lines:
            self.fail(f"{label}: {len(err.splitlines())} lines on stderr, expected {step.err_lines}")
        for pattern, n in step.rows:
            found = sum(1 for line in out.splitlines() if re.search(pattern, line))
            if found != n:
                self.fail(f"{label}: {found} stdout lines match /{pattern}/, expected {n}")

    def check_end(self) -> None:
        j = self.journey
        if j.history is not None:
            entries = self.home.history()
            wanted = [dict(e) for e in j.history]
            got = [{k: e.get(k) for k in w} for e, w in zip(entries, wanted)]
            if len(entries) != len(wanted) or got != wanted:
                self.fail(f"history holds {entries}, expected {len(wanted)} entries like {wanted}")
        if j.other_after is not None:
            self.other_is(j.other_after, "at the end")
        for probe in j.probes:
            self.probe(probe)
        for ref in j.missing:
            if self.home.path(ref).exists():
                self.fail(f"{ref} was written")

    def probe(self, probe: Probe) -> None:
        path = self.home.path(probe.path)
        if probe.starts_with:
            if not path.exists() or not path.read_bytes().startswith(probe.starts_with):
                self.fail(f"{probe.path} does not start with {probe.starts_with!r}")
            return
        read = subprocess.run(["ffprobe", "-v", "error", "-show_chapters", "-show_format", "-of", "json", str(path)],
                              capture_output=True, text=True, timeout=60)
        if read.returncode != 0:
            self.fail(f"ffprobe cannot read {probe.path}: {read.stderr.strip()}")
            return
        info = json.loads(read.stdout)
        titles = [c.get("tags", {}).get("title", "") for c in info.get("chapters", [])]
        if len(titles) != probe.chapters:
            self.fail(f"{probe.path}: ffprobe finds {len(titles)} chapters, expected {probe.chapters}")
        if probe.titles and titles != list(probe.titles):
            self.fail(f"{probe.path}: chapters {titles}, expected {list(probe.titles)} in this order")
        if float(info.get("format", {}).get("duration", 0)) <= 0:
            self.fail(f"{probe.path}: ffprobe finds no duration")
        if probe.true_peak_below is not None:
            meter = subprocess.run(["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af", "ebur128=peak=true",
                                    "-f", "null", "-"], capture_output=True, text=True, timeout=120).stderr
            found = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", meter)
            if found is None or float(found.group(1)) >= probe.true_peak_below:
                self.fail(f"{probe.path}: true peak {found.group(1) if found else '?'} dBFS, "
                          f"promised below {probe.true_peak_below:g}")


def tail(text: str, lines: int = 25) -> str:
    kept = text.splitlines()[-lines:]
    return "\n".join(kept)


def run(journey: Journey, root: Path, sound=None, pool: ClipPool | None = None) -> tuple[list[str], str]:
    """Run `journey` in a fresh home under `root`; return its shortfalls and the transcripts of its commands."""
    with Trip(journey, root, sound, pool) as trip:
        failures = trip.run()
    return failures, "\n".join(trip.transcripts)
