"""The built-in chimes, ticks and breath tones (WAV files made by scripts/make_sounds.py)."""
