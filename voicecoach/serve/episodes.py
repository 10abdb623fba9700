"""The episodes the phone gets: one per built-in and user routine, plus Today, rendered once into a cache folder.

An episode is written by the export module's own functions, so its MP3 is the
file `voicecoach export` writes, byte for byte (ID3 CHAP + CTOC chapters), with
the WebVTT subtitles and the timeline beside it, and a Podcasting 2.0 chapters
JSON made from the same chapter list as the ID3 frames.

Files are named after a fingerprint of what the audio is made of (the loaded
routine with its includes, the options, the voice, the date for Today, the
program's version), so a file in the cache is current exactly when its name is,
and the fingerprint is the episode's guid: a podcast app downloads a routine
again only when its audio changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..errors import EnvironmentProblem, ExportError, VoicecoachError
from .storage import cache_folder, clear, usage
from .today import joined

__all__ = ["TODAY", "Catalogue", "Episode", "Rendered", "cache_folder", "clear", "usage"]

TODAY = "today"
# Bump when what an episode is made of changes in a way the fingerprint cannot see.
EPISODE_FORMAT = 1
_SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Rendered:
    """One episode's files in the cache, all named by its fingerprint."""

    id: str
    title: str
    guid: str
    mp3: Path
    vtt: Path
    chapters: Path
    timeline: Path
    seconds: float
    size: int  # bytes of the MP3: the enclosure length
    routine_titles: tuple[str, ...] = ()
    description: str = ""


@dataclass
class _Source:
    """What an episode is made of, found again on every look: the routines, their title, the fingerprint."""

    title: str
    routines: list
    fingerprint: str


@dataclass
class Episode:
    id: str
    kind: str  # "today", "builtin" or "user"
    ref: str | Path  # a built-in id, or a user routine's file
    lock: threading.Lock = field(default_factory=threading.Lock)
    rendered: Rendered | None = None


