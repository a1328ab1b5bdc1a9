"""RTCP round-trip times in a capture: :func:`round_trip_times`, as Wireshark computes them.

An RTCP receiver report block (RFC 3550 section 6.4.1) about source SSRC
carries LSR, the middle 32 bits of the NTP timestamp of the last sender
report (SR) received from that source, and DLSR, the delay since then in
units of 1/65536 s. When the capture holds both that SR and the report, the
round trip between the capture point and the reporting receiver is::

    RTT = t(report) - t(SR) - DLSR / 65536

with t the capture times, so the two hosts' clocks never meet (Wireshark's
``packet-rtcp.c``, "Roundtrip Delay", does the same). A capture taken at the
sender gives the whole round trip; one taken in the middle, the part beyond
the capture point.
"""

from __future__ import annotations

import os
import statistics
import struct

__all__ = ["build_rtcp_rr", "build_rtcp_sr", "parse_rtcp", "round_trip_times"]

_SR, _RR = 200, 201
#: Round trips longer than this are not believed, s (a stale LSR matched to a later SR).
MAX_RTT_S = 10.0


def parse_rtcp(datagram: bytes) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]]:
    """The sender reports and report blocks of a (compound) RTCP datagram.

    Parameters
    ----------
    datagram : bytes
        A UDP payload.

    Returns
    -------
    senders : list of (ssrc, ntp_middle32)
        One per SR: the sender's SSRC and the middle 32 bits of its NTP timestamp.
    blocks : list of (ssrc, lsr, dlsr)
        One per report block (in SR and RR packets): the reported source,
        LSR and DLSR (1/65536 s). Malformed or truncated parts are skipped.
    """
    senders: list[tuple[int, int]] = []
    blocks: list[tuple[int, int, int]] = []
    off = 0
    while off + 8 <= len(datagram):
        b0, pt, length = struct.unpack_from("!BBH", datagram, off)
        if b0 >> 6 != 2:
            break
        end = off + 4 * (length + 1)
        if end > len(datagram):
            break
        count = b0 & 0x1F
        body = off + 8  # after the header and the packet sender's SSRC
        if pt == _SR and body + 20 <= end:
            ssrc, msw, lsw = struct.unpack_from("!III", datagram, off + 4)
            senders.append((ssrc, ((msw & 0xFFFF) << 16) | (lsw >> 16)))
            body += 20
        if pt in (_SR, _RR):
            for k in range(count):
                at = body + 24 * k
                if at + 24 > end:
                    break
                src, _lost, _seq, _jit, lsr, dlsr = struct.unpack_from("!IIIIII", datagram, at)
                blocks.append((src, lsr, dlsr))
        off = end
    return senders, blocks


def round_trip_times(path: str | os.PathLike[str]) -> dict[int, float]:
    """The median RTCP round-trip time per media source in a capture, ms.

    Parameters
    ----------
    path : str or Path
        A pcap/pcapng capture.

    Returns
    -------
    dict
        ``{ssrc: rtt_ms}`` for every source whose SR and a later report
        about it (LSR != 0) are both in the capture; empty otherwise.
    """
    from validator.rtp.header import is_rtcp
    from validator.rtp.pcap import read_udp

    sent: dict[tuple[int, int], int] = {}
    rtts: dict[int, list[float]] = {}
    for d in read_udp(path).datagrams:
        if not is_rtcp(d.payload):
            continue
        senders, blocks = parse_rtcp(d.payload)
        for ssrc, lsr, dlsr in blocks:
            t_sr = sent.get((ssrc, lsr))
            if lsr == 0 or t_sr is None:
                continue
            rtt_s = (d.time_ns - t_sr) / 1e9 - dlsr / 65536.0
            if 0 <= rtt_s <= MAX_RTT_S:
                rtts.setdefault(ssrc, []).append(rtt_s * 1000.0)
        for ssrc, mid in senders:
            sent[(ssrc, mid)] = d.time_ns
    return {ssrc: statistics.median(v) for ssrc, v in rtts.items()}


def build_rtcp_sr(ssrc: int, ntp_s: float, *, rtp_timestamp: int = 0, packets: int = 0,
                  octets: int = 0) -> bytes:
    """A sender report without report blocks (RFC 3550 6.4.1), e.g. for tests.

    Parameters
    ----------
    ssrc : int
        The sender.
    ntp_s : float
        Its NTP timestamp, s since 1900.
    rtp_timestamp, packets, octets : int
        The other sender-info fields.
    """
    msw = int(ntp_s) & 0xFFFFFFFF
    lsw = int((ntp_s % 1) * (1 << 32)) & 0xFFFFFFFF
    return struct.pack("!BBHIIIIII", 0x80, _SR, 6, ssrc, msw, lsw, rtp_timestamp & 0xFFFFFFFF,
                       packets, octets)


def build_rtcp_rr(ssrc: int, source: int, lsr: int, dlsr: int) -> bytes:
    """A receiver report with one block about ``source`` (LSR and DLSR as on the wire)."""
    return struct.pack("!BBHIIIIIII", 0x81, _RR, 7, ssrc, source, 0, 0, 0, lsr & 0xFFFFFFFF,
                       dlsr & 0xFFFFFFFF)
