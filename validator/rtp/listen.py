"""Live RTP receiver: stream every datagram to a pcap, keep only per-stream counters.

:func:`listen` binds a UDP socket with a large receive buffer (``SO_RCVBUF``,
4 MiB by default), takes the kernel's receive timestamp of each datagram
(``SO_TIMESTAMPNS``; the wall clock after ``recvmsg`` where that is not
available) and writes it at once to a pcap with synthesised
Ethernet/IPv4/UDP headers, which :func:`validator.rtp.read_capture` and
tshark both read.

Memory stays flat however long it runs: no datagram and no audio is kept.
What stays in memory is, per RTP stream (SSRC), a fixed set of counters
(:class:`LiveCounters`: packets, highest extended sequence number, late
packets, RFC 3550 jitter) and the list of loss events (one
:class:`LossEvent` per gap in the sequence numbers, at most ``max_events``
in all). Everything else goes to the pcap, through a 1 MiB write buffer.

Datagrams the kernel dropped because the socket buffer was full are counted
twice, independently: from the ``SO_RXQ_OVFL`` ancillary data the kernel
attaches to each datagram (Linux; the socket's drop counter when that
datagram was queued), and from the ``drops`` column of ``/proc/net/udp`` for
this socket's inode when listening ends. A kernel drop is also a missing
sequence number, so it is part of each stream's ``lost``.
"""

from __future__ import annotations

import ipaddress
import math
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from validator.errors import CaptureError
from validator.rtp.pcap import PcapWriter

__all__ = ["DEFAULT_MAX_EVENTS", "DEFAULT_RCVBUF_BYTES", "ListenResult", "LiveCounters",
           "LiveStreamStats", "LossEvent", "kernel_drops", "listen"]

#: Receive buffer asked for, bytes (the kernel may grant less: see ``rcvbuf_bytes``).
DEFAULT_RCVBUF_BYTES = 4 * 1024 * 1024
#: Loss events kept in memory over all streams; later ones are only counted.
DEFAULT_MAX_EVENTS = 100_000
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux; not exported by Python
#: Datagrams read in one go before the loop looks at the clock, the display and ``stop``.
_DRAIN_BATCH = 64


@dataclass(frozen=True)
class LossEvent:
    """A gap in one stream's sequence numbers, seen when the packet after it arrived.

    Attributes
    ----------
    ssrc : int
        The stream.
    first_seq : int
        RTP sequence number (16 bit) of the first missing packet.
    packets : int
        Number of consecutive missing packets.
    arrival_ns : int
        Kernel arrival time of the packet that revealed the gap, ns since the
        epoch.
    """

    ssrc: int
    first_seq: int
    packets: int
    arrival_ns: int


@dataclass(frozen=True)
class LiveStreamStats:
    """One RTP stream as counted live (no capture needed).

    ``lost`` is expected minus received, as tshark counts it (RFC 3550 A.3):
    a duplicate lowers it, a gap filled by a late packet is no longer lost.

    Attributes
    ----------
    ssrc : int
    payload_type : int
        Payload type of the first packet.
    packets : int
        Datagrams received for this SSRC.
    first_seq, last_seq : int
        First and highest RTP sequence number received (16 bit).
    expected : int
        ``last - first + 1`` on the extended (wrap-counted) sequence numbers.
    lost : int
        ``expected - packets``.
    late : int
        Packets whose sequence number was not above the highest seen
        (reordered or duplicated).
    jitter_ms : float
        RFC 3550 A.8 interarrival jitter at the end, ms; NaN when the clock
        rate of the payload type is unknown.
    loss_events : tuple of LossEvent
        The gaps, in arrival order (at most ``max_events`` over all streams).
    """

    ssrc: int
    payload_type: int
    packets: int
    first_seq: int
    last_seq: int
    expected: int
    lost: int
    late: int
    jitter_ms: float
    loss_events: tuple[LossEvent, ...]


