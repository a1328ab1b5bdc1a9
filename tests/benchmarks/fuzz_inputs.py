"""Fuzz every input the validator reads, in process, and count what happens.

Run from the repository root::

    python tests/benchmarks/fuzz_inputs.py                       # 100000 cases
    python tests/benchmarks/fuzz_inputs.py --cases 5000 --seed 7  # a quick look
    python tests/benchmarks/fuzz_inputs.py --only wav,pcap --cases 20000

Inputs come from hypothesis strategies, mostly mutations of valid seeds
(written at start-up with the package's own writers), so that a case gets past
the first check and reaches the code behind it:

``wav``, ``flac``
    Audio file bytes: header fields (RIFF/data chunk sizes, format tag,
    channels, sample rate, block align, bits), float samples set to NaN,
    +-inf, 1e30, 3.4e38, denormals, truncation and byte flips. A file the
    gate accepts is validated in full against its clean seed (or used as the
    reference of the clean seed).
``pcap``, ``pcapng``
    Capture bytes: magic, version, snaplen, link type, record/block lengths,
    block types, truncation, flips. Read, every stream analysed and decoded;
    one case in ten is also validated through :func:`validator.validate`.
``rtp``
    RTP packets per codec (PCMU, PCMA, G722, L8, L16, L24, opus,
    telephone-event, CN) with random header fields and payloads, written to a
    capture and read with ``port=``; analysed and decoded. Raw header bytes
    go through :func:`validator.rtp.parse_rtp_header`.
``sdp``
    SDP text (``m=``, ``a=rtpmap``, ``c=`` lines with odd values), SIP and
    SAP packet bytes.
``profile``
    Profile TOML: known and unknown keys, every TOML value type (nan, inf,
    huge integers, arrays, tables); one accepted profile in five is used for a
    validation.
``manifest``
    Batch manifests in CSV, TOML and JSON (quotes, globs, empty cells,
    odd keys), read with :func:`validator.batch.manifest.load_manifest`.
``tone``
    Tone specs (``sine:997,1499`` with odd numbers); one accepted spec in
    ten is used as the reference of a validation.
``cli``
    Argument vectors for ``validate``, ``generate``, ``impair``, ``rtp`` and
    ``batch`` with odd values and paths, through :func:`validator.cli.main`.

Each case ends as one of:

- ``result``: the code returned (for ``cli``: an exit code, with no
  traceback and no "internal error" on stderr);
- ``error``: a :class:`validator.errors.ValidatorError`;
- ``defect``: any other exception, an "internal error" or traceback from the
  CLI, or bytes written straight to file descriptor 1 or 2 (as LAPACK does
  with "On entry to DLASCL parameter number 4 had an illegal value");
- ``hang``: the case ran past ``--time-limit`` (a ``SIGALRM`` watchdog).

Python warnings (e.g. numpy's ``RuntimeWarning: overflow``) are counted
apart; they are not defects but show numerics meeting values they should not.

The address space is limited (``--max-memory-gib``, default 6) so that an
absurd allocation is a ``MemoryError`` (a defect) and not a machine swapping.
The script prints one line per target, a total line
``fuzz: N cases, D defects, H hangs`` and the first input of every distinct
defect (type, message, where). It exits 1 on any defect or hang.

The same targets run in the test suite, derandomized and smaller
(``tests/test_fuzz_inputs.py``); the inputs of the defects found so far are
regression tests in ``tests/test_fuzz_regressions.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import resource
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisWarning

from validator.errors import ValidatorError

#: Default number of cases of a run (over all targets).
DEFAULT_CASES = 100_000
#: Default per-case time limit, s.
DEFAULT_TIME_LIMIT_S = 10.0
#: Share of the cases each target gets (normalised).
WEIGHTS = {"wav": 12, "flac": 5, "pcap": 13, "pcapng": 10, "rtp": 12, "sdp": 10,
           "profile": 8, "manifest": 10, "tone": 10, "cli": 10}
FS = 8000
PORT = 5004


class Hang(BaseException):
    """Raised by the watchdog in a case that ran past its time limit (not an Exception)."""


# --------------------------------------------------------------------------- seeds


@dataclass
class Seeds:
    """Valid inputs written once per run; the strategies mutate their bytes."""

    root: Path
    audio: dict[str, bytes] = field(default_factory=dict)
    clean: dict[str, Path] = field(default_factory=dict)
    captures: dict[str, bytes] = field(default_factory=dict)
    clean_wav: Path = Path()
    clean_pcap: Path = Path()


def _tone(fs: int = FS, duration_s: float = 0.3, channels: int = 1) -> np.ndarray:
    from validator.signals import tone

    return tone([997.0] * channels if channels > 1 else 997.0, sample_rate_hz=fs,
                duration_s=duration_s, marker="chirp", level_dbfs=-10.0)


def make_seeds(root: Path) -> Seeds:
    """Write the clean seed files into ``root`` and keep their bytes."""
    from validator.rtp.synth import Datagram, encode_packets, rtp_datagrams, write_capture

    s = Seeds(root)
    specs = {"wav16": ("WAV", "PCM_16", 1, ".wav"), "wavfloat": ("WAV", "FLOAT", 1, ".wav"),
             "wav24st": ("WAV", "PCM_24", 2, ".wav"), "wavdouble": ("WAV", "DOUBLE", 1, ".wav"),
             "flac16": ("FLAC", "PCM_16", 1, ".flac"), "flac24st": ("FLAC", "PCM_24", 2, ".flac")}
    for name, (fmt, subtype, ch, ext) in specs.items():
        p = root / f"seed_{name}{ext}"
        sf.write(str(p), _tone(channels=ch), FS, subtype=subtype, format=fmt)
        s.audio[name] = p.read_bytes()
        s.clean[name] = p
    s.clean_wav = s.clean["wav16"]
    y = _tone()
    pkts = encode_packets(y, "PCMU/8000", samples_per_packet=160)
    dg = rtp_datagrams(pkts, payload_type=0, ts_step=160, ptime_ns=20_000_000)
    for name, kw in {"eth": {}, "vlan": {"link": "vlan"}, "sll": {"link": "sll"},
                     "sll2": {"link": "sll2"}, "raw6": {"link": "raw", "ipv6": True},
                     "frag": {"fragment_size": 64}, "be_us": {"big_endian": True,
                                                              "nanoseconds": False},
                     "snap": {"snaplen": 60}}.items():
        for ng in (False, True):
            if ng and name == "be_us":
                continue
            p = write_capture(root / f"seed_{name}{'.pcapng' if ng else '.pcap'}", dg,
                              pcapng=ng, **kw)
            s.captures[("ng_" if ng else "") + name] = p.read_bytes()
    s.clean_pcap = root / "seed_eth.pcap"
    # a second, two-stream capture (L24 stereo on a dynamic PT, with SDP-less --port use)
    y2 = _tone(48000, 0.1, 2)
    d2 = [Datagram(d.time_ns, d.src, 4002, d.dst, PORT, d.payload)
          for d in rtp_datagrams(encode_packets(y2, "L24/48000/2", samples_per_packet=48),
                                 payload_type=97, ssrc=0x0BADCAFE, ts_step=48,
                                 ptime_ns=1_000_000)]
    s.captures["two"] = write_capture(root / "seed_two.pcap",
                                      sorted([*dg, *d2], key=lambda d: d.time_ns)).read_bytes()
    return s


# --------------------------------------------------------------------------- mutations

INTERESTING_U32 = [0, 1, 2, 4, 8, 12, 16, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000,
                   0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF, 44, 65535, 262144]
INTERESTING_U16 = [0, 1, 2, 3, 6, 7, 8, 16, 24, 32, 64, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF, 255,
                   0x50, 0x55]  # the last two: MPEG format tags in a WAV
ODD_FLOATS = [math.nan, math.inf, -math.inf, 1e30, -1e30, 3.4e38, -3.4e38, 1e3, 1e4, 1.5,
              -1.0, 1.0, 0.0, -0.0, 1e-45, 1e-38, 65504.0, 32767.0]


@st.composite
def mutated(draw: st.DrawFn, seeds: dict[str, bytes], hot: Callable[[bytes], list[int]],
            floats: bool = False) -> tuple[str, bytes]:
    """A seed's bytes with a few mutations, most of them at its ``hot`` offsets (header fields)."""
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    offsets = hot(bytes(data)) or [0]
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["u32", "u16", "byte", "flip", "cut", "insert", "float",
                                   "dup"]))
        n = len(data)
        if n == 0:
            break
        near = draw(st.booleans())
        pos = min(draw(st.sampled_from(offsets)), n - 1) if near else \
            draw(st.integers(0, n - 1))
        if op == "u32" and pos + 4 <= n:
            v = draw(st.sampled_from(INTERESTING_U32) | st.integers(0, 0xFFFFFFFF))
            data[pos:pos + 4] = struct.pack(draw(st.sampled_from(["<I", ">I"])), v)
        elif op == "u16" and pos + 2 <= n:
            v = draw(st.sampled_from(INTERESTING_U16) | st.integers(0, 0xFFFF))
            data[pos:pos + 2] = struct.pack(draw(st.sampled_from(["<H", ">H"])), v)
        elif op == "byte":
            data[pos] = draw(st.integers(0, 255))
        elif op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[draw(st.integers(0, n)):]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "dup":
            data += data[pos:pos + draw(st.integers(1, 64))]
        elif op == "float" and floats:
            v = draw(st.sampled_from(ODD_FLOATS) | st.floats(width=32))
            count = draw(st.integers(1, 64))
            at = draw(st.integers(44, max(n - 4, 44)))
            chunk = struct.pack("<f", v) * count
            data[at:at + len(chunk)] = chunk[:max(n - at, 0)]
    return name, bytes(data)


