"""The echo canceller: speexdsp's acoustic echo canceller (Debian's libspeexdsp1) through ctypes.

`Canceller.process(mic, reference)` takes two int16 blocks of the same length,
what the microphone heard and what voicecoach played at that moment, and
returns the microphone with the echo of the reference taken out. speexdsp's
preprocessor runs after it to remove what is left of the echo (its residual
echo suppressor needs the echo state) and stationary noise. No Python binding
of speexdsp on PyPI is maintained, so these few declarations stand in for one.
"""
from __future__ import annotations

import ctypes

import numpy as np

from .. import clib

# request codes from <speex/speex_echo.h> and <speex/speex_preprocess.h>
_ECHO_SET_SAMPLING_RATE = 24
_PREPROCESS_SET_DENOISE = 0
_PREPROCESS_SET_ECHO_STATE = 24
_PREPROCESS_SET_ECHO_SUPPRESS = 20
_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE = 22

FRAME = 160  # 10 ms at 16 kHz: speexdsp's own advice for the frame of its canceller
# The filter covers this much of the room's echo after the alignment (align.py):
# 200 ms holds the reverb tail of a living room; the cost grows with it (docs/performance.md).
TAIL_S = 0.2

_P, _I16 = ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16)
_SIGNATURES = {
    "speex_echo_state_init": (_P, [ctypes.c_int, ctypes.c_int]),
    "speex_echo_state_destroy": (None, [_P]),
    "speex_echo_cancellation": (None, [_P, _I16, _I16, _I16]),
    "speex_echo_ctl": (ctypes.c_int, [_P, ctypes.c_int, _P]),
    "speex_preprocess_state_init": (_P, [ctypes.c_int, ctypes.c_int]),
    "speex_preprocess_state_destroy": (None, [_P]),
    "speex_preprocess_run": (ctypes.c_int, [_P, _I16]),
    "speex_preprocess_ctl": (ctypes.c_int, [_P, ctypes.c_int, _P]),
}


def load() -> ctypes.CDLL:
    """libspeexdsp with the functions used here declared; OSError when it is not installed."""
    return clib.load("libspeexdsp.so.1", "speexdsp", "libspeexdsp1", _SIGNATURES)


class Canceller:
    """One echo canceller at `rate` (16 kHz), frames of FRAME samples; call `close` when done."""

    def __init__(self, rate: int = 16000, tail_s: float = TAIL_S):
        lib = self._lib = load()
        self._echo = lib.speex_echo_state_init(FRAME, int(rate * tail_s))
        self._pre = lib.speex_preprocess_state_init(FRAME, rate)
        value = ctypes.c_int(rate)
        lib.speex_echo_ctl(self._echo, _ECHO_SET_SAMPLING_RATE, ctypes.byref(value))
        lib.speex_preprocess_ctl(self._pre, _PREPROCESS_SET_ECHO_STATE, self._echo)
        off = ctypes.c_int(0)  # the recognizer copes with noise better than with the denoiser's artefacts
        lib.speex_preprocess_ctl(self._pre, _PREPROCESS_SET_DENOISE, ctypes.byref(off))
        for request, db in ((_PREPROCESS_SET_ECHO_SUPPRESS, -40), (_PREPROCESS_SET_ECHO_SUPPRESS_ACTIVE, -15)):
            level = ctypes.c_int(db)
            lib.speex_preprocess_ctl(self._pre, request, ctypes.byref(level))
        self._out = np.zeros(FRAME, dtype=np.int16)

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The microphone block with the echo of `reference` removed (both int16, a multiple of FRAME long)."""
        mic = np.ascontiguousarray(mic, dtype=np.int16)
        reference = np.ascontiguousarray(reference, dtype=np.int16)
        out = np.empty_like(mic)
        i16 = ctypes.POINTER(ctypes.c_int16)
        lib = self._lib
        for k in range(0, len(mic) - FRAME + 1, FRAME):
            frame = out[k:k + FRAME]
            lib.speex_echo_cancellation(self._echo, mic[k:].ctypes.data_as(i16), reference[k:].ctypes.data_as(i16),
                                        frame.ctypes.data_as(i16))
            lib.speex_preprocess_run(self._pre, frame.ctypes.data_as(i16))
        return out

    def close(self) -> None:
        if self._echo:
            self._lib.speex_echo_state_destroy(self._echo)
            self._lib.speex_preprocess_state_destroy(self._pre)
            self._echo = self._pre = None
