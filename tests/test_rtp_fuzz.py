"""Fuzz the RTP header parser and the capture reader with hypothesis.

Properties: any bytes either parse into a header whose parts add up to the
datagram, or raise RtpHeaderError (a CaptureError); built packets parse
back to their fields; a capture of arbitrary bytes after a valid header
never raises anything but CaptureError.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validator.errors import CaptureError
from validator.rtp import build_rtp_packet, parse_rtp_header, read_capture
from validator.rtp.header import RtpHeaderError
from validator.rtp.pcap import _MAX_RECORD

#: Hypothesis runs of hundreds of examples each: slow (``-m "not slow"`` leaves them out).
pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=200))
def test_parser_accepts_or_rejects_cleanly(data: bytes) -> None:
    try:
        h = parse_rtp_header(data)
    except RtpHeaderError as exc:
        assert isinstance(exc, CaptureError) and str(exc)
        return
    assert h.version == 2 and len(data) >= 12
    assert h.payload_offset + h.payload_length + h.padding_length == len(data)
    assert h.payload_length >= 0 and 0 <= h.payload_type <= 127
    assert len(h.csrcs) == data[0] & 0x0F
    assert h.padding == (h.padding_length > 0)


@FUZZ
@given(st.binary(min_size=12, max_size=64).map(lambda b: bytes([0x80 | (b[0] & 0x3F)]) + b[1:]))
def test_parser_on_version2_noise(data: bytes) -> None:
    try:
        h = parse_rtp_header(data)
    except RtpHeaderError:
        return
    assert h.payload(data) == data[h.payload_offset:h.payload_offset + h.payload_length]


@FUZZ
@given(pt=st.integers(0, 127), seq=st.integers(0, 65535), ts=st.integers(0, 2**32 - 1),
       ssrc=st.integers(0, 2**32 - 1), payload=st.binary(max_size=64), marker=st.booleans(),
       csrcs=st.lists(st.integers(0, 2**32 - 1), max_size=15),
       ext=st.none() | st.tuples(st.integers(0, 65535), st.binary(max_size=16)),
       padding=st.integers(0, 255))
def test_build_then_parse_round_trips(pt, seq, ts, ssrc, payload, marker, csrcs, ext,
                                      padding) -> None:
    pkt = build_rtp_packet(payload_type=pt, sequence=seq, timestamp=ts, ssrc=ssrc,
                           payload=payload, marker=marker, csrcs=tuple(csrcs), extension=ext,
                           padding=padding)
    h = parse_rtp_header(pkt)
    assert (h.payload_type, h.sequence, h.timestamp, h.ssrc, h.marker) == \
        (pt, seq, ts, ssrc, marker)
    assert h.csrcs == tuple(csrcs) and h.payload(pkt) == payload
    assert h.padding_length == padding
    if ext is not None:
        assert h.extension_profile == ext[0]
        assert h.extension_data == ext[1] + b"\x00" * (-len(ext[1]) % 4)


def _whole_records(body: bytes) -> tuple[int, bool]:
    """Walk a little-endian classic pcap body independently of the reader.

    Returns the number of whole records before the first cut or implausible
    length, and whether the body ends exactly after the last of them.
    """
    pos = n = 0
    while pos + 16 <= len(body):
        (incl,) = struct.unpack_from("<I", body, pos + 8)
        if incl > _MAX_RECORD or pos + 16 + incl > len(body):
            break
        n += 1
        pos += 16 + incl
    return n, pos == len(body)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=600) | st.lists(st.binary(max_size=60), max_size=6).map(
    lambda frames: b"".join(struct.pack("<IIII", 1, k, len(f), len(f)) + f
                            for k, f in enumerate(frames))),
       cut=st.integers(0, 20), nano=st.booleans())
def test_reader_on_garbage_records(tmp_path: Path, body: bytes, cut: int, nano: bool) -> None:
    """Every whole record is counted as a frame, and a cut or an implausible length is noted.

    The bodies are random bytes or well-formed records (random frames) with
    up to 20 bytes cut off the end; the expected count comes from an
    independent walk of the records (:func:`_whole_records`).
    """
    body = body[:max(len(body) - cut, 0)]
    expected, complete = _whole_records(body)
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    for link in (1, 113, 276, 101, 0):
        p = tmp_path / "g.pcap"
        p.write_bytes(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, link) + body)
        try:
            cap = read_capture(p)
        except CaptureError as exc:
            assert expected == 0 and not complete, exc  # only "no complete packet" is an error
            assert "g.pcap" in str(exc)
            continue
        assert cap.frames == expected
        assert cap.udp_datagrams <= cap.frames
        assert complete or any("cut short" in n or "implausible" in n for n in cap.notes), \
            cap.notes


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(st.binary(min_size=0, max_size=120), max_size=12))
def test_reader_on_garbage_frames(tmp_path: Path, frames: list[bytes]) -> None:
    """Well-formed records carrying random Ethernet frames (random IP/UDP/RTP inside)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for k, f in enumerate(frames):
        frame = b"\x00" * 12 + b"\x08\x00" + b"\x45" + f  # IPv4 with a random rest
        out.append(struct.pack("<IIII", 1000, k, len(frame), len(frame) + k % 3) + frame)
    p = tmp_path / "f.pcap"
    p.write_bytes(b"".join(out))
    cap = read_capture(p)
    assert cap.frames == len(frames)


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pkts=st.lists(st.tuples(st.sampled_from([0, 8, 97, 13, 101]), st.integers(0, 65535),
                               st.integers(0, 2**32 - 1), st.sampled_from([1, 2]),
                               st.binary(max_size=40), st.integers(0, 10**9)),
                     min_size=1, max_size=25))
def test_analyze_and_decode_never_crash(tmp_path: Path, pkts) -> None:
    """Random sequence numbers, timestamps, payloads and arrival times on a --port stream."""
    from validator.rtp import analyze, decode
    from validator.rtp.synth import Datagram, write_capture

    dg = [Datagram(10**12 + t, "10.0.0.1", 4000, "10.0.0.2", 5004,
                   build_rtp_packet(payload_type=pt, sequence=seq, timestamp=ts, ssrc=ssrc,
                                    payload=pl))
          for pt, seq, ts, ssrc, pl, t in pkts]
    dg.sort(key=lambda d: d.time_ns)
    cap = read_capture(write_capture(tmp_path / "r.pcap", dg), port=5004,
                       payload_types={97: "L24/48000/2", 101: "telephone-event/8000"})
    for s in cap.streams:
        st_ = analyze(s)
        assert st_.packets == len(s.packets)
        try:
            d = decode(s)
        except CaptureError:
            continue
        assert d.audio.ndim == 2 and d.audio.shape[0] > 0
        assert all(e.end_sample >= e.start_sample >= 0 for e in d.network_events)
