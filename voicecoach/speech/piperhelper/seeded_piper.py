# seeded_piper: Piper with reproducible noise, one WAV file per line of text.
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
"""Speak each line of stdin with a Piper voice into its own WAV file, the same samples every time.

This file is a separate program under the GPL (it imports piper-tts, which is
GPL-3.0-or-later). voicecoach (MIT) only runs it, as ``python seeded_piper.py
...``, and never imports it. It reads the options of ``python -m piper`` that
voicecoach uses (--model, --config, --output-dir, --length-scale,
--sentence-silence, --volume), writes each line as a WAV file in the output
folder and then logs ``Wrote <path>`` on stderr, like Piper's own CLI. With
--model-cache and --model-key it loads the voice as onnxruntime optimized it on
an earlier run, or keeps it there for the next run (model_cache.py): it then logs
KEEPING before the first ``Wrote`` and, at the end of the input, finishes saving
before it exits. Run with ``--spare`` alone, it imports Piper and onnxruntime
and then reads its arguments, as a JSON list, from the first line of stdin: the
caller starts it before it knows them.

Why: a Piper voice model draws random noise (RandomNormalLike) for the phoneme
lengths and for the sound itself. onnxruntime keeps one random generator per
such node for the life of the session, seeded when the session is made, so
``onnxruntime.set_seed`` before each phrase does nothing: a phrase's samples
depend on everything the process said before it. Here the model is edited in
memory so each of those nodes takes its noise from a new graph input instead,
and the noise for a phrase is drawn from a generator seeded by the phrase
itself: the same phrase, voice and settings give the same samples whatever
came before, in any process.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import struct
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np

import model_cache  # beside this file (the program's folder is first on sys.path)

NOISE_INPUT = "voicecoach_noise_{}"
SPARE = "--spare"  # the only argument: import, then read the arguments as a JSON list from the first line of stdin
THREADS = 2
# logged on stderr
KEEPING, KEPT, LOADED = "Keeping the optimized model at", "Kept the optimized model at", "Loaded the optimized model"
_LOG = logging.getLogger("seeded_piper")


def seed_of(line: str) -> int:
    """The phrase's seed: the first 8 bytes of the sha256 of its text (as sent, stripped)."""
    return int.from_bytes(hashlib.sha256(line.encode("utf-8")).digest()[:8], "big")


# The model is edited in its protobuf wire format (field numbers of onnx.proto), so that
# neither the onnx package (a second's import) nor a second copy of the model is needed.
_NODE, _GRAPH_INPUT, _GRAPH = 1, 11, 7  # GraphProto.node, GraphProto.input, ModelProto.graph


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        byte = buf[pos]
        n |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return n, pos
        shift += 7


def _fields(buf):
    """(field number, wire type, value, start, end) of each field of one protobuf message;
    the value of a length-delimited field is a memoryview of its bytes."""
    pos, size = 0, len(buf)
    while pos < size:
        start = pos
        tag, pos = _read_varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"not an ONNX model (wire type {wire})")
        if pos > size:
            raise ValueError("not an ONNX model (truncated)")
        yield field, wire, value, start, pos


def _bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _int(field: int, n: int) -> bytes:
    return _varint(field << 3) + _varint(n)


def _node(op: str, inputs: list[str], outputs: list[str], attributes: bytes = b"") -> bytes:
    """A NodeProto: input 1, output 2, op_type 4, attribute 5."""
    body = b"".join(_bytes(1, s.encode()) for s in inputs) + b"".join(_bytes(2, s.encode()) for s in outputs)
    return _bytes(_NODE, body + _bytes(4, op.encode()) + attributes)


def _random_normal_like(node) -> tuple[str, str, float, float] | None:
    """(input, output, mean, scale) of a float RandomNormalLike NodeProto, else None."""
    inputs, outputs, op, domain, mean, scale, dtype = [], [], "", "", 0.0, 1.0, 1
    for field, _, value, _, _ in _fields(node):
        if field == 1:
            inputs.append(bytes(value).decode())
        elif field == 2:
            outputs.append(bytes(value).decode())
        elif field == 4:
            op = bytes(value).decode()
        elif field == 7:
            domain = bytes(value).decode()
        elif field == 5:  # AttributeProto: name 1, f 2, i 3
            attr = {f: v for f, _, v, _, _ in _fields(value)}
            name = bytes(attr.get(1, b"")).decode()
            if name in ("mean", "scale") and 2 in attr:
                number = struct.unpack("<f", bytes(attr[2]))[0]
                mean, scale = (number, scale) if name == "mean" else (mean, number)
            elif name == "dtype":
                dtype = attr.get(3, 1)
    if op != "RandomNormalLike" or domain not in ("", "ai.onnx"):
        return None
    if dtype != 1:
        raise ValueError("a RandomNormalLike node that is not float")
    return inputs[0], outputs[0], mean, scale