@dataclass(frozen=True)
class ListenResult:
    """What a listening session received.

    Attributes
    ----------
    pcap_path : str
        The capture written.
    packets : int
        Datagrams received and written.
    bytes : int
        UDP payload bytes received.
    kernel_drops : int or None
        Datagrams the kernel dropped for this socket (buffer full), from
        ``/proc/net/udp`` at the end; None where that is not available.
    rcvbuf_bytes : int
        ``SO_RCVBUF`` as granted by the kernel (Linux reports twice the value
        set, for bookkeeping overhead).
    duration_s : float
        Time listened, s.
    stopped_by : str
        ``"duration"``, ``"idle"``, ``"interrupt"`` or ``"stop"``.
    kernel_timestamps : bool
        Arrival times are the kernel's (``SO_TIMESTAMPNS``).
    streams : tuple of LiveStreamStats
        Per-SSRC counters and loss events, in order of first arrival.
    kernel_drops_ovfl : int or None
        The socket's drop counter as the kernel reported it with the last
        datagram (``SO_RXQ_OVFL``); drops after the last datagram are not in
        it. None where the option is not available.
    events_discarded : int
        Loss events counted in ``lost`` but not kept (over ``max_events``).
    cpu_s : float
        CPU time of this process (all threads) while listening, s.
    status_updates : int
        Status lines delivered to ``status``.
    status_max_lag_s : float
        Longest delay of a status line after its due time (one per second), s.
    max_backlog_s : float
        Longest time from a datagram's kernel arrival to its processing, s:
        how far the receiver fell behind the network at worst (0 without
        kernel timestamps).
    """

    pcap_path: str
    packets: int
    bytes: int
    kernel_drops: int | None
    rcvbuf_bytes: int
    duration_s: float
    stopped_by: str
    kernel_timestamps: bool
    streams: tuple[LiveStreamStats, ...] = ()
    kernel_drops_ovfl: int | None = None
    events_discarded: int = 0
    cpu_s: float = 0.0
    status_updates: int = 0
    status_max_lag_s: float = 0.0
    max_backlog_s: float = 0.0


def kernel_drops(sock: socket.socket) -> int | None:
    """Datagrams dropped by the kernel for ``sock`` (``/proc/net/udp[6]`` drops column).

    Returns
    -------
    int or None
        None when the socket is not found there (not Linux, or no procfs).
    """
    try:
        inode = str(os.fstat(sock.fileno()).st_ino)
    except OSError:
        return None
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table, encoding="ascii") as fh:
                next(fh, None)
                for line in fh:
                    cols = line.split()
                    if len(cols) >= 13 and cols[9] == inode:
                        return int(cols[-1])
        except OSError:
            continue
    return None


class _Stream:
    """Fixed-size state of one SSRC (no per-packet history)."""

    __slots__ = ("clock_hz", "events", "first", "jitter_s", "late", "n", "pt", "r_ns", "top",
                 "ts")

    def __init__(self, pt: int, seq: int, ts: int, arrival_ns: int, clock_hz: int) -> None:
        self.pt = pt
        self.clock_hz = clock_hz
        self.n = 1
        self.first = seq  # extended sequence numbers start at the first 16-bit value
        self.top = seq
        self.late = 0
        self.jitter_s = 0.0
        self.r_ns = arrival_ns
        self.ts = ts
        self.events: list[LossEvent] = []


