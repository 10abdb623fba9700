"""The parts of `voicecoach serve` one at a time, fast: the feed writer, the token, the socket, the
episode table (Today's date, ids, guids), the joined Today session, the cover, the app's 404s, and the
command's one-line errors (which come before anything is rendered)."""
from __future__ import annotations

import asyncio
import io
import os
import socket
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from datetime import date, datetime, timezone

import numpy as np
import pytest

from voicecoach.errors import EnvironmentProblem, InputError
from voicecoach.routines import builtin_ids, routine_ids
from voicecoach.serve import App, Catalogue, bind, lan_address, load_token
from voicecoach.serve.cover import cover_png
from voicecoach.serve.episodes import chapters_json
from voicecoach.serve.today import joined
from voicecoach.serve.feed import Channel, Item, duration, feed_xml
from voicecoach.session import options
from voicecoach.timeline import Event, StepSpan, Timeline

PODCAST = "{https://podcastindex.org/namespace/1.0}"


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("VOICECOACH_ROUTINES", "VOICECOACH_DATA", "VOICECOACH_CACHE_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("VOICECOACH_CONFIG", str(tmp_path / "config" / "config.yaml"))
    return tmp_path


def _item(n: int) -> Item:
    return Item(title=f"Routine {n} & more", description="<b>not markup</b>", guid=f"g{n}",
                published=datetime(2026, 12, 7, 10, n, tzinfo=timezone.utc), audio_url=f"http://h/e/{n}.mp3",
                audio_length=1000 + n, seconds=61.4 + n, chapters_url=f"http://h/e/{n}.chapters.json",
                transcript_url=f"http://h/e/{n}.vtt")


def test_the_feed_writer_is_read_by_podcastparser_and_carries_the_podcast_tags():
    import podcastparser

    body = feed_xml(Channel("voicecoach", "http://h/", "Routines.", "http://h/cover.png"), [_item(1), _item(2)])
    parsed = podcastparser.parse("http://h/feed.xml", io.BytesIO(body))
    assert parsed["title"] == "voicecoach" and parsed["cover_url"] == "http://h/cover.png"
    assert [e["title"] for e in parsed["episodes"]] == ["Routine 2 & more", "Routine 1 & more"]  # newest first
    first = parsed["episodes"][1]
    assert first["guid"] == "g1" and first["total_time"] == 62 and first["description"] == "not markup"  # text, not tags
    assert first["enclosures"] == [{"url": "http://h/e/1.mp3", "file_size": 1001, "mime_type": "audio/mpeg"}]
    items = ET.fromstring(body).findall("./channel/item")
    assert [i.find(f"{PODCAST}chapters").attrib for i in items][0] == {
        "url": "http://h/e/1.chapters.json", "type": "application/json+chapters"}
    assert items[1].find(f"{PODCAST}transcript").attrib == {"url": "http://h/e/2.vtt", "type": "text/vtt",
                                                            "language": "en"}
    assert (duration(59.5), duration(3600 + 62), duration(0)) == ("0:01:00", "1:01:02", "0:00:00")


def test_the_token_is_kept_and_replaced_only_when_asked(home):
    path = home / "config" / "serve-token"
    first = load_token()
    assert len(first) == 22 and path.read_text().strip() == first and path.stat().st_mode & 0o777 == 0o600
    assert load_token() == first
    second = load_token(new=True)
    assert second != first and load_token() == second and len({load_token(new=True) for _ in range(20)}) == 20
    path.write_text("short\n")
    assert load_token() not in ("short", second)


def test_bind_says_in_one_line_when_the_port_is_taken_or_the_address_is_not_this_machines():
    taken = bind("127.0.0.1", 0)
    port = taken.getsockname()[1]
    with pytest.raises(EnvironmentProblem, match=f"port {port} on 127.0.0.1 is in use"):
        bind("127.0.0.1", port)
    taken.close()
    with pytest.raises(InputError, match="^host '198.51.100.77': not an address of this machine"):
        bind("198.51.100.77", 0)  # TEST-NET-2: for documentation, not given to machines
    address = lan_address()
    socket.inet_aton(address)  # an IPv4 address of this machine (it binds)
    bind(address, 0).close()


def _timeline(title: str, total: int, steps: int) -> Timeline:
    spans = tuple(StepSpan(i, f"{title} {i}", None, 100 * i + 10, 100 * i + 20, 100 * i + 90, 0.1)
                  for i in range(steps))
    events = tuple(Event("speech", 100 * i + 10, 5, i, text=f"step {i}") for i in range(steps))
    return Timeline(title.lower(), title, 1000, total, spans, events)


class _Part:
    """A prepared session as far as joining sees it: a timeline and a render of its own samples."""

    def __init__(self, timeline: Timeline, value: float):
        self.timeline, self.value = timeline, value

    def render(self, start: int, n: int) -> np.ndarray:
        assert 0 <= start and start + n <= self.timeline.total_samples
        return np.full(n, self.value, np.float32)


def test_today_joins_sessions_end_to_end_with_steps_and_events_moved():
    a, b = _Part(_timeline("A", 250, 2), 0.25), _Part(_timeline("B", 400, 3), -0.5)
    today = joined([a, b], "Today", "today")
    tl = today.timeline
    assert (tl.title, tl.routine, tl.total_samples) == ("Today", "today", 650)
    assert [s.index for s in tl.steps] == [0, 1, 2, 3, 4]
    assert [s.announce_sample for s in tl.steps] == [10, 110, 260, 360, 460]
    assert [(e.sample, e.step) for e in tl.events] == [(10, 0), (110, 1), (260, 2), (360, 3), (460, 4)]
    block = today.render(200, 100)  # across the seam
    assert block.tolist() == [0.25] * 50 + [-0.5] * 50
    assert len(chapters_json(tl)) > 0 and b'"startTime": 0.36' in chapters_json(tl)


def test_todays_episode_is_new_each_day_and_a_routine_keeps_its_guid(home):
    (home / "voicecoach_routines").mkdir()
    (home / "voicecoach_routines" / "Mine.yaml").write_text("title: Mine\nsteps:\n  - name: Rest\n    duration: 5s\n")
    (home / "voicecoach_routines" / "morning.yaml").write_text("title: Not the built-in\nsteps:\n  - name: R\n"
                                                               "    duration: 5s\n")
    day = [date(2026, 12, 7)]
    catalogue = Catalogue(home / "episodes", lambda r: None, options(scale=0.1), today=lambda: day[0])
    ids = catalogue.scan()
    # one episode per routine id: the user's morning.yaml replaces the built-in morning, as in every command
    assert ids[0] == "today" and "morning" not in ids and ids[-2:] == ["my-mine", "my-morning"]
    assert len(ids) == len(routine_ids()) + 1 and set(ids) - {"today", "my-mine", "my-morning"} <= set(builtin_ids())
    title, guid = catalogue.describe("today")
    assert title == "Today, Monday 7 December 2026"
    day[0] = date(2026, 12, 8)  # midnight: no restart, a new title and guid
    assert catalogue.describe("today")[0] == "Tuesday".join(("Today, ", " 8 December 2026"))
    assert catalogue.describe("today")[1] != guid
    again = Catalogue(home / "episodes", lambda r: None, options(scale=0.1))
    again.scan()
    assert again.describe("kd4") == catalogue.describe("kd4")
    other = Catalogue(home / "episodes", lambda r: None, options(scale=0.2))
    other.scan()
    assert other.describe("kd4")[1] != catalogue.describe("kd4")[1]  # other audio, other guid
    assert catalogue.missing()[:1] == ["today"]  # nothing rendered yet


def test_the_cover_is_a_square_png():
    data = cover_png()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 80_000
    width, height, depth, kind = struct.unpack(">IIBB", data[16:26])
    assert (width, height, depth, kind) == (512, 512, 8, 2)
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    assert len(zlib.decompress(idat)) == 512 * (1 + 512 * 3)


def _ask(app, path: bytes, method: str = "GET") -> tuple[int, bytes]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path.decode("latin-1"), "raw_path": path, "headers": [],
             "query_string": b"", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2), "scheme": "http",
             "http_version": "1.1", "asgi": {"version": "3.0", "spec_version": "2.4"}}  # 2.4: no disconnect to wait for
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_the_app_answers_its_own_names_under_the_token_and_404_to_the_rest(home):
    token = "A" * 22
    app = App(Catalogue(home / "episodes", lambda r: None, options()), token, "http://h/t/AAAA/")
    assert _ask(app, f"/t/{token}/".encode())[0] == 200
    assert _ask(app, f"/t/{token}/page.js".encode())[0] == 200
    assert _ask(app, f"/t/{token}/cover.png".encode(), "HEAD")[0] == 200
    assert _ask(app, f"/t/{token}/".encode(), "POST") == (405, b"")
    for path in (b"/", f"/t/{token[:-1]}B/".encode(), f"/t/{token}".encode(), f"/t/{token}/../".encode(),
                 f"/t/{token}/episodes/nothing.mp3".encode(), f"/t/{token}/%2e%2e/".encode(),
                 f"/t/{token}/\xff".encode("latin-1"), f"/t/{token}/".encode() + b"x" * 300):
        assert _ask(app, path) == (404, b""), path
    for path in (b"/", f"/t/{token[:-1]}B/".encode(), b"/t/" + b"A" * 300 + b"/"):
        assert _ask(app, path, "DELETE") == (404, b""), path  # without the token not even the method is judged


