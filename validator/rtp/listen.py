"""Live RTP receiver: keep every datagram with its arrival time and write a pcap.

:func:`listen` binds a UDP socket with a large receive buffer (``SO_RCVBUF``,
4 MiB by default), takes the kernel's receive timestamp of each datagram
(``SO_TIMESTAMPNS``; the wall clock after ``recvmsg`` where that is not
available) and writes it at once to a pcap with synthesised
Ethernet/IPv4/UDP headers, which :func:`validator.rtp.read_capture` and
tshark both read. Datagrams the kernel dropped because the socket buffer was
full are counted from the ``drops`` column of ``/proc/net/udp`` (Linux) for
this socket's inode.
"""

from __future__ import annotations

import ipaddress
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

__all__ = ["DEFAULT_RCVBUF_BYTES", "ListenResult", "LiveCounters", "kernel_drops", "listen"]

#: Receive buffer asked for, bytes (the kernel may grant less: see ``rcvbuf_bytes``).
DEFAULT_RCVBUF_BYTES = 4 * 1024 * 1024
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


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
        ``/proc/net/udp``; None where that is not available.
    rcvbuf_bytes : int
        ``SO_RCVBUF`` as granted by the kernel (Linux reports twice the value
        set, for bookkeeping overhead).
    duration_s : float
        Time listened, s.
    stopped_by : str
        ``"duration"``, ``"idle"``, ``"interrupt"`` or ``"stop"``.
    kernel_timestamps : bool
        Arrival times are the kernel's (``SO_TIMESTAMPNS``).
    """

    pcap_path: str
    packets: int
    bytes: int
    kernel_drops: int | None
    rcvbuf_bytes: int
    duration_s: float
    stopped_by: str
    kernel_timestamps: bool


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


class LiveCounters:
    """Running packets / lost / jitter per SSRC, for the once-a-second status line.

    Jitter follows RFC 3550 A.8 at the clock rate of the static payload type
    (or ``clock_rates``); unknown clock rates give no jitter.
    """

    def __init__(self, clock_rates: dict[int, int] | None = None) -> None:
        from validator.rtp.payload import STATIC_PAYLOAD_TYPES

        self._clock = {pt: f.clock_rate_hz for pt, f in STATIC_PAYLOAD_TYPES.items()}
        self._clock.update(clock_rates or {})
        self.streams: dict[int, dict[str, float]] = {}
        self.packets = 0

    def add(self, data: bytes, arrival_ns: int) -> None:
        """Account one datagram (ignored unless it looks like RTP v2)."""
        self.packets += 1
        if len(data) < 12 or data[0] >> 6 != 2 or 200 <= data[1] <= 204:
            return
        pt = data[1] & 0x7F
        seq, ts, ssrc = struct.unpack_from("!HII", data, 2)
        s = self.streams.get(ssrc)
        if s is None:
            self.streams[ssrc] = {"n": 1, "first": seq, "top": seq, "jitter": 0.0,
                                  "r": arrival_ns, "ts": ts}
            return
        s["n"] += 1
        d = (seq - int(s["top"]) + 32768) % 65536 - 32768
        if d > 0:
            s["top"] += d
        clock = self._clock.get(pt)
        if clock:
            dts = ((ts - int(s["ts"]) + (1 << 31)) % (1 << 32) - (1 << 31)) / clock
            dd = (arrival_ns - s["r"]) / 1e9 - dts
            s["jitter"] += (abs(dd) - s["jitter"]) / 16
        s["r"], s["ts"] = arrival_ns, ts

    def status(self) -> str:
        """``packets N  lost L  jitter J ms`` over all SSRCs."""
        lost = sum(int(s["top"] - s["first"] + 1 - s["n"]) for s in self.streams.values())
        jit = max((s["jitter"] for s in self.streams.values()), default=0.0) * 1000
        return (f"packets {self.packets}  streams {len(self.streams)}  lost {lost}  "
                f"jitter {jit:.3f} ms")


def _open_socket(port: int, bind: str, rcvbuf_bytes: int) -> tuple[socket.socket, bool]:
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
    return sock, kernel_ts


def listen(port: int, *, bind: str = "127.0.0.1", pcap_path: str | os.PathLike[str],
           duration_s: float | None = None, idle_timeout_s: float | None = None,
           rcvbuf_bytes: int = DEFAULT_RCVBUF_BYTES,
           stop: threading.Event | None = None,
           on_ready: Callable[[], None] | None = None,
           status: Callable[[str], None] | None = None,
           clock_rates: dict[int, int] | None = None) -> ListenResult:
    """Receive UDP datagrams on ``bind:port`` and write them to a pcap.

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
        Called about once a second with a status line (packets, lost, jitter).
    clock_rates : dict, optional
        ``{pt: clock_rate_hz}`` for the live jitter of dynamic payload types.

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
    """
    sock, kernel_ts = _open_socket(port, bind, rcvbuf_bytes)
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
    counters = LiveCounters(clock_rates)
    n = nbytes = 0
    cmsg_size = socket.CMSG_SPACE(16)
    out = Path(pcap_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    t_last = None
    next_status = t_start + 1.0
    stopped_by = "stop"
    try:
        with open(out, "wb", buffering=1 << 20) as fh:
            writer = PcapWriter(fh)
            if on_ready:
                on_ready()
            try:
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
                    if status is not None and now >= next_status:
                        status(counters.status())
                        next_status = now + 1.0
                    ready, _, _ = select.select([sock], [], [], 0.1)
                    if not ready:
                        continue
                    while True:  # drain what is queued
                        try:
                            data, anc, _flags, addr = sock.recvmsg(65535, cmsg_size,
                                                                   socket.MSG_DONTWAIT)
                        except BlockingIOError:
                            break
                        t_ns = None
                        for level, ctype, cdata in anc:
                            if level == socket.SOL_SOCKET and ctype == _SO_TIMESTAMPNS \
                                    and len(cdata) >= 16:
                                sec, nsec = struct.unpack("@qq", cdata[:16])
                                t_ns = sec * 1_000_000_000 + nsec
                        if t_ns is None:
                            t_ns = time.time_ns()
                        src = addr[0] if ":" not in addr[0] else "127.0.0.1"
                        writer.write_udp(t_ns, src, addr[1], local, port, data)
                        counters.add(data, t_ns)
                        n += 1
                        nbytes += len(data)
                        t_last = time.monotonic()
            except KeyboardInterrupt:
                stopped_by = "interrupt"
        drops = kernel_drops(sock)
    finally:
        sock.close()
    if status is not None:
        status(counters.status())
    return ListenResult(str(out), n, nbytes, None if drops is None else drops - drops0, granted,
                        time.monotonic() - t_start, stopped_by, kernel_ts)
