"""A private PulseAudio server with one null sink, for playback tests.

There is no sound card on a test machine, and ALSA's ``null`` device swallows
audio instantly, so it cannot show pacing. A PulseAudio null sink consumes
audio in real time, and its monitor source gives back exactly what was played.

``PulseServer`` starts its own ``pulseaudio`` as a child process, in its own
temporary folder, listening on its own socket; it never talks to (or starts)
another PulseAudio instance. ``env`` holds what a client process needs so that
both libpulse (miniaudio's first choice) and ALSA's ``default`` device
(simpleaudio) go to this server.

The sink runs at 22050 Hz mono, the session rate of voicecoach, so the server
never resamples: the monitor recording holds the very samples the player sent,
which lets the tests find each tone to the exact sample.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile

SINK = "vc_test"
RATE = 22050

# ALSA's top configuration; ALSA_CONFIG_PATH replaces it, so ours names it first.
_ALSA_CONF_CANDIDATES = ("/usr/share/alsa/alsa.conf", "/usr/local/share/alsa/alsa.conf")


class PulseUnavailable(RuntimeError):
    """The PulseAudio server could not be found or started (message says why)."""


def _client_files(folder: Path) -> dict[str, str]:
    """Write the client-side files every libpulse user needs; return their env.

    autospawn is off so that a client never starts a PulseAudio of its own,
    and the cookie lives here so libpulse never writes into the real home.
    """
    client_conf = folder / "client.conf"
    client_conf.write_text("autospawn = no\n")
    return {
        "PULSE_CLIENTCONFIG": str(client_conf),
        "PULSE_COOKIE": str(folder / "cookie"),
    }


def no_server_env(folder: Path) -> dict[str, str]:
    """Return env for a machine with no sound server and no ALSA card.

    PULSE_SERVER names a socket that does not exist, and ALSA reads only a
    configuration whose ``default`` device is a card that does not exist (the
    system configuration is left out, so a real card on the test machine
    cannot make the test pass by accident).
    """
    folder.mkdir(parents=True, exist_ok=True)
    asound = folder / "asound-empty.conf"
    asound.write_text(
        "# No device exists: the default PCM is a card that is not there.\n"
        'pcm.!default { type hw card "vc_no_such_card" }\n'
        'ctl.!default { type hw card "vc_no_such_card" }\n'
    )
    env = _client_files(folder)
    env["PULSE_SERVER"] = f"unix:{folder / 'no-such-socket'}"
    env["ALSA_CONFIG_PATH"] = str(asound)
    return env


class Recording:
    """What the sink's monitor received, with the wall-clock time of each sample.

    Made by ``PulseServer.record``. ``parec`` writes raw samples to a pipe and a
    thread reads them as they arrive, noting ``time.monotonic()``; that maps a
    sample index in the recording to the moment it was played (to within the
    null sink's block, about 10 ms), which is how tests measure how fast pause
    and stop take effect.
    """

    def __init__(self, server: "PulseServer", path: Path):
        self.path = path
        self.rate = server.rate
        self._chunks: list[bytes] = []
        self._arrivals: list[tuple[int, float]] = []  # (samples so far, monotonic)
        self._received = 0
        self._first = threading.Event()
        self._proc = subprocess.Popen(
            ["parec", "-d", f"{server.sink}.monitor", "--raw", "--format=s16le",
             f"--rate={server.rate}", "--channels=1", "--latency-msec=10"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **server.env},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._first.wait(5.0):
            self._proc.kill()
            err = self._proc.stderr.read().decode(errors="replace").strip()
            died = server.death()
            raise PulseUnavailable(f"parec delivered nothing within 5 s: {err}" + (f"\n{died}" if died else ""))
        self.samples: np.ndarray | None = None

    def _read(self) -> None:
        stream = self._proc.stdout
        carry = b""
        while True:
            data = stream.read1(4096)
            if not data:
                break
            now = time.monotonic()
            data = carry + data
            whole = len(data) - len(data) % 2
            carry = data[whole:]
            self._chunks.append(data[:whole])
            self._received += whole // 2
            self._arrivals.append((self._received, now))
            self._first.set()

    def now_index(self) -> int:
        """Return how many samples have arrived so far (the recording's 'now')."""
        return self._received

    def so_far(self, start: int = 0) -> np.ndarray:
        """Return the samples received so far from index `start`, as float32, still recording."""
        pcm = np.frombuffer(b"".join(self._chunks), dtype="<i2")[start:]
        return pcm.astype(np.float32) / 32768.0

    def stop(self) -> np.ndarray:
        """Stop recording, write the WAV file, return the samples as float32."""
        if self.samples is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(5.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._reader.join(5.0)
            pcm = np.frombuffer(b"".join(self._chunks), dtype="<i2")
            self.samples = pcm.astype(np.float32) / 32768.0
            soundfile.write(str(self.path), pcm, self.rate, subtype="PCM_16")
        return self.samples

    def time_of(self, index: int) -> float:
        """Return the monotonic time at which recording sample ``index`` was played.

        Each chunk arrives some delay after it was played; the chunk with the
        least delay gives the best offset, so the minimum over all chunks is used.
        """
        offset = min(t - n / self.rate for n, t in self._arrivals)
        return offset + index / self.rate


# A room for the listener: a second null sink whose monitor is the microphone, with the
# speaker sink looped into it (40 ms) as the echo of the session.
ROOM = ("module-null-sink sink_name=room rate=16000 channels=1 format=s16le norewinds=1",
        "module-loopback source=vc_test.monitor sink=room latency_msec=40 source_dont_move=1 sink_dont_move=1")


def say_into(server: "PulseServer", clip16k: np.ndarray, sink: str = "room") -> None:
    """Play a 16 kHz clip into `sink` (the room, or a microphone of its own), not the speaker: someone on
    the floor speaking. 300 ms queued, so a loaded test machine never cuts a gap into the word."""
    pcm = np.clip(clip16k * 32767, -32768, 32767).astype("<i2").tobytes()
    subprocess.run(["pacat", "--playback", f"--device={sink}", "--raw", "--format=s16le", "--rate=16000",
                    "--channels=1", "--latency-msec=300"], input=pcm, env={**server.env}, check=True, timeout=10)


class PulseServer:
    """A private ``pulseaudio`` with one null sink; use as a context manager.

    Attributes once started: ``env`` (variables a client needs), ``socket``,
    ``folder`` (removed by ``stop``), ``sink`` and ``rate``.
    """

    def __init__(self, rate: int = RATE, sink: str = SINK, modules: tuple[str, ...] = (), loadable: bool = False):
        self.rate = rate
        self.sink = sink
        self.modules = modules  # more modules to load, with their arguments (a room for the listener)
        self.loadable = loadable  # modules may be loaded and unloaded later (a microphone plugged in, pulled out)
        self.folder: Path | None = None
        self.env: dict[str, str] = {}
        self._proc: subprocess.Popen | None = None
        self._log = None

    def __enter__(self) -> "PulseServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def socket(self) -> Path:
        assert self.folder is not None
        return self.folder / "native"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers; raise PulseUnavailable if not."""
        for program in ("pulseaudio", "pactl", "parec"):
            if shutil.which(program) is None:
                raise PulseUnavailable(
                    f"{program!r} is not installed; the playback tests need a real "
                    "PulseAudio server (Debian/Ubuntu: apt install pulseaudio pulseaudio-utils "
                    "libasound2-plugins)"
                )
        self.folder = Path(tempfile.mkdtemp(prefix="vc-pulse-"))
        # Run as root, the server's null-sink thread is realtime, and pulseaudio caps a
        # realtime thread at 200 ms of CPU between two sleeps (RLIMIT_RTTIME), past which
        # the kernel kills the server with SIGKILL and no line in its log. A thread that
        # catches up after the server was held still renders the missed time in one go,
        # at about 0.5 ms per second held (110 ms after 240 s stopped with SIGSTOP): a
        # server held 7 minutes would be killed, and with the cap at 4 ms one held 60 s
        # was. The test server is the listener, not the thing under test, so it gets no
        # cap. (HOME, not XDG_CONFIG_HOME, is where pulseaudio looks for daemon.conf.)
        daemon_conf = self.folder / ".config" / "pulse" / "daemon.conf"
        daemon_conf.parent.mkdir(parents=True, exist_ok=True)
        daemon_conf.write_text("rlimit-rttime = -1\n")
        self.env = self._client_env()
        self._launch(timeout)

    def _launch(self, timeout: float) -> None:
        """Start pulseaudio in ``self.folder`` and wait until it answers."""
        server_env = {
            **os.environ,
            "HOME": str(self.folder),
            "XDG_RUNTIME_DIR": str(self.folder),
            "XDG_CONFIG_HOME": str(self.folder / "config"),
            "PULSE_RUNTIME_PATH": str(self.folder / "runtime"),
            "PULSE_STATE_PATH": str(self.folder / "state"),
        }
        server_env.pop("PULSE_SERVER", None)
        server_env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self._log = open(self.folder / "pulseaudio.log", "ab")
        # -n: no default.pa, so only the two modules below are loaded.
        # norewinds=1: when a stream starts, a rewinding null sink re-renders
        # audio its monitor has already sent, and the recording loses the
        # stream's first 3-10 ms; without rewinds the monitor is bit-exact.
        # --system=no with root: pulseaudio warns but runs as a per-user server.
        # --exit-idle-time=-1: stay up between tests when no client is connected.
        self._proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--system=no", "--disallow-exit",
             *(() if self.loadable else ("--disallow-module-loading",)), "--exit-idle-time=-1", "--use-pid-file=no",
             "--log-target=stderr",
             f"--load=module-null-sink sink_name={self.sink} rate={self.rate} "
             "channels=1 format=s16le norewinds=1",
             f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
             *(f"--load={module}" for module in self.modules)],
            env=server_env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if self.socket.exists() and self.pactl("info", check=False).returncode == 0:
                return
            time.sleep(0.05)
        log = (self.folder / "pulseaudio.log").read_text(errors="replace")
        self.stop()
        raise PulseUnavailable(f"pulseaudio did not start within {timeout} s:\n{log}")

    def death(self) -> str | None:
        """None while the server runs; once it has exited, how (exit status and the end of its log)."""
        if self._proc is None or self._proc.poll() is None:
            return None
        code = self._proc.returncode
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        log = (self.folder / "pulseaudio.log").read_text(errors="replace").strip().splitlines()
        return f"pulseaudio ended ({how}); its log ends:\n" + "\n".join(log[-15:])

    def restart(self, timeout: float = 10.0) -> None:
        """Start the server again on the same socket, so every client env stays valid."""
        self._log.close()
        self.socket.unlink(missing_ok=True)
        self._launch(timeout)

    def _client_env(self) -> dict[str, str]:
        env = _client_files(self.folder)
        server = f"unix:{self.socket}"
        asound = self.folder / "asound.conf"
        asound.write_text(
            "# ALSA's default device is the private PulseAudio server.\n"
            f'pcm.!default {{ type pulse server "{server}" }}\n'
            f'ctl.!default {{ type pulse server "{server}" }}\n'
        )
        system_conf = next((c for c in _ALSA_CONF_CANDIDATES if Path(c).exists()), None)
        if system_conf is None:
            raise PulseUnavailable(f"ALSA's alsa.conf not found in {_ALSA_CONF_CANDIDATES}")
        env["PULSE_SERVER"] = server
        env["ALSA_CONFIG_PATH"] = f"{system_conf}:{asound}"
        return env

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run pactl against this server; return the completed process."""
        return subprocess.run(
            ["pactl", *args], env={**os.environ, **self.env}, capture_output=True,
            text=True, timeout=10, check=check,
        )

    def record(self, path: str | Path) -> Recording:
        """Start recording the sink's monitor into ``path`` (WAV, written on stop)."""
        return Recording(self, Path(path))

    def stop(self) -> None:
        """Kill the server and remove its folder; safe to call twice."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(5.0)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
