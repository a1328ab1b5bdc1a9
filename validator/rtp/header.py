"""RTP fixed header (RFC 3550 section 5.1): parse and build, and RTCP recognition.

::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    |                           timestamp                           |
    |           synchronization source (SSRC) identifier            |
    |            contributing source (CSRC) identifiers  (CC x)     |
    | extension: profile (16) | length in 32-bit words (16) | data  |   (if X)
    | payload ...                               | padding | count   |   (if P)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from validator.errors import CaptureError

__all__ = [
    "RTP_HEADER_BYTES",
    "SEQ_MODULUS",
    "TS_MODULUS",
    "RtpHeader",
    "RtpHeaderError",
    "build_rtp_packet",
    "format_ssrc",
    "is_rtcp",
    "parse_rtp_header",
    "seq_delta",
    "ts_delta",
]

#: Size of the fixed RTP header, bytes (RFC 3550 5.1).
RTP_HEADER_BYTES = 12
#: Sequence numbers are 16-bit and RTP timestamps 32-bit: both wrap (RFC 3550 5.1).
SEQ_MODULUS = 1 << 16
TS_MODULUS = 1 << 32


def seq_delta(seq: int, ref: int) -> int:
    """How far sequence number ``seq`` lies after ``ref``, modulo 2**16.

    Parameters
    ----------
    seq, ref : int
        16-bit sequence numbers; ``ref`` may also be an extended (unwrapped)
        one, RFC 3550 A.1.

    Returns
    -------
    int
        In -32768..32767: the nearest of the values congruent to ``seq - ref``
        (negative: ``seq`` is before ``ref``, e.g. a late packet).
    """
    half = SEQ_MODULUS // 2
    return (seq - ref + half) % SEQ_MODULUS - half


def ts_delta(ts: int, ref: int) -> int:
    """How far RTP timestamp ``ts`` lies after ``ref``, modulo 2**32.

    Parameters
    ----------
    ts, ref : int
        32-bit RTP timestamps (``ref`` may be an unwrapped one).

    Returns
    -------
    int
        In -2**31..2**31-1 clock ticks (negative: ``ts`` is before ``ref``).
    """
    half = TS_MODULUS // 2
    return (ts - ref + half) % TS_MODULUS - half


def format_ssrc(ssrc: int) -> str:
    """``0x1234ABCD`` form of an SSRC (as Wireshark prints it)."""
    return f"0x{ssrc:08X}"
_FIXED = struct.Struct("!BBHII")


class RtpHeaderError(CaptureError):
    """A datagram is not a well-formed RTP packet (the message says which field)."""


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """A parsed RTP header (RFC 3550 5.1) and where the payload sits.

    Attributes
    ----------
    version : int
        Always 2.
    padding : bool
        P bit: the last octet of the packet counts padding octets.
    extension : bool
        X bit: one header extension follows the CSRC list (RFC 3550 5.3.1).
    marker : bool
        M bit; for audio, the first packet of a talkspurt (RFC 3551 4.1).
    payload_type : int
        0..127 (RFC 3551 table 4; 96..127 dynamic).
    sequence : int
        Sequence number, 0..65535.
    timestamp : int
        RTP timestamp, 0..2**32-1, in units of the payload's clock.
    ssrc : int
        Synchronisation source, 0..2**32-1.
    csrcs : tuple of int
        Contributing sources (CC of them).
    extension_profile : int or None
        The extension's 16-bit profile-defined field (e.g. 0xBEDE for RFC 8285).
    extension_data : bytes
        The extension body (its length is a multiple of 4).
    payload_offset : int
        Index of the first payload byte in the datagram.
    payload_length : int
        Payload bytes, padding excluded.
    padding_length : int
        Padding bytes at the end (0 without the P bit).
    """

    version: int
    padding: bool
    extension: bool
    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    csrcs: tuple[int, ...]
    extension_profile: int | None
    extension_data: bytes
    payload_offset: int
    payload_length: int
    padding_length: int

    def payload(self, datagram: bytes) -> bytes:
        """The payload bytes of ``datagram`` (the packet this header was parsed from)."""
        return bytes(datagram[self.payload_offset:self.payload_offset + self.payload_length])


def is_rtcp(datagram: bytes) -> bool:
    """Whether a datagram looks like RTCP: version 2 and packet type 200..204 in byte 1.

    RTCP packet types SR 200, RR 201, SDES 202, BYE 203, APP 204 (RFC 3550
    section 6) sit where RTP's marker bit and payload type are, so an RTP
    payload type 72..76 with the marker set is indistinguishable from RTCP;
    RFC 5761 section 4 therefore forbids those payload types for RTP.
    """
    return len(datagram) >= 8 and datagram[0] >> 6 == 2 and 200 <= datagram[1] <= 204


def parse_rtp_header(datagram: bytes) -> RtpHeader:
    """Parse the RTP header of a UDP payload.

    Parameters
    ----------
    datagram : bytes
        The whole UDP payload.

    Returns
    -------
    RtpHeader
        The header fields and the payload's position.

    Raises
    ------
    RtpHeaderError
        Shorter than 12 bytes, version other than 2, a CSRC list or header
        extension that runs past the end, or a padding count of 0 or larger
        than what follows the header (RFC 3550 5.1, A.1 validity checks).
    """
    n = len(datagram)
    if n < RTP_HEADER_BYTES:
        raise RtpHeaderError(f"RTP packet too short: {n} bytes, expected at least 12")
    b0, b1, seq, ts, ssrc = _FIXED.unpack_from(datagram, 0)
    version = b0 >> 6
    if version != 2:
        raise RtpHeaderError(f"RTP version {version}, expected 2")
    cc = b0 & 0x0F
    off = RTP_HEADER_BYTES + 4 * cc
    if off > n:
        raise RtpHeaderError(f"CSRC count {cc} needs {off} bytes, packet has {n}")
    csrcs = struct.unpack_from(f"!{cc}I", datagram, RTP_HEADER_BYTES) if cc else ()
    ext = bool(b0 & 0x10)
    profile: int | None = None
    ext_data = b""
    if ext:
        if off + 4 > n:
            raise RtpHeaderError(f"header extension starts at byte {off}, packet has {n}")
        profile, words = struct.unpack_from("!HH", datagram, off)
        end = off + 4 + 4 * words
        if end > n:
            raise RtpHeaderError(f"header extension of {words} words runs to byte {end}, "
                                 f"packet has {n}")
        ext_data = bytes(datagram[off + 4:end])
        off = end
    pad = 0
    if b0 & 0x20:
        pad = datagram[-1]
        if pad == 0 or off + pad > n:
            raise RtpHeaderError(f"padding count {pad} is invalid for {n - off} bytes after "
                                 "the header")
    return RtpHeader(2, bool(b0 & 0x20), ext, bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc,
                     tuple(csrcs), profile, ext_data, off, n - off - pad, pad)


def build_rtp_packet(*, payload_type: int, sequence: int, timestamp: int, ssrc: int,
                     payload: bytes = b"", marker: bool = False, csrcs: tuple[int, ...] = (),
                     extension: tuple[int, bytes] | None = None, padding: int = 0) -> bytes:
    """Build an RTP packet (RFC 3550 5.1).

    Parameters
    ----------
    payload_type : int
        0..127.
    sequence : int
        Taken modulo 2**16.
    timestamp : int
        Taken modulo 2**32.
    ssrc : int
        0..2**32-1.
    payload : bytes
        Media payload.
    marker : bool
        M bit.
    csrcs : tuple of int
        Up to 15 contributing sources.
    extension : (int, bytes), optional
        Header extension (profile field, body); the body is zero-padded to a
        multiple of 4 bytes.
    padding : int
        Padding bytes to append, 0..255 (the last one holds the count).

    Returns
    -------
    bytes
        The packet.

    Raises
    ------
    ValueError
        A field is out of range.
    """
    if not 0 <= payload_type <= 127:
        raise ValueError(f"payload_type must be 0..127, got {payload_type!r}")
    if len(csrcs) > 15:
        raise ValueError(f"at most 15 CSRCs, got {len(csrcs)}")
    if not 0 <= padding <= 255:
        raise ValueError(f"padding must be 0..255 bytes, got {padding!r}")
    b0 = 0x80 | (0x20 if padding else 0) | (0x10 if extension else 0) | len(csrcs)
    out = [_FIXED.pack(b0, (0x80 if marker else 0) | payload_type, sequence & 0xFFFF,
                       timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)]
    if csrcs:
        out.append(struct.pack(f"!{len(csrcs)}I", *csrcs))
    if extension:
        profile, body = extension
        body = bytes(body) + b"\x00" * (-len(body) % 4)
        out.append(struct.pack("!HH", profile & 0xFFFF, len(body) // 4) + body)
    out.append(bytes(payload))
    if padding:
        out.append(b"\x00" * (padding - 1) + bytes((padding,)))
    return b"".join(out)