def noise_as_inputs(model: bytes) -> tuple[bytes, list[tuple[float, float]]]:
    """The ONNX `model` with every RandomNormalLike node replaced by a slice of a new flat float
    graph input (voicecoach_noise_<k>), reshaped like the node's input; and each node's (mean, scale)."""
    view = memoryview(model)
    graphs = [(v, s, e) for f, w, v, s, e in _fields(view) if f == _GRAPH and w == 2]
    if len(graphs) != 1:
        raise ValueError("not an ONNX model (no graph)")
    graph, g_start, g_end = graphs[0]
    parts, found = [], []
    for field, wire, value, start, end in _fields(graph):
        # a node is parsed only when its bytes name the op: parsing all 2,700 of joe's takes 50 ms
        wanted = field == _NODE and wire == 2 and b"RandomNormalLike" in bytes(value)
        noise = _random_normal_like(value) if wanted else None
        if noise is None:
            parts.append(graph[start:end])
            continue
        source, target, mean, scale = noise
        k = len(found)
        flat, name = NOISE_INPUT.format(k), f"voicecoach_noise_{k}_"
        zero = _bytes(1, b"value_ints") + _int(8, 0) + _int(20, 7)  # AttributeProto ints=[0], type INTS
        parts += [_node("Shape", [source], [name + "shape"]),
                  _node("ReduceProd", [name + "shape"], [name + "count"]),
                  _node("Constant", [], [name + "start"], _bytes(5, zero)),
                  _node("Slice", [flat, name + "start", name + "count"], [name + "flat"]),
                  _node("Reshape", [name + "flat", name + "shape"], [target])]
        # ValueInfoProto: name 1, type 2 = TypeProto{tensor_type 1 = {elem_type 1 (FLOAT), shape 2}}
        shape = _bytes(1, _bytes(2, f"noise_{k}".encode()))
        parts.append(_bytes(_GRAPH_INPUT, _bytes(1, flat.encode()) + _bytes(2, _bytes(1, _int(1, 1) + _bytes(2, shape)))))
        found.append((mean, scale))
    # one copy of the model's 60 MB, not three: the graph's header, then its parts, joined once
    head = _varint(_GRAPH << 3 | 2) + _varint(sum(len(part) for part in parts))
    return b"".join([view[:g_start], head, *parts, view[g_end:]]), found


class SeededSession:
    """The edited model's onnxruntime session, run as Piper runs its own, with the phrase's noise added."""

    def __init__(self, session, noises: list[tuple[float, float]], length_scale: float):
        self.session = session
        self.noises = noises
        self.length_scale = max(1.0, length_scale)
        self.seed = 0
        self.sentence = 0

    def start(self, seed: int) -> None:
        """A new phrase: its sentences take their noise from `seed`, in order."""
        self.seed, self.sentence = seed, 0

    def run(self, outputs, feeds: dict):
        streams = np.random.SeedSequence(self.seed, spawn_key=(self.sentence,)).spawn(len(self.noises))
        self.sentence += 1
        phonemes = int(feeds["input"].shape[-1])
        # Flat noise long enough for the largest node (the sound: 192 channels x its frames, up to
        # 21 frames a phoneme at length scale 1, 42 at 2: three times what speech takes);
        # a sentence that needs more (very long phonemes) runs again with four times as much,
        # the first values unchanged, so the result does not depend on the first guess.
        count = phonemes * 2048 * int(np.ceil(self.length_scale))
        while True:
            fed = dict(feeds)
            for k, ((mean, scale), stream) in enumerate(zip(self.noises, streams)):
                noise = np.random.Generator(np.random.PCG64(stream)).standard_normal(count, dtype=np.float32)
                fed[NOISE_INPUT.format(k)] = noise * np.float32(scale) + np.float32(mean)
            try:
                return self.session.run(outputs, fed)
            except Exception as exc:  # onnxruntime's own error types: a too short noise fails the Reshape
                if "Reshape" not in str(exc) or count > 1 << 30:
                    raise
                count *= 4


