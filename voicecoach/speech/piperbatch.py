"""One Piper process for a whole session: a phrase per line in, a WAV file per phrase out.

piper-tts is GPL-3.0-or-later and voicecoach is MIT, so Piper runs as its own
program and nothing of it is imported into voicecoach's process. That program
is piperhelper/seeded_piper.py (GPL-3.0-or-later, shipped beside the package,
only ever run): it takes the options of Piper's own CLI (piper-tts 1.3 to 1.8)
that are used here, loads the voice once, then with ``--output-dir`` reads
phrases from stdin, one per line, writes each as a WAV file and, once the file
is closed, logs ``Wrote <path>`` on stderr, as ``python -m piper`` does; unlike
it, the noise the voice draws comes from a seed made of the phrase, so a phrase
gives the same samples whatever the process said before. So one process speaks
every missing phrase of a session: loading the voice costs about 0.9 s here (a
third of that once the voice's optimized model is kept: piperhelper/model_cache.py),
a phrase 0.08 s per second of speech on two cores. The process may have been
started ahead of need (piperspare.py); it then gets its arguments on its first stdin line.

Each phrase is sent when the one before it is written, so a per-phrase timeout
is simply a deadline on the next ``Wrote``. When Piper stops, its traceback on
stderr says why; `_fault` turns it into one line and the right exception.
"""
from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from ..text import one_line
from ..errors import InputError, SpeechEngineMissing, SpeechError
from . import piperspare
from .voice import _phrase

# The first phrase also waits for Python, onnxruntime and the model to load: 0.9 s
# here with a warm disk; a cold disk or a busy machine can take many times that.
STARTUP_TIMEOUT = 60.0
NEURAL_HINT = "install the neural extra: pip install 'voicecoach[neural]' (scripts/setup.sh does)"

_WROTE = re.compile(r"Wrote (.+\.wav)\s*$")
_KEEPING = re.compile(r"Keeping the optimized model at ")  # seeded_piper.KEEPING: saving it, for a second or two
_KEPT = re.compile(r"Kept the optimized model at ")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")
_KEEP_LINES = 200  # of stderr, for the message when Piper stops
_DETACHED: list[subprocess.Popen] = []  # closed while saving their optimized model: left to end by themselves


@dataclass(frozen=True)
class PiperJob:
    """What one Piper process is started with."""

    model: Path
    config: Path
    length_scale: float
    sentence_silence: float  # seconds between the sentences of one phrase
    volume: float | None = None
    model_cache: Path | None = None  # where Piper keeps the optimized model between runs (none: not kept)
    model_key: str | None = None  # what the model file holds (piper.model_id): names the kept file


def stdin_line(text: str) -> str:
    """The phrase as one stdin line, with "[[" opened up: Piper reads ``[[ ... ]]`` as raw phonemes."""
    return one_line(text.replace("[[", "[ ["))


def speakable(text: str) -> bool:
    """Whether Piper can make a sound of `text`: a phrase of punctuation alone ("...")
    gives espeak-ng no phonemes, and Piper then stops with an empty WAV."""
    return any(ch.isalnum() for ch in text)


def write_silence(out: Path, seconds: float, sample_rate: int) -> None:
    """A 16-bit mono WAV of `seconds` of silence (at least one sample)."""
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(bytes(2 * max(1, int(seconds * sample_rate))))


