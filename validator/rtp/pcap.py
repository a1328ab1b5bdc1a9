"""Packet captures: read pcap/pcapng down to UDP datagrams, and write pcap.

Reading keeps integer nanosecond timestamps (no float rounding), so arrival
times and deltas are exact to the capture's resolution.

Supported link layers: Ethernet (with 802.1Q / 802.1ad VLAN tags, any
depth), Linux cooked capture v1 (SLL, link type 113) and v2 (SLL2, 276), raw
IP (12, 14, 101, 228, 229), BSD loopback (0, 108). Network layers: IPv4 (with
fragment reassembly) and IPv6 (extension headers skipped, fragments
reassembled). Only UDP is returned.

The file containers are classic pcap (microsecond or nanosecond, either byte
order) and pcapng (several interfaces, each with its own link type and
``if_tsresol``/``if_tsoffset``; the Interface Description Block options are
decoded with :mod:`dpkt.pcapng`). A file cut short in the middle of a record
is read up to the last whole record and the cut is reported in
:attr:`UdpScan.notes`; a packet cut by the snap length is kept and flagged
``truncated``.

References
----------
* pcap: https://www.tcpdump.org/manpages/pcap-savefile.5.html
* pcapng: draft-ietf-opsawg-pcapng (section 4: blocks)
* link types: https://www.tcpdump.org/linktypes.html
* IPv4 fragments: RFC 791 section 3.2; IPv6 fragments: RFC 8200 section 4.5
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from validator.errors import CaptureError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "PCAPNG_MAGIC",
    "LINK_LAYERS",
    "PCAP_MAGICS",
    "PcapWriter",
    "UdpDatagram",
    "UdpScan",
    "FrameBlock",
    "iter_frame_blocks",
    "is_capture_file",
    "read_udp",
    "udp_frame",
]

#: Classic pcap magic numbers as the first four bytes on disk (both byte orders, us and ns).
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # little-endian, nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
#: pcapng Section Header Block type, the first four bytes of a pcapng file.
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

_ETH_IPV4 = 0x0800
_ETH_IPV6 = 0x86DD
_ETH_VLAN = (0x8100, 0x88A8, 0x9100)
_UDP = 17
#: Largest record accepted before the file is judged corrupt, bytes.
_MAX_RECORD = 256 * 1024
#: Fragments of a datagram that never completes are dropped after this many frames.
_FRAG_WINDOW = 4096


def is_capture_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with a pcap or pcapng magic number.

    Parameters
    ----------
    path : str or Path
        Any file.

    Returns
    -------
    bool
        True for classic pcap (either byte order, micro- or nanosecond) and
        pcapng; False for anything else, including a missing or unreadable
        file (the caller's own reader reports those).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head in PCAP_MAGICS or head == PCAPNG_MAGIC


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """One UDP datagram from a capture.

    Attributes
    ----------
    frame : int
        1-based frame number in the file (the last fragment's, if reassembled).
    time_ns : int
        Capture timestamp, nanoseconds since the Unix epoch.
    src, dst : str
        IP addresses in the usual text form.
    sport, dport : int
        UDP ports.
    payload : bytes
        The UDP payload as captured.
    truncated : bool
        The capture holds fewer bytes than the UDP length (snap length cut).
    """

    frame: int
    time_ns: int
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes
    truncated: bool = False


@dataclass
class UdpScan:
    """Everything :func:`read_udp` found in one file.

    Attributes
    ----------
    datagrams : list of UdpDatagram
        In file order.
    frames : int
        Frames (records) read.
    first_time_ns : int or None
        Timestamp of the first frame (the origin of relative times, as in
        Wireshark's "Start time" column).
    notes : list of str
        Oddities: a cut-short file, unknown link types, unfinished fragments.
    """

    datagrams: list[UdpDatagram] = field(default_factory=list)
    frames: int = 0
    first_time_ns: int | None = None
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- containers

def _records_pcap(data: bytes, name: str, notes: list[str]
                  ) -> Iterator[tuple[int, int, bytes, int]]:
    """(time_ns, linktype, frame bytes, original length) for each record of a classic pcap."""
    import dpkt

    if len(data) < 24:
        raise CaptureError(f"{name}: pcap file header cut short ({len(data)} of 24 bytes)")
    endian, unit_ns = PCAP_MAGICS[data[:4]]
    hdr_cls = dpkt.pcap.LEFileHdr if endian == "<" else dpkt.pcap.FileHdr
    linktype = hdr_cls(data[:24]).linktype & 0x0FFFFFFF  # upper bits: FCS length
    rec = struct.Struct(endian + "IIII")
    pos, n, end = 24, 0, len(data)
    while pos < end:
        if pos + 16 > end:
            notes.append(f"file cut short: record header of frame {n + 1} has "
                         f"{end - pos} of 16 bytes")
            return
        sec, frac, incl, orig = rec.unpack_from(data, pos)
        if incl > _MAX_RECORD:
            notes.append(f"frame {n + 1}: record length {incl} is implausible; "
                         "the rest of the file is ignored")
            return
        if pos + 16 + incl > end:
            notes.append(f"file cut short in the middle of frame {n + 1} "
                         f"({end - pos - 16} of {incl} bytes)")
            return
        n += 1
        yield sec * 1_000_000_000 + frac * unit_ns, linktype, data[pos + 16:pos + 16 + incl], orig
        pos += 16 + incl


def _records_pcapng(data: bytes, name: str, notes: list[str]
                    ) -> Iterator[tuple[int, int, bytes, int]]:
    """Records of a pcapng file, each interface with its own link type and resolution."""
    pos, end = 0, len(data)
    endian = "<"
    # per interface: (linktype, numerator, denominator, offset_ns, snaplen)
    ifaces: list[tuple[int, int, int, int, int]] = []
    last_ns = 0
    while pos < end:
        if pos + 12 > end:
            notes.append(f"file cut short: block header at byte {pos} has {end - pos} bytes")
            return
        if data[pos:pos + 4] == PCAPNG_MAGIC:  # SHB: byte order from its magic, new section
            endian = _section_byte_order(data[pos + 8:pos + 12], name)
            ifaces = []
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12 or blen % 4 or blen > _MAX_RECORD + 64:
            notes.append(f"pcapng block at byte {pos} has an implausible length {blen}; "
                         "the rest of the file is ignored")
            return
        if pos + blen > end:
            notes.append(f"file cut short in the middle of a pcapng block at byte {pos} "
                         f"({end - pos} of {blen} bytes)")
            return
        block = data[pos:pos + blen]
        pos += blen
        if btype == 1:  # Interface Description Block
            ifaces.append(_interface(block, endian, name))
            continue
        record = _packet_block(btype, block, endian, ifaces, last_ns, pos - blen, notes)
        if record is not None:
            last_ns = record[0]
            yield record


def _section_byte_order(bom: bytes, name: str) -> str:
    """``"<"`` or ``">"`` from a Section Header Block's byte-order magic."""
    if bom == b"\x4d\x3c\x2b\x1a":
        return "<"
    if bom == b"\x1a\x2b\x3c\x4d":
        return ">"
    raise CaptureError(f"{name}: pcapng section header with unknown byte-order "
                       f"magic {bom.hex()!r}")


def _interface(block: bytes, endian: str, name: str) -> tuple[int, int, int, int, int]:
    """Read an Interface Description Block.

    Returns its link type, timestamp resolution (numerator and denominator,
    s), timestamp offset (ns) and snap length.
    """
    import dpkt

    idb_cls = (dpkt.pcapng.InterfaceDescriptionBlockLE if endian == "<"
               else dpkt.pcapng.InterfaceDescriptionBlock)
    try:
        idb = idb_cls(block)
        opts = list(getattr(idb, "opts", []))
    except (dpkt.UnpackError, struct.error, ValueError, IndexError) as exc:
        raise CaptureError(f"{name}: unreadable pcapng interface block: {exc}") from exc
    num, den, off_ns = 1, 1_000_000, 0  # default resolution: microseconds
    for opt in opts:
        if opt.code == 9 and opt.data:  # if_tsresol
            v = opt.data[0]
            if v & 0x80:
                num, den = 1, 2 ** (v & 0x7F)
            else:
                num, den = 1, 10 ** (v & 0x7F)
        elif opt.code == 14 and len(opt.data) >= 8:  # if_tsoffset, seconds
            off_ns = struct.unpack(endian + "q", opt.data[:8])[0] * 1_000_000_000
    return idb.linktype, num, den, off_ns, idb.snaplen


def _packet_block(btype: int, block: bytes, endian: str,
                  ifaces: list[tuple[int, int, int, int, int]], last_ns: int, at: int,
                  notes: list[str]) -> tuple[int, int, bytes, int] | None:
    """The record of an Enhanced (6), obsolete (2) or Simple (3) Packet Block.

    None for another block type or one that cannot be used (a note says why
    where it matters). A Simple Packet Block has no timestamp: it takes
    ``last_ns``.
    """
    blen = len(block)
    if btype in (6, 2):  # Enhanced Packet Block / obsolete Packet Block
        if btype == 6:
            if blen < 32:
                notes.append(f"pcapng packet block at byte {at} is too short")
                return None
            iface, ts_hi, ts_lo, incl, orig = struct.unpack_from(endian + "IIIII", block, 8)
        else:
            if blen < 32:
                return None
            iface, _drops, ts_hi, ts_lo, incl, orig = struct.unpack_from(
                endian + "HHIIII", block, 8)
        if iface >= len(ifaces):
            notes.append(f"pcapng packet refers to unknown interface {iface}; skipped")
            return None
        linktype, num, den, off_ns, _snap = ifaces[iface]
        ticks = (ts_hi << 32) | ts_lo
        time_ns = off_ns + ticks * num * 1_000_000_000 // den
        incl = min(incl, blen - 32)
        return time_ns, linktype, block[28:28 + incl], orig
    if btype == 3:  # Simple Packet Block: no timestamp, interface 0
        if not ifaces or blen < 16:
            return None
        (orig,) = struct.unpack_from(endian + "I", block, 8)
        linktype, _num, _den, _off, snap = ifaces[0]
        incl = min(orig, blen - 16, snap or orig)
        return last_ns, linktype, block[12:12 + incl], orig
    return None


# --------------------------------------------------------------------------- streaming

#: Bytes the streaming reader (:func:`iter_frame_blocks`) reads from a capture at a time.
CHUNK_BYTES = 8 * 1024 * 1024


@dataclass
class FrameBlock:
    """The whole frames (records) of one chunk of a capture file, as columns.

    Attributes
    ----------
    data : bytes
        The chunk; frame ``k`` is ``data[start[k]:start[k] + incl[k]]``.
    base : int
        File offset of ``data[0]``, bytes (so frame bytes sit at ``base + start``).
    first_frame : int
        1-based frame number of the block's first frame.
    time_ns : np.ndarray, shape=(n,), int64
        Capture time of each frame, ns since the Unix epoch.
    start, incl, orig : np.ndarray, shape=(n,), int64
        Offset of each frame in ``data``, its captured length and its length on
        the wire (``orig > incl``: cut by the snap length), bytes.
    linktype : np.ndarray, shape=(n,), int64
        pcap link type (LINKTYPE_*) of each frame.
    """

    data: bytes
    base: int
    first_frame: int
    time_ns: np.ndarray
    start: np.ndarray
    incl: np.ndarray
    orig: np.ndarray
    linktype: np.ndarray


class _Walk:
    """Where a container walk stands: frames so far, pcapng section state, notes."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes
        self.frames = 0
        self.stop = False
        self.endian = "<"
        self.ifaces: list[tuple[int, int, int, int, int]] = []
        self.last_ns = 0
        self.cols: tuple[list[int], ...] = ([], [], [], [], [])

    def add(self, time_ns: int, start: int, incl: int, orig: int, linktype: int) -> None:
        self.frames += 1
        for col, v in zip(self.cols, (time_ns, start, incl, orig, linktype), strict=True):
            col.append(v)

    def block(self, data: bytes, base: int) -> FrameBlock:
        import numpy as np

        n = len(self.cols[0])
        arrays = [np.array(c, dtype=np.int64) for c in self.cols]
        self.cols = ([], [], [], [], [])
        return FrameBlock(data, base, self.frames - n + 1, *arrays)


def _walk_pcap(data: bytes, pos: int, eof: bool, w: _Walk, head: tuple[str, int, int]) -> int:
    """Add the whole records of a classic pcap chunk from ``pos``; return where it stopped."""
    endian, unit_ns, linktype = head
    unpack = struct.Struct(endian + "IIII").unpack_from
    times, starts, incls, origs = (c.append for c in w.cols[:4])
    before = len(w.cols[0])
    end = len(data)
    while pos < end:
        if pos + 16 > end:
            if eof:
                w.notes.append(f"file cut short: record header of frame "
                               f"{w.frames + len(w.cols[0]) - before + 1} has "
                               f"{end - pos} of 16 bytes")
            break
        sec, frac, incl, orig = unpack(data, pos)
        if incl > _MAX_RECORD:
            w.notes.append(f"frame {w.frames + len(w.cols[0]) - before + 1}: record length "
                           f"{incl} is implausible; the rest of the file is ignored")
            w.stop = True
            break
        if pos + 16 + incl > end:
            if eof:
                w.notes.append(f"file cut short in the middle of frame "
                               f"{w.frames + len(w.cols[0]) - before + 1} "
                               f"({end - pos - 16} of {incl} bytes)")
            break
        times(sec * 1_000_000_000 + frac * unit_ns)
        starts(pos + 16)
        incls(incl)
        origs(orig)
        pos += 16 + incl
    added = len(w.cols[0]) - before
    w.cols[4].extend([linktype] * added)
    w.frames += added
    return pos


def _walk_pcapng(data: bytes, pos: int, eof: bool, w: _Walk, name: str) -> int:
    """Add the packet blocks of a pcapng chunk from ``pos``; return where it stopped."""
    end = len(data)
    while pos < end:
        if pos + 12 > end:
            if eof:
                w.notes.append(f"file cut short: block header at byte {pos} has "
                               f"{end - pos} bytes")
            return pos
        if data[pos:pos + 4] == PCAPNG_MAGIC:
            w.endian = _section_byte_order(data[pos + 8:pos + 12], name)
            w.ifaces = []
        btype, blen = struct.unpack_from(w.endian + "II", data, pos)
        if blen < 12 or blen % 4 or blen > _MAX_RECORD + 64:
            w.notes.append(f"pcapng block at byte {pos} has an implausible length {blen}; "
                           "the rest of the file is ignored")
            w.stop = True
            return pos
        if pos + blen > end:
            if eof:
                w.notes.append(f"file cut short in the middle of a pcapng block at byte {pos} "
                               f"({end - pos} of {blen} bytes)")
            return pos
        block = data[pos:pos + blen]
        if btype == 1:
            w.ifaces.append(_interface(block, w.endian, name))
        elif btype in (2, 3, 6):
            record = _packet_block(btype, block, w.endian, w.ifaces, w.last_ns, pos, w.notes)
            if record is not None:
                w.last_ns = record[0]
                w.add(record[0], pos + (12 if btype == 3 else 28), len(record[2]), record[3],
                      record[1])
        pos += blen
    return pos


def iter_frame_blocks(path: str | os.PathLike[str], notes: list[str], *,
                      chunk_bytes: int | None = None) -> Iterator[FrameBlock]:
    """Read a pcap or pcapng file in chunks and yield its frames, block by block.

    Memory stays at about two chunks whatever the file's size: nothing but
    the current chunk and its frame columns is held. Records are walked as
    :func:`read_udp` walks them (same notes for a file cut short or an
    implausible record), the headers decoded with dpkt.

    Parameters
    ----------
    path : str or Path
        A classic pcap or pcapng file.
    notes : list of str
        Oddities are appended here (cut-short file, implausible record).
    chunk_bytes : int, optional
        Bytes read at a time (default :data:`CHUNK_BYTES`; a record may span
        chunks).

    Yields
    ------
    FrameBlock
        In file order; frame numbers continue from block to block.

    Raises
    ------
    CaptureError
        Not a pcap/pcapng file, or an unreadable file or section header.
    OSError
        The file cannot be read.
    """
    import dpkt

    chunk_bytes = chunk_bytes or CHUNK_BYTES
    name = str(path)
    w = _Walk(notes)
    with open(path, "rb") as fh:
        data = fh.read(chunk_bytes)
        eof = len(data) < chunk_bytes
        head = data[:4]
        if head in PCAP_MAGICS:
            if len(data) < 24:
                raise CaptureError(f"{name}: pcap file header cut short ({len(data)} of 24 "
                                   "bytes)")
            endian, unit_ns = PCAP_MAGICS[head]
            hdr_cls = dpkt.pcap.LEFileHdr if endian == "<" else dpkt.pcap.FileHdr
            info = (endian, unit_ns, hdr_cls(data[:24]).linktype & 0x0FFFFFFF)

            def walk(buf: bytes, at: int, last: bool) -> int:
                return _walk_pcap(buf, at, last, w, info)
            pos = 24
        elif head == PCAPNG_MAGIC:
            def walk(buf: bytes, at: int, last: bool) -> int:
                return _walk_pcapng(buf, at, last, w, name)
            pos = 0
        else:
            raise CaptureError(f"{name}: not a pcap or pcapng capture (first bytes "
                               f"{head.hex()!r}; expected a pcap magic such as 'd4c3b2a1' or "
                               "pcapng '0a0d0d0a')")
        base = 0
        while True:
            pos = walk(data, pos, eof)
            yield w.block(data, base)
            if w.stop or eof:
                return
            more = fh.read(chunk_bytes)
            eof = len(more) < chunk_bytes
            base += pos
            data, pos = data[pos:] + more, 0


# --------------------------------------------------------------------------- layers

def _ntop4(b: bytes) -> str:
    return f"{b[0]}.{b[1]}.{b[2]}.{b[3]}"


def _ntop6(b: bytes) -> str:
    import socket  # here: a WAV validation imports this module for is_capture_file alone

    return socket.inet_ntop(socket.AF_INET6, b)


class _Reassembler:
    """IPv4/IPv6 fragment reassembly (RFC 791 3.2, RFC 8200 4.5), keyed by (src, dst, id)."""

    def __init__(self) -> None:
        self.pending: dict[tuple, dict] = {}

    def add(self, key: tuple, frame: int, offset: int, more: bool, data: bytes,
            total_hint: int | None = None) -> bytes | None:
        entry = self.pending.setdefault(key, {"parts": {}, "total": None, "frame": frame})
        entry["parts"][offset] = data
        entry["frame"] = frame
        if not more:
            entry["total"] = offset + len(data)
        total = entry["total"]
        if total is None:
            return None
        buf = bytearray(total)
        covered = 0
        for off in sorted(entry["parts"]):
            part = entry["parts"][off]
            if off > covered:
                return None  # a hole
            buf[off:off + len(part)] = part
            covered = max(covered, off + len(part))
        if covered < total:
            return None
        del self.pending[key]
        return bytes(buf[:total])

    def expire(self, frame: int) -> int:
        old = [k for k, v in self.pending.items() if frame - v["frame"] > _FRAG_WINDOW]
        for k in old:
            del self.pending[k]
        return len(old)


def _ethernet(buf: bytes) -> tuple[int, int] | None:
    """Ethernet II (LINKTYPE_ETHERNET): the EtherType after two MAC addresses."""
    if len(buf) < 14:
        return None
    return (buf[12] << 8) | buf[13], 14


def _linux_sll(buf: bytes) -> tuple[int, int] | None:
    """Linux cooked capture v1 (LINKTYPE_LINUX_SLL): protocol at bytes 14-15."""
    if len(buf) < 16:
        return None
    return (buf[14] << 8) | buf[15], 16


def _linux_sll2(buf: bytes) -> tuple[int, int] | None:
    """Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): protocol first, 20-byte header."""
    if len(buf) < 20:
        return None
    return (buf[0] << 8) | buf[1], 20


def _raw_ip(buf: bytes) -> tuple[int, int] | None:
    """Raw IP (LINKTYPE_RAW, IPV4, IPV6): the IP version nibble says which."""
    if not buf:
        return None
    return (_ETH_IPV6 if buf[0] >> 4 == 6 else _ETH_IPV4), 0


def _bsd_loopback(buf: bytes) -> tuple[int, int] | None:
    """BSD loopback (LINKTYPE_NULL, LOOP): a 4-byte address family in either byte order."""
    if len(buf) < 4:
        return None
    return (_ETH_IPV6 if buf[4:5] and buf[4] >> 4 == 6 else _ETH_IPV4), 4


#: Link-layer decoders by pcap link type (LINKTYPE_*): each gives the EtherType of the
#: network layer and where it starts, or None for a frame too short to hold the header.
LINK_LAYERS: dict[int, Callable[[bytes], tuple[int, int] | None]] = {
    1: _ethernet, 113: _linux_sll, 276: _linux_sll2,
    12: _raw_ip, 14: _raw_ip, 101: _raw_ip, 228: _raw_ip, 229: _raw_ip,
    0: _bsd_loopback, 108: _bsd_loopback,
}


def _ipv4_udp(ip: bytes, cut: bool, frame: int, frags: _Reassembler
              ) -> tuple[str, str, bytes, bool] | None:
    """Source, destination, UDP bytes (reassembled) and cut flag of an IPv4 packet."""
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = (ip[2] << 8) | ip[3]
    if ihl < 20 or total < ihl:
        return None
    if len(ip) >= total:
        ip = ip[:total]  # drop Ethernet padding
    else:
        cut = True
    proto = ip[9]
    if proto != _UDP:
        return None
    src, dst = _ntop4(ip[12:16]), _ntop4(ip[16:20])
    flags_off = (ip[6] << 8) | ip[7]
    more = bool(flags_off & 0x2000)
    frag_off = (flags_off & 0x1FFF) * 8
    body = ip[ihl:]
    if more or frag_off:
        if cut:
            return None  # a cut fragment can never be reassembled
        whole = frags.add((4, ip[12:16], ip[16:20], ip[4:6], proto), frame, frag_off, more, body)
        if whole is None:
            return None
        body = whole
    return src, dst, body, cut


def _ipv6_udp(ip: bytes, cut: bool, frame: int, frags: _Reassembler
              ) -> tuple[str, str, bytes, bool] | None:
    """Source, destination, UDP bytes (reassembled) and cut flag of an IPv6 packet.

    Hop-by-hop, routing and destination options are skipped; a fragment
    header (44) leads to reassembly.
    """
    if len(ip) < 40 or ip[0] >> 4 != 6:
        return None
    plen = (ip[4] << 8) | ip[5]
    if len(ip) >= 40 + plen:
        ip = ip[:40 + plen]
    else:
        cut = True
    nxt = ip[6]
    src, dst = _ntop6(ip[8:24]), _ntop6(ip[24:40])
    pos = 40
    frag: tuple[int, bool, bytes] | None = None
    while nxt in (0, 43, 44, 60):
        if len(ip) < pos + 8:
            return None
        if nxt == 44:
            fo = (ip[pos + 2] << 8) | ip[pos + 3]
            frag = ((fo & 0xFFF8), bool(fo & 1), ip[pos + 4:pos + 8])
            nxt = ip[pos]
            pos += 8
        else:
            nxt, pos = ip[pos], pos + (ip[pos + 1] + 1) * 8
    if nxt != _UDP:
        return None
    body = ip[pos:]
    if frag is not None and (frag[0] or frag[1]):
        if cut:
            return None
        whole = frags.add((6, ip[8:24], ip[24:40], frag[2]), frame, frag[0], frag[1], body)
        if whole is None:
            return None
        body = whole
    return src, dst, body, cut


#: Network-layer decoders by EtherType.
_NETWORK_LAYERS = {_ETH_IPV4: _ipv4_udp, _ETH_IPV6: _ipv6_udp}


def _udp_from_frame(buf: bytes, linktype: int, frame: int, time_ns: int, orig_len: int,
                    frags: _Reassembler, out: list[UdpDatagram],
                    unknown_links: set[int]) -> None:
    """Decode one frame down to UDP and append the datagram (if any) to ``out``.

    The link layer is dispatched through :data:`LINK_LAYERS` (an unknown link
    type is added to ``unknown_links``), VLAN tags are skipped, and the
    network layer through ``_NETWORK_LAYERS`` (IPv4, IPv6, with reassembly).
    """
    link = LINK_LAYERS.get(linktype)
    if link is None:
        unknown_links.add(linktype)
        return
    found = link(buf)
    if found is None:
        return
    etype, off = found
    while etype in _ETH_VLAN:
        if len(buf) < off + 4:
            return
        etype = (buf[off + 2] << 8) | buf[off + 3]
        off += 4
    network = _NETWORK_LAYERS.get(etype)
    ip = network(buf[off:], orig_len > len(buf), frame, frags) if network else None
    if ip is None:
        return
    src, dst, body, cut = ip
    if len(body) < 8:
        return
    sport = (body[0] << 8) | body[1]
    dport = (body[2] << 8) | body[3]
    ulen = (body[4] << 8) | body[5]
    if ulen >= 8:
        if len(body) >= ulen:
            payload = body[8:ulen]
        else:
            payload, cut = body[8:], True
    else:  # UDP length 0 (jumbogram) or bogus: take what is there
        payload = body[8:]
    out.append(UdpDatagram(frame, time_ns, src, sport, dst, dport, bytes(payload), cut))


def read_udp(path: str | os.PathLike[str]) -> UdpScan:
    """Read every UDP datagram of a pcap or pcapng file.

    Parameters
    ----------
    path : str or Path
        A classic pcap or pcapng file.

    Returns
    -------
    UdpScan
        The datagrams in file order, the frame count, the first frame's time
        and notes on oddities (cut-short file, unknown link types).

    Raises
    ------
    CaptureError
        The file is not a pcap/pcapng file or its header is unreadable.
    OSError
        The file cannot be read.
    """
    p = Path(path)
    data = p.read_bytes()
    name = str(path)
    scan = UdpScan()
    head = data[:4]
    if head in PCAP_MAGICS:
        records = _records_pcap(data, name, scan.notes)
    elif head == PCAPNG_MAGIC:
        records = _records_pcapng(data, name, scan.notes)
    else:
        raise CaptureError(f"{name}: not a pcap or pcapng capture (first bytes {head.hex()!r}; "
                           "expected a pcap magic such as 'd4c3b2a1' or pcapng '0a0d0d0a')")
    frags = _Reassembler()
    unknown: set[int] = set()
    out = scan.datagrams
    frame = 0
    for time_ns, linktype, buf, orig in records:
        frame += 1
        if scan.first_time_ns is None:
            scan.first_time_ns = time_ns
        _udp_from_frame(buf, linktype, frame, time_ns, orig, frags, out, unknown)
        if frags.pending and frame % 1024 == 0:
            frags.expire(frame)
    scan.frames = frame
    if unknown:
        scan.notes.append("frames of unsupported link type(s) "
                          f"{', '.join(str(u) for u in sorted(unknown))} were skipped")
    if frags.pending:
        scan.notes.append(f"{len(frags.pending)} fragmented IP datagram(s) never completed")
    return scan


# --------------------------------------------------------------------------- writing

def _ip_checksum(header: bytes) -> int:
    s = sum(struct.unpack(f"!{len(header) // 2}H", header))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(src: str, sport: int, dst: str, dport: int, payload: bytes, *,
              ip_id: int = 0) -> bytes:
    """An Ethernet + IPv4 + UDP frame carrying ``payload`` (synthesised headers).

    Parameters
    ----------
    src, dst : str
        Dotted IPv4 addresses.
    sport, dport : int
        UDP ports.
    payload : bytes
        UDP payload, at most 65507 bytes.
    ip_id : int
        IPv4 identification field (keep it distinct per datagram).

    Returns
    -------
    bytes
        The frame. The MAC addresses are zero (multicast destinations get the
        RFC 1112 group MAC), the IPv4 header checksum is valid and the UDP
        checksum is 0 ("none", allowed over IPv4 by RFC 768).
    """
    import socket

    ulen = 8 + len(payload)
    dst_b = socket.inet_aton(dst)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ip_id & 0xFFFF, 0x4000, 64, _UDP, 0,
                      socket.inet_aton(src), dst_b)
    hdr = hdr[:10] + struct.pack("!H", _ip_checksum(hdr)) + hdr[12:]
    if 224 <= dst_b[0] <= 239:
        mac = bytes((0x01, 0x00, 0x5E, dst_b[1] & 0x7F, dst_b[2], dst_b[3]))
    else:
        mac = b"\x00" * 6
    return (mac + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00" + hdr
            + struct.pack("!HHHH", sport, dport, ulen, 0) + payload)


class PcapWriter:
    """Write an Ethernet pcap with nanosecond timestamps (:class:`dpkt.pcap.Writer`).

    Parameters
    ----------
    fileobj : binary file
        Open for writing; the global header is written at once.
    snaplen : int
        Snap length recorded in the header, bytes.

    Examples
    --------
    >>> import io
    >>> w = PcapWriter(io.BytesIO())
    >>> w.write_udp(1_700_000_000_000_000_000, "127.0.0.1", 4000, "127.0.0.1", 5004, b"x")
    """

    def __init__(self, fileobj: BinaryIO, *, snaplen: int = 65535) -> None:
        import dpkt

        self._f = fileobj
        self._w = dpkt.pcap.Writer(fileobj, snaplen=snaplen, linktype=dpkt.pcap.DLT_EN10MB,
                                   nano=True)
        self._rec = struct.Struct("<IIII" if _little_endian_writer() else ">IIII")
        self._ip_id = 0

    def write_frame(self, time_ns: int, frame: bytes) -> None:
        """Write one frame with its capture time (ns since the epoch)."""
        n = len(frame)
        sec, ns = divmod(int(time_ns), 1_000_000_000)
        self._f.write(self._rec.pack(sec, ns, n, n) + frame)

    def write_udp(self, time_ns: int, src: str, sport: int, dst: str, dport: int,
                  payload: bytes) -> None:
        """Write one UDP datagram as a synthesised Ethernet/IPv4/UDP frame."""
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        self.write_frame(time_ns, udp_frame(src, sport, dst, dport, payload, ip_id=self._ip_id))


def _little_endian_writer() -> bool:
    """Whether dpkt writes little endian: it uses host byte order, and records must follow."""
    import sys

    return sys.byteorder == "little"
