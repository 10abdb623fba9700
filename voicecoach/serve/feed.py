"""The podcast feed: RSS 2.0 with the iTunes tags podcast apps read and the Podcasting 2.0 `podcast:` tags.

A small writer on ElementTree rather than a feed library: feedgen has no
`podcast:` namespace, and the whole feed is a channel and a list of items.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
CONTENT_TYPES = {"mp3": "audio/mpeg", "chapters": "application/json+chapters", "vtt": "text/vtt",
                 "feed": "application/rss+xml", "png": "image/png"}

ET.register_namespace("itunes", ITUNES)
ET.register_namespace("podcast", PODCAST)


@dataclass(frozen=True)
class Channel:
    title: str
    link: str  # the web page
    description: str
    image: str  # the cover's URL
    author: str = "voicecoach"
    language: str = "en"


@dataclass(frozen=True)
class Item:
    title: str
    description: str
    guid: str
    published: datetime  # timezone-aware
    audio_url: str
    audio_length: int  # bytes
    seconds: float
    chapters_url: str
    transcript_url: str


def duration(seconds: float) -> str:
    """itunes:duration as H:MM:SS, whole seconds rounded."""
    total = round(seconds)
    return f"{total // 3600}:{total // 60 % 60:02d}:{total % 60:02d}"


def _add(parent: ET.Element, tag: str, content: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    if content is not None:
        node.text = content
    return node


def feed_xml(channel: Channel, items: list[Item]) -> bytes:
    """The feed as UTF-8 XML bytes, items in the order given."""
    rss = ET.Element("rss", {"version": "2.0"})
    ch = _add(rss, "channel")
    _add(ch, "title", channel.title)
    _add(ch, "link", channel.link)
    _add(ch, "description", channel.description)
    _add(ch, "language", channel.language)
    _add(ch, f"{{{ITUNES}}}author", channel.author)
    _add(ch, f"{{{ITUNES}}}summary", channel.description)
    _add(ch, f"{{{ITUNES}}}image", href=channel.image)
    image = _add(ch, "image")
    _add(image, "url", channel.image)
    _add(image, "title", channel.title)
    _add(image, "link", channel.link)
    _add(ch, f"{{{ITUNES}}}explicit", "false")
    _add(ch, f"{{{ITUNES}}}category", None, text="Health & Fitness")
    _add(ch, f"{{{PODCAST}}}locked", "yes")  # nobody may import this feed into a directory
    for item in items:
        it = _add(ch, "item")
        _add(it, "title", item.title)
        _add(it, "description", item.description)
        _add(it, f"{{{ITUNES}}}summary", item.description)
        _add(it, "guid", item.guid, isPermaLink="false")
        _add(it, "pubDate", format_datetime(item.published))
        _add(it, "enclosure", url=item.audio_url, length=str(item.audio_length), type=CONTENT_TYPES["mp3"])
        _add(it, f"{{{ITUNES}}}duration", duration(item.seconds))
        _add(it, f"{{{ITUNES}}}explicit", "false")
        _add(it, f"{{{PODCAST}}}chapters", url=item.chapters_url, type=CONTENT_TYPES["chapters"])
        _add(it, f"{{{PODCAST}}}transcript", url=item.transcript_url, type=CONTENT_TYPES["vtt"], language="en")
    ET.indent(rss)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True) + b"\n"
