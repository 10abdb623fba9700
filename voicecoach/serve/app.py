"""The HTTP side: one ASGI app answering GET and HEAD under `/t/<token>/`, with Starlette's responses.

No path from a request is ever joined to a folder: the part after the token is
looked up in a table of names this server made (the page's files, the feed,
the cover, and each episode's MP3, chapters and transcript), so `..`,
`%2e%2e`, absolute paths, symlinks and overlong paths are simply not in it and
answer 404, as every path without the token does, with an empty body.
Starlette's FileResponse answers Range (206), HEAD and Content-Length; the
conditional answers (304) are checked here, from the ETag and Last-Modified
the responses carry.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from importlib import resources

from ..errors import EnvironmentProblem, ExportError, VoicecoachError
from .cover import cover_png
from .episodes import TODAY
from .feed import CONTENT_TYPES, Channel, Item, feed_xml

MAX_PATH = 200  # bytes: the longest name here is under 90; anything longer is not ours
STATIC = {"": ("index.html", "text/html; charset=utf-8"), "page.css": ("page.css", "text/css; charset=utf-8"),
          "page.js": ("page.js", "text/javascript; charset=utf-8")}
EPISODE_FILES = {"mp3": ("mp3", CONTENT_TYPES["mp3"]), "chapters.json": ("chapters", CONTENT_TYPES["chapters"]),
                 "vtt": ("vtt", CONTENT_TYPES["vtt"] + "; charset=utf-8")}


@dataclass(frozen=True)
class Download:
    """One download of an episode, for the terminal's line: who, what, how many bytes."""

    client: str
    title: str
    size: int


def _static(name: str) -> bytes:
    return resources.files("voicecoach.serve").joinpath("static", name).read_bytes()


def _not_modified(request_headers, etag: str, last_modified: str) -> bool:
    """RFC 9110's order: If-None-Match decides when present, else If-Modified-Since."""
    if_none_match = request_headers.get("if-none-match")
    if if_none_match:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    since = request_headers.get("if-modified-since")
    if since:
        try:
            return parsedate_to_datetime(since) >= parsedate_to_datetime(last_modified)
        except (TypeError, ValueError):
            return False
    return False