def _wav_hot(b: bytes) -> list[int]:
    """RIFF size, fmt fields, chunk sizes (the 'data' size among them)."""
    hot = [4, 16, 20, 22, 24, 28, 32, 34, 36, 40]
    k = b.find(b"data")
    if k >= 0:
        hot += [k, k + 4]
    return hot


def _flac_hot(b: bytes) -> list[int]:
    return list(range(4, 42, 2))


def _pcap_hot(b: bytes) -> list[int]:
    """Global header fields and the first records' headers (pcap) or block headers (pcapng)."""
    if b[:4] == b"\x0a\x0d\x0d\x0a":
        hot, pos = [], 0
        for _ in range(6):
            if pos + 12 > len(b):
                break
            (length,) = struct.unpack_from("<I", b, pos + 4)
            hot += [pos, pos + 4, pos + 8, pos + 12, pos + 16, pos + 20, pos + 24,
                    pos + length - 4]
            if length < 12:
                break
            pos += length
        return [h for h in hot if 0 <= h < len(b)]
    hot = [0, 4, 6, 8, 12, 16, 20]
    pos = 24
    for _ in range(4):
        if pos + 16 > len(b):
            break
        hot += [pos, pos + 8, pos + 12, pos + 16 + 12, pos + 16 + 14, pos + 16 + 23,
                pos + 16 + 34, pos + 16 + 38]
        (incl,) = struct.unpack_from("<I", b, pos + 8)
        pos += 16 + incl
    return [h for h in hot if h < len(b)]


