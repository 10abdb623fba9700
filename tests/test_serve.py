"""`voicecoach serve` end to end: one real server (a subprocess on loopback, fresh home), read by real clients.

The feed by gPodder's podcastparser and by ElementTree, the MP3s by mutagen and
ffprobe, HTTP by http.client (which sends a path exactly as given), and the page
by Debian's Chromium through Playwright. Every built-in routine is an episode,
so the server renders them all once at start (at --scale 0.05, with espeak-ng).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from voicecoach import routines as rt
from voicecoach.routines import builtin_ids

pytestmark = pytest.mark.slow

SCALE = "0.05"
PODCAST = "{https://podcastindex.org/namespace/1.0}"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
TINY = """title: Tiny Check
description: A two-step routine of the user's own.
steps:
  - name: Reach up
    duration: 20s
    say: Reach both arms up.
  - name: Fold down
    duration: 20s
    say: Fold forward slowly.
"""
BROKEN = "title: Broken\nsteps:\n  - name: Nothing\n    duration: soon\n"


def user_env(home: Path) -> dict[str, str]:
    """The inherited environment without any voicecoach or XDG folder: everything lands under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOICECOACH_", "XDG_"))}
    return env | {"HOME": str(home), "VOICECOACH_NEURAL": "off", "LC_ALL": "C.UTF-8"}


