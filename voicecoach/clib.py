"""A C library reached through ctypes: found by its soname (or its short name), its functions declared once.

libpulse (the pulse backend, the microphone) and libspeexdsp (the echo canceller)
are loaded this way; OSError says which Debian package is missing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Mapping

_LOADED: dict[str, ctypes.CDLL] = {}


def load(soname: str, short: str, package: str, signatures: Mapping[str, tuple]) -> ctypes.CDLL:
    """The library `soname` (else whatever `short` finds) with each function of `signatures`
    (name: (restype, argtypes)) declared; loaded once. OSError names `package` when it is not installed."""
    if soname not in _LOADED:
        try:
            lib = ctypes.CDLL(soname)
        except OSError:
            name = ctypes.util.find_library(short)
            if name is None:
                raise OSError(f"lib{short} is not installed (Debian and Ubuntu: {package})") from None
            lib = ctypes.CDLL(name)
        for name, (restype, argtypes) in signatures.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        _LOADED[soname] = lib
    return _LOADED[soname]