# --------------------------------------------------------------------------- runners
# Each runner takes the drawn case and the Seeds, and returns normally (a result) or raises.


def run_audio(case: tuple[tuple[str, bytes], bool, bool], seeds: Seeds, work: Path) -> None:
    """Read the bytes as audio; validate them when the gate lets them in."""
    from validator.io.audio import open_audio
    from validator.pipeline import validate

    (name, data), as_reference, deep = case
    ext = ".flac" if name.startswith("flac") else ".wav"
    p = work / f"fuzz{ext}"
    p.write_bytes(data)
    with open_audio(p) as src:
        src.read(0, src.frames)
    if deep:
        clean = seeds.clean[name]
        if as_reference:
            validate(clean, p, max_delay_s=0.1)
        else:
            validate(p, clean, max_delay_s=0.1)


def run_capture(case: tuple[tuple[str, bytes], bool], seeds: Seeds, work: Path) -> None:
    """Read the bytes as a capture; analyse and decode every stream (and validate one in ten)."""
    from validator.pipeline import validate
    from validator.rtp import analyze, decode, read_capture

    (name, data), deep = case
    p = work / ("fuzz.pcapng" if name.startswith("ng_") else "fuzz.pcap")
    p.write_bytes(data)
    cap = read_capture(p, port=PORT if name == "two" else None,
                       payload_types={97: "L24/48000/2"} if name == "two" else None)
    for s in cap.streams:
        analyze(s)
        with contextlib.suppress(ValidatorError):
            decode(s)
    if deep:
        validate(p, seeds.clean_wav, max_delay_s=0.1, ssrc=cap.streams[0].ssrc
                 if len(cap.streams) > 1 else None)


CODECS = {0: "PCMU/8000", 8: "PCMA/8000", 9: "G722/8000", 10: "L16/44100/2", 11: "L16/44100",
          96: "L8/8000", 97: "L24/48000/2", 98: "L24/48000", 111: "opus/48000/2",
          101: "telephone-event/8000", 13: "CN/8000"}