def _cli(env_extra: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICECOACH_")} | env_extra
    return subprocess.run([sys.executable, "-m", "voicecoach", "serve", "--no-qr", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_command_says_each_problem_of_the_start_in_one_line(home, tmp_path):
    env = {k: os.environ[k] for k in ("VOICECOACH_ROUTINES", "VOICECOACH_DATA", "VOICECOACH_CACHE_DIR",
                                      "VOICECOACH_CONFIG")} | {"VOICECOACH_NEURAL": "off"}
    taken = bind("127.0.0.1", 0)
    try:
        port = str(taken.getsockname()[1])
        done = _cli(env, "--host", "127.0.0.1", "--port", port)
        assert (done.returncode, done.stdout) == (3, "")
        assert done.stderr == f"voicecoach: port {port} on 127.0.0.1 is in use by another program; " \
                              "choose another port\n"
        config = tmp_path / "settings" / "config.yaml"  # the config keys are the defaults of --host and --port
        config.parent.mkdir()
        config.write_text(f"serve_host: 127.0.0.1\nserve_port: {port}\n")
        done = _cli(env | {"VOICECOACH_CONFIG": str(config)})
        assert (done.returncode, done.stderr) == (3, f"voicecoach: port {port} on 127.0.0.1 is in use by another "
                                                     "program; choose another port\n")
        config.write_text("serve_port: 70000\n")
        done = _cli(env | {"VOICECOACH_CONFIG": str(config)})
        assert (done.returncode, done.stderr) == (1, f"{config}:1:13: expected a whole number from 0 to 65535 for "
                                                     "serve_port, found the number 70000\n")
    finally:
        taken.close()
    done = _cli(env, "--host", "198.51.100.77", "--port", "0")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("voicecoach: --host '198.51.100.77': not an address of this machine")
    (tmp_path / "a-file").write_text("")
    done = _cli(env | {"VOICECOACH_CACHE_DIR": str(tmp_path / "a-file")}, "--host", "127.0.0.1", "--port", "0")
    assert done.returncode == 3 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"voicecoach: cannot write episodes into {tmp_path / 'a-file' / 'episodes'}: ")


TWO_STEPS = "title: Two Steps\nsteps:\n  - name: Reach\n    duration: 20s\n  - name: Fold\n    duration: 20s\n"


def _espeak(_routine):
    from voicecoach.speech import Voice

    return Voice(engine="pyttsx3", rate=220)


def test_an_episode_whose_files_went_away_is_rendered_again_and_never_answers_500(home):
    (home / "voicecoach_routines").mkdir()
    (home / "voicecoach_routines" / "two.yaml").write_text(TWO_STEPS)
    said = []
    catalogue = Catalogue(home / "episodes", _espeak, options(scale=0.05), on_render=said.append)
    catalogue.scan()
    catalogue.scan = lambda: ["my-two"]  # the feed of this one episode: the built-ins are not what this is about
    first = catalogue.get("my-two")
    first.mp3.unlink()  # someone tidies the cache folder while serve runs
    again = catalogue.get("my-two")
    assert again.mp3.is_file() and again.guid == first.guid
    problems = []
    app = App(catalogue, "A" * 22, "http://h/t/AAAA/", on_error=problems.append)
    for name in ("chapters", "vtt", "mp3"):
        getattr(again, name).unlink()
        suffix = {"chapters": "chapters.json"}.get(name, name)
        status, body = _ask(app, f"/t/{'A' * 22}/episodes/my-two.{suffix}".encode())
        assert status == 200 and body, name
    again = catalogue.get("my-two")
    again.mp3.unlink()
    assert _ask(app, f"/t/{'A' * 22}/feed.xml".encode())[0] == 200
    catalogue.get("my-two").mp3.unlink()
    assert _ask(app, f"/t/{'A' * 22}/episodes.json".encode())[0] == 200
    assert problems == [] and said == []  # made again, not changed: nothing to say
    (home / "voicecoach_routines" / "two.yaml").write_text(TWO_STEPS.replace("Fold", "Fold down"))
    changed = catalogue.get("my-two")
    assert said == [changed] and changed.guid != first.guid


def test_the_voice_is_chosen_from_the_config_read_once_and_says_nothing_in_a_worker(home, capsys):
    import threading

    from voicecoach.config import load_config
    from voicecoach.routines import load_text
    from voicecoach.settings import resolve

    config = home / "config" / "config.yaml"
    config.parent.mkdir()
    config.write_text("rate: 150\nengine: command\ntts_command: espeak-ng -w {out} {text}\nduck: 9\n")
    settings = resolve(load_config(), {"rate": 200}, labels={"rate": "--rate"})
    pick, bed = settings.voice_of, settings.to_bed()
    assert bed.duck_db == 9
    config.write_text("rate: [not a number\n")  # serve reads it at start only: no episode reads it again
    got = []
    worker = threading.Thread(target=lambda: got.append(pick(load_text(TWO_STEPS))))
    worker.start()
    worker.join()
    assert (got[0].engine, got[0].rate) == ("command", 200) and got[0].command[0] == "espeak-ng"
    assert got[0].note == pick(None).note and "{rate}" in got[0].note  # the note travels, for the main thread to say
    assert capsys.readouterr() == ("", "")
