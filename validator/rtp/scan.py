"""Stream a capture into packet tables: frames -> UDP -> RTP, vectorised per chunk.

:func:`scan_rtp` reads the capture chunk by chunk
(:func:`validator.rtp.pcap.iter_frame_blocks`) and decodes, with numpy
over all frames of a chunk at once, the common layers: Ethernet, Linux
cooked (SLL, SLL2), raw IP and BSD loopback; IPv4 without fragments and
IPv6 without extension headers; UDP; the RTP header (RFC 3550 5.1: CSRC
list, header extension, padding). Every other frame (VLAN tags, IP
fragments, IPv6 extension headers, unknown link types) goes through the
per-frame reader of :mod:`validator.rtp.pcap`, exactly as :func:`read_udp`
decodes it, and its payload is kept in memory. The rules, the rejected
packets and the notes are those of :func:`validator.rtp.pcap.read_udp` +
:func:`validator.rtp.header.parse_rtp_header`.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass, field

import numpy as np

from validator.rtp.header import RTP_HEADER_BYTES, RtpHeaderError, parse_rtp_header
from validator.rtp.pcap import (
    _ETH_IPV4,
    _ETH_IPV6,
    _UDP,
    FrameBlock,
    UdpDatagram,
    _Reassembler,
    _udp_from_frame,
    iter_frame_blocks,
)
from validator.rtp.table import MARKER, PACKET_COLUMNS, TRUNCATED, PacketTable, PayloadStore

__all__ = ["RtpScan", "scan_rtp"]

#: Flow key: (IP version, src, sport, dst, dport) with addresses as text.
Flow = tuple[str, int, str, int]
_IPV6_EXT = (0, 43, 44, 60)
_FRAG_EXPIRE_EVERY = 1024


@dataclass
class RtpScan:
    """What :func:`scan_rtp` found in one capture.

    Attributes
    ----------
    groups : dict
        ``{(src, sport, dst, dport, ssrc): PacketTable}`` in order of first
        appearance, packets in arrival order.
    sdp_texts : list of str
        SDP bodies of SIP and SAP messages, in file order.
    rtcp : int
        RTCP packets (on ``port`` when one is given).
    datagrams : int
        UDP datagrams decoded.
    frames : int
    first_time_ns : int or None
    notes : list of str
    """

    groups: dict[tuple[str, int, str, int, int], PacketTable] = field(default_factory=dict)
    sdp_texts: list[str] = field(default_factory=list)
    rtcp: int = 0
    datagrams: int = 0
    frames: int = 0
    first_time_ns: int | None = None
    notes: list[str] = field(default_factory=list)


def _be(buf: np.ndarray, idx: np.ndarray, nbytes: int) -> np.ndarray:
    """Big-endian unsigned integers of ``nbytes`` at ``idx`` (clipped into ``buf``), uint64."""
    top = max(buf.shape[0] - 1, 0)
    out = np.zeros(idx.shape, dtype=np.uint64)
    for k in range(nbytes):
        out = (out << np.uint64(8)) | buf[np.minimum(idx + k, top)].astype(np.uint64)
    return out


@dataclass
class _Udp:
    """UDP datagrams of one chunk decoded by the fast path (columns)."""

    frame: np.ndarray
    time_ns: np.ndarray
    v6: np.ndarray
    src: np.ndarray  # (n, 2) uint64: the address as two big-endian halves (IPv4 in [:, 1])
    dst: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    start: np.ndarray  # payload offset in the chunk
    length: np.ndarray
    cut: np.ndarray


def _link(blk: FrameBlock, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EtherType and network-layer offset of each frame, and which frames need the slow path.

    EtherType -1: no usable network layer (dropped, as the per-frame reader drops it).
    """
    n = blk.start.shape[0]
    s, incl, lt = blk.start, blk.incl, blk.linktype
    etype = np.full(n, -1, dtype=np.int64)
    net = s.copy()
    slow = ~np.isin(lt, (1, 113, 276, 12, 14, 101, 228, 229, 0, 108))
    for types, hdr, at in (((1,), 14, 12), ((113,), 16, 14), ((276,), 20, 0)):
        m = np.isin(lt, types) & (incl >= hdr)
        etype[m] = _be(buf, s[m] + at, 2).astype(np.int64)
        net[m] = s[m] + hdr
    raw = np.isin(lt, (12, 14, 101, 228, 229)) & (incl >= 1)
    loop = np.isin(lt, (0, 108)) & (incl >= 4)
    for m, hdr in ((raw, 0), (loop, 4)):
        has = m & (incl > hdr)
        v6 = np.zeros(n, dtype=bool)
        v6[has] = (buf[s[has] + hdr] >> 4) == 6
        etype[m] = np.where(v6[m], _ETH_IPV6, _ETH_IPV4)
        net[m] = s[m] + hdr
    slow |= np.isin(etype, (0x8100, 0x88A8, 0x9100))
    etype[slow] = -1
    return etype, net, slow