@st.composite
def rtp_case(draw: st.DrawFn) -> tuple[list[tuple[int, bytes]], bytes, bool]:
    """Packets ``(arrival_us, datagram)`` of one or two codecs, plus raw header bytes."""
    from validator.rtp import build_rtp_packet

    pts = draw(st.lists(st.sampled_from(sorted(CODECS)), min_size=1, max_size=2, unique=True))
    packets = []
    t = 0
    ssrcs = draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=2))
    seq = draw(st.integers(0, 65535))
    ts = draw(st.integers(0, 2**32 - 1))
    for _ in range(draw(st.integers(1, 30))):
        pt = draw(st.sampled_from(pts))
        seq = (seq + draw(st.sampled_from([1, 1, 1, 2, 0, -1, 100, 30000]))) % 65536
        ts = (ts + draw(st.sampled_from([160, 160, 0, 48, 80, 960, 2**31, 7]))) % 2**32
        t += draw(st.sampled_from([20000, 20000, 1000, 0, 500000, 10**7]))
        size = draw(st.sampled_from([0, 1, 3, 4, 80, 160, 161, 288, 320, 6]))
        head = draw(st.binary(min_size=min(size, 16), max_size=min(size, 16)))
        payload = (head * (size // max(len(head), 1) + 1))[:size]
        pkt = build_rtp_packet(payload_type=pt, sequence=seq, timestamp=ts,
                               ssrc=draw(st.sampled_from(ssrcs)), payload=payload,
                               marker=draw(st.booleans()),
                               padding=draw(st.sampled_from([0, 0, 1, 4, 255])))
        if draw(st.integers(0, 9)) == 0:  # a damaged header now and then
            pkt = bytes([draw(st.integers(0, 255))]) + pkt[1:]
        packets.append((t, pkt))
    raw = draw(st.binary(max_size=40))
    return packets, raw, draw(st.booleans())


def run_rtp(case: tuple[list[tuple[int, bytes]], bytes, bool], seeds: Seeds, work: Path) -> None:
    from validator.rtp import analyze, decode, parse_rtp_header, read_capture
    from validator.rtp.header import RtpHeaderError
    from validator.rtp.synth import Datagram, write_capture

    packets, raw, pcapng = case
    with contextlib.suppress(RtpHeaderError):
        parse_rtp_header(raw)
    dg = [Datagram(10**18 + t * 1000, "10.0.0.1", 4000, "10.0.0.2", PORT, p) for t, p in packets]
    p = write_capture(work / "rtp.pcap", dg, pcapng=pcapng)
    cap = read_capture(p, port=PORT, payload_types={k: v for k, v in CODECS.items() if k >= 96})
    for s in cap.streams:
        analyze(s)
        with contextlib.suppress(ValidatorError):
            decode(s, jitter_buffer_ms=None)


SDP_VALUES = ["0", "1", "-1", "65535", "65536", "99999999999999999999", "", " ", "abc", "nan",
              "8000", "48000/2", "L24/48000/2", "PCMU/8000", "opus/48000/2", "L16/0",
              "L16/8000/0", "G722/8000/999999", "/", "//", "x/y/z", "\u00e9", "97", "a=b"]


@st.composite
def sdp_case(draw: st.DrawFn) -> tuple[str, bytes, bytes]:
    v = st.sampled_from(SDP_VALUES) | st.text(max_size=12)
    lines = ["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "t=0 0"]
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(["m", "c", "rtpmap", "fmtp", "ptime", "junk", "raw"]))
        if kind == "m":
            pts = " ".join(draw(st.lists(v, max_size=4)))
            lines.append(f"m=audio {draw(v)} {draw(st.sampled_from(['RTP/AVP', 'RTP/SAVP', '']))}"
                         f" {pts}")
        elif kind == "c":
            lines.append(f"c=IN {draw(st.sampled_from(['IP4', 'IP6', 'X']))} {draw(v)}")
        elif kind == "rtpmap":
            lines.append(f"a=rtpmap:{draw(v)} {draw(v)}")
        elif kind == "fmtp":
            lines.append(f"a=fmtp:{draw(v)} {draw(v)}")
        elif kind == "ptime":
            lines.append(f"a=ptime:{draw(v)}")
        elif kind == "junk":
            lines.append(draw(st.text(max_size=30)))
        else:
            lines.append(f"{draw(st.characters())}={draw(v)}")
    sep = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    text = sep.join(lines)
    sip = draw(st.sampled_from([b"INVITE sip:a@b SIP/2.0\r\nContent-Type: application/sdp\r\n"
                                b"Content-Length: ", b"SIP/2.0 200 OK\r\nContent-Length: ", b""]))
    sip += str(draw(st.integers(-5, 5000))).encode() + b"\r\n\r\n" + text.encode("utf-8",
                                                                                  "replace")
    sap = bytes([draw(st.integers(0, 255)), draw(st.integers(0, 255))]) + \
        draw(st.binary(max_size=12)) + draw(st.sampled_from([b"application/sdp\x00", b""])) + \
        text.encode("utf-8", "replace")
    return text, sip, sap


def run_sdp(case: tuple[str, bytes, bytes], seeds: Seeds, work: Path) -> None:
    from validator.rtp.sdp import parse_sap, parse_sdp, sip_body

    text, sip, sap = case
    for media in parse_sdp(text):
        repr(media)
    body = sip_body(sip)
    if body is not None:
        parse_sdp(body)
    body = parse_sap(sap)
    if body is not None:
        parse_sdp(body)


PROFILE_KEYS = ["max_dropouts", "max_glitches", "max_level_events", "max_clipping",
                "max_silence", "max_warps", "max_abs_gain_error_db", "max_truncation_s",
                "max_abs_drift_ppm", "min_snr_db", "max_thd_n_db", "max_delay_s",
                "max_polarity_inversions", "min_dropout_ms", "dropout_depth_db", "glitch_min_db",
                "glitch_false_alarm", "level_step_db", "level_min_ms", "clip_min_samples",
                "silence_threshold_dbfs", "silence_min_ms", "active_margin_db", "name", "bogus"]
TOML_VALUES = ["0", "1", "-1", "2.5", "-0.0", "1e308", "1e-320", "nan", "inf", "-inf", "+inf",
               "99999999999999999999", "9223372036854775807", "-9223372036854775808", "true",
               "false", '"two"', "[1, 2]", "{a = 1}", "1979-05-27", "0x10", "1_000", '""',
               "1e400", "0.5", "100000", "-100000", "1e9"]


@st.composite
def profile_case(draw: st.DrawFn) -> tuple[str, bool]:
    lines = []
    for _ in range(draw(st.integers(0, 3))):
        table = draw(st.sampled_from(["limits", "detectors", "limits", "detectors", "limit",
                                      "x.y"]))
        lines.append(f"[{table}]")
        keys = PROFILE_KEYS[:13] if table == "limits" else PROFILE_KEYS[13:23]
        for _ in range(draw(st.integers(0, 4))):
            key = draw(st.sampled_from(keys) | st.sampled_from(PROFILE_KEYS))
            value = draw(st.sampled_from(TOML_VALUES) if draw(st.integers(0, 2)) == 0 else
                         st.floats(-1e4, 1e4, allow_nan=False).map(repr) | st.integers(
                             0, 10_000).map(str))
            lines.append(f"{key} = {value}")
    if draw(st.integers(0, 9)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=20)))
    if draw(st.booleans()):  # half the profiles are valid: known keys, values in range
        from validator.detectors.settings import RANGES as DETECTOR_RANGES

        lines = ["[limits]"]
        for key in draw(st.lists(st.sampled_from(PROFILE_KEYS[:13]), max_size=4, unique=True)):
            lines.append(f"{key} = {draw(st.integers(0, 1000) | st.just(False))}".lower())
        lines.append("[detectors]")
        for key in draw(st.lists(st.sampled_from(sorted(DETECTOR_RANGES)), max_size=4,
                                 unique=True)):
            low, high, _ = DETECTOR_RANGES[key]
            value = draw(st.floats(low, high, exclude_min=True, allow_nan=False))
            lines.append(f"{key} = {round(value) if key == 'clip_min_samples' else value!r}")
    return "\n".join(lines) + "\n", draw(st.integers(0, 4)) == 0


