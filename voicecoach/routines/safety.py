"""The red flags and contraindications for hip self-massage, kept in one place.

Routines with `safety: true` speak SHORT_REMINDER after their intro; the
`voicecoach safety` command shows full_text(). Everything here is plain data so
the spoken reminder and the printed page can never drift apart.
"""
from __future__ import annotations

import textwrap

# Spoken after the intro, so it stays short (about ten seconds at 165 words a
# minute) and names only what must stop a session or keep it from starting.
SHORT_REMINDER = (
    "Stop at once if you feel sharp pain, numbness or tingling. "
    "Don't massage if you have a blood clot, an infection, or recent surgery."
)

# Signs that mean: stop pressing now, and do not carry on with the session.
RED_FLAGS: list[str] = [
    "Sharp pain while pressing. A deep, dull ache is expected; sharpness can mean a tear.",
    "Numbness or tingling in the legs: a nerve may be compressed.",
    "Nerve pain during the leg pull: shooting, burning or electric pain down the leg.",
    "Swelling or bruising near the hip. After an injury, wait at least 72 hours "
    "before massaging the area.",
    "Pain that is worse after 24 hours of self-treatment.",
]

# Conditions under which no self-massage should be done at all.
CONTRAINDICATIONS: list[str] = [
    "Blood clots (for example deep vein thrombosis), or a suspicion of one.",
    "An infection.",
    "Recent surgery.",
]

# Situations that call for a professional rather than more self-treatment.
SEE_A_PROFESSIONAL: list[str] = [
    "Pain is worse after 24 hours of self-treatment: stop and have it checked.",
    "Relief does not last: the pain returns within 48 hours of self-massage. A "
    "massage therapist who specializes in psoas release can find trigger points "
    "you cannot reach yourself.",
    "Swelling or bruising near the hip: wait 72 hours after the injury, and have "
    "it looked at if it does not settle.",
    "Blood clots, an infection or recent surgery: get a medical evaluation before "
    "any massage.",
    "Numbness, tingling or nerve pain that does not go away when you stop.",
]

# Good practice that is not an emergency, but changes how a session is done.
CAUTIONS: list[str] = [
    "Start with 30 seconds per technique and light pressure. Increase toward 2 "
    "minutes per area only while it stays a deep ache without sharpness.",
    "Lower your weight onto a ball gently; never force the pressure.",
    "Massage before stretching, never stretch cold.",
    "If your lower back lifts off the table during the Thomas test, avoid deep "
    "massage until the tension eases.",
    "Don't massage sore muscles right before an intense workout; they need "
    "time to recover.",
]

_WIDTH = 79


def full_text() -> str:
    """Return the whole safety page as plain text, every line at most 79 columns."""
    sections = (
        ("Stop at once if you notice", RED_FLAGS),
        ("Never massage with", CONTRAINDICATIONS),
        ("See a professional when", SEE_A_PROFESSIONAL),
        ("Good practice", CAUTIONS),
    )
    lines = ["Safety", "======", ""]
    lines += textwrap.wrap(
        "voicecoach guides self-massage and stretching of the hip flexors. It "
        "does not diagnose or treat any condition. A deep, dull ache during "
        "pressure is normal; the signs below are not.",
        _WIDTH,
    )
    for heading, items in sections:
        lines += ["", heading + ":"]
        for item in items:
            lines += textwrap.wrap(item, _WIDTH, initial_indent="  - ", subsequent_indent="    ")
    lines += [""]
    lines += textwrap.wrap("Spoken before each massage routine: " + SHORT_REMINDER, _WIDTH)
    return "\n".join(lines) + "\n"