def _ip(blk: FrameBlock, buf: np.ndarray, etype: np.ndarray, net: np.ndarray,
        slow: np.ndarray) -> tuple[_Udp, np.ndarray]:
    """IPv4/IPv6 + UDP of the fast frames; ``slow`` gains fragments and IPv6 extensions."""
    ip_len = blk.incl - (net - blk.start)
    cut = blk.orig > blk.incl
    b0 = buf[np.minimum(net, buf.shape[0] - 1)].astype(np.int64)
    v4 = (etype == _ETH_IPV4) & (ip_len >= 20) & ((b0 >> 4) == 4)
    ihl = (b0 & 0x0F) * 4
    total = _be(buf, net + 2, 2).astype(np.int64)
    v4 &= (ihl >= 20) & (total >= ihl) & (buf[np.minimum(net + 9, buf.shape[0] - 1)] == _UDP)
    frag = (_be(buf, net + 6, 2).astype(np.int64) & 0x3FFF) != 0
    slow |= v4 & frag
    v4 &= ~frag
    v6 = (etype == _ETH_IPV6) & (ip_len >= 40) & ((b0 >> 4) == 6)
    nxt = buf[np.minimum(net + 6, buf.shape[0] - 1)].astype(np.int64)
    slow |= v6 & np.isin(nxt, _IPV6_EXT)
    v6 &= nxt == _UDP
    plen6 = _be(buf, net + 4, 2).astype(np.int64) + 40
    whole = np.where(v6, plen6, total)
    ok = v4 | v6
    eff = np.where(ip_len >= whole, whole, ip_len)
    cut = cut | (ip_len < whole)
    hdr = np.where(v6, 40, ihl)
    body, blen = net + hdr, eff - hdr
    ok &= blen >= 8
    idx = np.flatnonzero(ok)
    body, blen, cut, net = body[idx], blen[idx], cut[idx], net[idx]
    ulen = _be(buf, body + 4, 2).astype(np.int64)
    length = np.where(ulen >= 8, np.where(blen >= ulen, ulen - 8, blen - 8), blen - 8)
    cut = cut | ((ulen >= 8) & (blen < ulen))
    is6 = v6[idx]
    src = np.zeros((idx.shape[0], 2), dtype=np.uint64)
    dst = np.zeros((idx.shape[0], 2), dtype=np.uint64)
    src[:, 1] = np.where(is6, _be(buf, net + 16, 8), _be(buf, net + 12, 4))
    src[:, 0] = np.where(is6, _be(buf, net + 8, 8), 0)
    dst[:, 1] = np.where(is6, _be(buf, net + 32, 8), _be(buf, net + 16, 4))
    dst[:, 0] = np.where(is6, _be(buf, net + 24, 8), 0)
    udp = _Udp(idx + blk.first_frame, blk.time_ns[idx], is6, src, dst,
               _be(buf, body, 2).astype(np.int64), _be(buf, body + 2, 2).astype(np.int64),
               body + 8, length, cut)
    return udp, slow


def _addr_text(v6: bool, addr: tuple[int, int]) -> str:
    if v6:
        return socket.inet_ntop(socket.AF_INET6, struct.pack("!QQ", *addr))
    a = addr[1]
    return f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}"