def run_profile(case: tuple[str, bool], seeds: Seeds, work: Path) -> None:
    from validator.pipeline import validate
    from validator.verdict import load_profile

    text, deep = case
    p = work / "profile.toml"
    p.write_text(text, encoding="utf-8")
    profile = load_profile(p)
    if deep:
        validate(seeds.clean_wav, seeds.clean_wav, profile=profile, max_delay_s=0.1)


MANIFEST_VALUES = ["seed_wav16.wav", "seed_wav16.wav", "seed_*.wav", "seed_eth.pcap", "sine:997",
                   "seed_wavfloat.wav", "a.wav", "*.wav", "**/*.wav", "[", "seed_eth.pcap",
                   "sine:997", "sine:", "missing.wav", "", " ", '"', 'a"b', "0x12", "-1",
                   "../x.wav", "seed_*.pcap*", "dir/", "\u00e9.wav", "a,b", "profile.toml"]


@st.composite
def manifest_case(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(["csv", "toml", "json"]))
    v = st.sampled_from(MANIFEST_VALUES) | st.text(max_size=10)
    keys = st.sampled_from(["received", "received", "reference", "reference", "profile", "ssrc",
                            "device", "Received", "", "tags", "defaults", "jobs"])
    rows = draw(st.lists(st.dictionaries(keys, v, max_size=5), max_size=4))
    if draw(st.booleans()):  # half the manifests are well formed, with odd tags and paths
        good = st.fixed_dictionaries(
            {"received": st.sampled_from(MANIFEST_VALUES[:6]),
             "reference": st.sampled_from(["sine:997", "seed_wav16.wav", "sine:997,1499"])},
            optional={"device": v, "ssrc": st.sampled_from(["0x12345678", "1", "x"]),
                      "profile": st.sampled_from(["profile.toml", "missing.toml"])})
        rows = draw(st.lists(good, min_size=1, max_size=4))
    if kind == "csv":
        header = draw(st.lists(keys, min_size=0, max_size=5))
        lines = [",".join(header)]
        for r in rows:
            lines.append(",".join(draw(st.sampled_from(['{}', '"{}"', '"{}']))
                                  .format(r.get(h, draw(v))) for h in header))
        text = "\n".join(lines)
    elif kind == "toml":
        parts = []
        if draw(st.booleans()):
            parts.append(f'[defaults]\nreference = {json.dumps(draw(v))}')
        for r in rows:
            parts.append("[[jobs]]\n" + "\n".join(f"{json.dumps(k)} = {json.dumps(x)}"
                                                   for k, x in r.items()))
        if draw(st.integers(0, 9)) == 0:
            parts.append(draw(st.sampled_from(["jobs = 3", "[jobs]", "defaults = []",
                                               "[[jobs]]\ntags = 5", '[[jobs]]\nreceived = 7'])))
        text = "\n".join(parts)
    else:
        shape = draw(st.sampled_from(["list", "dict", "odd"]))
        if shape == "list":
            doc: Any = rows
        elif shape == "dict":
            doc = {"defaults": {"reference": draw(v)}, "jobs": rows}
        else:
            doc = draw(st.sampled_from([3, None, "x", {"jobs": 5}, [[1]], {"jobs": [None]},
                                        [{"received": 5}], [{"received": ["a"]}]]))
        text = json.dumps(doc)
    if draw(st.integers(0, 9)) == 0:
        k = draw(st.integers(0, len(text)))
        text = text[:k]
    return kind, text


def run_manifest(case: tuple[str, str], seeds: Seeds, work: Path) -> None:
    from validator.batch.manifest import load_manifest

    kind, text = case
    p = seeds.root / f"manifest.{kind}"
    p.write_text(text, encoding="utf-8")
    load_manifest(p, reference=None)


TONE_NUMBERS = ["997", "1499", "0", "-1", "nan", "inf", "-inf", "1e400", "1e-400", "3999.9",
                "4000", "1_000", "0x10", "\u0661\u0662", " 997 ", "", "1e3", "99999999999",
                "4e-324", "+997", "997.", ".5"]


@st.composite
def tone_case(draw: st.DrawFn) -> tuple[str, bool]:
    head = draw(st.sampled_from(["sine:", "SINE:", "sine", "sin:", "sine::", ""]))
    nums = draw(st.lists(st.sampled_from(TONE_NUMBERS) | st.text(max_size=6), max_size=4))
    spec = head + draw(st.sampled_from([",", ", ", ";"])).join(nums)
    return spec, draw(st.integers(0, 9)) == 0


def run_tone(case: tuple[str, bool], seeds: Seeds, work: Path) -> None:
    from validator.io.audio import parse_tone_spec
    from validator.pipeline import validate

    spec, deep = case
    freqs = parse_tone_spec(spec)
    if freqs is not None and deep:
        validate(seeds.clean_wav, spec, max_delay_s=0.1)


CLI_NUMBERS = ["0", "-5", "1", "2", "3", "0.01", "0.5", "5", "16", "24", "32", "997", "8000",
               "30000", "1e9", "nan", "inf", "-inf", "abc", "", "99999999999999999999", "1e-9"]


