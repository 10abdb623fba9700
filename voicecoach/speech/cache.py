"""The on-disk cache of synthesized speech clips.

One entry is one WAV file, mono, at the engine's own sample rate, named
``<key>.<digest>.wav``: the key says what was spoken and how (see
``speech.Voice.cache_key``), the digest is the start of the sha256 of the
file's bytes. A truncated, overwritten or bit-flipped entry no longer matches
its digest, so it is found, deleted and synthesized again. Writes go to a temp
file in the same folder and are renamed into place, so a reader never sees
half a file. The cache is a convenience: a folder that cannot be read is a
miss and one that cannot be written is skipped (with one warning through the
"voicecoach" logger), never an error.

The folder is held to a size limit (given by the caller, who reads the config
file's ``cache_limit``; else DEFAULT_LIMIT): a hit sets the entry's mtime to now, so the mtime is its last
use whatever the file system does with atimes, and `trim` removes the entries
used longest ago. It never removes what this ClipCache has read or written, nor
anything used in the last RECENT_SECONDS (a session preparing beside this one).
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..files import reason

CACHE_FORMAT = 1
"""Bumped when the entries or their keys change meaning; old folders are then ignored."""

ENV_VAR = "VOICECOACH_CACHE_DIR"
DEFAULT_LIMIT = 500 * 1000 * 1000
"""Bytes: some 45 routines' speech with joe (morning and kd4 take 21.9 MB, raw and levelled clips)."""
RECENT_SECONDS = 600.0
"""Entries used this recently are never evicted: another process may be preparing a session with them."""

log = logging.getLogger("voicecoach")
log.addHandler(logging.NullHandler())  # a program using the library decides what reaches the user

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
        from ..paths import cache_base

        base = cache_base()
    return base / f"clips-v{CACHE_FORMAT}"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_DIGEST_CHARS]


class ClipCache:
    """Clips by cache key in one folder; see the module docstring for the guarantees."""

    def __init__(self, folder: Path, limit: int | None = None):
        self.folder = Path(folder)
        self.limit = DEFAULT_LIMIT if limit is None else limit  # bytes
        self.unwritable: str | None = None  # why the last write failed (the warning's text)
        self.wrote = 0  # entries written by this ClipCache
        self._index: dict[str, list[Path]] | None = None
        self._used: set[str] = set()  # keys read or written here: never evicted by this ClipCache

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
                self._used.add(key)
                _mark_used(path)
                return found
            paths.pop(0)
            try:
                path.unlink()
            except OSError:
                pass  # a read-only cache keeps its bad entry; it is still a miss
        return None

    def has(self, key: str) -> bool:
        """Whether the folder holds an entry for `key` (not read: it may still turn out bad)."""
        return bool(self._entries().get(key))

    def touch(self, key: str) -> None:
        """Count `key`'s entry (if any) as used now without reading it: a clip made from it is in use."""
        self._used.add(key)
        for path in self._entries().get(key, []):
            _mark_used(path)

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
        except OSError as exc:
            if self.unwritable is None:
                self.unwritable = (f"cannot write the speech cache {self.folder}: {reason(exc)}; "
                                   "speech is kept in memory for this run")
                log.warning(self.unwritable)
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
        self._used.add(key)
        self.wrote += 1
        return final

    def _listing(self) -> list[tuple[Path, os.stat_result]]:
        """Every file in the folder (entries and left-over temp files) with its stat."""
        found = []
        try:
            with os.scandir(self.folder) as it:
                for entry in it:
                    try:
                        if entry.is_file(follow_symlinks=False):
                            found.append((Path(entry.path), entry.stat(follow_symlinks=False)))
                    except OSError:
                        pass  # removed meanwhile
        except OSError:
            pass
        return found

    def usage(self) -> tuple[int, int]:
        """(bytes, clips) the folder holds now; bytes count left-over temp files too."""
        listing = self._listing()
        return sum(st.st_size for _, st in listing), sum(1 for p, _ in listing if _ENTRY.match(p.name))

    def trim(self, limit: int | None = None) -> int:
        """Remove the entries used longest ago until the folder holds at most `limit` bytes
        (default: this cache's limit); return the bytes freed. What this ClipCache has used and
        what anyone used in the last RECENT_SECONDS stays, even above the limit. Measured: 50 ms to look
        over 2500 entries (a full cache), once per run that added clips."""
        if limit is None:
            limit = self.limit
        listing = self._listing()
        total = sum(st.st_size for _, st in listing)
        if total <= limit:
            return 0
        recent = time.time() - RECENT_SECONDS
        freed = 0
        for path, st in sorted(listing, key=lambda item: item[1].st_mtime):
            if total - freed <= limit:
                break
            m = _ENTRY.match(path.name)
            if m is None and not path.name.startswith(".tmp-"):
                continue  # not ours
            if st.st_mtime >= recent or (m is not None and m.group(1) in self._used):
                continue
            try:
                path.unlink()
            except OSError:
                continue  # a read-only cache cannot be trimmed; it does not grow either
            freed += st.st_size
        self._index = None
        return freed

    def clear(self) -> tuple[int, int]:
        """Remove every entry (and earlier cache formats' folders beside this one); return (bytes, clips) freed.
        Raise OSError when the folder cannot be emptied."""
        freed = clips = 0
        for path, st in self._listing():
            if _ENTRY.match(path.name) or path.name.startswith(".tmp-"):
                path.unlink(missing_ok=True)
                freed += st.st_size
                clips += 1 if _ENTRY.match(path.name) else 0
        for old in older_formats(self.folder):
            size, count = folder_usage(old)
            shutil.rmtree(old)
            freed, clips = freed + size, clips + count
        self._index = None
        return freed, clips


