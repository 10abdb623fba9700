"""The built-in speech engines: pyttsx3 (espeak-ng on Linux) and any TTS command.

pyttsx3 runs in a worker process (worker.py), started only when a phrase is
missing, with its output sent to /dev/null ("Audio saved to ..." never reaches
the user) and a timeout per phrase.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from ..errors import SettingError, SpeechEngineMissing, SpeechError
from . import worker as ttsworker
from .voice import ESPEAK_HINT, Voice, VoiceInfo, _phrase, register, resolve_voice

# ------------------------------------------------------------------ pyttsx3 worker

_ENGINE_HINT = ESPEAK_HINT if sys.platform.startswith("linux") else "check the system's text-to-speech"


class Pyttsx3Engine:
    """pyttsx3 (espeak-ng on Linux) in a worker process started on first use."""

    def __init__(self, voice: Voice):
        self.voice = voice
        self._proc = None
        self._conn = None
        self._voices: list[VoiceInfo] = []
        self._voice_id: str | None = None

    def _wait(self, timeout: float):
        """The worker's next message, or None when it died or stayed silent past `timeout`."""
        from multiprocessing.connection import wait

        if wait([self._conn, self._proc.sentinel], timeout) and self._conn.poll():
            try:
                return self._conn.recv()
            except (EOFError, OSError):
                return None
        return None

    def _start(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        self.close()
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        proc = ctx.Process(target=ttsworker.worker_main, args=(child,), daemon=True, name="voicecoach-speech")
        try:
            proc.start()
        except (OSError, RuntimeError) as exc:
            # No process could be started (out of processes or memory): close()
            # must not wait for a process that never existed.
            self.close()
            child.close()
            raise SpeechEngineMissing(f"cannot start the speech engine pyttsx3: {exc}; {_ENGINE_HINT}") from exc
        self._proc = proc
        child.close()
        reply = self._wait(ttsworker.STARTUP_TIMEOUT)
        if reply is None or reply[0] != "ready":
            self.close()
            why, hint = reply[1:3] if reply else ("the speech worker did not start", None)
            raise SpeechEngineMissing(f"cannot start the speech engine pyttsx3: {why}; {hint or _ENGINE_HINT}")
        self._voices = [VoiceInfo(*v) for v in reply[1]]
        self._voice_id = resolve_voice(self.voice.voice, self._voices) if self.voice.voice else None

    def voices(self) -> list[VoiceInfo]:
        self._start()
        return list(self._voices)

    def synthesize(self, text: str, out: Path, timeout: float) -> None:
        self._start()
        v = self.voice
        self._conn.send(("synth", text, str(out), self._voice_id, v.rate, v.volume, timeout))
        # The worker enforces `timeout` itself; this margin covers the fork and
        # the pipe, and only a worker that is itself stuck runs past it.
        reply = self._wait(timeout + min(5.0, max(1.0, timeout)))
        if reply is None:
            died = not self._proc.is_alive()
            self.close()
            if died:
                raise SpeechError(f"the speech engine stopped while speaking {_phrase(text)}")
            raise SpeechError(f"the speech engine hung on {_phrase(text)} (no answer in {timeout:g} s)")
        if reply[0] == "timeout":
            raise SpeechError(f"the speech engine took longer than {timeout:g} s on {_phrase(text)}")
        if reply[0] == "error":
            raise SpeechError(f"the speech engine failed on {_phrase(text)}: {reply[1]}")

    def close(self) -> None:
        proc, conn, self._proc, self._conn = self._proc, self._conn, None, None
        if conn is not None:
            try:
                conn.send(("close",))
            except OSError:
                pass  # already gone
        if proc is not None:
            proc.join(1.0)
            if proc.is_alive():
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (AttributeError, OSError):
                    proc.kill()
                proc.join(5.0)
        if conn is not None:
            conn.close()


# ------------------------------------------------------------------ command engine

DEFAULT_COMMAND_RATE = 140  # words per minute, as voicecoach speaks by default
_PLACEHOLDER = re.compile(r"\{(text|out|rate)\}")


class CommandEngine:
    """Any TTS program, run without a shell: ``{text}`` in an argument becomes the
    phrase (else the phrase goes to stdin), ``{out}`` the WAV path (else the program
    writes audio to stdout), ``{rate}`` the speaking rate in words per minute. Arguments are substituted in one pass, so a phrase
    containing "{out}" is spoken literally. A phrase is one argument, never parsed
    by a shell; put ``--`` before ``{text}`` if the program may read a phrase that
    starts with "-" as an option. Its voices are chosen in its own arguments, so
    `voices()` is empty."""

    def __init__(self, voice: Voice):
        if not voice.command:
            raise SettingError("tts_command", None, "the command engine needs one, e.g. 'espeak-ng -w {out} {text}'")
        self.command = voice.command
        self.rate = voice.rate or DEFAULT_COMMAND_RATE  # for a {rate} placeholder: words per minute

    def voices(self) -> list[VoiceInfo]:
        return []

    def synthesize(self, text: str, out: Path, timeout: float) -> None:
        values = {"text": text, "out": str(out), "rate": str(self.rate)}
        args = [_PLACEHOLDER.sub(lambda m: values[m.group(1)], a) for a in self.command]
        text_on_stdin = not any("{text}" in a for a in self.command)
        audio_on_stdout = not any("{out}" in a for a in self.command)
        prog = self.command[0]
        try:
            proc = subprocess.Popen(
                args, shell=False, stdin=subprocess.PIPE if text_on_stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if audio_on_stdout else subprocess.DEVNULL, stderr=subprocess.PIPE,
                start_new_session=hasattr(os, "killpg"))  # its own group, so a timeout kills its children too
        except (FileNotFoundError, NotADirectoryError):
            raise SpeechEngineMissing(f"speech program {prog!r} not found; install it or fix the TTS command") from None
        except PermissionError:
            raise SpeechEngineMissing(f"speech program {prog!r} cannot be run (not executable)") from None
        try:
            stdout, stderr = proc.communicate(text.encode("utf-8") if text_on_stdin else None, timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (AttributeError, OSError):
                proc.kill()
            proc.communicate()
            raise SpeechError(f"speech program {prog!r} took longer than {timeout:g} s on {_phrase(text)}") from None
        if proc.returncode != 0:
            lines = stderr.decode("utf-8", "replace").strip().splitlines()
            why = lines[-1].strip() if lines else "no message"
            raise SpeechError(f"speech program {prog!r} failed (exit {proc.returncode}) on {_phrase(text)}: {why}")
        if audio_on_stdout:
            out.write_bytes(stdout)

    def close(self) -> None:
        pass


register("pyttsx3", Pyttsx3Engine)
register("command", CommandEngine)