@st.composite
def cli_case(draw: st.DrawFn) -> list[str]:
    cmd = draw(st.sampled_from(["validate", "generate", "impair", "rtp", "batch", "nope"]))
    num = st.sampled_from(CLI_NUMBERS)
    path = st.sampled_from(["@wav", "@pcap", "@dir", "@missing", "@file/x", "@two", "@out",
                            "sine:997", "sine:abc", "-", "@manifest"])
    flags: dict[str, list[Any]] = {
        "validate": [("--max-zooms", num), ("--max-delay", num), ("--max-events", num),
                     ("--port", num), ("--ssrc", st.sampled_from(["0x1", "1", "abc", "-1",
                                                                    "0xFFFFFFFFF"])),
                     ("--payload-type", st.sampled_from(["97=L24/48000/2", "97", "0=PCMU/8000",
                                                         "200=L16/8000", "97=L16/0"])),
                     ("--json", path), ("--html", path), ("--junit", path),
                     ("--output-dir", path), ("--no-html", None), ("--no-junit", None),
                     ("--quiet", None), ("--profile", path)],
        "generate": [("--freq", num), ("--rate", num), ("--duration", st.sampled_from(
                     ["0", "-1", "0.01", "0.1", "nan", "inf", "1e9", "abc"])),
                     ("--level", num), ("--bits", num), ("--channels", st.sampled_from(
                         ["0", "1", "2", "-1", "100000"])), ("--ramp", num),
                     ("--marker", st.sampled_from(["chirp", "mls", "x"])), ("--start", num),
                     ("--stop", num)],
        "impair": [("--dropout", st.sampled_from(["0.1:0.01", "0:0", "-1:1", "1e9:1", "x",
                                                  "0.1:20ms", "0.1:1e9"])),
                   ("--loss", num), ("--gain", num), ("--clip", num),
                   ("--delay", st.sampled_from(["0", "0.5", "5ms", "96samples", "3601", "1e9",
                                                "-1", "x", "2.5samples"])),
                   ("--drift", st.sampled_from(["0", "5", "-100", "1e5", "1e6", "nan", "x"])),
                   ("--snr", num), ("--dc", num), ("--bits", num),
                   ("--seed", num), ("--ptime", st.sampled_from(["20ms", "0", "-1", "1e9s"])),
                   ("--plc", st.sampled_from(["zero", "repeat", "fade", "skip"])),
                   ("--level-step", st.sampled_from(["0.1:0.05:-6", "0:0:0", "0.1:0.1:nan"])),
                   ("--silence", st.sampled_from(["0.1:0.05", "0.1:0.05:-500", "0.1:0.05:10"])),
                   ("--invert", None), ("--swap-channels", None), ("--mulaw", None),
                   ("--truth", path)],
        "rtp": [("--port", num), ("--json", None), ("--wav", path), ("--events", None),
                ("--ssrc", st.sampled_from(["0x1", "abc", "0x0BADCAFE"])),
                ("--jitter-buffer", num),
                ("--payload-type", st.sampled_from(["97=L24/48000/2", "97=opus/48000/2"]))],
        "batch": [("--reference", path), ("--jobs", st.sampled_from(["0", "-1", "1"])),
                  ("--max-zooms", num), ("--no-html", None), ("--quiet", None),
                  ("--output-dir", path), ("--max-delay", num)],
        "nope": [],
    }
    argv = [cmd]
    if cmd == "generate":
        argv += [draw(st.sampled_from(["tone", "multitone", "sweep", "x"])), draw(path)]
    elif cmd == "validate":
        argv += [draw(path), "--reference", draw(path)]
    elif cmd == "impair":
        argv += [draw(path), draw(path)]
    elif cmd in ("rtp", "batch"):
        argv += [draw(path)]
    for flag, values in draw(st.lists(st.sampled_from(flags[cmd]), max_size=4)) \
            if flags[cmd] else []:
        argv.append(flag)
        if values is not None:
            argv.append(draw(values))
    if cmd in ("validate", "batch"):
        argv += ["--no-progress"]
    if draw(st.integers(0, 19)) == 0:
        argv.insert(draw(st.integers(0, len(argv))), draw(st.text(max_size=8)))
    return argv