class Catalogue:
    """The episode table: ids to episodes; renders what is missing or stale, each once.

    `voice_of(routine)` gives the Voice, `options` the timeline Options (as `export`
    takes them); `today()` gives the date (a function, so midnight needs no restart).
    `on_render(rendered)` is called after an episode is rendered in place of one with other
    content (a changed routine, a new day); not for a first render, nor for files made again.
    """

    def __init__(self, folder: Path, voice_of: Callable, options, *, today: Callable[[], date] = date.today,
                 on_render: Callable[[Rendered], None] | None = None,
                 on_problem: Callable[[VoicecoachError], None] | None = None, limit: int | None = None):
        self.folder = Path(folder)
        self.limit = limit  # the speech cache's size in bytes (None: its default)
        self.voice_of = voice_of
        self.options = options
        self.today = today
        self.on_render = on_render
        self.on_problem = on_problem
        self.episodes: dict[str, Episode] = {}
        self.problems: dict[str, str] = {}  # episode id -> the line last said about it
        self._render_lock = threading.Lock()  # one speech engine at a time: two would only share the cores
        self._table_lock = threading.Lock()

    # ---------------------------------------------------------------- the table

    def check_folder(self) -> None:
        """Make the cache folder and prove it writable; EnvironmentProblem (exit 3) if it is not."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise EnvironmentProblem(f"cannot write episodes into {self.folder}: "
                                     f"{(err.strerror or str(err)).lower()}") from None

    def scan(self) -> list[str]:
        """The episode ids, Today first: one per routine id (a user routine with a built-in's name replaces it)."""
        from ..routines import library_dir, routine_ids

        with self._table_lock:
            found = {TODAY: (TODAY, TODAY)}
            ids = routine_ids()
            users = []
            for rid, path in ids.items():  # the built-ins first, then the user's: the order of the feed
                if path.parent == library_dir():
                    found[rid] = ("builtin", rid)
                else:
                    users.append(path)
            for path in users:
                found[self._user_id(path, found)] = ("user", path)
            for eid, (kind, ref) in found.items():
                old = self.episodes.get(eid)
                if old is None or (old.kind, old.ref) != (kind, ref):
                    self.episodes[eid] = Episode(eid, kind, ref)
            for eid in list(self.episodes):
                if eid not in found:
                    del self.episodes[eid]
            return list(self.episodes)

    @staticmethod
    def _user_id(path: Path, taken) -> str:
        """A user routine's id: `my-` and its file name, lower case, when that is a plain word not taken yet
        (`My Stretch.yaml` is not; nor `Tiny.yaml` beside `tiny.yaml`), else `my-` and a hash of the path.

        The `my-` keeps a user routine's URL and guid the same whether or not a built-in of its name
        comes or goes, so a podcast app never downloads it again for that.
        """
        stem = path.stem.lower()
        for eid in (f"my-{stem}", "my-" + hashlib.sha256(str(path).encode()).hexdigest()[:10]):
            if _SAFE_ID.match(eid) and eid not in taken:
                return eid
        raise AssertionError("unreachable: a hashed id is always safe")

    # ---------------------------------------------------------------- sources

    def _routine(self, ref):
        from ..routines import load, load_file

        return load(ref) if isinstance(ref, str) else load_file(ref)

    def _source(self, ep: Episode) -> _Source:
        """Load the episode's routines again (cheap: YAML) and fingerprint what the audio is made of."""
        from .. import __version__

        if ep.kind == TODAY:
            from ..practice import history
            from ..practice.plan import at_current_level, todays_plan

            day = self.today()
            entries, _ = history.read()
            routines = [at_current_level(self._routine(rid), entries) for rid in todays_plan(day)]
            title = f"Today, {day:%A} {day.day} {day:%B %Y}"
            extra = day.isoformat()
        else:
            routines = [self._routine(ep.ref)]
            title, extra = routines[0].title, ""
        voices = [self.voice_of(r) for r in routines]
        made_of = repr((EPISODE_FORMAT, __version__, ep.id, title, extra, routines, voices, self.options))
        return _Source(title, routines, hashlib.sha256(made_of.encode()).hexdigest()[:20])

    def describe(self, eid: str) -> tuple[str, str]:
        """(title, guid) the episode has now, without rendering it: what a date or an edited file changes."""
        source = self._source(self.episodes[eid])
        return source.title, source.fingerprint

    # ---------------------------------------------------------------- rendering

    def get(self, eid: str) -> Rendered:
        """The episode's current files, rendered first if missing or stale (once, however many ask at once).

        Files removed from the cache folder while serving are made again here, with the same guid.

        Raises KeyError for an id not in the table, RoutineError/InputError for a routine that
        does not load (said once through `on_problem`), ExportError when the cache cannot be written.
        """
        ep = self.episodes[eid]
        with ep.lock:
            try:
                source = self._source(ep)
                if ep.rendered is not None and ep.rendered.guid == source.fingerprint and _there(ep.rendered):
                    return ep.rendered
                found = self._cached(ep, source)
                if found is None:
                    changed = self._rendered_before(ep, source.fingerprint)
                    with self._render_lock:
                        found = self._render(ep, source)
                    if changed and self.on_render is not None:
                        self.on_render(found)
            except (ExportError, EnvironmentProblem):
                raise
            except VoicecoachError as exc:
                self._problem(eid, exc)
                ep.rendered = None
                raise
            self.problems.pop(eid, None)
            self._forget_old(ep.id, source.fingerprint)
            ep.rendered = found
            return found

    def all(self) -> list[Rendered]:
        """Every episode that renders (Today first); a routine that fails is said through `on_problem` and left out.

        A problem of the machine (the cache cannot be written, no speech engine) stops it all: it is raised.
        """
        out = []
        for eid in self.scan():
            try:
                out.append(self.get(eid))
            except (ExportError, EnvironmentProblem):
                raise
            except VoicecoachError:
                continue
        return out

    def render_missing(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Render every episode not in the cache yet (progress(done, total) after each); return how many."""
        todo = self.missing()
        for done, eid in enumerate(todo, start=1):
            try:
                self.get(eid)
            except (ExportError, EnvironmentProblem):
                raise
            except VoicecoachError:
                pass  # said through on_problem; the others are still served
            if progress is not None:
                progress(done, len(todo))
        return len(todo)

    def missing(self) -> list[str]:
        """The ids whose files are not in the cache yet (what a start will render)."""
        out = []
        for eid in self.scan():
            ep = self.episodes[eid]
            try:
                source = self._source(ep)
            except VoicecoachError as exc:
                self._problem(eid, exc)
                continue
            if self._cached(ep, source) is None:
                out.append(eid)
        return out

    def _problem(self, eid: str, exc: VoicecoachError) -> None:
        line = str(exc)
        if self.problems.get(eid) != line:
            self.problems[eid] = line
            if self.on_problem is not None:
                self.on_problem(exc)

    def _paths(self, eid: str, fingerprint: str) -> dict[str, Path]:
        stem = self.folder / f"{eid}.{fingerprint}"
        return {k: stem.with_name(f"{stem.name}.{suffix}") for k, suffix in
                (("mp3", "mp3"), ("vtt", "vtt"), ("chapters", "chapters.json"), ("timeline", "timeline.json"))}

    def _cached(self, ep: Episode, source: _Source) -> Rendered | None:
        """The files for this fingerprint if all of them are there (the MP3 is written last)."""
        paths = self._paths(ep.id, source.fingerprint)
        if not all(p.is_file() for p in paths.values()):
            return None
        try:
            seconds = json.loads(paths["timeline"].read_text(encoding="utf-8"))
            seconds = seconds["total_samples"] / seconds["sample_rate"]
        except (OSError, ValueError, KeyError, ZeroDivisionError):
            return None
        return Rendered(ep.id, source.title, source.fingerprint, paths["mp3"], paths["vtt"], paths["chapters"],
                        paths["timeline"], seconds, paths["mp3"].stat().st_size,
                        tuple(r.title for r in source.routines), _description(source.routines))

    def _render(self, ep: Episode, source: _Source) -> Rendered:
        from ..export import export_session, write_subtitles, write_timeline_json
        from ..files import write_bytes
        from ..session import prepare_session

        self.check_folder()
        paths = self._paths(ep.id, source.fingerprint)
        sessions = [prepare_session(r, self.options, self.voice_of(r), limit=self.limit) for r in source.routines]
        session = sessions[0] if len(sessions) == 1 else joined(sessions, source.title, TODAY)
        tl = session.timeline
        # side files first, the MP3 last: _cached takes an episode as rendered once its MP3 is there
        write_timeline_json(tl, paths["timeline"])
        write_subtitles(tl, paths["vtt"])
        write_bytes(paths["chapters"], chapters_json(tl))
        export_session(session, paths["mp3"])
        return Rendered(ep.id, source.title, source.fingerprint, paths["mp3"], paths["vtt"], paths["chapters"],
                        paths["timeline"], tl.seconds, paths["mp3"].stat().st_size,
                        tuple(r.title for r in source.routines), _description(source.routines))

    def _rendered_before(self, ep: Episode, fingerprint: str) -> bool:
        """Whether this episode was rendered with other content before (a changed routine, yesterday's Today)."""
        if ep.rendered is not None:
            return ep.rendered.guid != fingerprint
        return any(p.name.split(".")[1:2] != [fingerprint] for p in self.folder.glob(f"{ep.id}.*.mp3"))

    def _forget_old(self, eid: str, fingerprint: str) -> None:
        """Remove this episode's files of other fingerprints (a changed routine, yesterday's Today)."""
        for path in self.folder.glob(f"{eid}.*"):
            if path.name.split(".")[1:2] != [fingerprint]:
                try:
                    path.unlink()
                except OSError:
                    pass  # a file another process holds open: it goes next time


def _there(rendered: Rendered) -> bool:
    return all(p.is_file() for p in (rendered.mp3, rendered.vtt, rendered.chapters, rendered.timeline))


def _description(routines) -> str:
    if len(routines) > 1:
        return "Today's plan: " + ", then ".join(r.title for r in routines) + "."
    return " ".join((routines[0].description or routines[0].title).split())


def chapters_json(timeline) -> bytes:
    """Podcasting 2.0 chapters (application/json+chapters): the ID3 chapters' starts and titles, to the millisecond."""
    from ..chapters import chapter_list
    from ..subtitles import rounded

    rate = timeline.sample_rate
    data = {"version": "1.2.0",
            "chapters": [{"startTime": rounded(c.start_sample, rate, 1000) / 1000, "title": c.title}
                         for c in chapter_list(timeline)]}
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
