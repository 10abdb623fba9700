"""The process that runs pyttsx3, so a hung or noisy engine cannot reach the program.

Started by speech.Pyttsx3Engine (multiprocessing, spawn) and kept light: it
imports pyttsx3 and nothing of numpy or soundfile. Its fds 1 and 2 go to
/dev/null. On Linux it forks a fresh child per request: espeak-ng keeps state
between utterances, so without this the same phrase comes out a few samples
different depending on what was said before it (which would make the cache
and exports depend on order), and a phrase that hangs the engine only costs
that child, which is killed at the timeout. There the child speaks through
espeak-ng in its synchronous mode, with the binding pyttsx3 ships
(_speak_with_espeak says why); pyttsx3 still lists the voices.

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


def _espeak_binding():
    """pyttsx3's ctypes binding of espeak-ng, else None (a pyttsx3 without it, or no espeak-ng)."""
    try:
        from pyttsx3.drivers import _espeak
    except Exception:  # no espeak-ng library: let pyttsx3 report it its own way
        return None
    needed = ("Initialize", "GetCurrentVoice", "SetVoiceByName", "SetParameter", "SetSynthCallback",
              "Synth", "AUDIO_OUTPUT_SYNCHRONOUS", "RATE", "VOLUME", "ENDPAUSE", "CHARS_UTF8")
    return _espeak if all(hasattr(_espeak, name) for name in needed) else None


def _speak_with_espeak(_espeak, text: str, out: str, voice_id: str | None, rate: int | None,
                       volume: float | None) -> None:
    """Speak one phrase into a WAV file with espeak-ng in its synchronous mode.

    pyttsx3's espeak driver starts espeak-ng in its asynchronous mode, where
    settings and text pass through a queue to espeak's own thread. Under load
    a phrase now and then came out at the driver's start-up rate of 200 wpm
    instead of the asked one, and espeak reported 200 after it: 11 in 5,040
    phrases, one fork each as here (3 in 2,700 with two busy loops and disk
    writes beside them), and 3 in one whole-suite run. Draining the queue
    before setting the rate narrowed it but did not close it. This way: none
    in 9,180 (9,000 of them so loaded), and the same samples as the driver's.
    Synchronous mode has no queue and no second thread:
    each setting applies when it is called and the phrase is spoken inside
    Synth, so nothing can overtake. pyttsx3's driver cannot run in this mode
    (it writes its file on an end-of-message event that only the queue sends),
    so this does what the driver does, with the binding pyttsx3 ships: the
    default voice first, rate 200 and full volume unless asked otherwise, the
    same flags, 16-bit mono at espeak's rate.
    """
    import ctypes
    import wave

    samplerate = _espeak.Initialize(_espeak.AUDIO_OUTPUT_SYNCHRONOUS, 1000)
    if samplerate == -1:
        raise RuntimeError("could not initialize espeak-ng")
    current = _espeak.GetCurrentVoice()
    default = current.contents.name if current and current.contents.name else b"gmw/en"
    for name in (default, voice_id.encode("utf-8") if voice_id is not None else None):
        if name is not None and _espeak.SetVoiceByName(name) != 0:
            raise ValueError(f"espeak-ng has no voice {name.decode('utf-8', 'replace')!r}")
    _espeak.SetParameter(_espeak.RATE, int(rate if rate is not None else DEFAULT_RATE), 0)
    _espeak.SetParameter(_espeak.VOLUME, int(round((1.0 if volume is None else float(volume)) * 100, 2)), 0)
    chunks: list[bytes] = []

    def collect(wav, numsamples, events) -> int:
        if numsamples > 0:
            chunks.append(ctypes.string_at(wav, numsamples * ctypes.sizeof(ctypes.c_short)))
        return 0  # go on

    _espeak.SetSynthCallback(collect)
    status = _espeak.Synth(text.encode("utf-8"), flags=_espeak.ENDPAUSE | _espeak.CHARS_UTF8)
    if status != 0:
        raise RuntimeError(f"espeak-ng could not speak the phrase (status {status})")
    with wave.open(out, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(samplerate)
        f.writeframes(b"".join(chunks))


def _synthesize(text: str, out: str, voice_id: str | None, rate: int | None, volume: float | None) -> None:
    # Only in a forked child, as on Linux: espeak-ng can be started once per
    # process, and elsewhere pyttsx3 speaks with the system's own engine.
    espeak = _espeak_binding() if FORK_PER_PHRASE else None
    if espeak is not None:
        _speak_with_espeak(espeak, text, out, voice_id, rate, volume)
        return
    import pyttsx3

    engine = pyttsx3.init()
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
    # A driver can end runAndWait before the engine has finished a longer
    # phrase (pyttsx3's espeak driver does); the file is written (and this
    # event sent) a moment later from the engine's own thread. Wait for it:
    # the caller's timeout still applies.
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
