"""`voicecoach export` as a user meets it: existing files, bad paths, unwritable folders,
and the words of its messages."""
from __future__ import annotations

import os
import re
import subprocess

import pytest
from typer.testing import CliRunner

from support.routinetexts import TINY, TWO
from voicecoach.cli import app

runner = CliRunner()


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A fresh user: own routine, data, cache and config folders; the working folder is tmp_path."""
    env = {"VOICECOACH_ROUTINES": str(tmp_path / "routines"), "VOICECOACH_DATA": str(tmp_path / "data"),
           "VOICECOACH_CACHE_DIR": str(tmp_path / "cache"), "VOICECOACH_CONFIG": str(tmp_path / "config.yaml")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "two.yaml").write_text(TWO)
    return tmp_path


def export(*args: str):
    return runner.invoke(app, ["export", *args])


def one_error(result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr == f"voicecoach: {text}\n"
    assert result.stdout == ""


def test_an_existing_file_is_kept_unless_force(user):
    (user / "tiny.mp3").write_bytes(b"last week's session")
    one_error(export("tiny.yaml", "-o", "tiny.mp3"),
              "tiny.mp3 exists already; choose another name or pass --force to overwrite it")
    assert (user / "tiny.mp3").read_bytes() == b"last week's session"
    assert not (user / "cache").exists()  # refused before any speech was made
    (user / "tiny.vtt").write_text("WEBVTT\n")
    one_error(export("tiny.yaml", "-o", "new.mp3", "--subtitles", "tiny.vtt"),
              "tiny.vtt exists already; choose another name or pass --force to overwrite it")
    assert not (user / "new.mp3").exists()
    result = export("tiny.yaml", "-o", "tiny.mp3", "--subtitles", "tiny.vtt", "--force")
    assert result.exit_code == 0, result.output
    assert (user / "tiny.mp3").read_bytes()[:3] == b"ID3"
    assert (user / "tiny.vtt").read_text().startswith("WEBVTT\n\n00:00:00.000 -->")


@pytest.mark.parametrize("option,path,why", [
    ("--subtitles", "no/such/tiny.vtt", "cannot write no/such/tiny.vtt: the folder no/such does not exist"),
    ("--timeline", "no/such/tiny.json", "cannot write no/such/tiny.json: the folder no/such does not exist"),
    ("--timeline", "sub", "cannot write sub: it is a folder"),
    ("--timeline", "tiny.mp3", "tiny.mp3 is named twice; give each file its own name"),
    ("--subtitles", "tiny.txt", "'.txt' is not a subtitle format voicecoach writes; choose .vtt, .srt, .lrc"),
])
def test_a_bad_side_file_is_refused_before_anything_is_written(user, option, path, why):
    (user / "sub").mkdir()
    before = sorted(p.name for p in user.iterdir())
    one_error(export("tiny.yaml", "-o", "tiny.mp3", option, path), why)
    assert sorted(p.name for p in user.iterdir()) == before  # no audio, no cache, no hidden files


def test_a_folder_that_takes_no_files_is_named_for_what_it_is(user):
    one_error(export("tiny.yaml", "-o", "/proc/tiny.mp3"), "cannot write /proc/tiny.mp3: no file can be made in /proc")
    one_error(export("--all", "-o", "/proc/phone"), "cannot make the folder /proc/phone: no file can be made in /proc")
    (user / "file").write_text("")
    one_error(export("--all", "-o", "file"), "cannot write into file: it is a file, not a folder")


@pytest.fixture
def read_only_folder(tmp_path):
    """A real read-only file system: a tmpfs mounted read-only (as root, permissions would not stop a write)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a file system needs root (the CI machine runs as root)")
    folder = tmp_path / "ro"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(folder)], check=True)
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_file_system_is_named(user, read_only_folder):
    target = read_only_folder / "tiny.mp3"
    one_error(export("tiny.yaml", "-o", str(target)),
              f"cannot write {target}: {read_only_folder} is on a read-only file system")
    one_error(export("tiny.yaml", "-o", "tiny.mp3", "--subtitles", str(read_only_folder / "t.vtt")),
              f"cannot write {read_only_folder / 't.vtt'}: {read_only_folder} is on a read-only file system")
    assert not (user / "tiny.mp3").exists()


def test_counts_and_articles_read_as_english(user):
    result = export("tiny.yaml", "-o", "tiny.mp3")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"wrote tiny\.mp3 \(\d:\d\d, 1 chapter\)\n", result.stdout)
    result = export("tiny.yaml", "-o", "tiny.wav")
    assert re.fullmatch(r"wrote tiny\.wav \(\d:\d\d, 1 step\)\n", result.stdout)
    result = export("two.yaml", "-o", "two.ogg")
    assert re.fullmatch(r"wrote two\.ogg \(\d:\d\d, 2 chapters\)\n", result.stdout)
    result = export("tiny.yaml", "-o", "tiny.aac")
    assert result.stderr.startswith("voicecoach: '.aac' is not an audio format voicecoach writes")


def test_all_replaces_its_own_files_and_leaves_the_rest(user, monkeypatch):
    """--all fills a folder that is synced to a phone: a second run replaces what the first wrote."""
    import voicecoach.routines

    monkeypatch.setattr(voicecoach.routines, "builtin_ids", lambda: ["kd4"])  # one routine is enough here
    phone = user / "phone"
    phone.mkdir()
    (phone / "notes.txt").write_text("mine")
    for run in range(2):
        result = export("--all", "-o", "phone", "--scale", "0.05")
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[-1] == "wrote phone/voicecoach.m3u (1 routine)"
        if run == 0:
            first = {p.name: p.stat().st_mtime_ns for p in phone.iterdir()}
    assert sorted(p.name for p in phone.iterdir()) == ["kd4.mp3", "kd4.vtt", "notes.txt", "voicecoach.m3u"]
    assert all(phone.joinpath(name).stat().st_mtime_ns > first[name] for name in ("kd4.mp3", "kd4.vtt"))
    assert (phone / "notes.txt").read_text() == "mine"
