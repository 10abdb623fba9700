"""Small routines as text, for tests that write one to a file."""
from __future__ import annotations

TINY = "title: Tiny\nsafety: false\nsteps:\n  - name: Stretch\n    duration: 2s\n"
TWO = TINY + "  - name: Rest\n    duration: 2s\n"