def _rtp_header(buf: np.ndarray, start: np.ndarray, length: np.ndarray
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Vectorised :func:`parse_rtp_header`: which datagrams are valid RTP, and their fields."""
    top = max(buf.shape[0] - 1, 0)
    b0 = buf[np.minimum(start, top)].astype(np.int64)
    b1 = buf[np.minimum(start + 1, top)].astype(np.int64)
    ok = (length >= RTP_HEADER_BYTES) & ((b0 >> 6) == 2)
    off = RTP_HEADER_BYTES + 4 * (b0 & 0x0F)
    ok &= off <= length
    ext = (b0 & 0x10) != 0
    ok &= ~ext | (off + 4 <= length)
    words = _be(buf, start + off + 2, 2).astype(np.int64)
    off = np.where(ext, off + 4 + 4 * words, off)
    ok &= off <= length
    padded = (b0 & 0x20) != 0
    pad = np.where(padded, buf[np.clip(start + length - 1, 0, top)].astype(np.int64), 0)
    ok &= ~padded | ((pad != 0) & (off + pad <= length))
    fields = {"sequence": _be(buf, start + 2, 2), "timestamp": _be(buf, start + 4, 4),
              "ssrc": _be(buf, start + 8, 4), "payload_type": b1 & 0x7F,
              "marker": (b1 & 0x80) != 0, "payload_start": start + off,
              "payload_length": length - off - pad}
    return ok, fields


#: The smallest file space a frame carrying RTP can take: a 16-byte pcap record header, then
#: raw IPv4 (20), UDP (8) and the RTP header (12). It bounds the packet table's size.
_MIN_RTP_RECORD = 56


class _Collector:
    """Collects the RTP rows of every chunk into columns, and the flows they belong to.

    The columns are allocated once, for as many rows as the file could hold
    (:data:`_MIN_RTP_RECORD`); the operating system commits their pages only
    as rows are written, so memory follows the packets found, and no chunk's
    pieces are left behind by a final concatenation.
    """

    def __init__(self, path: str, port: int | None) -> None:
        self.port = port
        self.capacity = os.path.getsize(path) // _MIN_RTP_RECORD + 16
        self.cols: dict[str, np.ndarray] = {
            k: np.empty(self.capacity, dtype=PACKET_COLUMNS.get(k, np.uint32))
                     for k in (*PACKET_COLUMNS, "flow")}
        self.n = 0
        self.flows: dict[tuple[bool, int, int, int, int, int, int], int] = {}
        self.flow_text: list[Flow] = []
        self.memory = bytearray()
        self.path = path

    def flow_ids(self, v6: np.ndarray, src: np.ndarray, sport: np.ndarray, dst: np.ndarray,
                 dport: np.ndarray) -> np.ndarray:
        """A stable id per (addresses, ports), in order of first appearance."""
        if v6.shape[0] == 0:
            return np.zeros(0, dtype=np.uint32)
        keys = np.stack([v6.astype(np.uint64), src[:, 0], src[:, 1], sport.astype(np.uint64),
                         dst[:, 0], dst[:, 1], dport.astype(np.uint64)], axis=1)
        uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        ids = np.empty(uniq.shape[0], dtype=np.uint32)
        for u in np.argsort(first, kind="stable"):
            k = tuple(int(x) for x in uniq[u])
            key = (bool(k[0]), k[1], k[2], k[3], k[4], k[5], k[6])
            if key not in self.flows:
                self.flows[key] = len(self.flows)
                self.flow_text.append((_addr_text(key[0], (k[1], k[2])), k[3],
                                       _addr_text(key[0], (k[4], k[5])), k[6]))
            ids[u] = self.flows[key]
        return ids[inverse.ravel()]

    def add(self, cols: dict[str, np.ndarray]) -> None:
        k = cols["frame"].shape[0]
        if self.n + k > self.capacity:  # cannot happen for a file read as it is; be safe
            self.capacity = 2 * (self.n + k)
            self.cols = {name: np.concatenate([v[:self.n], np.empty(self.capacity - self.n,
                                                                    dtype=v.dtype)])
                         for name, v in self.cols.items()}
        for name, v in cols.items():
            self.cols[name][self.n:self.n + k] = v
        self.n += k

    def groups(self) -> dict[tuple[str, int, str, int, int], PacketTable]:
        """The tables per (flow, SSRC), in order of first appearance."""
        cols = {k: v[:self.n] for k, v in self.cols.items()}
        store = PayloadStore(self.path, bytes(self.memory))
        flow = cols.pop("flow")
        ssrc = cols["ssrc"]
        if self.n and bool((flow == flow[0]).all()) and bool((ssrc == ssrc[0]).all()):
            src, sport, dst, dport = self.flow_text[int(flow[0])]
            return {(src, sport, dst, dport, int(ssrc[0])): PacketTable(cols, store)}
        key = (flow.astype(np.uint64) << np.uint64(32)) | ssrc.astype(np.uint64)
        uniq, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True,
                                                 return_counts=True)
        out: dict[tuple[str, int, str, int, int], PacketTable] = {}
        if uniq.shape[0] == 1:
            table = {0: PacketTable(cols, store)}
        else:
            order = np.argsort(inverse, kind="stable")
            bounds = np.concatenate([[0], np.cumsum(counts)])
            table = {g: PacketTable({k: v[order[bounds[g]:bounds[g + 1]]] for k, v in
                                     cols.items()}, store) for g in range(uniq.shape[0])}
        for g in np.argsort(first, kind="stable"):
            src, sport, dst, dport = self.flow_text[int(uniq[g] >> np.uint64(32))]
            out[(src, sport, dst, dport, int(uniq[g] & np.uint64(0xFFFFFFFF)))] = table[int(g)]
        return out


def _chunk_rtp(blk: FrameBlock, coll: _Collector, scan: RtpScan, slow: np.ndarray,
               py_dg: list[UdpDatagram]) -> dict[str, np.ndarray]:
    """Decode one chunk's fast frames down to RTP rows (returned as columns) and RTCP counts.

    Datagrams that are not RTP or RTCP (SIP, SAP...) are appended to ``py_dg``
    for the SDP reader; ``slow`` gains the frames the fast path leaves.
    """
    buf = np.frombuffer(blk.data, dtype=np.uint8)
    etype, net, slow2 = _link(blk, buf)
    udp, slow2 = _ip(blk, buf, etype, net, slow2)
    slow |= slow2
    scan.datagrams += udp.frame.shape[0]
    nonempty = udp.length > 0
    b0 = buf[np.minimum(udp.start, max(buf.shape[0] - 1, 0))].astype(np.int64)
    for k in np.flatnonzero(nonempty & ((b0 >> 6) != 2)):
        s, n = int(udp.start[k]), int(udp.length[k])
        py_dg.append(UdpDatagram(int(udp.frame[k]), int(udp.time_ns[k]), "", int(udp.sport[k]),
                                 "", int(udp.dport[k]), blk.data[s:s + n], bool(udp.cut[k])))
    cand = nonempty & ((b0 >> 6) == 2)
    if coll.port is not None:
        cand &= (udp.dport == coll.port) | (udp.sport == coll.port)
    b1 = buf[np.minimum(udp.start + 1, max(buf.shape[0] - 1, 0))].astype(np.int64)
    rtcp = cand & (udp.length >= 8) & (b1 >= 200) & (b1 <= 204)
    scan.rtcp += int(rtcp.sum())
    cand &= ~rtcp
    ok, f = _rtp_header(buf, udp.start, udp.length)
    keep = np.flatnonzero(cand & ok)
    return {"frame": udp.frame[keep], "time_ns": udp.time_ns[keep],
            "sequence": f["sequence"][keep], "timestamp": f["timestamp"][keep],
            "ssrc": f["ssrc"][keep], "payload_type": f["payload_type"][keep],
            "flags": np.where(f["marker"][keep], MARKER, 0)
            | np.where(udp.cut[keep], TRUNCATED, 0),
            "payload_offset": f["payload_start"][keep] + blk.base,
            "payload_length": f["payload_length"][keep],
            "flow": coll.flow_ids(udp.v6[keep], udp.src[keep], udp.sport[keep],
                                  udp.dst[keep], udp.dport[keep])}


def _python_rows(datagrams: list[UdpDatagram], coll: _Collector, scan: RtpScan
                 ) -> dict[str, np.ndarray]:
    """SDP, RTCP and RTP rows of datagrams decoded one by one (slow path, SIP, SAP)."""
    from validator.rtp.capture import _sdp_text

    rows: list[tuple[int, ...]] = []
    flows: list[tuple[bool, tuple[int, int], int, tuple[int, int], int]] = []
    for d in sorted(datagrams, key=lambda d: d.frame):
        pl = d.payload
        if not pl:
            continue
        if pl[0] >> 6 != 2:
            text = _sdp_text(d)
            if text:
                scan.sdp_texts.append(text)
            continue
        if coll.port is not None and d.dport != coll.port and d.sport != coll.port:
            continue
        if len(pl) >= 8 and 200 <= pl[1] <= 204:
            scan.rtcp += 1
            continue
        try:
            h = parse_rtp_header(pl)
        except RtpHeaderError:
            continue
        at = len(coll.memory)
        coll.memory += pl[h.payload_offset:h.payload_offset + h.payload_length]
        rows.append((d.frame, d.time_ns, h.sequence, h.timestamp, h.ssrc, h.payload_type,
                     (MARKER if h.marker else 0) | (TRUNCATED if d.truncated else 0),
                     -1 - at, h.payload_length))
        v6 = ":" in d.src
        flows.append((v6, _addr_key(d.src, v6), d.sport, _addr_key(d.dst, v6), d.dport))
    names = list(PACKET_COLUMNS)
    cols = {k: np.array([r[i] for r in rows], dtype=np.int64) for i, k in enumerate(names)}
    src = np.array([f[1] for f in flows], dtype=np.uint64).reshape(-1, 2)
    dst = np.array([f[3] for f in flows], dtype=np.uint64).reshape(-1, 2)
    cols["flow"] = coll.flow_ids(np.array([f[0] for f in flows], dtype=bool), src,
                                 np.array([f[2] for f in flows], dtype=np.int64), dst,
                                 np.array([f[4] for f in flows], dtype=np.int64))
    return cols


def _addr_key(text: str, v6: bool) -> tuple[int, int]:
    if v6:
        hi, lo = struct.unpack("!QQ", socket.inet_pton(socket.AF_INET6, text))
        return hi, lo
    return 0, struct.unpack("!I", socket.inet_aton(text))[0]


def scan_rtp(path: str | os.PathLike[str], *, port: int | None = None) -> RtpScan:
    """Read a capture in chunks into per-(flow, SSRC) packet tables.

    Parameters
    ----------
    path : str or Path
        A pcap or pcapng file (never modified; payloads stay in it and are
        read back by offset when decoded).
    port : int, optional
        Keep only datagrams to or from this UDP port as RTP candidates
        (SIP/SAP are read on any port).

    Returns
    -------
    RtpScan
        The candidate streams (every well-formed RTP packet grouped by flow
        and SSRC: whether a group is RTP is decided by the caller), SDP
        texts, RTCP count, frame and datagram counts and notes.

    Raises
    ------
    CaptureError
        Not a pcap/pcapng file, or its header is unreadable.
    OSError
        The file cannot be read.
    """
    scan = RtpScan()
    coll = _Collector(str(path), port)
    frags = _Reassembler()
    unknown: set[int] = set()
    expired = [0]
    for blk in iter_frame_blocks(path, scan.notes):
        if scan.first_time_ns is None and blk.time_ns.shape[0]:
            scan.first_time_ns = int(blk.time_ns[0])
        scan.frames = blk.first_frame + blk.time_ns.shape[0] - 1
        slow = np.zeros(blk.time_ns.shape[0], dtype=bool)
        py_dg: list[UdpDatagram] = []
        fast = _chunk_rtp(blk, coll, scan, slow, py_dg)
        from_slow = _slow_frames(blk, slow, frags, unknown, expired)
        scan.datagrams += len(from_slow)
        cols = fast
        if from_slow or py_dg:
            more = _python_rows(py_dg + from_slow, coll, scan)
            if more["frame"].shape[0]:
                order = np.argsort(np.concatenate([fast["frame"], more["frame"]]),
                                   kind="stable")
                cols = {k: np.concatenate([fast[k].astype(np.int64), more[k].astype(np.int64)]
                                          )[order] for k in fast}
        coll.add(cols)
    _expire_before(frags, scan.frames + 1, expired)
    if unknown:
        scan.notes.append("frames of unsupported link type(s) "
                          f"{', '.join(str(u) for u in sorted(unknown))} were skipped")
    if frags.pending:
        scan.notes.append(f"{len(frags.pending)} fragmented IP datagram(s) never completed")
    scan.groups = coll.groups()
    return scan


def _slow_frames(blk: FrameBlock, slow: np.ndarray, frags: _Reassembler, unknown: set[int],
                 state: list[int]) -> list[UdpDatagram]:
    """The per-frame reader on the frames the fast path leaves (exact :func:`read_udp` rules)."""
    out: list[UdpDatagram] = []
    for k in np.flatnonzero(slow):
        frame = blk.first_frame + int(k)
        _expire_before(frags, frame, state)
        s, n = int(blk.start[k]), int(blk.incl[k])
        _udp_from_frame(blk.data[s:s + n], int(blk.linktype[k]), frame, int(blk.time_ns[k]),
                        int(blk.orig[k]), frags, out, unknown)
    return out


def _expire_before(frags: _Reassembler, frame: int, state: list[int]) -> None:
    """Expire fragments as :func:`read_udp` does after every 1024th frame before ``frame``."""
    mark = (frame - 1) // _FRAG_EXPIRE_EVERY * _FRAG_EXPIRE_EVERY
    if mark > state[0]:
        if frags.pending and mark:
            frags.expire(mark)
        state[0] = mark
