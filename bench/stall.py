"""Stalls and pause: what a listener hears when the voicecoach process is stopped, per backend.

    python bench/stall.py                          # as an ordinary user: every installed backend
    sudo python bench/stall.py --user alice --python /path/to/venv/bin/python
                                                   # as root: the players run as alice, without realtime priority
    python bench/stall.py --backend pulse --runs 3

Starts a private PulseAudio server with a null sink (the test suite's own,
tests/support/pulse.py), records its monitor, and plays a 28-second breathing hold
(`voicecoach play ROUTINE --backend B --lead-in 0` on a pseudo-terminal, as a
person runs it). The breath tones follow each other without a pause, so
nearly every sample of the hold is sound. While it plays, the whole player
process is stopped (SIGSTOP, then SIGCONT) for 50, 100, 200 and 400 ms at
planned moments, and later paused with the space key for 2 s.

The recording is then cut into pieces, each found sample for sample in the
exported session (play renders what export writes): at every stop the bench
prints the silence the listener heard there (0: the stop was not heard) and
whether any sample was lost or repeated; for the pause, how soon after the
key the sound stopped and how many samples resume repeated or skipped.

Realtime scheduling changes what a stall does, and root gets it here, so the
players must run as an ordinary user: run the bench as one, or as root with
--user (and --python, a Python that user may run, with voicecoach installed).
"""
from __future__ import annotations

import argparse
import os
import pty
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))  # the private sound server, the tone finder, the piece reader

import numpy as np  # noqa: E402
import soundfile  # noqa: E402

from support.audiofind import find  # noqa: E402
from support.recording import joins, pieces  # noqa: E402
from support.pulse import PulseServer  # noqa: E402

RATE = 22050
ROUTINE = """\
title: Stall bench
safety: false
countdown: 0
steps:
  - name: Breathe
    duration: 28s
    prep: 0.5s
    breathe: {in: 1s, out: 1.2s, spoken: 0}
"""
CYCLE_S = 2.2  # one breath: a 1 s tone in, a 1.2 s tone out
# Each stop and the pause start in the middle of an inhale tone, two breaths apart.
STOPS_MS = (50, 100, 200, 400)
STOP_AT_S = [CYCLE_S + 0.5 + k * 2 * CYCLE_S for k in range(len(STOPS_MS))]
PAUSE_AT_S = CYCLE_S + 0.5 + len(STOPS_MS) * 2 * CYCLE_S
PAUSE_S = 2.0


class Player:
    """`voicecoach play` on a pseudo-terminal, possibly as another user; the screen is drained."""

    def __init__(self, cmd: list[str], env: dict, user: str | None, cwd: Path):
        self.master, slave = pty.openpty()
        extra = {}
        if user is not None:
            extra = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
        self.proc = subprocess.Popen(cmd, env=env, stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                                     close_fds=True, start_new_session=True, cwd=cwd, **extra)
        os.close(slave)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                if select.select([self.master], [], [], 0.1)[0] and not os.read(self.master, 4096):
                    return
            except OSError:
                return

    def key(self, text: str) -> None:
        os.write(self.master, text.encode())

    def stop_for(self, seconds: float) -> float:
        """Stop the whole player process for ``seconds``; return how long it really was stopped."""
        began = time.monotonic()
        os.kill(self.proc.pid, signal.SIGSTOP)
        time.sleep(seconds)
        os.kill(self.proc.pid, signal.SIGCONT)
        return time.monotonic() - began