def run_cli(argv: list[str], seeds: Seeds, work: Path) -> None:
    import shutil

    from validator.cli import main

    # fresh copies each case: a command may write over any path it is given
    cli = work / "cli"
    shutil.rmtree(cli, ignore_errors=True)
    cli.mkdir()
    wav = Path(shutil.copy(seeds.clean_wav, cli / "clean.wav"))
    pcap = Path(shutil.copy(seeds.clean_pcap, cli / "clean.pcap"))
    two = Path(shutil.copy(seeds.root / "seed_two.pcap", cli / "two.pcap"))
    (cli / "m.csv").write_text("received,reference\nclean.wav,sine:997\n", encoding="utf-8")
    subst = {"@wav": str(wav), "@pcap": str(pcap), "@dir": str(cli),
             "@missing": str(cli / "missing.wav"), "@file/x": str(wav / "x"),
             "@two": str(two), "@out": str(cli / "out" / "o.wav"),
             "@manifest": str(cli / "m.csv")}
    argv = [subst.get(a, a) for a in argv]
    if argv[0] == "validate" and "--output-dir" not in argv:
        argv += ["--output-dir", str(cli / "reports")]
    if argv[0] == "generate" and "--duration" not in argv:
        argv += ["--duration", "0.2"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    text = err.getvalue()
    if rc not in (0, 1, 2):
        raise CliDefect(f"exit code {rc!r}")
    if "Traceback" in text or "internal error" in text:
        raise CliDefect(text.strip().splitlines()[-1] if text.strip() else text)
    if rc == 2 and text and not any(line.startswith("audio-validator: error:")
                                    for line in text.splitlines()):
        raise CliDefect(f"exit 2 without an error line: {text!r}")


class CliDefect(Exception):
    """The CLI printed a traceback or an internal error, or exited with a code outside 0/1/2."""


# --------------------------------------------------------------------------- targets


@dataclass
class Target:
    name: str
    strategy: Callable[[Seeds], st.SearchStrategy[Any]]
    run: Callable[[Any, Seeds, Path], None]


TARGETS = {
    "wav": Target("wav", lambda s: st.tuples(
        mutated({k: v for k, v in s.audio.items() if k.startswith("wav")}, _wav_hot, True),
        st.booleans(), st.integers(0, 2).map(bool)), run_audio),
    "flac": Target("flac", lambda s: st.tuples(
        mutated({k: v for k, v in s.audio.items() if k.startswith("flac")}, _flac_hot),
        st.booleans(), st.integers(0, 2).map(bool)), run_audio),
    "pcap": Target("pcap", lambda s: st.tuples(
        mutated({k: v for k, v in s.captures.items() if not k.startswith("ng_")}, _pcap_hot),
        st.integers(0, 9).map(lambda k: k == 0)), run_capture),
    "pcapng": Target("pcapng", lambda s: st.tuples(
        mutated({k: v for k, v in s.captures.items() if k.startswith("ng_")}, _pcap_hot),
        st.integers(0, 9).map(lambda k: k == 0)), run_capture),
    "rtp": Target("rtp", lambda s: rtp_case(), run_rtp),
    "sdp": Target("sdp", lambda s: sdp_case(), run_sdp),
    "profile": Target("profile", lambda s: profile_case(), run_profile),
    "manifest": Target("manifest", lambda s: manifest_case(), run_manifest),
    "tone": Target("tone", lambda s: tone_case(), run_tone),
    "cli": Target("cli", lambda s: cli_case(), run_cli),
}


@dataclass
class Tally:
    """Counts of one target."""

    cases: int = 0
    result: int = 0
    error: int = 0
    defect: int = 0
    hang: int = 0
    warnings: int = 0
    seconds: float = 0.0
    #: First input of each distinct defect: (kind, where) -> (message, input repr).
    examples: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    #: Distinct Python warnings seen (category and message, numbers masked), at most 10.
    warning_kinds: set[str] = field(default_factory=set)
    #: The same, with the whole input repr: (kind, where) -> (message, short, full).
    full: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)


def _where(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    own = [f for f in tb if "/validator/" in f.filename] or list(tb)
    if not own:
        return "?"
    f = own[-1]
    return f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno}"


