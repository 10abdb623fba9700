"""The live panel's words (player.status) and what the timeline tells it, without sound.

Step numbers count the routine's real steps, also when a session starts at a
later one (--from); the lead-in is a countdown to the first words; in a plan
the panel says which routine plays and shows the plan's time.
"""
from __future__ import annotations

import pytest

from voicecoach.player import Place, status
from voicecoach.routines import load
from voicecoach.session import estimated_timeline, options


def step_line(timeline, sample: int) -> str:
    return status(timeline, sample).splitlines()[1]


@pytest.mark.parametrize("start", [0, 1, 2, 3])
def test_every_step_is_numbered_of_the_routines_four_whatever_the_start(start):
    morning = load("morning")
    timeline = estimated_timeline(morning, options(start_step=start))
    titles = ["Standing hip circles", "Tennis ball psoas release (right)", "Tennis ball psoas release (left)",
              "Deep belly breathing"]
    assert timeline.steps_in_routine == 4
    for span in timeline.steps:  # where `n` lands: each later step's announcement
        assert step_line(timeline, span.announce_sample).startswith(
            f"Step {span.index + 1} of 4: {titles[span.index]}  (")
    assert [s.index for s in timeline.steps] == list(range(start, 4))


def test_the_timeline_json_says_how_many_steps_the_routine_has_when_it_starts_later():
    morning = load("morning")
    assert "step_count" not in estimated_timeline(morning).to_dict()  # the golden files stay as they are
    assert estimated_timeline(morning, options(start_step=2)).to_dict()["step_count"] == 4


def test_the_lead_in_counts_down_to_the_first_words():
    timeline = estimated_timeline(load("kd4"), options(lead_in=5.0))
    rate = timeline.sample_rate
    assert timeline.lead_in_samples == 5 * rate  # "Get ready" is shorter than the 5 s asked for
    assert step_line(timeline, 0) == "Get into position: 0:05"
    assert step_line(timeline, rate) == "Get into position: 0:04"
    assert step_line(timeline, 5 * rate - 1) == "Get into position: 0:01"  # never 0:00 while time is left
    assert step_line(timeline, 5 * rate) == "Introduction"  # the intro's words start here
    assert step_line(estimated_timeline(load("kd4")), 0) == "Introduction"  # no lead-in, no countdown


def test_in_a_plan_the_panel_names_the_routine_and_shows_the_plans_time():
    first, second = (estimated_timeline(load(rid)) for rid in ("daily", "psoas-release"))
    plan_total = first.seconds + second.seconds
    last_step = first.steps[-1]
    shown = status(first, last_step.start_sample, place=Place(0, 2, 0.0, plan_total, second.title)).splitlines()
    assert shown[0] == f"Routine 1 of 2: {first.title}"
    assert shown[2] == f"Next: {second.title}"  # after the last step comes the next routine, not the end
    done, total = shown[3].split(" / ")
    assert total == clock_of(plan_total)
    assert done == clock_of(last_step.start_sample / first.sample_rate)
    shown = status(second, 0, place=Place(1, 2, first.seconds, plan_total)).splitlines()
    assert shown[0] == f"Routine 2 of 2: {second.title}"
    assert shown[3] == f"{clock_of(first.seconds)} / {clock_of(plan_total)}"
    assert shown[2].startswith("Next: ") and shown[2] != "Next: the end"
    # a plan of one routine looks as a single play does
    assert status(first, 0, place=Place(0, 1, 0.0, first.seconds)) == status(first, 0)


def clock_of(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"
