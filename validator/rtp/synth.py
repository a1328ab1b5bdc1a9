"""Synthetic RTP captures with known ground truth (for tests and benchmarks).

:func:`encode_packets` cuts audio into RTP payloads (G.711, L8/L16/L24
big-endian, through :func:`validator.codecs.encode_samples`);
:func:`write_capture` writes datagrams as pcap or pcapng over any of the link
layers the reader supports (Ethernet, 802.1Q/802.1ad VLAN, Linux cooked v1
and v2, raw IP), over IPv4 (optionally fragmented) or IPv6, with an optional
snap length.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from validator.codecs.pcm import encode_samples
from validator.codecs.sizes import SAMPLE_BYTES
from validator.rtp.header import build_rtp_packet
from validator.rtp.payload import PayloadFormat, parse_rtpmap

__all__ = ["Datagram", "encode_packets", "rtp_datagrams", "write_capture"]


@dataclass(frozen=True)
class Datagram:
    """A UDP datagram to write: arrival time (ns since the epoch), endpoints, payload."""

    time_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes


def encode_packets(audio: np.ndarray, fmt: PayloadFormat | str, *, samples_per_packet: int
                   ) -> list[bytes]:
    """Cut audio into RTP payloads.

    Parameters
    ----------
    audio : np.ndarray, shape=(n_samples, n_channels), float in [-1, 1)
    fmt : PayloadFormat or str
        ``PCMU``, ``PCMA``, ``L8``, ``L16`` or ``L24`` (e.g. ``"L24/48000/2"``).
    samples_per_packet : int
        Samples per channel in each packet (e.g. 48 for 1 ms at 48 kHz).

    Returns
    -------
    list of bytes
        One payload per packet; the last one may be shorter.

    Raises
    ------
    AudioFormatError
        An encoding that is not sample based (a ``ValueError``).
    """
    f = parse_rtpmap(fmt) if isinstance(fmt, str) else fmt
    y = np.atleast_2d(np.asarray(audio, dtype=np.float64).T).T
    raw, width = encode_samples(y, f.encoding), SAMPLE_BYTES[f.encoding]
    step = samples_per_packet * y.shape[1] * width
    return [raw[i:i + step] for i in range(0, len(raw), step)]


def rtp_datagrams(payloads: Sequence[bytes], *, payload_type: int, ssrc: int = 0x12345678,
                  first_seq: int = 1000, first_ts: int = 160000, ts_step: int,
                  ptime_ns: int, t0_ns: int = 1_000_000_000_000,
                  src: tuple[str, int] = ("10.0.0.1", 40000),
                  dst: tuple[str, int] = ("10.0.0.2", 5004),
                  jitter_ns: Sequence[int] | None = None,
                  marker_first: bool = True) -> list[Datagram]:
    """RTP datagrams for consecutive payloads, sent every ``ptime_ns`` (plus ``jitter_ns``).

    Sequence numbers and timestamps wrap modulo 2**16 and 2**32.
    """
    out = []
    for k, pl in enumerate(payloads):
        t = t0_ns + k * ptime_ns + (int(jitter_ns[k]) if jitter_ns is not None else 0)
        pkt = build_rtp_packet(payload_type=payload_type, sequence=first_seq + k,
                               timestamp=first_ts + k * ts_step, ssrc=ssrc, payload=pl,
                               marker=marker_first and k == 0)
        out.append(Datagram(t, src[0], src[1], dst[0], dst[1], pkt))
    return out


def _ipv4(src: str, dst: str, body: bytes, ident: int, frag_off: int = 0, more: bool = False,
          proto: int = 17) -> bytes:
    flags = (0x2000 if more else 0) | (frag_off // 8)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), ident & 0xFFFF, flags, 64, proto,
                      0, socket.inet_aton(src), socket.inet_aton(dst))
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return hdr[:10] + struct.pack("!H", ~s & 0xFFFF) + hdr[12:] + body


def _v6(addr: str) -> bytes:
    if ":" not in addr:  # map IPv4 test addresses into the documentation prefix
        return socket.inet_pton(socket.AF_INET6, "2001:db8::" + addr.replace(".", ":"))
    return socket.inet_pton(socket.AF_INET6, addr)


def _ip_packets(d: Datagram, *, ipv6: bool, ident: int, fragment_size: int | None) -> list[bytes]:
    udp = struct.pack("!HHHH", d.sport, d.dport, 8 + len(d.payload), 0) + d.payload
    if ipv6:
        src, dst = _v6(d.src), _v6(d.dst)
        if fragment_size and len(udp) > fragment_size:
            size = fragment_size - fragment_size % 8
            parts = [udp[i:i + size] for i in range(0, len(udp), size)]
            out = []
            for k, part in enumerate(parts):
                off = k * size
                frag = struct.pack("!BBHI", 17, 0, off | (1 if k < len(parts) - 1 else 0), ident)
                out.append(struct.pack("!IHBB16s16s", 0x60000000, 8 + len(part), 44, 64, src,
                                       dst) + frag + part)
            return out[::-1]  # last fragment first: reassembly must not rely on order
        return [struct.pack("!IHBB16s16s", 0x60000000, len(udp), 17, 64, src, dst) + udp]
    if fragment_size and len(udp) > fragment_size:
        size = fragment_size - fragment_size % 8
        parts = [udp[i:i + size] for i in range(0, len(udp), size)]
        out = [_ipv4(d.src, d.dst, p, ident, k * size, k < len(parts) - 1)
               for k, p in enumerate(parts)]
        return [out[-1]] + out[:-1]
    return [_ipv4(d.src, d.dst, udp, ident)]


def _link(ip: bytes, link: str, ipv6: bool) -> tuple[int, bytes]:
    etype = struct.pack("!H", 0x86DD if ipv6 else 0x0800)
    macs = b"\x00\x11\x22\x33\x44\x55\x00\x66\x77\x88\x99\xaa"
    if link == "ethernet":
        return 1, macs + etype + ip
    if link == "vlan":  # 802.1ad outer + 802.1Q inner tag
        return 1, macs + b"\x88\xa8\x00\x64\x81\x00\x00\xc8" + etype + ip
    if link == "sll":
        return 113, struct.pack("!HHH", 0, 1, 6) + macs[:6] + b"\x00\x00" + etype + ip
    if link == "sll2":
        return 276, etype + b"\x00\x00" + struct.pack("!IHBB", 1, 1, 0, 6) + macs[:6] + \
            b"\x00\x00" + ip
    if link == "raw":
        return 101, ip
    raise ValueError(f"unknown link {link!r}")


def write_capture(path: str | os.PathLike[str], datagrams: Sequence[Datagram], *,
                  link: str = "ethernet", ipv6: bool = False, fragment_size: int | None = None,
                  pcapng: bool = False, snaplen: int | None = None, nanoseconds: bool = True,
                  big_endian: bool = False) -> Path:
    """Write datagrams as a capture file.

    Parameters
    ----------
    path : str or Path
    datagrams : sequence of Datagram
    link : str
        ``ethernet``, ``vlan`` (802.1ad + 802.1Q), ``sll``, ``sll2`` or ``raw``.
    ipv6 : bool
        IPv6 (IPv4 addresses are mapped into 2001:db8::/32).
    fragment_size : int, optional
        Fragment IP payloads larger than this (bytes, rounded down to 8);
        fragments are written last-first.
    pcapng : bool
        pcapng (one SHB, one IDB with ``if_tsresol`` 9, EPBs) instead of pcap.
    snaplen : int, optional
        Cut frames to this many bytes (the original length is kept).
    nanoseconds : bool
        Nanosecond timestamps (else microseconds, rounded down).
    big_endian : bool
        Write the classic pcap in big-endian byte order.

    Returns
    -------
    Path
    """
    frames: list[tuple[int, bytes]] = []
    linktype = 1
    for k, d in enumerate(datagrams):
        for ip in _ip_packets(d, ipv6=ipv6, ident=k + 1, fragment_size=fragment_size):
            linktype, frame = _link(ip, link, ipv6)
            frames.append((d.time_ns, frame))
    out = bytearray()
    snap = snaplen or 262144
    if pcapng:
        shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        out += struct.pack("<II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body + \
            struct.pack("<I", 12 + len(shb_body))
        opts = struct.pack("<HH", 9, 1) + b"\x09\x00\x00\x00" + struct.pack("<HH", 0, 0)
        idb_body = struct.pack("<HHI", linktype, 0, snap) + opts
        out += struct.pack("<II", 1, 12 + len(idb_body)) + idb_body + \
            struct.pack("<I", 12 + len(idb_body))
        for t, frame in frames:
            cap = frame[:snap]
            pad = b"\x00" * (-len(cap) % 4)
            body = struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(cap), len(frame)) + \
                cap + pad
            out += struct.pack("<II", 6, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    else:
        e = ">" if big_endian else "<"
        magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
        out += struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snap, linktype)
        for t, frame in frames:
            cap = frame[:snap]
            sec, ns = divmod(t, 1_000_000_000)
            frac = ns if nanoseconds else ns // 1000
            out += struct.pack(e + "IIII", sec, frac, len(cap), len(frame)) + cap
    p = Path(path)
    p.write_bytes(bytes(out))
    return p
