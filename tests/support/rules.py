"""The timing contract as one check, shared by the golden tests and the fuzz tests.

`check_rules` asserts every rule of the routine format's timing contract on a
compiled timeline; `build` compiles a routine with speech lengths that do not
depend on the installed speech engine and the real lengths of the sounds.
"""
from __future__ import annotations

from voicecoach import routines as rt
from voicecoach import sounds
from voicecoach.timeline import Options, compile, phrases, sounds_needed

RATE = 22050
SAFETY_TEXT = "Stop if anything hurts sharply."
_PHASE_FIELDS = (("in", "inhale"), ("hold", "hold"), ("out", "exhale"), ("hold_out", "hold_out"))


def fake_speech(routine, options):
    """Every phrase's length in samples at 16 characters a second (independent of espeak-ng)."""
    return {t: len(t) * RATE // 16 for t in phrases(routine, options)}


def real_sounds(routine):
    """Every sound the routine may play, with its real length in samples at RATE."""
    return {n: len(sounds.load(n, RATE, routine.folder)) for n in sounds_needed(routine)}


def build(routine, **opts):
    """The routine compiled at RATE with fake speech and real sounds; `opts` go to Options."""
    options = Options(sample_rate=RATE, safety_text=SAFETY_TEXT, **opts)
    return compile(routine, fake_speech(routine, options), real_sounds(routine), options)


def _breath_phases(breathe, rate):
    """{phase: offset in the cycle} and the cycle length, each phase rounded to whole samples."""
    offsets, at = {}, 0
    for phase, name in _PHASE_FIELDS:
        length = round(getattr(breathe, name) * rate)
        if length:
            offsets[phase] = at
        at += length
    return offsets, at


def check_rules(routine, timeline, options):
    """Assert every timing rule of the routine format on `timeline` (compiled from `routine`)."""
    rate = timeline.sample_rate
    expanded = rt.expand(routine)[options.start_step:]
    assert len(expanded) == len(timeline.steps)
    # events are sorted by their first sample; none starts before the clock or lasts past the end
    assert [e.sample for e in timeline.events] == sorted(e.sample for e in timeline.events)
    assert all(e.sample >= 0 and e.samples >= 0 for e in timeline.events)
    assert all(e.step is None or 0 <= e.step - options.start_step < len(expanded) for e in timeline.events)
    chimes = {(e.sample, e.role) for e in timeline.events if e.kind == "chime"}
    chime_at = {s for s, _ in chimes}
    previous = None
    for exp, span in zip(expanded, timeline.steps):
        # 1. exact intervals; 2. a chime at both ends
        assert span.end_sample - span.start_sample == round(exp.duration * options.scale * rate)
        assert span.start_sample in chime_at and span.end_sample in chime_at
        # the session runs forward: each step is announced after the one before has ended
        assert span.announce_sample <= span.start_sample
        assert previous is None or span.announce_sample >= previous.end_sample
        inside = [e for e in timeline.events if e.step == span.index]
        # 3. the announcement is over before the interval starts, prep included
        announce = [e for e in inside if e.kind == "speech" and e.role is None]
        for e in announce:
            assert e.end + round(exp.step.prep * rate) <= span.start_sample
            assert e.sample >= span.announce_sample
        # 8. rests and repetitions start exactly where the previous interval ended (a session
        # started at one of them with start_step has no previous interval: it is announced)
        if (exp.rest or exp.repetition > 1) and previous is not None:
            assert span.start_sample == previous.end_sample and not announce
        # 8. what is said in a rest is said inside the rest
        for e in inside:
            if e.role == "rest":
                assert exp.rest and span.start_sample <= e.sample and e.end <= span.end_sample
        # 4. cues at their exact offsets; a rest is not its step, so the step's cues stay out of it
        # (a session scaled with --scale drops the cues that no longer fit; none is ever moved)
        n = span.end_sample - span.start_sample
        scaled = options.scale != 1.0
        offsets = set()
        for cue in () if exp.rest else exp.step.cues:
            off = round(cue.offset * n) if cue.anchor == "share" else round(cue.offset * options.scale * rate)
            at = span.start_sample + (n - off if cue.anchor == "end" else off)
            offsets.add(at)
            assert scaled or any(e.sample == at and e.role == "cue" for e in inside), (exp.title, cue)
        cues = [e for e in inside if e.role == "cue"]
        assert all(e.sample in offsets for e in cues)
        assert len(cues) == (0 if exp.rest else len(exp.step.cues)) or scaled
        # nothing of the interval sounds over the chime that opens it
        opening_end = max(e.end for e in timeline.events if e.kind == "chime" and e.sample == span.start_sample)
        for e in inside:
            if e.role in ("cue", "halfway", "rest") or e.kind == "breath":
                assert e.sample >= opening_end or e.end <= span.start_sample, (exp.title, e)
        # 6. ticks on whole seconds before the end
        count = exp.step.countdown if exp.step.countdown is not None else routine.countdown
        ticks = sorted(e.sample for e in inside if e.kind == "tick")
        assert ticks == [span.end_sample - k * rate for k in range(count, 0, -1)
                         if span.end_sample - k * rate > span.start_sample]
        # 4. spoken cues (and halfway words) end before the countdown, or the end of the interval
        words_limit = max(span.start_sample, span.end_sample - count * rate) if count else span.end_sample
        spoken_cues = [e for e in inside if e.role in ("cue", "halfway") and e.text is not None]
        for e in spoken_cues:
            assert span.start_sample <= e.sample and e.end <= words_limit, (exp.title, e)
        # halfway: at exactly half the interval
        halfway = [e for e in inside if e.role == "halfway"]
        if exp.step.halfway and not exp.rest and not scaled:
            assert [e.sample for e in halfway] == [span.start_sample + n // 2]
        elif exp.step.halfway and not exp.rest:
            assert [e.sample for e in halfway] in ([], [span.start_sample + n // 2])
        else:
            assert not halfway
        # 5. breathing starts at the interval start and whole cycles end before the countdown
        breaths = [e for e in inside if e.kind == "breath"]
        if exp.step.breathe and not exp.rest:
            cycle = round(exp.step.breathe.cycle * rate)
            limit = span.end_sample - count * rate
            assert all(e.sample >= span.start_sample and e.sample < limit for e in breaths)
            assert all(span.start_sample + ((e.sample - span.start_sample) // cycle + 1) * cycle <= limit
                       for e in breaths)
            # each cue on a phase start, words for the first `spoken` cycles and tones after them
            offsets, engine_cycle = _breath_phases(exp.step.breathe, rate)
            for e in breaths:
                number, within = divmod(e.sample - span.start_sample, engine_cycle)
                assert offsets.get(e.phase) == within, (exp.title, e)
                assert e.spoken == (number < exp.step.breathe.spoken), (exp.title, e)
                assert (e.text is not None) == e.spoken and (e.sound is not None) != e.spoken
            # 5. a breath cue that would overlap a spoken cue is dropped, never moved
            for e in breaths:
                assert not any(e.sample < c.end and c.sample < e.end for c in spoken_cues), (exp.title, e)
        else:
            assert not breaths
        previous = span
    # 7. no two speech events overlap anywhere
    speech = sorted((e for e in timeline.events if e.text is not None), key=lambda e: e.sample)
    for a, b in zip(speech, speech[1:]):
        assert a.end <= b.sample, (a, b)
    assert timeline.events[-1].end <= timeline.total_samples
    assert max(e.end for e in timeline.events) <= timeline.total_samples
    # the session ends with the outro and the closing chime, after the last interval
    last = timeline.steps[-1].end_sample
    outro = [e for e in timeline.events if e.step is None and e.text is not None and e.sample >= last]
    assert [e.text for e in outro] == [routine.outro or "Session complete. Well done."]
    complete = [e for e in timeline.events if e.role == "complete"]
    assert len(complete) == 1 and complete[0].sample >= outro[0].end