class LiveCounters:
    """Running packets / lost / jitter per SSRC, for the status line and the result.

    Jitter follows RFC 3550 A.8 at the clock rate of the static payload type
    (or ``clock_rates``); unknown clock rates give no jitter. Memory is a
    fixed set of numbers per SSRC plus one :class:`LossEvent` per gap (at most
    ``max_events`` in all).

    Parameters
    ----------
    clock_rates : dict, optional
        ``{payload_type: clock_rate_hz}`` for dynamic payload types.
    max_events : int
        Loss events kept over all streams; later gaps are only counted
        (``events_discarded``).
    """

    def __init__(self, clock_rates: dict[int, int] | None = None, *,
                 max_events: int = DEFAULT_MAX_EVENTS) -> None:
        from validator.rtp.payload import STATIC_PAYLOAD_TYPES

        self._clock = {pt: f.clock_rate_hz for pt, f in STATIC_PAYLOAD_TYPES.items()}
        self._clock.update(clock_rates or {})
        self._max_events = max_events
        self._n_events = 0
        self.events_discarded = 0
        self.streams: dict[int, _Stream] = {}
        self.packets = 0
        #: The socket's drop counter as last reported by the kernel (set by :func:`listen`).
        self.kernel_drops = 0

    def add(self, data: bytes, arrival_ns: int) -> None:
        """Account one datagram (ignored unless it looks like RTP v2).

        Parameters
        ----------
        data : bytes
            UDP payload.
        arrival_ns : int
            Arrival time, ns since the epoch.
        """
        self.packets += 1
        if len(data) < 12 or data[0] >> 6 != 2 or 200 <= data[1] <= 204:
            return
        seq, ts, ssrc = struct.unpack_from("!HII", data, 2)
        s = self.streams.get(ssrc)
        if s is None:
            pt = data[1] & 0x7F
            self.streams[ssrc] = _Stream(pt, seq, ts, arrival_ns, self._clock.get(pt, 0))
            return
        s.n += 1
        d = (seq - s.top + 32768) % 65536 - 32768
        if d > 0:
            if d > 1:
                if self._n_events < self._max_events:
                    s.events.append(LossEvent(ssrc, (s.top + 1) & 0xFFFF, d - 1, arrival_ns))
                    self._n_events += 1
                else:
                    self.events_discarded += 1
            s.top += d
        else:
            s.late += 1
        if s.clock_hz:
            dts = ((ts - s.ts + (1 << 31)) % (1 << 32) - (1 << 31)) / s.clock_hz
            dd = (arrival_ns - s.r_ns) / 1e9 - dts
            s.jitter_s += (abs(dd) - s.jitter_s) / 16
        s.r_ns, s.ts = arrival_ns, ts

    def stream_stats(self) -> tuple[LiveStreamStats, ...]:
        """Each SSRC's counters and loss events, in order of first arrival.

        Returns
        -------
        tuple of LiveStreamStats
        """
        out = []
        for ssrc, s in self.streams.items():
            expected = s.top - s.first + 1
            out.append(LiveStreamStats(
                ssrc, s.pt, s.n, s.first & 0xFFFF, s.top & 0xFFFF, expected, expected - s.n,
                s.late, s.jitter_s * 1000 if s.clock_hz else math.nan, tuple(s.events)))
        return tuple(out)

    def status(self) -> str:
        """``packets N  streams S  lost L  jitter J ms  kernel drops K`` over all SSRCs."""
        lost = sum(s.top - s.first + 1 - s.n for s in self.streams.values())
        jit = max((s.jitter_s for s in self.streams.values()), default=0.0) * 1000
        return (f"packets {self.packets}  streams {len(self.streams)}  lost {lost}  "
                f"jitter {jit:.3f} ms  kernel drops {self.kernel_drops}")


def _open_socket(port: int, bind: str, rcvbuf_bytes: int) -> tuple[socket.socket, bool, bool]:
    try:
        addr = ipaddress.ip_address(bind)
    except ValueError as exc:
        raise CaptureError(f"bad --bind address {bind!r}: {exc}") from None
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf_bytes)
        if addr.is_multicast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("", port))
            if family == socket.AF_INET:
                mreq = struct.pack("4s4s", addr.packed, socket.inet_aton("0.0.0.0"))
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            else:
                mreq6 = addr.packed + struct.pack("@I", 0)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq6)
        else:
            sock.bind((bind, port))
    except OSError as exc:
        sock.close()
        raise CaptureError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        kernel_ts = True
    except OSError:
        kernel_ts = False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_RXQ_OVFL, 1)
        ovfl = True
    except OSError:
        ovfl = False
    return sock, kernel_ts, ovfl


