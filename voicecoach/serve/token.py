"""The secret in every URL the server answers: 128 bits from `secrets`, kept in the config folder.

Kept, so a phone's subscription survives a restart; `--new-token` replaces it
(every old subscription then answers 404 and must be added again).
"""
from __future__ import annotations

import re
import secrets
from pathlib import Path

from ..errors import EnvironmentProblem, ExportError

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")  # 16 bytes as URL-safe base64, no padding


def token_path() -> Path:
    """The token's file: beside the config file (which $VOICECOACH_CONFIG may move)."""
    from ..paths import config_path

    return config_path().parent / "serve-token"


def load_token(new: bool = False, path: Path | None = None) -> str:
    """The kept token, or a new one (saved, readable by the user only) when asked or when none is kept."""
    from ..files import write_bytes

    path = path or token_path()
    if not new:
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            text = ""
        if _TOKEN.match(text):
            return text
    token = secrets.token_urlsafe(16)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, (token + "\n").encode("ascii"), mode=0o600)
    except OSError as err:
        raise EnvironmentProblem(f"cannot keep the server's token in {path}: {(err.strerror or err)}") from None
    except ExportError as err:
        raise EnvironmentProblem(str(err)) from None
    return token
