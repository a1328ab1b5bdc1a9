"""Find the RTP streams in a capture: :func:`read_capture` and :func:`select_stream`.

A stream is identified as Wireshark does: source address and port,
destination address and port, and SSRC (RFC 3550 section 8: the SSRC
identifies a source within an RTP session). UDP traffic counts as RTP when

* ``port`` is given and the datagram uses that port (either side), or
* an SDP body in the capture (SIP on UDP 5060, SAP on UDP 9875) announced
  its endpoint, or
* the heuristics hold: RTP version 2, a plausible payload type (0..34 or
  96..127), a consistent header, and at least :data:`MIN_HEURISTIC_PACKETS`
  packets of the same SSRC on the same flow whose sequence numbers and
  timestamps mostly advance in small steps (RFC 3550 A.1 "probation").

RTCP (packet types 200..204 in byte 1) is counted and left out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from validator.errors import CaptureError
from validator.rtp.header import format_ssrc
from validator.rtp.payload import (
    CN_PAYLOAD_TYPES,
    STATIC_PAYLOAD_TYPES,
    PayloadFormat,
    parse_rtpmap,
)
from validator.rtp.pcap import UdpDatagram
from validator.rtp.sdp import SAP_PORT, SdpTable, parse_sap, sip_body
from validator.rtp.table import PacketTable

__all__ = [
    "MIN_HEURISTIC_PACKETS",
    "Capture",
    "RtpPacket",
    "RtpStream",
    "format_ssrc",
    "parse_ssrc",
    "read_capture",
    "select_stream",
]

#: A flow+SSRC found by heuristics alone needs at least this many packets.
MIN_HEURISTIC_PACKETS = 3
#: ... and at least this share of consecutive packets in small sequence/timestamp steps.
MIN_CONTINUITY = 0.8
_MAX_SEQ_STEP = 512
_MAX_TS_STEP = 1 << 24


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet as captured.

    Attributes
    ----------
    frame : int
        1-based frame number in the capture.
    time_ns : int
        Arrival (capture) time, ns since the Unix epoch.
    sequence : int
        RTP sequence number, 0..65535.
    timestamp : int
        RTP timestamp, 0..2**32-1.
    ssrc : int
        Synchronisation source.
    payload_type : int
        0..127.
    marker : bool
        Marker bit.
    payload : bytes
        Payload without header, CSRCs, extension or padding.
    truncated : bool
        The capture cut the packet short (snap length): the payload is incomplete.
    """

    frame: int
    time_ns: int
    sequence: int
    timestamp: int
    ssrc: int
    payload_type: int
    marker: bool
    payload: bytes
    truncated: bool = False


def parse_ssrc(value: str | int) -> int:
    """Parse an SSRC given as ``0x1234ABCD``, ``1234ABCD``-like hex with 0x, or decimal.

    Raises
    ------
    CaptureError
        Not a number in 0..2**32-1.
    """
    if isinstance(value, int):
        n = value
    else:
        text = value.strip()
        try:
            n = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            raise CaptureError(f"bad SSRC {value!r}: expected hex such as '0x1234ABCD' or a "
                               "decimal number") from None
    if not 0 <= n <= 0xFFFFFFFF:
        raise CaptureError(f"bad SSRC {value!r}: must be 0..0xFFFFFFFF")
    return n


