"""`voicecoach serve` on loopback: time to first byte, throughput of concurrent downloads, peak memory.

    python bench/serve.py            # every routine at its own length (a few minutes to render at start)
    python bench/serve.py --quick    # every routine at --scale 0.05 (about a minute)

Starts the server from a fresh home folder (so the start renders every episode,
cold speech cache included) with a routine of the user's own (a copy of the
morning routine), and prints:
- the start: seconds until the URLs are printed (every episode rendered);
- time to first byte of the feed: the first request, then the median of 10;
- time to first byte of an episode: cold (the user's routine edited just before,
  so the request renders it) and rendered (the median of 10);
- throughput of 20 concurrent downloads of Today's episode on loopback;
- the server's peak memory while serving (VmHWM, reset once the start's
  rendering is over, Linux) and over its whole life.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
MORNING = HERE.parent / "voicecoach" / "routines" / "library" / "morning.yaml"


def ttfb(host: str, port: int, path: str) -> tuple[float, int]:
    """(seconds from sending the request to the response's headers, body bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=600)
    try:
        began = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        first = time.perf_counter() - began
        return first, len(resp.read())
    finally:
        conn.close()


def vm(pid: int, key: str) -> float:
    """A /proc/PID/status figure in MB (VmHWM: peak resident, VmRSS: resident now)."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{key}:\s+(\d+) kB", text, re.M).group(1)) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every routine at --scale 0.05")
    args = parser.parse_args()
    scale = "0.05" if args.quick else "1"
    home = Path(tempfile.mkdtemp(prefix="voicecoach-serve-bench-"))
    try:
        routines = home / ".config" / "voicecoach" / "routines"
        routines.mkdir(parents=True)
        mine = routines / "mine.yaml"
        shutil.copy(MORNING, mine)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICECOACH_", "XDG_"))}
        env |= {"HOME": str(home), "VOICECOACH_NEURAL": "off"}
        began = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "voicecoach", "serve", "--host", "127.0.0.1", "--port", "0",
                                 "--no-qr", "--scale", scale, "--engine", "pyttsx3"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        page = proc.stdout.readline().split()[-1]
        proc.stdout.readline()  # the feed's URL
        started = time.perf_counter() - began
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # download lines
        url = urlsplit(page)
        host, port, base = url.hostname, url.port, url.path
        try:
            whole_life = vm(proc.pid, "VmHWM")
            resident = vm(proc.pid, "VmRSS")
            reset = True
            try:
                Path(f"/proc/{proc.pid}/clear_refs").write_text("5")  # VmHWM starts again from VmRSS
            except OSError:
                reset = False
            feed_first, _ = ttfb(host, port, base + "feed.xml")
            feed_warm = statistics.median(ttfb(host, port, base + "feed.xml")[0] for _ in range(10))
            mine.write_text(mine.read_text().replace("Good morning.", "Good morning to you."))
            episode_cold, _ = ttfb(host, port, base + "episodes/my-mine.mp3")
            episode_warm = statistics.median(ttfb(host, port, base + "episodes/morning.mp3")[0] for _ in range(10))
            t0 = time.perf_counter()
            with ThreadPoolExecutor(20) as pool:
                sizes = list(pool.map(lambda _: ttfb(host, port, base + "episodes/today.mp3")[1], range(20)))
            wall = time.perf_counter() - t0
            serving = vm(proc.pid, "VmHWM")
            whole_life = max(whole_life, serving)
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(30)
        print(f"start (every episode rendered, cold speech cache, --scale {scale}): {started:.1f} s")
        print(f"feed, time to first byte: first request {feed_first * 1000:.0f} ms, "
              f"then {feed_warm * 1000:.0f} ms (median of 10)")
        print(f"episode, time to first byte: cold (edited routine rendered on request) {episode_cold:.2f} s, "
              f"rendered {episode_warm * 1000:.1f} ms (median of 10)")
        total = sum(sizes)
        print(f"20 concurrent downloads of Today ({sizes[0] / 1e6:.2f} MB each): {total / 1e6:.1f} MB in "
              f"{wall:.2f} s = {total / 1e6 / wall:.0f} MB/s")
        peak = f"{serving:.0f} MB while serving" if reset else "(no reset of the peak here)"
        print(f"server's memory: {resident:.0f} MB resident once started; peak {peak}, {whole_life:.0f} MB over "
              "its life (start-up rendering included)")
        print(f"Ctrl-C: exit {code}")
        return 0 if code == 0 else 1
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
