"""The on-disk cache of synthesized speech clips.

One entry is one WAV file, mono, at the engine's own sample rate, named
``<key>.<digest>.wav``: the key says what was spoken and how (see
``speech.Voice.cache_key``), the digest is the start of the sha256 of the
file's bytes. A truncated, overwritten or bit-flipped entry no longer matches
its digest, so it is found, deleted and synthesized again. Writes go to a temp
file in the same folder and are renamed into place, so a reader never sees
half a file. The cache is a convenience: a folder that cannot be read is a
miss and one that cannot be written is skipped, never an error.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

CACHE_FORMAT = 1
"""Bumped when the entries or their keys change meaning; old folders are then ignored."""

ENV_VAR = "VOICECOACH_CACHE_DIR"

_DIGEST_CHARS = 16
_ENTRY = re.compile(r"^([0-9a-f]{64})\.([0-9a-f]{%d})\.wav$" % _DIGEST_CHARS)
# Engines that give 16-bit (or narrower) mono are stored losslessly as 16-bit;
# anything else as float so the cache never changes what the engine said.
_LOSSLESS_AS_PCM16 = {"PCM_16", "PCM_S8", "PCM_U8"}


def cache_dir() -> Path:
    """Return the clip folder: ``$VOICECOACH_CACHE_DIR`` (when set and not empty)
    or the platform's user cache folder for voicecoach (which honours
    ``XDG_CACHE_HOME``), plus ``clips-v<CACHE_FORMAT>``. Nothing is created."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        base = Path(override).expanduser()
    else:
        import platformdirs  # only needed when there is no override

        base = Path(platformdirs.user_cache_dir("voicecoach"))
    return base / f"clips-v{CACHE_FORMAT}"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_DIGEST_CHARS]


class ClipCache:
    """Clips by cache key in one folder; see the module docstring for the guarantees."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._index: dict[str, list[Path]] | None = None

    def refresh(self) -> None:
        """Forget the folder listing, so the next lookup sees other processes' writes."""
        self._index = None

    def _entries(self) -> dict[str, list[Path]]:
        if self._index is None:
            index: dict[str, list[Path]] = {}
            try:
                with os.scandir(self.folder) as it:
                    for entry in it:
                        m = _ENTRY.match(entry.name)
                        if m:
                            index.setdefault(m.group(1), []).append(Path(entry.path))
            except OSError:
                pass  # missing or unreadable folder: every lookup is a miss
            self._index = index
        return self._index

    def load(self, key: str) -> tuple[np.ndarray, int] | None:
        """Return (mono float32 samples, sample rate) for `key`, or None on a miss.

        An entry that does not match its digest or does not decode to at least
        one frame is deleted (when the folder allows) and counts as a miss.
        """
        paths = self._entries().get(key, [])
        while paths:
            path = paths[0]
            found = self._read(path)
            if found is not None:
                return found
            paths.pop(0)
            try:
                path.unlink()
            except OSError:
                pass  # a read-only cache keeps its bad entry; it is still a miss
        return None

    @staticmethod
    def _read(path: Path) -> tuple[np.ndarray, int] | None:
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        if _digest(raw) != _ENTRY.match(path.name).group(2):
            return None
        try:
            data, rate = sf.read(io.BytesIO(raw), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError):
            return None
        if data.shape[0] == 0:
            return None
        return np.ascontiguousarray(data.mean(axis=1, dtype=np.float32)), int(rate)

    def store(self, key: str, samples: np.ndarray, rate: int, subtype: str | None = None) -> Path | None:
        """Write mono `samples` at `rate` as the entry for `key`; return its path,
        or None when the folder cannot be written (the caller still has the clip).

        `subtype` is the engine's own sample format: 16-bit or narrower input is
        stored as 16-bit (lossless), anything else as float.
        """
        stored = "PCM_16" if subtype in _LOSSLESS_AS_PCM16 else "FLOAT"
        buf = io.BytesIO()
        sf.write(buf, np.asarray(samples, dtype=np.float32), int(rate), format="WAV", subtype=stored)
        raw = buf.getvalue()
        final = self.folder / f"{key}.{_digest(raw)}.wav"
        tmp_name = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".tmp-", suffix=".wav", delete=False) as tmp:
                tmp_name = tmp.name
                tmp.write(raw)
            os.replace(tmp_name, final)
            tmp_name = None
        except OSError:
            return None
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except OSError:
                    pass
        entries = self._entries()
        for old in entries.get(key, []):
            if old != final:
                try:
                    old.unlink()  # an older take of the same phrase (a racing writer)
                except OSError:
                    pass
        entries[key] = [final]
        return final
