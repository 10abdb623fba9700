"""The process that runs pyttsx3, so a hung or noisy engine cannot reach the program.

Started by speech.Pyttsx3Engine (multiprocessing, spawn) and kept light: it
imports pyttsx3 and nothing of numpy or soundfile. Its fds 1 and 2 go to
/dev/null. On Linux it forks a fresh child per request: espeak-ng keeps state
between utterances, so without this the same phrase comes out a few samples
different depending on what was said before it (which would make the cache
and exports depend on order), and a phrase that hangs the engine only costs
that child, which is killed at the timeout.

Protocol on the pipe: the worker first sends ("ready", [(id, name, languages),
...]) or ("missing", why, hint or None) and stops. Then for every ("synth",
text, out, voice_id, rate, volume, timeout) it answers ("ok", None),
("error", message) or ("timeout",); anything else ends it.
"""
from __future__ import annotations

import os
import signal
import sys
import threading

FORK_PER_PHRASE = hasattr(os, "fork") and sys.platform.startswith("linux")
STARTUP_TIMEOUT = 60.0  # importing pyttsx3 and listing voices on a cold disk


def _silence_output() -> None:
    """Point fds 1 and 2 at /dev/null: the C library and pyttsx3 both print."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _list_voices() -> list[tuple[str, str, tuple[str, ...]]]:
    import pyttsx3

    engine = pyttsx3.init()
    return [(str(v.id), str(v.name or v.id), tuple(str(x) for x in (v.languages or ())))
            for v in engine.getProperty("voices")]


DEFAULT_RATE = 200  # pyttsx3's own default, set explicitly so every clip has one known rate


def _settle() -> None:
    """Let espeak-ng apply the settings pyttsx3's driver queued when it started.

    espeak-ng (as pyttsx3 starts it) queues rate and volume changes for its own
    thread but changes the voice at once. On a busy machine the driver's own
    start-up settings could still be queued when ours were applied, and a
    phrase came out at espeak's default rate (3 in 40 runs); draining the queue
    first made it 110 in 110. Not enough: in a whole-suite run with two busy
    loops beside it, three phrases still came out at 200 wpm instead of 140 (70%
    of their length), so the cause is not only this queue.
    """
    try:
        from pyttsx3.drivers import _espeak

        _espeak.Synchronize()
    except (ImportError, AttributeError, OSError):
        pass  # another driver: nothing queued of this kind


def _synthesize(text: str, out: str, voice_id: str | None, rate: int | None, volume: float | None) -> None:
    import pyttsx3

    engine = pyttsx3.init()
    _settle()
    if voice_id is not None:
        engine.setProperty("voice", voice_id)
    engine.setProperty("rate", rate if rate is not None else DEFAULT_RATE)
    if volume is not None:
        engine.setProperty("volume", float(volume))
    finished = threading.Event()
    engine.connect("finished-utterance", lambda name=None, completed=True: finished.set())
    # One file per runAndWait: several save_to_file calls before one
    # runAndWait write only the last file.
    engine.save_to_file(text, out)
    engine.runAndWait()
    # pyttsx3's espeak driver can end runAndWait before espeak has finished a
    # longer phrase; the file is written (and this event sent) a moment later
    # from espeak's own thread. Wait for it: the caller's timeout still applies.
    finished.wait()


def _die_with_parent() -> None:
    """Ask Linux to kill this child if the worker dies first (PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # no prctl here; closing the speaker still kills the whole process group


def _run_isolated(fn, args: tuple, timeout: float) -> tuple:
    """Run fn(*args) in a forked child (where possible); return ("ok", result),
    ("error", message) or ("timeout",). A child that overruns is killed."""
    if not FORK_PER_PHRASE:
        try:
            return ("ok", fn(*args))
        except Exception as exc:  # any engine failure becomes a message for the main process
            return ("error", f"{type(exc).__name__}: {exc}")
    import pickle
    import select
    import time

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(r)
            _die_with_parent()
            try:
                reply = ("ok", fn(*args))
            except Exception as exc:
                reply = ("error", f"{type(exc).__name__}: {exc}")
            with os.fdopen(w, "wb") as pipe:
                pipe.write(pickle.dumps(reply))
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    chunks, deadline, done = [], time.monotonic() + timeout, False
    try:
        while not done:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                break
            chunk = os.read(r, 65536)
            chunks.append(chunk)
            done = not chunk
    finally:
        os.close(r)
    if not done:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if not done:
        return ("timeout",)
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:
        return ("error", "the speech process died without a word")


def worker_main(conn) -> None:
    """The pyttsx3 worker: ("synth", text, out, voice_id, rate, volume, timeout) -> reply."""
    _silence_output()
    if hasattr(os, "setpgrp"):
        os.setpgrp()  # so the main process can kill this worker and its children together
    try:
        import pyttsx3  # noqa: F401  (imported once here, so forked children start fast)
    except ImportError as exc:
        conn.send(("missing", f"pyttsx3 is not installed ({exc})", "install it: pip install pyttsx3"))
        return
    reply = _run_isolated(_list_voices, (), STARTUP_TIMEOUT)
    if reply[0] != "ok":
        conn.send(("missing", reply[1] if reply[0] == "error" else "it did not answer", None))
        return
    conn.send(("ready", reply[1]))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] != "synth":
            return
        conn.send(_run_isolated(_synthesize, tuple(msg[1:6]), msg[6]))