class PiperBatch:
    """A Piper process started on the first phrase and kept until `close()`.

    `command` is how to run Piper (piper.piper_command(); ``[sys.executable, "-m", "piper"]`` works too);
    `name` is the voice as messages call it.
    """

    def __init__(self, job: PiperJob, command: list[str], name: str):
        self.job = job
        self.command = list(command)
        self.name = name
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str] = []
        self._dir: str | None = None
        self._spoken = 0
        self._saving: dict = {}
        self.started = 0  # processes started so far (a test counts them)

    @property
    def pid(self) -> int | None:
        """The running Piper's process id, or None."""
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> None:
        _DETACHED[:] = [p for p in _DETACHED if p.poll() is None]  # reaped once ended
        j = self.job
        spare = piperspare.take(self.command)
        self._dir = spare[1] if spare is not None else tempfile.mkdtemp(prefix="voicecoach-piper-")
        args = ["--model", str(j.model), "--config", str(j.config), "--output-dir", self._dir,
                "--length-scale", f"{j.length_scale:.4f}", "--sentence-silence", f"{j.sentence_silence:.4f}"]
        if j.volume is not None:
            args += ["--volume", f"{float(j.volume):.4f}"]
        if j.model_cache is not None and j.model_key:
            args += ["--model-cache", str(j.model_cache), "--model-key", j.model_key]
        if spare is not None:  # started ahead (piperspare.py): it reads its arguments from stdin
            proc = spare[0]
            try:
                proc.stdin.write(json.dumps(args).encode("utf-8") + b"\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # it has stopped: its stderr says why, read by speak()
        else:
            try:
                proc = piperspare.launch([*self.command, *args], self._dir)
            except OSError as exc:
                self._cleanup()
                raise SpeechEngineMissing(f"cannot start Piper ({self.command[0]}): {exc}; {NEURAL_HINT}") from None
        self._proc = proc
        self._lines = queue.Queue()
        self._stderr = []
        self._spoken = 0
        self._saving = {}
        self.started += 1
        threading.Thread(target=self._pump, args=(proc.stderr, self._lines, self._saving), daemon=True,
                         name="voicecoach-piper-stderr").start()

    @staticmethod
    def _pump(stream, lines: queue.Queue, saving: dict) -> None:
        """Stderr, line by line, into `lines`; None at the end (Piper closed it or stopped).
        `saving` holds "now" while Piper saves its optimized model for the next run."""
        try:
            for raw in stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if _KEEPING.search(line):
                    saving["now"] = True
                elif _KEPT.search(line):
                    saving.pop("now", None)
                else:
                    lines.put(line)
        except (OSError, ValueError):
            pass  # the pipe was closed under us by close()
        saving.pop("now", None)
        lines.put(None)

    def speak(self, text: str, out: Path, timeout: float) -> None:
        """Write `text` spoken as a WAV file at `out` within `timeout` seconds (plus the
        start-up allowance on a fresh process); raise on a fault (see `_fault`)."""
        line = stdin_line(text)
        if not speakable(line):
            write_silence(out, self.job.sentence_silence, _config_rate(self.job.config))
            return
        if self._proc is None:
            self._start()
        first = self._spoken == 0
        try:
            self._proc.stdin.write(line.encode("utf-8", "replace") + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it has stopped: its stderr says why, read below
        deadline = time.monotonic() + timeout + (STARTUP_TIMEOUT if first else 0.0)
        while True:
            try:
                msg = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.close(kill=True)
                raise SpeechError(f"Piper hung on {_phrase(text)} (no answer in {timeout:g} s)") from None
            if msg is None:
                raise self._stopped(text, first)
            found = _WROTE.search(msg)
            if found:
                shutil.move(found.group(1), out)
                self._spoken += 1
                return
            self._stderr = (self._stderr + [msg])[-_KEEP_LINES:]

    def _stopped(self, text: str, first: bool) -> Exception:
        """The exception for a Piper that stopped while speaking `text`; the process is reaped."""
        proc = self._proc
        try:
            code = proc.wait(5.0)
        except subprocess.TimeoutExpired:
            code = None  # closed stderr but kept running: close() kills it
        lines = self._stderr
        self.close()
        return _fault(lines, code, text, self.job, self.name, first)

    def close(self, kill: bool = False) -> None:
        """End the process and remove its folder. Closing stdin lets Piper finish by itself;
        one that does not within 2 s, or any with `kill`, is killed with its process group."""
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            if not kill and self._saving.get("now"):
                # It ends by itself once its optimized model is saved, for the next run: not waited
                # for (a second or two), not killed (its stderr is read to the end by the pump).
                _DETACHED.append(proc)
                self._cleanup()
                return
            if kill or not _exits(proc, 2.0):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (AttributeError, OSError):
                    proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def _exits(proc: subprocess.Popen, seconds: float) -> bool:
    """Whether `proc` ends by itself within `seconds`."""
    try:
        proc.wait(seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _config_rate(config: Path) -> int:
    import json

    try:
        return int(json.loads(Path(config).read_text(encoding="utf-8"))["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError):
        return 22050


def _exception_line(lines: list[str]) -> tuple[str, str]:
    """(exception name, message) of the first exception a Python traceback in `lines` names."""
    in_traceback = False
    for raw in lines:
        line = _ANSI.sub("", raw)
        if line.startswith("Traceback"):
            in_traceback = True
        elif in_traceback and line and not line[0].isspace():
            head, _, message = line.partition(": ")
            name = head.rsplit(".", 1)[-1]
            return name, _ORT_PREFIX.sub("", message).strip()
    return "", ""


def _fault(lines: list[str], code: int | None, text: str, job: PiperJob, name: str, first: bool) -> Exception:
    """Why Piper stopped, as the exception the user sees.

    Tells apart, from its traceback: Piper not installed (exit code 3); a model
    file that does not load, and a config that does not match its model, so the
    model rejects what the config makes of a phrase (bad input: exit code 1);
    anything else is a speech fault naming the phrase.
    """
    exc_name, message = _exception_line(lines)
    frames = [ln.strip() for ln in lines if ln.lstrip().startswith("File ")]
    in_load = any(re.search(r"piper[/\\]voice\.py\", line \d+, in load$", f) for f in frames)
    if exc_name == "ModuleNotFoundError" and "piper" in message:
        return SpeechEngineMissing(f"Piper is not installed ({message}); {NEURAL_HINT}")
    if in_load or (first and exc_name in ("InvalidProtobuf", "NoSuchFile", "Fail") and "Load model" in message):
        return InputError(f"cannot load the Piper voice {name} ({job.model}): {message or exc_name}")
    if "ONNXRuntimeError" in "".join(lines) and exc_name in ("InvalidArgument", "Error", "Fail", "RuntimeException"):
        # The config maps the phrase to phoneme ids or a speaker input the model does not have.
        return InputError(f"the Piper voice {name} does not match its config {job.config}: {message}")
    if exc_name == "Error" and "channels not specified" in message:
        return SpeechError(f"Piper made no sound for {_phrase(text)}")
    if code is not None and code < 0:
        why = f"killed by signal {-code}"
    elif message:
        why = f"{exc_name}: {message}" if exc_name else message
    else:
        tail = [ln for ln in lines if ln.strip()]
        why = tail[-1].strip() if tail else f"exit code {code}"
    return SpeechError(f"Piper stopped while speaking {_phrase(text)}: {why}")
