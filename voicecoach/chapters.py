"""Chapters and title tags for exported audio: one chapter per step.

MP3 gets ID3v2 CHAP frames under one top-level, ordered CTOC (the ID3 chapter
addendum, read by podcast players), stored in step order; Ogg Vorbis and FLAC get Vorbis comments in
the de-facto CHAPTERnnn / CHAPTERnnnNAME convention. WAV has no chapter
convention players agree on, so it gets none.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mutagen.flac import FLAC
from mutagen.id3 import CHAP, CTOC, ID3, TALB, TIT2, CTOCFlags
from mutagen.oggvorbis import OggVorbis

from voicecoach.subtitles import clock, rounded
from voicecoach.text import one_line
from voicecoach.timeline import Timeline

ALBUM = "voicecoach"


@dataclass(frozen=True)
class Chapter:
    """One step's stretch of the file: [start_sample, end_sample)."""

    title: str
    start_sample: int
    end_sample: int


def chapter_list(timeline: Timeline) -> list[Chapter]:
    """Return one Chapter per step, in order, covering the whole file without gaps.

    A chapter runs from its step's announcement to the next step's announcement
    (the last one to the end). The first starts at 0, so an intro before the
    first step belongs to it and a player's chapter list starts at the start.
    """
    steps = timeline.steps
    out = []
    for i, step in enumerate(steps):
        start = 0 if i == 0 else step.announce_sample
        end = steps[i + 1].announce_sample if i + 1 < len(steps) else timeline.total_samples
        out.append(Chapter(one_line(step.title), start, max(start, end)))
    return out


def vorbis_comments(timeline: Timeline) -> dict[str, str]:
    """Return TITLE, ALBUM and CHAPTER001=HH:MM:SS.mmm / CHAPTER001NAME=title, in that order."""
    comments = {"TITLE": one_line(timeline.title), "ALBUM": ALBUM}
    chapters = chapter_list(timeline)
    width = max(3, len(str(len(chapters))))
    for number, chapter in enumerate(chapters, start=1):
        key = f"CHAPTER{number:0{width}d}"
        comments[key] = clock(chapter.start_sample, timeline.sample_rate)
        comments[key + "NAME"] = chapter.title
    return comments


class _InOrder(ID3):
    """An ID3 tag that stores its frames in the order they were added.

    mutagen stores frames by importance, then by size: a session's CHAP frames
    came out as steps 4, 2, 3, 1, and readers that list chapters as stored
    (ffprobe, some players) listed them so, whatever the CTOC said.
    """

    def _write(self, config):
        from mutagen.id3._tags import save_frame

        return bytearray().join(save_frame(frame, config=config) for frame in self.values())


def id3_tags(timeline: Timeline) -> ID3:
    """Return an ID3 tag: TIT2, TALB, one CTOC and one CHAP per step (with a TIT2 inside), stored in that order."""
    rate = timeline.sample_rate
    tags = _InOrder()
    tags.add(TIT2(encoding=3, text=[one_line(timeline.title)]))
    tags.add(TALB(encoding=3, text=[ALBUM]))
    chapters = chapter_list(timeline)
    ids = [f"chp{number}" for number in range(1, len(chapters) + 1)]
    if ids:
        tags.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=3, text=["Steps"])],
            )
        )
    for element_id, chapter in zip(ids, chapters):
        tags.add(
            CHAP(
                element_id=element_id,
                start_time=rounded(chapter.start_sample, rate, 1000),
                end_time=rounded(chapter.end_sample, rate, 1000),
                # 0xFFFFFFFF: "no byte offset", so players go by the times.
                start_offset=0xFFFFFFFF,
                end_offset=0xFFFFFFFF,
                sub_frames=[TIT2(encoding=3, text=[chapter.title])],
            )
        )
    return tags


def write_tags(path: Path, kind: str | None, timeline: Timeline) -> None:
    """Add the title and chapters of `timeline` to the audio file at `path`, in place.

    kind is "id3" (MP3), "flac", "ogg" (Vorbis comments) or None (nothing to
    write). Raises OSError or mutagen.MutagenError if the file cannot be rewritten.
    """
    if kind == "id3":
        # ID3v2.3: the version every player, old Windows Explorer included, reads.
        id3_tags(timeline).save(path, v2_version=3)
    elif kind in ("flac", "ogg"):
        audio = FLAC(path) if kind == "flac" else OggVorbis(path)
        if audio.tags is None:
            audio.add_tags()
        for key, value in vorbis_comments(timeline).items():
            audio[key] = value
        audio.save()