class App:
    """The ASGI app. `catalogue` is an episodes.Catalogue; `base` the URL of the page (ends with the token and /)."""

    def __init__(self, catalogue, token: str, base: str, on_download: Callable[[Download], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None):
        self.catalogue = catalogue
        self.token = token.encode("ascii")
        self.base = base
        self.on_download = on_download
        self.on_error = on_error
        self._static = {name: _static(file) for name, (file, _) in STATIC.items()}

    async def __call__(self, scope, receive, send) -> None:
        from starlette.responses import Response

        if scope["type"] != "http":
            return  # lifespan is off; websockets are not served
        name = self._name(scope)
        if name is None:
            response = Response(status_code=404)
        elif scope["method"] not in ("GET", "HEAD"):
            response = Response(status_code=405, headers={"allow": "GET, HEAD"})
        else:
            try:
                response = await self._answer(scope, name)
            except Exception as exc:  # a bug: one line on the terminal (through on_error), 500 to the phone
                if self.on_error is not None:
                    self.on_error(exc)
                response = Response(status_code=500)
        await response(scope, receive, send)

    def _name(self, scope) -> str | None:
        """The name after `/t/<token>/` when the token is right, else None (the answer is then 404)."""
        raw = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
        if len(raw) > MAX_PATH or not raw.startswith(b"/t/"):
            return None
        token, slash, rest = raw[3:].partition(b"/")
        if not slash or not secrets.compare_digest(token, self.token):
            return None
        try:
            return rest.decode("ascii")
        except UnicodeDecodeError:
            return None

    async def _answer(self, scope, name: str):
        from starlette.datastructures import Headers
        from starlette.responses import Response

        headers = Headers(scope=scope)
        try:
            try:
                return await self._answer_once(scope, headers, name)
            except FileNotFoundError:
                # a file removed from the cache folder between the look and the read: the next look
                # (Catalogue.get checks the files) makes it again
                return await self._answer_once(scope, headers, name)
        except FileNotFoundError:
            return Response(status_code=503, headers={"retry-after": "10"})
        except VoicecoachError as exc:
            if self.on_error is not None:
                self.on_error(exc)
            return Response(status_code=503, headers={"retry-after": "10"})

    async def _answer_once(self, scope, headers, name: str):
        from starlette.responses import Response

        if name in STATIC:
            return self._bytes(headers, self._static[name], STATIC[name][1], None)
        if name == "cover.png":
            return self._bytes(headers, cover_png(), CONTENT_TYPES["png"], None)
        if name == "feed.xml":
            episodes = await self._all()
            return self._bytes(headers, self._feed(episodes), CONTENT_TYPES["feed"] + "; charset=utf-8",
                               _newest(episodes))
        if name == "episodes.json":
            episodes = await self._all()
            return self._bytes(headers, self._listing(episodes), "application/json", _newest(episodes))
        if name.startswith("episodes/"):
            return await self._episode(scope, headers, name.removeprefix("episodes/"))
        return Response(status_code=404)

    async def _all(self):
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.catalogue.all)

    async def _episode(self, scope, headers, rest: str):
        import anyio.to_thread
        from starlette.responses import FileResponse, Response
        from starlette.staticfiles import NotModifiedResponse

        eid, dot, suffix = rest.partition(".")
        if not dot or suffix not in EPISODE_FILES or eid not in self.catalogue.episodes:
            return Response(status_code=404)
        try:
            found = await anyio.to_thread.run_sync(self.catalogue.get, eid)
        except KeyError:  # the routine's file went away since the table was made
            return Response(status_code=404)
        except (ExportError, EnvironmentProblem):
            raise  # the machine's problem: said on the terminal, 503 (see _answer)
        except VoicecoachError:
            return Response(status_code=404)  # a routine that fails to load: said on the terminal when found
        field, media_type = EPISODE_FILES[suffix]
        path = getattr(found, field)
        response = FileResponse(path, media_type=media_type, stat_result=os.stat(path),
                                content_disposition_type="inline", filename=f"{eid}.{suffix}")
        if _not_modified(headers, response.headers["etag"], response.headers["last-modified"]):
            return NotModifiedResponse(response.headers)
        if field == "mp3" and scope["method"] == "GET" and self.on_download is not None:
            wanted = headers.get("range", "bytes=0-").replace(" ", "")
            if wanted.startswith("bytes=0-"):  # a player's later range requests are the same download
                client = scope.get("client") or ("?", 0)
                self.on_download(Download(client[0], found.title, found.size))
        return response

    def _bytes(self, headers, body: bytes, media_type: str, modified: datetime | None):
        from starlette.responses import Response
        from starlette.staticfiles import NotModifiedResponse

        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        last = format_datetime(modified or _STARTED, usegmt=True)
        response = Response(body, media_type=media_type,
                            headers={"etag": etag, "last-modified": last, "cache-control": "no-cache"})
        if _not_modified(headers, etag, last):
            return NotModifiedResponse(response.headers)
        return response

    # ------------------------------------------------------------------ bodies

    def _urls(self, eid: str) -> dict[str, str]:
        return {field: f"{self.base}episodes/{eid}.{suffix}" for suffix, (field, _) in EPISODE_FILES.items()}

    def _feed(self, episodes) -> bytes:
        channel = Channel(title="voicecoach", link=self.base, image=self.base + "cover.png",
                          description="Voice-guided routines from voicecoach on your computer: today's plan "
                                      "and every routine, with a chapter per step.")
        items = []
        made = {ep.id: datetime.fromtimestamp(int(ep.mp3.stat().st_mtime), timezone.utc) for ep in episodes}
        # Apps list a feed newest first: Today is dated a second after the newest routine, so it stays on top
        newest = max(made.values(), default=_STARTED) + timedelta(seconds=1)
        for ep in episodes:
            urls = self._urls(ep.id)
            items.append(Item(title=ep.title, description=ep.description or ep.title, guid=ep.guid,
                              published=max(newest, made[ep.id]) if ep.id == TODAY else made[ep.id],
                              audio_url=urls["mp3"], audio_length=ep.size, seconds=ep.seconds,
                              chapters_url=urls["chapters"], transcript_url=urls["vtt"]))
        return feed_xml(channel, items)

    def _listing(self, episodes) -> bytes:
        """The page's list: each episode with its chapters inline (one request for the whole page)."""
        out = []
        for ep in episodes:
            chapters = json.loads(ep.chapters.read_text(encoding="utf-8"))["chapters"]
            out.append({"id": ep.id, "title": ep.title, "seconds": ep.seconds, "audio": f"episodes/{ep.id}.mp3",
                        "routines": list(ep.routine_titles), "chapters": chapters})
        return json.dumps({"episodes": out}, ensure_ascii=False).encode("utf-8")


_STARTED = datetime.now(timezone.utc).replace(microsecond=0)


def _newest(episodes) -> datetime:
    times = [ep.mp3.stat().st_mtime for ep in episodes]
    return datetime.fromtimestamp(max(times), timezone.utc).replace(microsecond=0) if times else _STARTED
