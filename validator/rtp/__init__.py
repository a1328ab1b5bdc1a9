"""RTP captures: find the streams, analyse them as tshark does, decode their audio.

Python API::

    from validator.rtp import read_capture, select_stream, analyze, decode
    capture = read_capture("received.pcap", payload_types={97: "L24/48000/2"})
    stream = select_stream(capture)              # the only audio stream
    stats = analyze(stream)                      # packets, lost, jitter... (tshark-equal)
    decoded = decode(stream)                     # audio on the RTP-timestamp timeline
    decoded.path, decoded.sample_rate_hz, decoded.network_events  # a temporary WAV
    decoded.audio                                # the whole array, read from it on demand
    decoded.close()                              # deletes the WAV (also when collected)

Modules: ``pcap`` (pcap/pcapng down to UDP, chunked frame reading, and a pcap
writer), ``scan`` (a capture streamed into packet tables), ``table`` (the
packet table: numpy columns, payloads left in the file), ``header`` (RFC 3550
header), ``payload`` (formats), ``sdp`` (SIP/SAP), ``capture`` (streams),
``stats`` (analysis), ``decoding`` (audio: :func:`decode`), ``report`` (table
and JSON), ``listen`` (live receiver), ``cli`` (the ``rtp`` and ``listen``
subcommands).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from validator.errors import CaptureError

if TYPE_CHECKING:  # the names below load lazily: the CLI starts without numpy
    from validator.rtp.capture import (
        Capture,
        RtpPacket,
        RtpStream,
        read_capture,
        select_stream,
    )
    from validator.rtp.decoding import DecodedAudio, NetworkEvent, decode
    from validator.rtp.header import RtpHeader, build_rtp_packet, is_rtcp, parse_rtp_header
    from validator.rtp.payload import PayloadFormat, parse_rtpmap
    from validator.rtp.pcap import is_capture_file
    from validator.rtp.stats import StreamStats, analyze

_LAZY = {
    "Capture": "capture", "RtpPacket": "capture", "RtpStream": "capture",
    "read_capture": "capture", "select_stream": "capture",
    "DecodedAudio": "decoding", "NetworkEvent": "decoding", "decode": "decoding",
    "RtpHeader": "header", "build_rtp_packet": "header", "is_rtcp": "header",
    "parse_rtp_header": "header", "PayloadFormat": "payload", "parse_rtpmap": "payload",
    "is_capture_file": "pcap", "StreamStats": "stats", "analyze": "stats",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"validator.rtp.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'validator.rtp' has no attribute {name!r}")


__all__ = [
    "Capture",
    "CaptureError",
    "DecodedAudio",
    "NetworkEvent",
    "PayloadFormat",
    "RtpHeader",
    "RtpPacket",
    "RtpStream",
    "StreamStats",
    "analyze",
    "build_rtp_packet",
    "decode",
    "is_capture_file",
    "is_rtcp",
    "parse_rtp_header",
    "parse_rtpmap",
    "read_capture",
    "select_stream",
]