class _FdTrap:
    """Redirect file descriptors 1 and 2 to a temporary file; report what C code wrote there."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        self.saved = (os.dup(1), os.dup(2))

    def __enter__(self) -> _FdTrap:
        sys.stdout.flush()
        sys.stderr.flush()
        self.file.seek(0)
        self.file.truncate()
        os.dup2(self.file.fileno(), 1)
        os.dup2(self.file.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        os.dup2(self.saved[0], 1)
        os.dup2(self.saved[1], 2)

    def written(self) -> bytes:
        self.file.seek(0)
        return self.file.read()


def _alarm(signum: int, frame: Any) -> None:
    raise Hang()


def run_one(target: Target, case: Any, seeds: Seeds, work: Path, tally: Tally,
            time_limit_s: float, trap: _FdTrap) -> str:
    """Run one case under the watchdog and count its outcome; returns the outcome's name."""
    kind, detail, where = "result", "", ""
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, trap:
        warnings.simplefilter("always")
        signal.setitimer(signal.ITIMER_REAL, time_limit_s)
        try:
            target.run(case, seeds, work)
        except Hang as exc:
            kind, detail, where = "hang", f"> {time_limit_s:g} s", _where(exc)
        except ValidatorError:
            kind = "error"
        except CliDefect as exc:  # the CLI caught it: its message says what it was
            kind, detail = "defect", f"CliDefect: {exc}"
            where = "cli " + re.sub(r"\d+", "N", str(exc).split(";")[0])[:90]
        except Exception as exc:  # anything else is a defect
            kind, detail, where = "defect", f"{type(exc).__name__}: {exc}", _where(exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    noise = trap.written()
    if noise and kind != "defect":
        kind, detail, where = "defect", "wrote to fd 1/2: " + noise.decode(
            "utf-8", "replace").strip()[:200], "C library"
    tally.cases += 1
    tally.seconds += time.perf_counter() - t0
    tally.warnings += len(caught)
    for w in caught:
        if len(tally.warning_kinds) < 10:
            tally.warning_kinds.add(f"{w.category.__name__}: "
                                    + re.sub(r"\d+", "N", str(w.message))[:120]
                                    + f" ({Path(w.filename).name}:{w.lineno})")
    setattr(tally, kind, getattr(tally, kind) + 1)
    if kind in ("defect", "hang"):
        key = (kind, where + " " + detail.split(":")[0])
        if key not in tally.examples:
            tally.examples[key] = (detail[:300], repr(case)[:600])
            tally.full[key] = (detail[:300], "", repr(case))
    return kind


def fuzz_target(name: str, cases: int, seeds: Seeds, work: Path, *, seed: int | None = 0,
                derandomize: bool = False, time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                trap: _FdTrap | None = None) -> Tally:
    """Run ``cases`` cases of one target and return its tally.

    Parameters
    ----------
    name : str
        A key of :data:`TARGETS`.
    cases : int
        Cases to draw (hypothesis may stop earlier when a small input space is exhausted).
    seeds : Seeds
        From :func:`make_seeds`.
    work : Path
        Scratch folder for the case's files.
    seed : int, optional
        hypothesis seed (ignored with ``derandomize``).
    derandomize : bool
        Draw the same cases on every run (the test-suite version).
    time_limit_s : float
        Per-case watchdog, s.

    Returns
    -------
    Tally
    """
    target = TARGETS[name]
    tally = Tally()
    trap = trap or _FdTrap()
    old = signal.signal(signal.SIGALRM, _alarm)
    strategy = target.strategy(seeds)

    @settings(max_examples=cases, deadline=None, database=None, phases=[Phase.generate],
              derandomize=derandomize, suppress_health_check=list(HealthCheck),
              print_blob=False, report_multiple_bugs=False)
    @given(strategy)
    def case(data: Any) -> None:
        run_one(target, data, seeds, work, tally, time_limit_s, trap)

    if not derandomize and seed is not None:
        case = hypothesis_seed(seed)(case)
    try:
        case()
    finally:
        signal.signal(signal.SIGALRM, old)
    return tally


def split_cases(total: int, names: list[str]) -> dict[str, int]:
    """Share ``total`` cases among ``names`` by :data:`WEIGHTS` (every target at least 1)."""
    w = sum(WEIGHTS[n] for n in names)
    share = {n: max(1, total * WEIGHTS[n] // w) for n in names}
    share[names[0]] += max(total - sum(share.values()), 0)
    return share


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--cases", type=int, default=DEFAULT_CASES,
                    help=f"cases over all targets (default {DEFAULT_CASES})")
    ap.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    ap.add_argument("--only", help="comma-separated targets (default: all): " + ",".join(TARGETS))
    ap.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S, metavar="S",
                    help=f"per-case time limit, s (default {DEFAULT_TIME_LIMIT_S:g})")
    ap.add_argument("--max-memory-gib", type=float, default=6.0,
                    help="address-space limit of this process, GiB (default 6)")
    ap.add_argument("--save-defects", metavar="DIR",
                    help="write the first input of each distinct defect or hang to "
                         "DIR/<target>-<k>.txt (a Python literal, for regression tests)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=HypothesisWarning)  # long reprs of byte seeds
    names = args.only.split(",") if args.only else list(TARGETS)
    for n in names:
        if n not in TARGETS:
            ap.error(f"unknown target {n!r}; known: {', '.join(TARGETS)}")
    limit = int(args.max_memory_gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    t0 = time.perf_counter()
    share = split_cases(args.cases, names)
    out = os.fdopen(os.dup(1), "w", buffering=1)
    totals = Counter[str]()
    examples = {}
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        root = Path(tmp)
        seeds = make_seeds(root)
        work = root / "work"
        work.mkdir()
        os.chdir(work)  # a CLI case may name "-" or a relative path: keep it in the scratch
        trap = _FdTrap()
        for i, n in enumerate(names):
            tally = fuzz_target(n, share[n], seeds, work, seed=args.seed + i,
                                time_limit_s=args.time_limit, trap=trap)
            print(f"{n:9s} {tally.cases:7d} cases  {tally.result:7d} results  "
                  f"{tally.error:7d} ValidatorError  {tally.defect:4d} defects  "
                  f"{tally.hang:3d} hangs  {tally.warnings:5d} warnings  "
                  f"{tally.seconds:7.1f} s", file=out)
            for w in sorted(tally.warning_kinds):
                print(f"          warning: {w}", file=out)
            for k in ("cases", "result", "error", "defect", "hang", "warnings"):
                totals[k] += getattr(tally, k)
            examples.update({(n, *k): v for k, v in tally.examples.items()})
            if args.save_defects:
                out_dir = Path(args.save_defects)
                out_dir.mkdir(parents=True, exist_ok=True)
                for k, (detail, _short, case) in enumerate(tally.full.values()):
                    one_line = " ".join(detail.split())
                    (out_dir / f"{n}-{k}.txt").write_text(f"# {one_line}\n{case}\n",
                                                          encoding="utf-8")
    wall = time.perf_counter() - t0
    print(f"fuzz: {totals['cases']} cases, {totals['defect']} defects, {totals['hang']} hangs "
          f"({totals['result']} results, {totals['error']} ValidatorError, "
          f"{totals['warnings']} warnings; seed {args.seed}; {wall:.0f} s)", file=out)
    for (n, kind, where), (detail, case) in sorted(examples.items()):
        print(f"\n[{n}] {kind} at {where}\n  {detail}\n  input: {case}", file=out)
    return 1 if totals["defect"] or totals["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
