"""What happens inside one timed interval: cues, halfway, breathing and the countdown, placed on the clock.

Pure, and part of the timeline's compile (timeline.py walks the steps; this
fills each step's interval [start, end) and enforces the cue rules there).
"""
from __future__ import annotations

from .clock import Clock, Event
from .duration import samples
from .text import quote
from .wording import BREATH_FIELDS, BREATH_TONES, BREATH_WORDS, Turn


def _offset(cue, n: int, scale: float, rate: int) -> int:
    if cue.anchor == "share":
        return round(cue.offset * n)
    off = samples(cue.offset * scale, rate)
    return n - off if cue.anchor == "end" else off


def fill(clock: Clock, turn: Turn, countdown: int, start: int, end: int, scale: float, gap: int,
         chimes: dict[str, str], opening: str, problems: list | None = None) -> None:
    """Cues, halfway, breathing and countdown inside one timed interval [start, end).

    `countdown` is the routine's (a step's own wins), `scale` the session's time scale, `gap`
    the silence between phrases in samples, `opening` the chime that rings at `start`.

    The chime that opens the interval is kept clear of speech, so the listener (and
    a detector) hears its attack cleanly: cues over it are errors, breath cues dropped.
    """
    rate, n, step, index = clock.rate, end - start, turn.exp.step, turn.index
    count = step.countdown if step.countdown is not None else countdown
    ticks = [end - k * rate for k in range(count, 0, -1) if end - k * rate > start]
    # spoken words must be over before the first tick (or the end when there is no countdown)
    limit = max(start, end - count * rate) if count else end
    where_end = "the countdown" if count else "the end of the interval"

    # The routine as written must fit (an error names the line). A session scaled
    # with --scale drops what no longer fits instead: the author's routine was valid.
    strict = scale == 1.0

    def refuse(where, message: str) -> None:
        if strict and problems is not None:
            problems.append(where.error(message))
        elif strict:
            raise where.error(message)

    def fits(label: str, at: int, length: int, where) -> bool:
        if at + length <= limit:
            return True
        refuse(where, f"{label} takes {length / rate:.1f} s to say from {(at - start) / rate:.1f} s and would run "
                      f"past {where_end} at {(limit - start) / rate:.1f} s of this {n / rate:g} s interval; "
                      "say it earlier or shorten it")
        return False

    fixed: list[tuple[int, int, object, str, Event]] = []  # (at, end, where, label, event)
    if turn.rest_words is not None:
        text = turn.rest_words
        at = start + clock.sound_len[opening] + gap
        length = clock.speech[text]
        if at + length <= limit:  # generated words: a rest too short for them stays silent
            fixed.append((at, at + length, None, text, Event("speech", at, length, index, text=text, role="rest")))
    for cue, text in turn.cues:
        off = _offset(cue, n, scale, rate)
        if not 0 <= off < n:
            refuse(cue.where, f"this cue at {off / rate:g} s falls outside the {n / rate:g} s interval; "
                              "expected an offset inside it")
            continue
        at = start + off
        if text is not None:
            length = clock.speech[text]
            if fits(f"the cue {quote(text, 80)}", at, length, cue.where):
                fixed.append((at, at + length, cue.where, f"the cue {quote(text, 80)}",
                              Event("speech", at, length, index, text=text, role="cue")))
        else:
            length = clock.sound_len[cue.sound]
            fixed.append((at, at + length, cue.where, f"the sound {quote(cue.sound)}",
                          Event("sound", at, length, index, sound=cue.sound, role="cue")))
    if turn.halfway is not None:
        at = start + n // 2
        event = None
        if isinstance(turn.halfway, str):
            text = turn.halfway
            length = clock.speech[text]
            if fits(f"the halfway words {quote(text, 80)}", at, length, step.where):
                event = Event("speech", at, length, index, text=text, role="halfway")
        else:
            event = Event("chime", at, clock.sound_len[chimes["halfway"]], index, sound=chimes["halfway"],
                          role="halfway")
        if event is not None:
            fixed.append((at, event.end, step.where, "the halfway cue", event))
    fixed.append((start, start + clock.sound_len[opening], None, "the start chime", None))
    fixed.sort(key=lambda f: (f[0], f[4] is not None))
    kept = fixed[:1]
    for after in fixed[1:]:
        before = kept[-1]
        if after[0] < before[1] and after[2] is not None:
            refuse(after[2], f"{after[3]} at {(after[0] - start) / rate:g} s overlaps {before[3]}, which lasts "
                             f"until {(before[1] - start) / rate:.1f} s; cues may not overlap, so move one of them")
            continue
        kept.append(after)
    fixed = kept
    clock.events += [f[4] for f in fixed if f[4] is not None]
    if turn.breathe:
        _breathe(clock, turn.breathe, index, start, limit, [(f[0], f[1]) for f in fixed], chimes)
    clock.events += [Event("tick", t, clock.sound_len[chimes["tick"]], index, sound=chimes["tick"],
                           role="countdown") for t in ticks]


def _breathe(clock: Clock, pattern, index: int, start: int, limit: int,
             busy: list[tuple[int, int]], chimes: dict[str, str]) -> None:
    """Breathing cues from `start`; whole cycles only, dropped (never moved) where they would collide."""
    rate = clock.rate
    phases = [(p, samples(getattr(pattern, BREATH_FIELDS[p]), rate)) for p in ("in", "hold", "out", "hold_out")]
    cycle = sum(length for _, length in phases)
    spoken_until = start
    cycle_start, number = start, 0
    while cycle_start + cycle <= limit:
        at = cycle_start
        for phase, length in phases:
            if length == 0:
                continue
            talk = number < pattern.spoken
            if talk:
                text = BREATH_WORDS[phase]
                event = Event("breath", at, clock.speech[text], index, text=text, phase=phase, spoken=True)
            elif phase in BREATH_TONES:
                name = chimes["breath-" + phase]
                event = Event("breath", at, clock.sound_len[name], index, sound=name, phase=phase, spoken=False)
            else:
                at += length
                continue
            clash = any(event.sample < b_end and b_start < event.end for b_start, b_end in busy)
            if talk and (event.end > limit or event.sample < spoken_until):
                clash = True
            if not clash:
                clock.events.append(event)
                if talk:
                    spoken_until = event.end
            at += length
        cycle_start += cycle
        number += 1