class Server:
    """The `voicecoach serve` subprocess, its printed URLs, and every line it prints after them."""

    def __init__(self, home: Path, *args: str):
        self.home = home
        self.env = user_env(home)
        self.proc = subprocess.Popen([sys.executable, "-m", "voicecoach", "serve", "--host", "127.0.0.1", "--port",
                                      "0", "--scale", SCALE, *args], env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=home)
        self.lines: list[str] = []
        self.err: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True).start()
        if not self._ready.wait(900):
            raise AssertionError(f"no URLs after 900 s: {self.lines} {self.err}")
        if self.proc.poll() is not None:
            raise AssertionError(f"serve ended ({self.proc.returncode}): {self.err}")
        self.page = self.lines[0].removeprefix("Page: ")
        self.feed = self.lines[1].removeprefix("Feed: ")
        self.host, self.port = urlsplit(self.page).hostname, urlsplit(self.page).port
        self.token = urlsplit(self.page).path.split("/")[2]

    def _read(self, stream, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))
            if line.startswith("Feed: "):
                self._ready.set()
        self._ready.set()

    def wait_for(self, pattern: str, timeout: float = 10.0) -> str:
        """The first line printed that matches `pattern` (a regular expression), waiting for it up to `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if re.fullmatch(pattern, line):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no line like {pattern!r} in {self.lines}")

    def request(self, path: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict, bytes]:
        """One request with the path sent exactly as given (no normalizing); (status, headers, body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for key, value in (headers or {}).items():
                conn.putheader(key, value)
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def get(self, name: str, **kw) -> tuple[int, dict, bytes]:
        return self.request(f"/t/{self.token}/{name}", **kw)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    routines = home / ".config" / "voicecoach" / "routines"
    routines.mkdir(parents=True)
    (routines / "tiny.yaml").write_text(TINY)
    (routines / "broken.yaml").write_text(BROKEN)
    srv = Server(home)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def feed(server):
    import podcastparser

    status, headers, body = server.get("feed.xml")
    assert status == 200 and headers["content-type"].startswith("application/rss+xml")
    parsed = podcastparser.parse(server.feed, __import__("io").BytesIO(body))
    return body, parsed


def episode_ids(server) -> list[str]:
    return ["today", *builtin_ids(), "my-tiny"]


def cached(server, eid: str, suffix: str) -> Path:
    [path] = (server.home / ".cache" / "voicecoach" / "episodes").glob(f"{eid}.*.{suffix}")
    return path


def test_prints_the_page_the_feed_and_a_qr_code_and_names_the_routine_that_failed(server):
    assert re.fullmatch(r"Page: http://127\.0\.0\.1:\d+/t/[A-Za-z0-9_-]{22}/", server.lines[0])
    assert server.lines[1] == "Feed: " + server.page + "feed.xml"
    bottom = server.wait_for("▀+")  # the QR code's last row: half blocks only
    qr = server.lines[2:server.lines.index(bottom) + 1]
    assert len(qr) > 10 and all(set(line) <= set("█▀▄ ") for line in qr)
    token_file = server.home / ".config" / "voicecoach" / "serve-token"
    assert token_file.read_text().strip() == server.token and token_file.stat().st_mode & 0o777 == 0o600
    broken = [line for line in server.err if "broken.yaml" in line]
    assert len(broken) == 1 and re.search(r"broken\.yaml:4:\d+: ", broken[0]), server.err
    assert not any("Traceback" in line for line in server.err)


def test_the_feed_has_today_first_then_every_routine_with_exact_enclosures(server, feed):
    body, parsed = feed
    episodes = parsed["episodes"]
    assert [e["title"] for e in episodes][0].startswith("Today, ")
    root = ET.fromstring(body)
    items = root.findall("./channel/item")
    assert len(items) == len(episodes) == len(episode_ids(server))
    assert [urlsplit(i.find("enclosure").get("url")).path.split("/")[-1] for i in items] == \
        [f"{eid}.mp3" for eid in episode_ids(server)]
    assert root.find(f"./channel/{ITUNES}category").get("text") == "Health & Fitness"
    assert root.find(f"./channel/{ITUNES}explicit").text == "false"
    assert parsed["cover_url"].endswith("/cover.png")
    status, headers, cover = server.request(urlsplit(parsed["cover_url"]).path)
    assert status == 200 and headers["content-type"] == "image/png" and cover[:8] == b"\x89PNG\r\n\x1a\n"
    guids = [e["guid"] for e in episodes]
    assert len(set(guids)) == len(guids)
    for episode, item in zip(episodes, items):
        [enclosure] = episode["enclosures"]
        assert enclosure["mime_type"] == "audio/mpeg"
        status, headers, data = server.request(urlsplit(enclosure["url"]).path)
        assert status == 200 and headers["content-type"] == "audio/mpeg"
        assert enclosure["file_size"] == len(data) == int(headers["content-length"])
        assert episode["total_time"] > 0
        chapters = item.find(f"{PODCAST}chapters")
        transcript = item.find(f"{PODCAST}transcript")
        assert chapters.get("type") == "application/json+chapters" and transcript.get("type") == "text/vtt"
        status, headers, _ = server.request(urlsplit(chapters.get("url")).path, method="HEAD")
        assert status == 200 and headers["content-type"] == "application/json+chapters"


def _ffprobe_chapters(path: Path) -> list[tuple[float, str]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_chapters", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    # ffprobe lists the CHAP frames in the order they sit in the file (mutagen writes them sorted by
    # their ids: chp1, chp10, chp2 ...); players order them by the CTOC or by time
    return sorted((float(c["start_time"]), c["tags"]["title"]) for c in json.loads(out)["chapters"])


@pytest.mark.parametrize("eid", ["today", "morning", "my-tiny"])
def test_mp3_chapters_equal_the_json_chapters_and_the_timelines_step_starts(server, tmp_path, eid):
    from mutagen.id3 import ID3

    status, _, data = server.get(f"episodes/{eid}.mp3")
    assert status == 200
    mp3 = tmp_path / f"{eid}.mp3"
    mp3.write_bytes(data)
    status, headers, body = server.get(f"episodes/{eid}.chapters.json")
    assert status == 200 and headers["content-type"] == "application/json+chapters"
    chapters = [(c["startTime"], c["title"]) for c in json.loads(body)["chapters"]]
    timeline = json.loads(cached(server, eid, "timeline.json").read_text())
    rate = timeline["sample_rate"]
    steps = timeline["steps"]
    titles = [f"{s['name']} ({s['side']})" if s["side"] else s["name"] for s in steps]
    starts = [0] + [round(s["announce_sample"] * 1000 / rate) for s in steps[1:]]  # the first chapter holds the intro
    assert [round(t * 1000) for t, _ in chapters] == starts and [t for _, t in chapters] == titles
    tags = ID3(mp3)
    [toc] = tags.getall("CTOC")
    frames = [tags[f"CHAP:{cid}"] for cid in toc.child_element_ids]
    assert [(f.start_time, f.sub_frames["TIT2"].text[0]) for f in frames] == list(zip(starts, titles))
    probed = _ffprobe_chapters(mp3)
    assert [t for _, t in probed] == titles
    assert all(abs(p - s / 1000) < 0.0015 for (p, _), s in zip(probed, starts))
    if eid == "today":  # the day's routines one after another (the server's home has the built-in schedule)
        from voicecoach.practice.plan import todays_plan
        from voicecoach.practice.schedule import builtin_path, load_schedule
        from voicecoach.routines.model import expand

        plan = todays_plan(date.today(), load_schedule(builtin_path()))
        assert len(steps) == sum(len(expand(rt.load(rid))) for rid in plan)


def test_the_transcript_is_webvtt(server):
    status, headers, body = server.get("episodes/morning.vtt")
    assert status == 200 and headers["content-type"].startswith("text/vtt")
    text = body.decode("utf-8")
    assert text.startswith("WEBVTT\n\n")
    cues = text.split("\n\n")[1:]
    stamp = r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)"
    last = -1.0
    for cue in filter(None, (c.strip() for c in cues)):
        timing, *words = cue.split("\n")
        m = re.fullmatch(f"{stamp} --> {stamp}", timing)
        assert m and words and all(words), cue
        h1, m1, s1, f1, h2, m2, s2, f2 = map(int, m.groups())
        start, end = h1 * 3600 + m1 * 60 + s1 + f1 / 1000, h2 * 3600 + m2 * 60 + s2 + f2 / 1000
        assert last <= start < end
        last = start
    assert len(cues) > 5


def test_an_episode_is_the_file_export_writes_byte_for_byte(server, tmp_path):
    out = tmp_path / "morning.mp3"
    done = subprocess.run([sys.executable, "-m", "voicecoach", "export", "morning", "-o", str(out), "--scale", SCALE],
                          env=server.env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    status, _, data = server.get("episodes/morning.mp3")
    assert status == 200 and data == out.read_bytes()


def test_ranges_head_and_conditional_answers(server):
    whole = cached(server, "morning", "mp3").read_bytes()
    status, headers, body = server.get("episodes/morning.mp3", headers={"Range": "bytes=1000-4999"})
    assert status == 206 and body == whole[1000:5000]
    assert headers["content-range"] == f"bytes 1000-4999/{len(whole)}" and headers["content-length"] == "4000"
    status, headers, body = server.get("episodes/morning.mp3", headers={"Range": "bytes=-100"})
    assert status == 206 and body == whole[-100:]
    status, headers, body = server.get("episodes/morning.mp3", method="HEAD")
    assert (status, body, headers["content-length"], headers["accept-ranges"]) == (200, b"", str(len(whole)), "bytes")
    for name in ("episodes/morning.mp3", "feed.xml", "", "page.js", "cover.png", "episodes/morning.vtt"):
        status, headers, _ = server.get(name)
        assert status == 200 and headers["etag"] and headers["last-modified"], name
        assert server.get(name, headers={"If-None-Match": headers["etag"]})[0] == 304, name
        assert server.get(name, headers={"If-Modified-Since": headers["last-modified"]})[0] == 304, name
        assert server.get(name, headers={"If-None-Match": '"other"'})[0] == 200, name
    assert server.get("")[1]["content-type"] == "text/html; charset=utf-8"


def test_without_the_token_or_with_a_path_not_its_own_everything_is_404(server):
    t = server.token
    cache = server.home / ".cache" / "voicecoach" / "episodes"
    (cache / "evil.mp3").symlink_to("/etc/passwd")
    (cache / "evil.1.mp3").symlink_to("/etc/passwd")
    paths = ["/", "/feed.xml", "/t/", f"/t/{t}", f"/t/{t[:-1]}/feed.xml", f"/t/{t}x/feed.xml", f"/t/{t.upper()}/",
             f"/t/{t}/../t/{t}/feed.xml", f"/t/{t}/episodes/../feed.xml", f"/t/{t}/episodes/%2e%2e/feed.xml",
             f"/t/{t}/%2e%2e/%2e%2e/etc/passwd", f"/t/{t}/..%2f..%2fetc%2fpasswd", f"/t/{t}//etc/passwd",
             f"/t/{t}/episodes//etc/passwd", f"/t/{t}/episodes/morning.mp3/../../feed.xml", f"/t/{t}/episodes/evil.mp3",
             f"/t/{t}/episodes/evil.1.mp3", f"/t/{t}/episodes/morning", f"/t/{t}/episodes/morning.wav",
             f"/t/{t}/episodes/morning.timeline.json", f"/t/{t}/feed.xml/", f"/t/{t}/%66eed.xml",
             f"/t/{t}/static/page.js", f"/t/{t}/index.html", f"/t/{t}/" + "a" * 5000, "/" + "../" * 40 + "etc/passwd",
             f"/t/{t}/episodes/" + "../" * 20 + "etc/passwd"]
    for path in paths:
        status, headers, body = server.request(path)
        assert (status, body) == (404, b""), path
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        assert server.request(f"/t/{t}/feed.xml", method=method)[0] == 405, method
        assert server.request("/t/nothing/feed.xml", method=method)[:3:2] == (404, b""), method


def test_twenty_concurrent_downloads_are_byte_identical(server):
    whole = cached(server, "today", "mp3").read_bytes()
    with ThreadPoolExecutor(20) as pool:
        got = list(pool.map(lambda _: server.get("episodes/today.mp3"), range(20)))
    assert [status for status, _, _ in got] == [200] * 20
    assert {hashlib.sha256(body).hexdigest() for _, _, body in got} == {hashlib.sha256(whole).hexdigest()}
    pattern = re.compile(r"\d\d:\d\d:\d\d 127\.0\.0\.1 Today, .* \(\d+\.\d MB\)")
    deadline = time.monotonic() + 10  # the lines are printed as each answer starts: all there by now, bar a busy machine
    while sum(bool(pattern.fullmatch(line)) for line in list(server.lines)) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(bool(pattern.fullmatch(line)) for line in list(server.lines)) >= 20


def test_a_changed_routine_is_rendered_again_once_for_ten_requests_at_once(server):
    before = [e for e in __import__("podcastparser").parse(server.feed, __import__("io").BytesIO(
        server.get("feed.xml")[2]))["episodes"] if e["title"] == "Tiny Check"][0]
    routine = server.home / ".config" / "voicecoach" / "routines" / "tiny.yaml"
    routine.write_text(TINY.replace("Reach both arms up.", "Reach both arms up high."))
    said = len(server.lines)
    with ThreadPoolExecutor(10) as pool:
        got = list(pool.map(lambda n: server.get("feed.xml" if n % 2 else "episodes/my-tiny.mp3"), range(10)))
    assert [status for status, _, _ in got] == [200] * 10
    assert len({body for status, _, body in got[1::2]}) == 1  # every feed answer the same
    after = [e for e in __import__("podcastparser").parse(server.feed, __import__("io").BytesIO(got[1][2]))[
        "episodes"] if e["title"] == "Tiny Check"][0]
    assert after["guid"] != before["guid"]
    mp3 = cached(server, "my-tiny", "mp3")  # exactly one: the old files are gone
    assert all(body == mp3.read_bytes() for _, _, body in got[0::2])
    assert after["enclosures"][0]["file_size"] == mp3.stat().st_size
    again = [line for line in server.lines[said:] if line.startswith("rendered ")]
    assert again == ["rendered Tiny Check again: it changed"]
    assert server.get("feed.xml")[2] == got[1][2]  # nothing changed since: not rendered again

def test_silent_or_slow_clients_cannot_hold_the_server(server):
    from voicecoach.serve.server import HEAD_TIMEOUT, MAX_CONNECTIONS

    import socket

    held = [socket.create_connection((server.host, server.port)) for _ in range(MAX_CONNECTIONS + 12)]
    try:
        for sock in held[::2]:
            sock.sendall(b"GET /t/" + server.token.encode() + b"/feed.xml HTTP/1.1\r\nHost: x\r\n")  # half a head
        time.sleep(0.5)
        assert server.get("feed.xml")[0] == 503  # the cap: more connections than it serves at once
        began = time.monotonic()
        while server.get("feed.xml")[0] != 200:
            assert time.monotonic() - began < HEAD_TIMEOUT + 30, "the silent connections still hold the server"
            time.sleep(1)
        for sock in held:  # every one of them closed by the server
            sock.settimeout(5)
            try:
                assert sock.recv(100) == b""
            except ConnectionResetError:
                pass
    finally:
        for sock in held:
            sock.close()


CAPTURE_HANDLERS = """
window.__handlers = {};
if (navigator.mediaSession) {
  const set = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession);
  navigator.mediaSession.setActionHandler = (action, handler) => { window.__handlers[action] = handler; set(action, handler); };
}
"""


def test_the_page_plays_in_chromium_with_chapters_and_the_media_session(server, tmp_path):
    from playwright.sync_api import sync_playwright

    chapters = json.loads(server.get("episodes/morning.chapters.json")[2])["chapters"]
    asked: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                          is_mobile=True, has_touch=True)
            page = context.new_page()
            page.on("request", lambda r: asked.append(r.url))
            page.add_init_script(CAPTURE_HANDLERS)
            page.goto(server.page)
            rows = page.locator("#episodes button")
            rows.nth(len(episode_ids(server)) - 1).wait_for(timeout=60_000)
            assert rows.count() == len(episode_ids(server))
            assert rows.first.get_attribute("data-id") == "today" and rows.first.inner_text().startswith("Today, ")
            page.locator('#episodes button[data-id="morning"]').click()
            page.wait_for_function("() => { const a = document.getElementById('audio');"
                                   " return !a.paused && a.currentTime > 0.5; }", timeout=30_000)
            items = page.locator("#chapters li button")
            assert items.count() == len(chapters)
            assert [items.nth(i).locator("span").first.inner_text() for i in range(items.count())] == \
                [c["title"] for c in chapters]
            assert page.locator("#chapters button.current").inner_text().startswith(chapters[0]["title"])
            page.screenshot(path=str(tmp_path / "page-phone.png"), full_page=False)
            assert page.evaluate("navigator.mediaSession.metadata.title") == chapters[0]["title"]

            def now() -> float:
                return page.evaluate("document.getElementById('audio').currentTime")

            items.nth(2).tap()
            page.wait_for_function(f"() => navigator.mediaSession.metadata.title === {json.dumps(chapters[2]['title'])}")
            assert chapters[2]["startTime"] - 0.01 <= now() < chapters[2]["startTime"] + 2.0
            assert page.locator("#chapters button.current").inner_text().startswith(chapters[2]["title"])
            meta = page.evaluate("({album: navigator.mediaSession.metadata.album,"
                                 " art: navigator.mediaSession.metadata.artwork.map(a => a.src)})")
            assert meta == {"album": "3-Minute Morning Pain Prevention Routine", "art": [server.page + "cover.png"]}
            assert {"play", "pause", "seekbackward", "seekforward", "previoustrack", "nexttrack"} <= set(
                page.evaluate("Object.keys(window.__handlers)"))
            page.evaluate("window.__handlers.nexttrack({action: 'nexttrack'})")
            page.wait_for_function(f"() => navigator.mediaSession.metadata.title === {json.dumps(chapters[3]['title'])}")
            assert chapters[3]["startTime"] - 0.01 <= now() < chapters[3]["startTime"] + 2.0
            page.wait_for_function(f"() => document.getElementById('audio').currentTime > "
                                   f"{chapters[3]['startTime'] + 0.5}", timeout=30_000)  # and it plays on
            page.screenshot(path=str(tmp_path / "page-phone-step.png"), full_page=False)
        finally:
            browser.close()
    assert asked and all(url.startswith(server.page) for url in asked), asked  # nothing from the internet


def test_ctrl_c_stops_the_server_with_exit_0(server):
    assert server.stop() == 0
    assert server.lines[-1] == "Stopped."
    assert not any("Traceback" in line for line in server.err), server.err