def load(model: Path, config: Path | None, length_scale: float, cache: Path | None = None):
    """(the Piper voice with its noise made reproducible (see SeededSession), the edited model's
    bytes to keep at `cache` or None): from the optimized model at `cache` when it loads there
    (model_cache.py), else from the voice file."""
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    problem = edited = None
    cached = model_cache.load(cache, THREADS) if cache is not None else None
    if cached is not None:
        session, noises = cached
        _LOG.info("%s %s", LOADED, cache)
    else:
        try:
            edited, noises = noise_as_inputs(Path(model).read_bytes())
            options = onnxruntime.SessionOptions()
            # The samples depend (in their last bits) on how many threads share each operation, so the
            # number is fixed rather than taken from the machine's cores: the same on every machine.
            options.intra_op_num_threads = THREADS
            session = onnxruntime.InferenceSession(edited, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own types too
            problem = exc
    if problem is not None:
        # A file that does not load: Piper's own load says why, naming the file (outside the
        # except clause, so that its error is the first, and only, one in the traceback).
        PiperVoice.load(model, config_path=config)
        raise problem
    config_path = config if config is not None else Path(f"{model}.json")
    voice = PiperVoice(config=PiperConfig.from_dict(json.loads(Path(config_path).read_text(encoding="utf-8"))),
                       session=SeededSession(session, noises, length_scale))
    return voice, (edited if cache is not None else None)


def _keep(cache: Path, edited: bytes, noises, voice: str) -> threading.Thread:
    """Save the optimized model for the next process, beside the speaking (it takes a second of CPU);
    logs KEPT when done."""
    def save() -> None:
        if model_cache.save(cache, edited, noises, THREADS, voice):
            _LOG.info("%s %s", KEPT, cache)

    thread = threading.Thread(target=save, name="seeded-piper-save", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv == [SPARE]:
        # Started ahead of need: the slow imports now, the options (a JSON list) when they are known.
        import onnxruntime  # noqa: F401
        import piper  # noqa: F401

        line = sys.stdin.readline()
        if not line.strip():
            return  # not needed after all
        argv = json.loads(line)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("-c", "--config")
    parser.add_argument("-d", "--output-dir", required=True)
    parser.add_argument("--length-scale", type=float, default=None)
    parser.add_argument("--noise-scale", type=float, default=None)
    parser.add_argument("--noise-w-scale", type=float, default=None)
    parser.add_argument("--sentence-silence", type=float, default=0.0)
    parser.add_argument("--volume", type=float, default=1.0)
    parser.add_argument("--model-cache", help="a folder for the optimized model (made if missing)")
    parser.add_argument("--model-key", help="what the model file holds (a digest): names its file in --model-cache")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    from piper import SynthesisConfig

    cache = None
    if args.model_cache and args.model_key:
        cache = model_cache.cache_file(Path(args.model_cache), args.model_key, THREADS)
    voice, edited = load(Path(args.model), Path(args.config) if args.config else None,
                         args.length_scale if args.length_scale is not None else 1.0, cache)
    saving = None
    syn = SynthesisConfig(length_scale=args.length_scale, noise_scale=args.noise_scale,
                          noise_w_scale=args.noise_w_scale, volume=args.volume)
    silence = bytes(int(voice.config.sample_rate * args.sentence_silence) * 2)
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        voice.session.start(seed_of(line))
        path = out_dir / f"{time.monotonic_ns()}.wav"
        with wave.open(str(path), "wb") as wav:
            for i, chunk in enumerate(voice.synthesize(line, syn)):
                if i == 0:
                    wav.setframerate(chunk.sample_rate)
                    wav.setsampwidth(chunk.sample_width)
                    wav.setnchannels(chunk.sample_channels)
                else:
                    wav.writeframes(silence)
                wav.writeframes(chunk.audio_int16_bytes)
        keep = edited is not None and saving is None  # after the first phrase, which the listener waits for
        if keep:
            _LOG.info("%s %s", KEEPING, cache)  # before "Wrote": the caller knows it before it may close
        _LOG.info("Wrote %s", path)
        if keep:
            saving = _keep(cache, edited, voice.session.noises, args.model_key)
            edited = None
    if saving is not None:
        saving.join()  # at the end of the input: the caller leaves a saving process to finish


if __name__ == "__main__":
    main()
