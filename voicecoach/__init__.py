"""voicecoach: voice-guided audio routines, paced exact to the sample.

Library use: `routine.load("morning")` -> `session.prepare(...)` -> `session.render(start, n)`;
`export.export_audio(...)` writes files, `sinks.open_sink()` plays live.
"""
__version__ = "0.1.0"