def wait_for_bell(rec, template: np.ndarray, player: Player, timeout: float = 60.0) -> int:
    """Block until the hold's start chime has been recorded; return its recording index."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and player.proc.poll() is None:
        time.sleep(0.1)
        so_far = np.frombuffer(b"".join(rec._chunks), dtype="<i2").astype(np.float32) / 32768.0
        hits = find(so_far, template, threshold=0.6)
        if hits:
            return hits[0]
    err = player.proc.stderr.read().decode(errors="replace") if player.proc.poll() is not None else ""
    raise SystemExit(f"bench/stall.py: the start chime was never heard {err.strip()}")


def run_once(backend: str, args, server: PulseServer, env: dict, work: Path, session: np.ndarray,
             bell: np.ndarray, inhale: np.ndarray, n: int) -> dict:
    """Play once with stops and a pause; return what the recording shows at each."""
    rec = server.record(work / f"{backend}-{n}.wav")
    cmd = [args.python, "-m", "voicecoach", "play", str(work / "bench.yaml"), "--backend", backend,
           "--lead-in", "0"]
    # run from the work folder: `-m voicecoach` must find the installed copy, not a source tree
    player = Player(cmd, {**env, "TERM": "xterm", "COLUMNS": "100"}, args.user, work)
    try:
        bell_at = rec.time_of(wait_for_bell(rec, bell, player))
        stopped = []
        for at, ms in zip(STOP_AT_S, STOPS_MS):
            time.sleep(max(0.0, bell_at + at - time.monotonic()))
            stopped.append((time.monotonic(), player.stop_for(ms / 1000)))
        # A stop that was heard delays the session: find the last inhale tone heard so far, and
        # press the key in the middle of the next one but one, so the pause cuts a tone, not a fade.
        time.sleep(max(0.0, bell_at + PAUSE_AT_S - 2 * CYCLE_S - time.monotonic()))
        so_far = np.frombuffer(b"".join(rec._chunks), dtype="<i2").astype(np.float32) / 32768.0
        recent = len(so_far) - int(3 * CYCLE_S * RATE)
        inhales = find(so_far[recent:], inhale, threshold=0.6)
        at = rec.time_of(recent + inhales[-1]) if inhales else bell_at + PAUSE_AT_S - 0.5 - 2 * CYCLE_S
        while at + 0.5 < time.monotonic() + 0.3:
            at += CYCLE_S
        time.sleep(max(0.0, at + 0.5 - time.monotonic()))
        key_at = time.monotonic()
        player.key(" ")
        time.sleep(PAUSE_S)
        player.key(" ")
        code = player.proc.wait(120)
        err = player.proc.stderr.read().decode(errors="replace")
        time.sleep(0.3)
    finally:
        if player.proc.poll() is None:
            player.proc.kill()
        recording = rec.stop()
    if code != 0:
        raise SystemExit(f"bench/stall.py: play --backend {backend} exited {code}: {err.strip()}")
    played = np.rint(recording * 32768.0).astype(np.int64).clip(-32768, 32767).astype("<i2")
    first = int(np.flatnonzero(played)[0])
    found = pieces(played, session, first_at=int(np.flatnonzero(session)[0]))
    events = [j for j in joins(found, session) if j.silence or j.skipped]
    result = {"stops": [], "other": []}
    used = set()
    for (began, length), ms in zip(stopped, STOPS_MS):
        # a stop is heard (if at all) once the queue has run dry, before the player runs again
        near = [j for j in events if began - 0.05 <= rec.time_of(j.rec) <= began + length + 0.3]
        used.update(id(j) for j in near)
        result["stops"].append((ms, round(1000 * length), sum(j.silence for j in near),
                                sum(j.skipped for j in near)))
    pause = [j for j in events if key_at - 0.05 <= rec.time_of(j.rec) <= key_at + PAUSE_S]
    used.update(id(j) for j in pause)
    if pause:
        j = pause[0]
        result["pause"] = (round(1000 * (rec.time_of(j.rec) - key_at), 1), j.silence, j.skipped)
    result["other"] = [(round(rec.time_of(j.rec) - bell_at, 2), j.silence, j.skipped)
                       for j in events if id(j) not in used]
    result["start"] = first
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", help="a backend to measure (default: every installed one)")
    parser.add_argument("--runs", type=int, default=1, help="runs per backend (default 1)")
    parser.add_argument("--user", help="as root: run the players as this ordinary user")
    parser.add_argument("--python", default=sys.executable, help="the Python the players run with")
    parser.add_argument("--keep", type=Path, help="copy the session and every recording into this folder")
    args = parser.parse_args()
    if os.geteuid() == 0 and not args.user:
        print("bench/stall.py: root gets realtime priority here, which an ordinary user does not; run as an "
              "ordinary user, or as root with --user NAME (and --python)", file=sys.stderr)
        return 2
    for tool in ("pulseaudio", "parec"):
        if not shutil.which(tool):
            print(f"bench/stall.py needs {tool} on PATH", file=sys.stderr)
            return 1
    from voicecoach import sinks, sounds

    chosen = args.backend or sinks.available_backends()
    bell, inhale = sounds.load("bell", RATE), sounds.load("breath-in", RATE)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vc-stall-") as tmp, PulseServer() as server:
        work = Path(tmp)
        (work / "bench.yaml").write_text(ROUTINE)
        # the contraindication question was answered before (a terminal is asked once)
        (work / "data").mkdir()
        (work / "data" / "safety-confirmed").write_text('{"confirmed": "2026-01-01"}\n')
        env = {**os.environ, **server.env, "VOICECOACH_CACHE_DIR": str(work / "cache"),
               "VOICECOACH_DATA": str(work / "data"), "VOICECOACH_CONFIG": str(work / "config.yaml"),
               "VOICECOACH_ROUTINES": str(work / "routines"),
               "PULSE_COOKIE": str(work / "cookie")}
        if args.user:
            entry = pwd.getpwnam(args.user)
            env["HOME"] = entry.pw_dir
            env.pop("XDG_RUNTIME_DIR", None)
            for path in (server.folder, work):  # the player reaches the socket and writes its cache
                os.chmod(path, 0o755)
            for path in (work, work / "data", work / "data" / "safety-confirmed"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            for path in server.folder.iterdir():
                if path.is_file():
                    os.chmod(path, 0o644)
        # the session as export writes it: what play must send, sample for sample (also fills the speech cache)
        export = [args.python, "-m", "voicecoach", "export", str(work / "bench.yaml"), "-o", str(work / "session.wav")]
        extra = {"user": args.user, "group": pwd.getpwnam(args.user).pw_gid, "extra_groups": []} if args.user else {}
        subprocess.run(export, env=env, check=True, stdout=subprocess.DEVNULL, cwd=work, **extra)
        session, _ = soundfile.read(work / "session.wav", dtype="int16")
        for backend in chosen:
            for n in range(args.runs):
                rows.append((backend, run_once(backend, args, server, env, work, session, bell, inhale, n)))
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for wav in work.glob("*.wav"):
                shutil.copy(wav, args.keep / wav.name)

    who = args.user or pwd.getpwuid(os.getuid()).pw_name
    print(f"player runs as {who!r} (uid {pwd.getpwnam(who).pw_uid}), without realtime priority; "
          f"stops of {', '.join(map(str, STOPS_MS))} ms, then a {PAUSE_S:.0f} s pause; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("backend       stop: heard silence ms (lost/repeated samples)          pause: heard after  resume error")
    for backend, r in rows:
        stops = "  ".join(f"{ms:>3}: {1000 * silence / RATE:5.1f} ({skipped})"
                          for ms, _, silence, skipped in r["stops"])
        pause = r.get("pause")
        pause_text = (f"{pause[0]:7.1f} ms      {pause[2]:+d} samples ({1000 * pause[2] / RATE:+.2f} ms)"
                      if pause else "no pause found")
        print(f"{backend:<12}  {stops}    {pause_text}")
        if r["other"]:
            silences = [silence for _, silence, _ in r["other"]]
            print(f"{'':<12}  and {len(silences)} more silence(s) the stops do not explain, "
                  f"{1000 * sum(silences) / RATE:.1f} ms in all (longest {1000 * max(silences) / RATE:.1f} ms), "
                  f"{sum(abs(k) for _, _, k in r['other'])} samples lost or repeated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