def _endpoint(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


@dataclass(frozen=True, eq=False)
class RtpStream:
    """The packets of one RTP stream (src, sport, dst, dport, SSRC), in arrival order.

    Attributes
    ----------
    src, dst : str
        IP addresses.
    sport, dport : int
        UDP ports.
    ssrc : int
        Synchronisation source.
    packets : sequence of RtpPacket
        In capture order: a :class:`~validator.rtp.table.PacketTable` (as
        :func:`read_capture` gives it: numpy columns, payloads left in the
        file, each :class:`RtpPacket` built on demand) or a tuple of packets.
    payload_type : int
        The stream's main payload type: the most frequent one that is neither
        comfort noise nor telephone-event.
    formats : dict
        ``{pt: PayloadFormat}`` for the payload types that could be resolved
        (static table, SDP in the capture, or user overrides).
    capture_start_ns : int
        Time of the capture's first frame: the origin of ``start_s``/``end_s``.
    found_by : str
        ``"port"``, ``"sdp"`` or ``"heuristic"``.
    path : str
        The capture file.
    """

    src: str
    sport: int
    dst: str
    dport: int
    ssrc: int
    packets: Sequence[RtpPacket]
    payload_type: int
    formats: Mapping[int, PayloadFormat]
    capture_start_ns: int
    found_by: str = "heuristic"
    path: str = ""

    @property
    def key(self) -> tuple[str, int, str, int, int]:
        """(src, sport, dst, dport, ssrc)."""
        return (self.src, self.sport, self.dst, self.dport, self.ssrc)

    @property
    def ssrc_text(self) -> str:
        """SSRC as ``0x1234ABCD``."""
        return format_ssrc(self.ssrc)

    @property
    def src_endpoint(self) -> str:
        """``ip:port`` (``[ip6]:port`` for IPv6)."""
        return _endpoint(self.src, self.sport)

    @property
    def dst_endpoint(self) -> str:
        """``ip:port`` (``[ip6]:port`` for IPv6)."""
        return _endpoint(self.dst, self.dport)

    @property
    def format(self) -> PayloadFormat | None:
        """Format of the main payload type, or None when it is unknown."""
        return self.formats.get(self.payload_type)

    @property
    def codec(self) -> str | None:
        """Encoding name of the main payload type (``PCMU``, ``L24``...), or None."""
        f = self.format
        return f.encoding if f else None

    @property
    def clock_rate_hz(self) -> int | None:
        """RTP clock rate of the main payload type, Hz, or None when unknown."""
        f = self.format
        return f.clock_rate_hz if f else None

    @property
    def clock_rate(self) -> int | None:
        """Alias of :attr:`clock_rate_hz` (the JSON field name)."""
        return self.clock_rate_hz

    @property
    def channels(self) -> int:
        """Audio channels of the main payload type (1 when unknown)."""
        f = self.format
        return f.channels if f else 1

    @property
    def is_audio(self) -> bool:
        """Whether the main payload type is a decodable audio format."""
        f = self.format
        return bool(f and f.decodable)

    @cached_property
    def table(self) -> PacketTable:
        """The packets as a :class:`~validator.rtp.table.PacketTable` (columns)."""
        if isinstance(self.packets, PacketTable):
            return self.packets
        return PacketTable.from_packets(self.packets)

    def _runs(self) -> np.ndarray:
        """Start index of each run of one SSRC, and the end, shape=(n_runs + 1,)."""
        ssrc = self.table.ssrc
        change = np.flatnonzero(ssrc[1:] != ssrc[:-1]) + 1
        return np.concatenate([[0], change, [ssrc.shape[0]]]).astype(np.int64)

    @property
    def ssrcs(self) -> tuple[int, ...]:
        """Every SSRC in the packets, in order (more than one after an SSRC change)."""
        runs = self._runs()
        return tuple(dict.fromkeys(int(self.table.ssrc[i]) for i in runs[:-1]))

    def segments(self) -> list[RtpStream]:
        """The stream split at SSRC changes: one single-SSRC stream per run of packets."""
        runs = self._runs()
        if len(runs) <= 2:
            return [self]
        table = self.table
        out = []
        for a, b in zip(runs[:-1], runs[1:], strict=True):
            part = table.take(np.arange(a, b))
            out.append(replace(self, ssrc=int(table.ssrc[a]), packets=part,
                               payload_type=_main_pt(part, self.formats)))
        return out

    def __repr__(self) -> str:
        """Endpoints, SSRC, payload and packet count (not the packets)."""
        return (f"RtpStream({self.src_endpoint} -> {self.dst_endpoint} ssrc={self.ssrc_text} "
                f"pt={self.payload_type} codec={self.codec} packets={len(self.packets)})")


@dataclass(frozen=True)
class Capture:
    """The RTP content of one capture file.

    Attributes
    ----------
    path : str
        The file.
    streams : list of RtpStream
        In order of first appearance.
    frames : int
        Frames in the file.
    udp_datagrams : int
        UDP datagrams decoded.
    rtcp_packets : int
        RTCP packets recognised and left out.
    first_time_ns : int
        Time of the first frame, ns since the epoch.
    sdp_media : int
        SDP media descriptions found (SIP or SAP).
    notes : tuple of str
        Oddities met while reading (cut-short file, fragments...).
    """

    path: str
    streams: list[RtpStream]
    frames: int
    udp_datagrams: int
    rtcp_packets: int
    first_time_ns: int
    sdp_media: int = 0
    notes: tuple[str, ...] = field(default=())


def _plausible_pt(pt: int) -> bool:
    return pt <= 34 or pt >= 96


def _continuity(table: PacketTable) -> float:
    """Share of consecutive packets whose sequence number and timestamp advance in small steps."""
    seq, ts = table.sequence, table.timestamp
    ok, block = 0, 1 << 18
    for lo in range(0, max(len(table) - 1, 0), block):
        hi = min(lo + block, len(table) - 1)
        ds = (seq[lo + 1:hi + 1] - seq[lo:hi]).view(np.int16)  # seq_delta, mod 2**16
        dt = (ts[lo + 1:hi + 1] - ts[lo:hi]).view(np.int32).astype(np.int64)  # ts_delta
        ok += int(np.count_nonzero((ds >= -64) & (ds <= _MAX_SEQ_STEP)
                                   & (np.abs(dt) <= _MAX_TS_STEP)))
    return ok / max(1, len(table) - 1)


def _main_pt(table: PacketTable, formats: Mapping[int, PayloadFormat]) -> int:
    """The most frequent payload type that is neither comfort noise nor telephone-event."""
    counts = table.payload_type_counts()

    def rank(pt: int) -> tuple[int, int]:
        f = formats.get(pt)
        secondary = pt in CN_PAYLOAD_TYPES or bool(f and (f.is_event or f.is_comfort_noise))
        return (0 if secondary else 1, counts[pt])

    return max(counts, key=rank)


def _overrides(payload_types: Mapping[int, str | PayloadFormat] | None
               ) -> dict[int, PayloadFormat]:
    out: dict[int, PayloadFormat] = {}
    for pt, fmt in (payload_types or {}).items():
        if not isinstance(pt, int) or not 0 <= pt <= 127:
            raise CaptureError(f"bad payload type {pt!r}: expected 0..127")
        out[pt] = fmt if isinstance(fmt, PayloadFormat) else parse_rtpmap(str(fmt))
    return out


def read_capture(path: str | os.PathLike[str], *, port: int | None = None,
                 payload_types: Mapping[int, str | PayloadFormat] | None = None) -> Capture:
    """Read a pcap/pcapng file and find its RTP streams.

    Parameters
    ----------
    path : str or Path
        The capture.
    port : int, optional
        Treat every UDP datagram to or from this port as RTP (Wireshark's
        "Decode As"), and ignore all other traffic. Without it, RTP is found
        through SDP in the capture and by heuristics (module docstring).
    payload_types : dict, optional
        ``{pt: "ENCODING/RATE[/CHANNELS]"}`` (or :class:`PayloadFormat`)
        overrides, e.g. ``{97: "L24/48000/2"}``; they win over SDP and the
        static table.

    Returns
    -------
    Capture
        Streams in order of first appearance.

    Raises
    ------
    CaptureError
        Not a capture file, an unreadable header, a bad override, or
        ``port`` out of range. A file cut short is read up to the cut and the
        cut is reported in :attr:`Capture.notes`.
    OSError
        The file cannot be read.
    """
    from validator.rtp.scan import scan_rtp

    name = str(path)
    if port is not None and not 0 < int(port) < 65536:
        raise CaptureError(f"{name}: bad port {port!r}: expected 1..65535")
    overrides = _overrides(payload_types)
    try:
        scan = scan_rtp(path, port=port)
    except CaptureError:
        raise
    except (ValueError, IndexError) as exc:  # pragma: no cover - defensive
        raise CaptureError(f"{name}: unreadable capture: {exc}") from exc
    if scan.frames == 0 and scan.notes:
        raise CaptureError(f"{name}: no complete packet in the capture ({scan.notes[0]})")
    sdp = SdpTable()
    for text in scan.sdp_texts:
        sdp.add(text)
    streams: list[RtpStream] = []
    t0 = scan.first_time_ns or 0
    for (src, sport, dst, dport, ssrc), table in scan.groups.items():
        found_by = _found_by(table, port, sdp, (src, sport, dst, dport))
        if found_by is None:
            continue
        learnt = sdp.formats_for(src, sport, dst, dport)
        formats = _formats(set(table.payload_type_counts()), overrides, learnt)
        streams.append(RtpStream(src, sport, dst, dport, ssrc, table,
                                 _main_pt(table, formats), formats, t0, found_by, name))
    return Capture(name, streams, scan.frames, scan.datagrams, scan.rtcp, t0,
                   len(sdp.media), tuple(scan.notes))


def _sdp_text(d: UdpDatagram) -> str | None:
    """The SDP body of a SAP announcement or a SIP message (None for anything else)."""
    if d.dport == SAP_PORT or d.sport == SAP_PORT:
        return parse_sap(d.payload)
    if 0x41 <= d.payload[0] <= 0x5A:
        return sip_body(d.payload)
    return None


def _found_by(table: PacketTable, port: int | None, sdp: SdpTable,
              flow: tuple[str, int, str, int]) -> str | None:
    """How a flow+SSRC counts as RTP (``port``, ``sdp``, ``heuristic``); None if it does not."""
    src, sport, dst, dport = flow
    if port is not None:
        return "port"
    if sdp.announced(dst, dport) or sdp.announced(src, sport):
        return "sdp"
    if len(table) < MIN_HEURISTIC_PACKETS or _continuity(table) < MIN_CONTINUITY:
        return None
    if not _plausible_pt(int(table.payload_type[0])):
        return None
    return "heuristic"


def _formats(pts: set[int], overrides: Mapping[int, PayloadFormat],
             learnt: Mapping[int, PayloadFormat]) -> dict[int, PayloadFormat]:
    """Each payload type's format: an override, else SDP, else the static table (PT < 96)."""
    formats: dict[int, PayloadFormat] = {}
    for pt in pts:
        fmt = overrides.get(pt) or learnt.get(pt) or (
            STATIC_PAYLOAD_TYPES.get(pt) if pt < 96 else None)
        if fmt is not None:
            formats[pt] = fmt
    return formats


def select_stream(capture: Capture, ssrc: str | int | None = None) -> RtpStream:
    """Choose one stream: the one with ``ssrc``, or the only audio stream.

    Parameters
    ----------
    capture : Capture
        From :func:`read_capture`.
    ssrc : str or int, optional
        ``"0x1234ABCD"``, a decimal string, or an int.

    Returns
    -------
    RtpStream

    Raises
    ------
    CaptureError
        No stream matches, or the choice is ambiguous; the message lists the
        streams with their SSRCs so that the user can pick one.
    """
    name = capture.path
    if not capture.streams:
        raise CaptureError(f"{name}: no RTP stream found (if the RTP is on a port that "
                           "nothing in the capture announces, name it: --port N, or port= in "
                           "the API)")

    def listing(streams: list[RtpStream]) -> str:
        return "; ".join(f"{s.ssrc_text} {s.src_endpoint}->{s.dst_endpoint} "
                         f"{s.codec or 'PT ' + str(s.payload_type)} {len(s.packets)} pkts"
                         for s in streams)

    if ssrc is not None:
        want = parse_ssrc(ssrc)
        hits = [s for s in capture.streams if s.ssrc == want]
        if not hits:
            raise CaptureError(f"{name}: no RTP stream with SSRC {format_ssrc(want)}; "
                               f"streams: {listing(capture.streams)}")
        if len(hits) > 1:
            raise CaptureError(f"{name}: SSRC {format_ssrc(want)} is used by {len(hits)} "
                               f"streams (SSRC collision): {listing(hits)}; use --port to "
                               "keep one")
        return hits[0]
    audio = [s for s in capture.streams if s.is_audio]
    pool = audio or capture.streams
    if len(pool) == 1:
        return pool[0]
    merged = _successive(pool)
    if merged is not None:
        return merged
    raise CaptureError(f"{name}: {len(pool)} {'audio ' if audio else ''}RTP streams; choose one "
                       f"with --ssrc: {listing(pool)}")


def _successive(streams: list[RtpStream]) -> RtpStream | None:
    """One stream from several SSRCs that follow each other on the same flow, else None.

    A sender that restarts picks a new SSRC (RFC 3550 8.2) on the same
    addresses and ports; when the SSRCs do not overlap in time and carry the
    same format, they are one stream for the listener, with SSRC changes.
    """
    flows = {(s.src, s.sport, s.dst, s.dport) for s in streams}
    if len(flows) != 1:
        return None
    ordered = sorted(streams, key=lambda s: int(s.table.time_ns[0]))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if int(b.table.time_ns[0]) <= int(a.table.time_ns[-1]) or a.format != b.format:
            return None
    formats: dict[int, PayloadFormat] = {}
    for s in ordered:
        formats.update(s.formats)
    packets = PacketTable.concat([s.table for s in ordered])
    return replace(ordered[0], packets=packets, formats=formats)
