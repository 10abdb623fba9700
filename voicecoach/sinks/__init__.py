"""Live audio output: play a rendered sample stream on the sound device.

A sink pulls the session from a ``Source`` (``source(start, n)`` returns the
float32 mono samples ``start .. start+n``, zeros past the end; in practice the
mixer) and plays it as one continuous stream, so the pacing is the audio
clock's and nothing drifts. Three backends share the ``Sink`` interface, one
module each:

* ``pulse`` (pulse.py): a stream to the PulseAudio or PipeWire server through
  libpulse. Keeps 2 s queued at the server, so a stall of voicecoach
  shorter than that is not heard; pause drops the queue and reads the exact
  sample played last from the server.
* ``miniaudio`` (miniaudio.py): the device pulls blocks; 60 ms queued, pause
  feeds silence, resume exact.
* ``simpleaudio`` (simpleaudio.py): the backend the project was specified
  with; plays one whole buffer, pause stops it, resume is a clock estimate.

The live promises: a stall of the whole voicecoach process of up to 200 ms
is never heard, a pause is heard within 100 ms of the key (the player looks at
the keys every 50 ms), and resume continues on the exact sample heard last. The default backend is the first, in order of
preference, that is installed, opens on this machine and keeps them; where
none does, the first that opens. ``choices()`` says why each backend was or
was not chosen. Backends register through ``register()``; the built-ins use
the same path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..errors import InputError, NoAudioDevice, SettingError
from . import miniaudio as _miniaudio
from . import pulse as _pulse
from . import simpleaudio as _simpleaudio
from .base import DEFAULT_RATE, HINT, Sink, Source, no_device, prefer_realtime, render, to_int16

__all__ = ["Backend", "Choice", "DEFAULT_RATE", "HINT", "Sink", "Source", "available_backends", "backends",
           "choices", "default_backend", "open_sink", "prefer_realtime", "register", "render", "to_int16"]

SinkFactory = Callable[[str | None], Sink]

# The promises a default backend keeps (see the module docstring). What it
# keeps queued at the sound server must cover the stall with room to spare:
# the queue is topped up in steps, so it is never quite full.
STALL_MS = 200
QUEUE_MIN_MS = 250
PAUSE_MAX_MS = 100  # from the key (or the bus command) to the first sample of silence heard


@dataclass(frozen=True)
class Backend:
    """A registered backend and what it promises (None: it does not say)."""

    name: str
    factory: SinkFactory
    missing: Callable[[], str | None]  # why it cannot be used here at all, or None (cheap: no device opened)
    queued_ms: int | None = None  # kept queued at the sound server: a longer stall of voicecoach is a gap
    pause_ms: int | None = None  # how late a pause is heard after the key, at most (measured)
    exact_resume: bool = False  # resume continues on the exact sample heard last
    preference: int = 100  # lower is tried first

    def shortfalls(self) -> list[str]:
        """Return each live promise this backend does not keep, in words."""
        out = []
        if self.queued_ms is None:
            out.append("it does not say how long a stall of voicecoach it rides out")
        elif self.queued_ms < QUEUE_MIN_MS:
            out.append(f"it keeps {self.queued_ms} ms queued at the sound server, so a stall of voicecoach "
                       f"longer than that is heard as a gap (the default rides out {STALL_MS} ms and more)")
        if self.pause_ms is None:
            out.append("it does not say how soon a pause is heard")
        elif self.pause_ms > PAUSE_MAX_MS:
            out.append(f"a pause is heard up to {self.pause_ms} ms after the key (the default: within "
                       f"{PAUSE_MAX_MS} ms)")
        if not self.exact_resume:
            out.append("resume starts from an estimate, so a little may repeat or be skipped")
        return out


@dataclass(frozen=True)
class Choice:
    """One backend as `voicecoach play --backend list` shows it."""

    name: str
    default: bool
    usable: bool
    reason: str  # why it is the default, or why not


_BACKENDS: dict[str, Backend] = {}


def register(name: str, factory: SinkFactory, *, missing: Callable[[], str | None] | None = None,
             queued_ms: int | None = None, pause_ms: int | None = None, exact_resume: bool = False,
             preference: int = 100) -> None:
    """Make a backend known by ``name``; ``factory(device)`` opens a sink.

    ``missing()`` says why the backend cannot be used on this machine at all
    (its library is not installed), or None; without it the backend is always
    offered. The promises (what it keeps queued, how soon a pause is heard,
    whether resume is exact) decide whether it can be the default.
    """
    _BACKENDS[name] = Backend(name, factory, missing or (lambda: None), queued_ms, pause_ms, exact_resume,
                              preference)


def backends() -> list[str]:
    """Return the names of all registered backends, sorted."""
    return sorted(_BACKENDS)


def available_backends() -> list[str]:
    """Return the registered backends whose library is installed here, sorted (no device is opened)."""
    return [name for name in backends() if _BACKENDS[name].missing() is None]


def _order() -> list[Backend]:
    """Every backend, those that keep every promise first, each group by preference."""
    return sorted(_BACKENDS.values(), key=lambda b: (bool(b.shortfalls()), b.preference, b.name))


def _candidates() -> Iterator[Backend]:
    """Installed backends, in the order of _order(), each library looked for only when its turn comes."""
    return (b for b in _order() if b.missing() is None)


def _open_default(device: str | None) -> tuple[str, Sink]:
    """Open the first candidate that opens here; when none does, one error naming what each said."""
    said: list[str] = []
    # Each backend's library is looked for only when its turn comes: when pulse opens,
    # miniaudio's is never imported (50-70 ms of the first sound).
    for backend in _candidates():
        try:
            return backend.name, backend.factory(device)
        except NoAudioDevice as exc:
            said += getattr(exc, "parts", [f"{backend.name}: {exc}"])
    if said:
        raise no_device(*said[0].split(": ", 1), *said[1:])
    raise NoAudioDevice(f"no audio backend is installed ({', '.join(backends())}); {HINT}")


def default_backend() -> str:
    """Return the backend `open_sink()` uses when none is named (opens and closes a device to know)."""
    name, sink = _open_default(None)
    sink.stop()
    return name


def open_sink(backend: str | None = None, device: str | None = None) -> Sink:
    """Open the output device through ``backend`` (default: see the module docstring).

    Returns a sink whose device is already open, so a missing sound server is
    reported here, within a few seconds, as NoAudioDevice. An unknown backend
    name, or one not installed here, is an InputError listing the choices.
    """
    if backend is None:
        return _open_default(device)[1]
    if backend not in _BACKENDS:
        raise SettingError("backend", backend, f"not an audio backend; choose one of: {', '.join(backends())}")
    why = _BACKENDS[backend].missing()
    if why is not None:
        raise InputError(f"audio backend {backend!r} is not available here: {why}; "
                         f"choose one of: {', '.join(available_backends())}")
    return _BACKENDS[backend].factory(device)


def choices(device: str | None = None) -> list[Choice]:
    """Every backend, whether it is the default, and why or why not; opens each installed one once."""
    opened: dict[str, str | None] = {}
    for backend in _BACKENDS.values():
        why = backend.missing()
        if why is None:
            try:
                backend.factory(device).stop()
            except (NoAudioDevice, InputError) as exc:
                why = str(exc).replace(f"; {HINT}", "")
        opened[backend.name] = why
    usable = [b for b in _candidates() if opened[b.name] is None]
    chosen = usable[0].name if usable else None
    out = []
    for backend in sorted(_BACKENDS.values(), key=lambda b: (b.preference, b.name)):
        short = backend.shortfalls()
        if opened[backend.name] is not None:
            reason = f"not usable here: {opened[backend.name]}"
        elif backend.name == chosen:
            reason = "the default: " + ("; ".join(short) if short else
                                        f"keeps {backend.queued_ms} ms queued at the sound server, a pause "
                                        f"is heard within {backend.pause_ms} ms and resumes on the exact sample")
        elif short:
            reason = "not the default: " + "; ".join(short)
        else:
            reason = f"not the default: {chosen} comes first"
        out.append(Choice(backend.name, backend.name == chosen, opened[backend.name] is None, reason))
    return out


# Measured through a private sound server as an ordinary user (docs/performance.md, bench/stall.py),
# from the key to the first silent sample: the player's look at the keys (every 50 ms), then the sink.
# pulse: a cork is heard after the server's device latency (REQUEST_MS, 20 ms); heard 8-36 ms after
# the key, so within the promise with room for a busy machine.
register("pulse", _pulse.PulseSink, missing=_pulse.missing, queued_ms=_pulse.QUEUE_MS, pause_ms=PAUSE_MAX_MS,
         exact_resume=True, preference=10)
register("miniaudio", _miniaudio.MiniaudioSink, missing=_miniaudio.missing, queued_ms=_miniaudio.QUEUED_MS,
         pause_ms=150, exact_resume=True, preference=20)  # its 60 ms queue plays out after the look: 70-114 ms
# simpleaudio: a 100 ms stop left a 19 ms gap, so about 80 ms are queued; its pause alone takes
# 190-295 ms (291-295 ms from the key), and the look at the keys may add 50.
register("simpleaudio", _simpleaudio.SimpleaudioSink, missing=_simpleaudio.missing, queued_ms=80,
         pause_ms=350, exact_resume=False, preference=30)
