# model_cache: seeded_piper's edited and optimized voice model, kept on disk between runs.
# Copyright (C) 2026 the voicecoach authors
#
# This program is free software: you can redistribute it and/or modify it under the terms of
# the GNU General Public License as published by the Free Software Foundation, either version 3
# of the License, or (at your option) any later version.
#
# This program is distributed in the hope that it will be useful, but WITHOUT ANY WARRANTY;
# without even the implied warranty of MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE. See
# the GNU General Public License for more details. You should have received a copy of the GNU
# General Public License along with this program. If not, see <https://www.gnu.org/licenses/>.
#
# SPDX-License-Identifier: GPL-3.0-or-later
"""The voice model as onnxruntime left it after its graph optimizations, kept in a cache folder.

Part of the seeded_piper program (imported by it only). Starting a Piper voice
costs reading the model, editing its noise nodes (seeded_piper.noise_as_inputs)
and onnxruntime's graph optimizations: about 0.9 s on two cores, before the
first phrase. The optimized graph is saved once (``optimized_model_filepath``),
and a later process loads it with the optimizations turned off: the very graph
the optimizer made, so the same kernels run and the samples are bit-identical.

The file name covers everything the saved graph depends on: the voice's content
(the key voicecoach gives, a digest of the model file), this edit's version,
onnxruntime's version, the thread count and the processor (the optimizer may
lay out tensors for the CPU's vector width). Files are written under a temporary
name and renamed, so a reader never sees half of one; a file that does not
load, or a folder that cannot be written, only means the slow way.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path

# Bump when noise_as_inputs changes the edited graph.
EDIT_VERSION = 1
_STALE_S = 600.0  # a temporary file this old was left by a process that was killed while saving


def _processor() -> str:
    """The CPU's name and feature flags (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            lines = [ln for ln in info if ln.startswith(("model name", "flags", "Features"))]
        seen = list(dict.fromkeys(ln.strip() for ln in lines))
        if seen:
            return "|".join(seen)
    except OSError:
        pass
    return f"{platform.processor()}|{platform.machine()}"


def cache_file(folder: Path, model_key: str, threads: int) -> Path:
    """Where the optimized model of the voice `model_key` lives in `folder` (the sidecar: .json beside it)."""
    import onnxruntime

    what = f"{model_key}|edit{EDIT_VERSION}|ort{onnxruntime.__version__}|threads{threads}|{platform.machine()}|{_processor()}"
    return Path(folder) / f"{hashlib.sha256(what.encode()).hexdigest()[:32]}.onnx"


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _options(threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return options


def load(path: Path, threads: int):
    """(session, noises) from the cached file at `path`, or None when it is missing or does not load."""
    import onnxruntime

    try:
        side = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        noises = [(float(mean), float(scale)) for mean, scale in side["noises"]]
        if side.get("model") != path.name:
            return None
        options = _options(threads)
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - anything (onnxruntime's own types, a bad JSON): the slow way
        return None
    wanted = {f"voicecoach_noise_{k}" for k in range(len(noises))}
    return (session, noises) if wanted <= {i.name for i in session.get_inputs()} else None


def save(path: Path, edited: bytes, noises: list[tuple[float, float]], threads: int, voice: str = "") -> bool:
    """Optimize the `edited` model as a fresh session does and keep the result at `path`; False
    when the folder cannot be written (nothing is left behind). The files kept before for the
    same `voice` (its model key) under another name (another onnxruntime, processor) are removed."""
    import onnxruntime

    folder = Path(path).parent
    temps: list[str] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _sweep(folder)
        for suffix in (".onnx", ".json"):
            handle, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
            os.close(handle)
            temps.append(name)
        options = _options(threads)
        options.optimized_model_filepath = temps[0]
        options.log_severity_level = 3  # not the warning that such a file fits this processor only: the key says so
        onnxruntime.InferenceSession(edited, sess_options=options, providers=["CPUExecutionProvider"])
        Path(temps[1]).write_text(json.dumps({"model": path.name, "noises": noises, "voice": voice}),
                                  encoding="utf-8")
        os.replace(temps[1], _sidecar(path))
        os.replace(temps[0], path)
        _drop_others(folder, path, voice)
        return True
    except Exception:  # noqa: BLE001 - a read-only or full folder, onnxruntime's own errors
        for name in temps:
            try:
                os.unlink(name)
            except OSError:
                pass
        return False


def _drop_others(folder: Path, kept: Path, voice: str) -> None:
    """Remove the files of `voice` other than `kept`: one onnxruntime upgrade would otherwise leave 60 MB behind."""
    if not voice:
        return
    for side in folder.glob("[!.]*.json"):
        try:
            if side != _sidecar(kept) and json.loads(side.read_text(encoding="utf-8")).get("voice") == voice:
                side.with_suffix(".onnx").unlink(missing_ok=True)
                side.unlink()
        except (OSError, ValueError, AttributeError):
            pass


def _sweep(folder: Path) -> None:
    """Remove temporary files that a killed process left."""
    now = time.time()
    for stale in folder.glob(".tmp-*"):
        try:
            if now - stale.stat().st_mtime > _STALE_S:
                stale.unlink()
        except OSError:
            pass