def listen(port: int, *, bind: str = "127.0.0.1", pcap_path: str | os.PathLike[str],
           duration_s: float | None = None, idle_timeout_s: float | None = None,
           rcvbuf_bytes: int = DEFAULT_RCVBUF_BYTES,
           stop: threading.Event | None = None,
           on_ready: Callable[[], None] | None = None,
           status: Callable[[str], None] | None = None,
           clock_rates: dict[int, int] | None = None,
           max_events: int = DEFAULT_MAX_EVENTS) -> ListenResult:
    """Receive UDP datagrams on ``bind:port`` and stream them to a pcap.

    Parameters
    ----------
    port : int
        UDP port.
    bind : str
        Local address (a multicast group address joins that group).
    pcap_path : str or Path
        Output capture (written as packets arrive, complete when this returns).
    duration_s : float, optional
        Stop after this long, s.
    idle_timeout_s : float, optional
        Stop when nothing arrived for this long after the first datagram, s.
    rcvbuf_bytes : int
        ``SO_RCVBUF`` to ask for, bytes.
    stop : threading.Event, optional
        Stop when set (for callers running this in a thread).
    on_ready : callable, optional
        Called once the socket is bound (senders may start then).
    status : callable, optional
        Called once a second (on an absolute schedule) with a status line:
        packets, streams, lost, jitter, kernel drops.
    clock_rates : dict, optional
        ``{pt: clock_rate_hz}`` for the live jitter of dynamic payload types.
    max_events : int
        Loss events kept in memory over all streams (later ones are counted).

    Returns
    -------
    ListenResult

    Raises
    ------
    CaptureError
        The socket cannot be bound.
    OSError
        The pcap cannot be written.

    Notes
    -----
    Ctrl-C (KeyboardInterrupt) stops listening cleanly: the pcap is closed
    and the result returned with ``stopped_by="interrupt"``.

    Nothing received is held in memory: each datagram is written to the pcap
    (1 MiB buffer) and reduced to the per-stream counters of
    :class:`LiveCounters`. At most 64 datagrams are read between two looks
    at the clock, so the status line and ``stop`` are served even when
    datagrams arrive faster than they are processed.
    """
    sock, kernel_ts, ovfl = _open_socket(port, bind, rcvbuf_bytes)
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if granted < rcvbuf_bytes:  # capped by net.core.rmem_max: root may force it
        try:
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33),
                            rcvbuf_bytes)
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        except OSError:
            pass
    local = bind if ":" not in bind else "127.0.0.1"
    if local in ("0.0.0.0", ""):
        local = "127.0.0.1"
    drops0 = kernel_drops(sock) or 0
    counters = LiveCounters(clock_rates, max_events=max_events)
    n = nbytes = 0
    cmsg_size = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(4)
    out = Path(pcap_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cpu0 = time.process_time()
    t_start = time.monotonic()
    t_last = None
    next_status = t_start + 1.0
    n_status = 0
    status_lag = 0.0
    backlog_ns = 0
    stopped_by = "stop"
    recvmsg = sock.recvmsg
    add = counters.add
    time_ns = time.time_ns
    try:
        with open(out, "wb", buffering=1 << 20) as fh:
            writer = PcapWriter(fh)
            write_udp = writer.write_udp
            if on_ready:
                on_ready()
            try:
                ready: list[socket.socket] = []
                while True:
                    now = time.monotonic()
                    if duration_s is not None and now - t_start >= duration_s:
                        stopped_by = "duration"
                        break
                    if idle_timeout_s is not None and t_last is not None \
                            and now - t_last >= idle_timeout_s:
                        stopped_by = "idle"
                        break
                    if stop is not None and stop.is_set():
                        stopped_by = "stop"
                        break
                    if now >= next_status:
                        status_lag = max(status_lag, now - next_status)
                        next_status += 1.0
                        if next_status <= now:  # more than a second behind: skip, not burst
                            next_status = now + 1.0
                        if status is not None:
                            status(counters.status())
                            n_status += 1
                    if not ready:  # the last batch emptied the queue: wait for more
                        wait_s = min(0.1, max(0.0, next_status - now))
                        ready, _, _ = select.select([sock], [], [], wait_s)
                        if not ready:
                            continue
                    n_before = n
                    for _ in range(_DRAIN_BATCH):
                        try:
                            data, anc, _flags, addr = recvmsg(65535, cmsg_size,
                                                              socket.MSG_DONTWAIT)
                        except BlockingIOError:
                            ready = []
                            break
                        t_ns = 0
                        for level, ctype, cdata in anc:
                            if level != socket.SOL_SOCKET:
                                continue
                            if ctype == _SO_TIMESTAMPNS and len(cdata) >= 16:
                                sec, nsec = struct.unpack("@qq", cdata[:16])
                                t_ns = sec * 1_000_000_000 + nsec
                            elif ctype == _SO_RXQ_OVFL and len(cdata) >= 4:
                                counters.kernel_drops = struct.unpack("@I", cdata[:4])[0]
                        now_ns = time_ns()
                        if t_ns:
                            backlog_ns = max(backlog_ns, now_ns - t_ns)
                        else:
                            t_ns = now_ns
                        src = addr[0] if ":" not in addr[0] else "127.0.0.1"
                        write_udp(t_ns, src, addr[1], local, port, data)
                        add(data, t_ns)
                        n += 1
                        nbytes += len(data)
                    if n > n_before:
                        t_last = time.monotonic()
            except KeyboardInterrupt:
                stopped_by = "interrupt"
        drops = kernel_drops(sock)
    finally:
        sock.close()
    if status is not None:
        status(counters.status())
        n_status += 1
    return ListenResult(
        str(out), n, nbytes, None if drops is None else drops - drops0, granted,
        time.monotonic() - t_start, stopped_by, kernel_ts, counters.stream_stats(),
        counters.kernel_drops if ovfl else None, counters.events_discarded,
        time.process_time() - cpu0, n_status, status_lag, backlog_ns / 1e9)
