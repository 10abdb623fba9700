"""Live audio output: play a rendered sample stream on the sound device.

A sink pulls the session from a ``Source`` (``source(start, n)`` returns the
float32 mono samples ``start .. start+n``, zeros past the end; in practice the
mixer) and plays it as one continuous stream, so the pacing is the audio
clock's and nothing drifts. Two backends share the ``Sink`` interface, one
module each:

* ``miniaudio`` (miniaudio.py): streams. The device asks for frames and a
  generator hands it the next block of the source; pause feeds silence
  without advancing the stream, so resume continues at exactly the sample
  where the stream stopped.
* ``simpleaudio`` (simpleaudio.py): the backend the project was specified
  with. It plays whole buffers; pause stops it and resume plays the rest from
  the paused position.

Backends register through ``register()``; the built-ins use the same path.
"""
from __future__ import annotations

from typing import Callable

from ..errors import InputError
from . import miniaudio as _miniaudio
from . import simpleaudio as _simpleaudio
from .base import DEFAULT_RATE, HINT, Sink, Source, prefer_realtime, render, to_int16

__all__ = ["DEFAULT_RATE", "HINT", "Sink", "Source", "available_backends", "backends", "default_backend",
           "open_sink", "prefer_realtime", "register", "render", "to_int16"]

SinkFactory = Callable[[str | None], Sink]
_FACTORIES: dict[str, SinkFactory] = {}
_MISSING: dict[str, Callable[[], str | None]] = {}


def register(name: str, factory: SinkFactory, *, missing: Callable[[], str | None] | None = None) -> None:
    """Make a backend known by ``name``; ``factory(device)`` opens a sink.

    ``missing()`` says why the backend cannot be used on this machine at all
    (its library is not installed), or None; without it the backend is always offered.
    """
    _FACTORIES[name] = factory
    _MISSING[name] = missing or (lambda: None)


def backends() -> list[str]:
    """Return the names of all registered backends, sorted."""
    return sorted(_FACTORIES)


def available_backends() -> list[str]:
    """Return the registered backends usable on this machine, sorted."""
    return [name for name in backends() if _MISSING[name]() is None]


def default_backend() -> str:
    """Return "simpleaudio" where it imports and Python < 3.12, else "miniaudio"."""
    return "simpleaudio" if "simpleaudio" in available_backends() else "miniaudio"


def open_sink(backend: str | None = None, device: str | None = None) -> Sink:
    """Open the output device through ``backend`` (default: ``default_backend()``).

    Returns a sink whose device is already open, so a missing sound server is
    reported here, within a few seconds, as NoAudioDevice. An unknown backend
    name, or one not usable here, is an InputError listing the choices.
    """
    name = backend or default_backend()
    if name not in _FACTORIES:
        raise InputError(f"unknown audio backend {name!r}; choose one of: {', '.join(backends())}")
    if _MISSING[name]() is not None:
        raise InputError(
            f"audio backend {name!r} is not available here; "
            f"choose one of: {', '.join(available_backends())}"
        )
    return _FACTORIES[name](device)


register("miniaudio", _miniaudio.MiniaudioSink, missing=_miniaudio.missing)
register("simpleaudio", _simpleaudio.SimpleaudioSink, missing=_simpleaudio.missing)