@dataclass(frozen=True)
class CacheState:
    """What `voicecoach cache` shows."""

    folder: Path
    size: int  # bytes
    clips: int
    limit: int  # bytes
    limit_set: bool  # by the config file's cache_limit (else DEFAULT_LIMIT)
    older: int  # bytes in earlier cache formats' folders, which nothing reads
    models: int = 0  # bytes of voice models as onnxruntime optimized them (piper-models/, beside the clips)


def state(folder: Path | None = None, limit: int | None = None) -> CacheState:
    """The cache's folder, size, clips and limit (`limit`: the config file's cache_limit, None when unset)."""
    folder = folder if folder is not None else cache_dir()
    size, clips = ClipCache(folder).usage()
    older = sum(folder_usage(old)[0] for old in older_formats(folder))
    models = folder_usage(models_beside(folder))[0]
    return CacheState(folder, size, clips, DEFAULT_LIMIT if limit is None else limit, limit is not None, older,
                      models)


def clear(folder: Path | None = None) -> tuple[int, int]:
    """Empty the cache: (bytes, clips) freed; EnvironmentProblem when the folder cannot be changed."""
    from ..errors import EnvironmentProblem

    folder = folder if folder is not None else cache_dir()
    try:
        freed, clips = ClipCache(folder).clear()
        models = models_beside(folder)
        if models.is_dir():  # made again from the voice file when needed, like the clips
            freed += folder_usage(models)[0]
            shutil.rmtree(models)
        return freed, clips
    except OSError as exc:
        raise EnvironmentProblem(f"cannot clear the speech cache {folder}: {reason(exc)}") from None


def models_beside(folder: Path) -> Path:
    """Where the Piper program keeps its optimized voice models for the clip folder `folder`."""
    return folder.parent / "piper-models"


def older_formats(folder: Path) -> list[Path]:
    """The clip folders of earlier cache formats beside `folder` (nothing reads them any more)."""
    try:
        return sorted(p for p in Path(folder).parent.iterdir()
                      if p.is_dir() and re.fullmatch(r"clips-v\d+", p.name) and p.name != Path(folder).name)
    except OSError:
        return []


def folder_usage(folder: Path) -> tuple[int, int]:
    """(bytes, clip files) under `folder`."""
    size = count = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                size += os.stat(os.path.join(root, name), follow_symlinks=False).st_size
            except OSError:
                continue
            count += name.endswith(".wav") and not name.startswith(".")
    return size, count


def _mark_used(path: Path) -> None:
    """Set the entry's mtime to now: its last use, for `trim`. Measured: 5 us, under 1 % of a hit
    (800 us to read, check and decode a 1.8 s float clip)."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only cache: nothing will be evicted from it either
