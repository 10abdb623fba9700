"""The feed's cover: a small square picture drawn here (no image file, no image library), as PNG bytes."""
from __future__ import annotations

import struct
import zlib
from functools import lru_cache

SIZE = 512  # pixels a side: sharp in a phone's list, and about 54 kB


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(rgb) -> bytes:
    """An 8-bit RGB PNG of an (h, w, 3) uint8 array."""
    h, w, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b""))


@lru_cache(maxsize=1)
def cover_png(size: int = SIZE) -> bytes:
    """A dark square with a ring and a breath-like wave through it, in the page's teal."""
    import numpy as np

    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.empty((size, size, 3), np.float32)
    img[:] = (18, 22, 28)
    r = np.hypot(x - 0.5, y - 0.5)
    ring = np.clip(1 - np.abs(r - 0.36) / 0.02, 0, 1)
    wave = 0.5 + 0.12 * np.sin((x - 0.14) / 0.72 * 2 * np.pi) * np.clip(1 - np.abs(x - 0.5) / 0.36, 0, 1)
    line = np.clip(1 - np.abs(y - wave) / 0.015, 0, 1) * (np.abs(x - 0.5) < 0.36)
    teal = np.array((77, 208, 196), np.float32)
    for shape in (ring, line):
        img = img * (1 - shape[..., None]) + teal * shape[..., None]
    return png(np.clip(img + 0.5, 0, 255).astype(np.uint8))
