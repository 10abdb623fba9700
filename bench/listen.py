"""Spoken commands in a simulated room: caught, false triggers, latency and CPU, canceller on and off.

    python bench/listen.py                      # every built-in session, the held-out voices
    python bench/listen.py --sessions 3         # the first three sessions only (quicker)
    python bench/listen.py --voices tuning      # the voices the thresholds were tuned on

The room is tests/support/room.py: each built-in session's own samples (the
export, sample for sample) through an echo path (60 ms, a 150 ms reverb tail,
a soft distortion, noise at -60 dBFS) at 0 dB and -10 dB speech-to-echo, and
command words said by synthetic voices at known times: half in quiet spans,
half ("pause" and "stop") over the coach. Every room runs through the very
`Hearing` the live listener runs, block by 20 ms block. It prints:

- caught in quiet: words said in quiet spans that gave their own command;
- caught over speech: "pause"/"stop" said over the coach that acted;
- false triggers: commands acted on that nobody said, over all sessions with no
  words said (0 dB), and per hour of a talk read by another voice in the room;
- latency: from the end of the word to the command's judgement, plus the
  player's look (POLL, 50 ms at worst) and the pulse sink's pause (20 ms);
- CPU: the pipeline's process time per second of audio (one core).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.room import MIC_RATE, Room, voice_clip  # noqa: E402

RATE = 22050
TUNING = ["espeak:en-us", "espeak:en-us+f3", "flite:slt", "flite:rms"]
HELD_OUT = ["espeak:en-gb-x-rp", "espeak:en-us+m3", "flite:awb", "flite:kal16", "piper"]
WORDS = ["pause", "continue", "resume", "next", "repeat", "back", "stop"]
PLAYER_S = 0.05 + 0.02  # the play loop's look at worst, then the sink's cork
TALK = ("Good evening and welcome to the lecture. Tonight we look at how rivers shape the land around them. "
        "Water moves sediment from the hills down to the sea, and over thousands of years it carves valleys, "
        "builds deltas and leaves terraces behind. Engineers who build bridges need to know how a river "
        "behaves in a flood. Farmers rely on the rich soil a river brings. And towns grew up where crossing "
        "was easy. Let us begin with the water cycle, then follow a single drop from a mountain spring to "
        "the ocean, noting each place where it changes the ground it passes.")


def sessions(count: int | None):
    import voicecoach as vc
    from voicecoach.routines.library import __file__ as library

    ids = sorted(p.stem for p in Path(library).parent.glob("*.yaml") if p.stem != "schedule")[:count]
    for rid in ids:
        session = vc.prepare(vc.load(rid), vc.options(safety=False))
        yield rid, session.timeline, session.render(0, session.timeline.total_samples)


def spans(timeline, quiet: bool, length: float = 1.5):
    """Start times (s) of quiet spans (nothing sounds within 0.5 s) or of phrases (over speech)."""
    rate = timeline.sample_rate
    busy = sorted((e.sample / rate, e.end / rate) for e in timeline.events)
    if not quiet:
        return [a + 0.3 for a, b in busy if b - a > 1.0]
    out, t = [], 3.0
    while t < timeline.total_samples / rate - length - 1:
        if not any(a < t + length + 0.5 and b > t - 0.5 for a, b in busy):
            out.append(t)
            t += 8.0
        else:
            t += 0.5
    return out


def run(room: Room, timeline, cancel: bool):
    from voicecoach.listen.hearing import Hearing

    hearing = Hearing(RATE, cancel=cancel)
    hearing.follow(timeline)
    began = time.process_time()
    try:
        events = room.run(hearing)
    finally:
        hearing.close()
    return events, time.process_time() - began


def score(room: Room, events):
    """(caught quiet, said quiet, caught over, said over, false, latencies)."""
    from voicecoach.listen.words import COMMANDS

    acted = [(at, e) for at, e in events if e.verdict.command]
    used, lat = set(), []
    counts = [0, 0, 0, 0]
    for w in room.words:
        end = w.at + w.length
        counts[1 + 2 * w.over_speech] += 1
        for k, (at, e) in enumerate(acted):
            if k not in used and w.at <= e.heard.end <= end + 0.5 * MIC_RATE and \
                    e.verdict.command == COMMANDS[w.word]:
                used.add(k)
                counts[2 * w.over_speech] += 1
                lat.append((at - end) / MIC_RATE + PLAYER_S)
                break
    return (*counts, len(acted) - len(used), lat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=None)
    parser.add_argument("--voices", choices=["held-out", "tuning"], default="held-out")
    parser.add_argument("--alone", action="store_true",
                        help="only the false triggers: each session alone in the room (0 dB), and the talk")
    parser.add_argument("--talk", type=int, default=1, help="the talk read this many times over (longer: more hours)")
    args = parser.parse_args()
    voices = HELD_OUT if args.voices == "held-out" else TUNING
    from support.room import engines

    voices = [v for v in voices if v.split(":")[0] in engines()]
    clips = {(v, w): voice_clip(v, w) for v in voices for w in WORDS}
    talk = voice_clip("flite:kal16" if args.voices == "tuning" else "espeak:en-gb-scotland", TALK)
    talk = np.concatenate([talk] * args.talk)
    print(f"voices: {', '.join(voices)}")
    results = {}
    quiet_session = np.zeros(round((len(talk) / MIC_RATE + 2) * RATE), np.float32)
    from voicecoach.timeline import Timeline

    empty = Timeline("talk", "talk", RATE, len(quiet_session))
    for cancel in (True, False):
        room = Room(quiet_session, RATE)
        room.say("talk", "talk", talk, 1.0, False)
        events, _ = run(room, empty, cancel)
        talk_false = sum(1 for _, e in events if e.verdict.command)
        results[("talk", cancel)] = (talk_false, len(talk) / MIC_RATE)
        print(f"talk, canceller {'on' if cancel else 'off'}: {talk_false} false over {len(talk) / MIC_RATE:.0f} s",
              flush=True)
    for rid, timeline, samples in sessions(args.sessions):
        for cancel in (True, False):
            for ser in () if args.alone else (0.0, -10.0):
                room = Room(samples, RATE, ser_db=ser)
                k = 0
                for quiet in (True, False):
                    for t in spans(timeline, quiet):
                        v = voices[k % len(voices)]
                        w = WORDS[k % len(WORDS)] if quiet else ("pause", "stop")[k % 2]
                        room.say(w, v, clips[(v, w)], t, not quiet)
                        k += 1
                events, cpu = run(room, timeline, cancel)
                r = results.setdefault((cancel, ser), [0, 0, 0, 0, 0, [], 0.0, 0.0])
                for i, x in enumerate(score(room, events)[:5]):
                    r[i] += x
                r[5] += score(room, events)[5]
                r[6] += cpu
                r[7] += len(samples) / RATE
            # the session alone in the room (0 dB): every command acted on is false
            events, _ = run(Room(samples, RATE, ser_db=0.0), timeline, cancel)
            f = results.setdefault(("alone", cancel), [0, 0.0])
            f[0] += sum(1 for _, e in events if e.verdict.command)
            f[1] += len(samples) / RATE
        print(f"{rid}: done; false so far (canceller on, off): "
              f"{results[('alone', True)][0]}, {results[('alone', False)][0]}", flush=True)
    for (cancel, ser), r in sorted((k, v) for k, v in results.items() if isinstance(k[0], bool)):
        lat = r[5]
        print(f"canceller {'on ' if cancel else 'off'} {ser:+.0f} dB: caught in quiet {r[0]}/{r[1]} "
              f"({100 * r[0] / max(r[1], 1):.0f} %), over speech {r[2]}/{r[3]} ({100 * r[2] / max(r[3], 1):.0f} %), "
              f"false during the run {r[4]}, latency median {1000 * np.median(lat) if lat else 0:.0f} ms "
              f"max {1000 * max(lat) if lat else 0:.0f} ms, CPU {100 * r[6] / r[7]:.1f} % of a core")
    for cancel in (True, False):
        n, seconds = results[("alone", cancel)]
        t, talk_s = results[("talk", cancel)]
        print(f"canceller {'on ' if cancel else 'off'}: false triggers {n} over {seconds / 60:.1f} min of sessions "
              f"at 0 dB; {t} over {talk_s:.0f} s of a talk ({3600 * t / talk_s:.1f} an hour)")


if __name__ == "__main__":
    main()
