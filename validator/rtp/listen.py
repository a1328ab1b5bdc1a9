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
packets, RFC 3550 jitter) and the loss events (one per gap in the sequence
numbers, 24 bytes each in an ``array``, at most ``max_events`` in all; they
become :class:`LossEvent` objects only in the result). Everything else goes
to the pcap, through a 1 MiB write buffer, and, with ``wav_dir``, each
stream's decoded audio goes to its own WAV file as packets arrive
(:class:`_WavSink`: PCM on the RTP-timestamp timeline, lost packets
zero-filled, a fixed 256 KiB write buffer per stream).

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
import wave
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from validator.codecs.sizes import SAMPLE_BYTES
from validator.errors import CaptureError
from validator.rtp.header import format_ssrc, seq_delta, ts_delta
from validator.rtp.payload import PayloadFormat
from validator.rtp.pcap import PcapWriter

__all__ = ["DEFAULT_MAX_EVENTS", "DEFAULT_RCVBUF_BYTES", "LIVE_WAV_ENCODINGS", "MAX_ZERO_FILL_S",
           "ListenResult", "LiveCounters", "LiveStreamStats", "LossEvent", "kernel_drops",
           "listen"]

#: Receive buffer asked for, bytes (the kernel may grant less: see ``rcvbuf_bytes``).
DEFAULT_RCVBUF_BYTES = 4 * 1024 * 1024
#: Loss events kept in memory over all streams; later ones are only counted.
DEFAULT_MAX_EVENTS = 100_000
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux; not exported by Python
#: Encodings written live to WAV (sample-based; G.722 and Opus need the decoder).
LIVE_WAV_ENCODINGS = frozenset({"L16", "L24", "PCMU", "PCMA"})
#: A timestamp jump longer than this is a new timeline, not a gap to zero-fill, s.
MAX_ZERO_FILL_S = 10.0
_WAV_MAX_DATA_BYTES = 0xFFFFFFFF - 36  # RIFF chunk size field minus the rest of the header
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
    wav_path : str or None
        The stream's decoded audio (``wav_dir`` given and the encoding in
        :data:`LIVE_WAV_ENCODINGS`), else None.
    wav_frames : int
        Frames (samples per channel) written to ``wav_path``.
    zero_filled_frames : int
        Of those, frames written as zeros for missing packets.
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
    wav_path: str | None = None
    wav_frames: int = 0
    zero_filled_frames: int = 0


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


def _payload_offsets(data: bytes) -> tuple[int, int]:
    """(start, end) of the payload of an RTP packet (CSRCs, extension, padding skipped)."""
    start = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10 and len(data) >= start + 4:
        start += 4 + 4 * int.from_bytes(data[start + 2:start + 4], "big")
    end = len(data) - (data[-1] if data[0] & 0x20 else 0)
    return start, max(start, end)


class _WavSink:
    """One stream's audio appended to a WAV as its packets arrive.

    Each packet lands at its RTP timestamp (minus the first packet's) on
    the output timeline: a gap before it is written as zeros (up to
    :data:`MAX_ZERO_FILL_S`; a longer jump starts a new timeline without a
    fill, and so does a jump back by more than that), a packet wholly
    behind what was written (late or duplicate) is left out, a partly
    overlapping one contributes only its new tail. L16 and L24 are written
    as they are (byte order swapped to WAV's little endian), PCMU and PCMA as
    16-bit PCM. Memory: the file's write buffer. The WAV stops growing at the
    RIFF limit of 4 GiB (about 4 h of 48 kHz 24-bit stereo); its header is
    complete once :meth:`close` ran.
    """

    def __init__(self, path: Path, fmt: PayloadFormat, first_ts: int) -> None:
        self.path = path
        self._fmt = fmt
        self._width = SAMPLE_BYTES.get(fmt.encoding, 1)
        self._frame_in = self._width * fmt.channels
        self._frame_out = (2 if self._width == 1 else self._width) * fmt.channels
        self._table: bytes | None = None
        if fmt.encoding in ("PCMU", "PCMA"):
            import numpy as np

            from validator.codecs import full_scale, g711_decode_table

            s16 = full_scale(16)
            lin = np.clip(np.round(g711_decode_table(fmt.encoding) * s16), -s16, s16 - 1)
            self._table = lin.astype("<i2").tobytes()
        self._max_fill = round(MAX_ZERO_FILL_S * fmt.clock_rate_hz)
        self._last_ts = first_ts
        self._pos = 0  # frames from the first packet, at _last_ts
        self.frames = 0  # frames written
        self.zero_frames = 0
        self._fh = open(path, "wb", buffering=1 << 18)  # noqa: SIM115 (closed in close())
        self._w = wave.open(self._fh, "wb")
        self._w.setnchannels(fmt.channels)
        self._w.setsampwidth(self._frame_out // fmt.channels)
        self._w.setframerate(fmt.sample_rate_hz)

    def _pcm(self, payload: bytes) -> bytes:
        if self._width == 3:
            b = bytearray(payload)
            b[0::3], b[2::3] = payload[2::3], payload[0::3]
            return bytes(b)
        if self._width == 2:
            b = bytearray(payload)
            b[0::2], b[1::2] = payload[1::2], payload[0::2]
            return bytes(b)
        table = self._table
        assert table is not None
        return b"".join(table[2 * c:2 * c + 2] for c in payload)

    def add(self, data: bytes) -> None:
        """Place one RTP packet of this stream on the timeline."""
        ts = int.from_bytes(data[4:8], "big")
        start, end = _payload_offsets(data)
        n = (end - start) // self._frame_in
        if n == 0:
            return
        pos = self._pos + ts_delta(ts, self._last_ts)
        self._last_ts, self._pos = ts, pos
        gap = pos - self.frames
        if abs(gap) > self._max_fill:  # a jump either way: a new timeline, no fill
            self._pos = pos = self.frames
            gap = 0
        if (self.frames + max(gap, 0) + n) * self._frame_out > _WAV_MAX_DATA_BYTES:
            return  # the RIFF size field is full: the rest is only in the pcap
        if gap > 0:
            self._w.writeframesraw(bytes(gap * self._frame_out))
            self.frames += gap
            self.zero_frames += gap
        skip = self.frames - pos  # frames of this packet already on the timeline
        if skip >= n:
            return
        pcm = self._pcm(data[start + skip * self._frame_in:start + n * self._frame_in])
        self._w.writeframesraw(pcm)
        self.frames += n - skip

    def close(self) -> None:
        """Patch the WAV header and close the file."""
        try:
            self._w.close()
        finally:
            self._fh.close()


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
        self.events = array("q")  # (first_seq, packets, arrival_ns) per gap, flat


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
        d = seq_delta(seq, s.top)
        if d > 0:
            if d > 1:
                if self._n_events < self._max_events:
                    s.events.extend(((s.top + 1) & 0xFFFF, d - 1, arrival_ns))
                    self._n_events += 1
                else:
                    self.events_discarded += 1
            s.top += d
        else:
            s.late += 1
        if s.clock_hz:
            dts = ts_delta(ts, s.ts) / s.clock_hz
            dd = (arrival_ns - s.r_ns) / 1e9 - dts
            s.jitter_s += (abs(dd) - s.jitter_s) / 16
        s.r_ns, s.ts = arrival_ns, ts

    def stream_stats(self, sinks: dict[int, _WavSink | None] | None = None
                     ) -> tuple[LiveStreamStats, ...]:
        """Each SSRC's counters and loss events, in order of first arrival.

        Parameters
        ----------
        sinks : dict, optional
            ``{ssrc: WAV sink}`` whose paths and frame counts to report.

        Returns
        -------
        tuple of LiveStreamStats
        """
        out = []
        for ssrc, s in self.streams.items():
            expected = s.top - s.first + 1
            sink = (sinks or {}).get(ssrc)
            ev = s.events
            events = tuple(LossEvent(ssrc, ev[i], ev[i + 1], ev[i + 2])
                           for i in range(0, len(ev), 3))
            out.append(LiveStreamStats(
                ssrc, s.pt, s.n, s.first & 0xFFFF, s.top & 0xFFFF, expected, expected - s.n,
                s.late, s.jitter_s * 1000 if s.clock_hz else math.nan, events,
                str(sink.path) if sink else None, sink.frames if sink else 0,
                sink.zero_frames if sink else 0))
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
           max_events: int = DEFAULT_MAX_EVENTS,
           payload_types: dict[int, str | PayloadFormat] | None = None,
           wav_dir: str | os.PathLike[str] | None = None) -> ListenResult:
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
    payload_types : dict, optional
        ``{pt: "L24/48000/2"}`` (rtpmap text or :class:`PayloadFormat`) for
        dynamic payload types: their clock rates for the jitter, their
        formats for ``wav_dir``.
    wav_dir : str or Path, optional
        Write each stream's decoded audio, as it arrives, to
        ``wav_dir/listen-0xSSRC.wav`` (encodings in
        :data:`LIVE_WAV_ENCODINGS`; others get no WAV). Lost packets are
        zero-filled on the RTP-timestamp timeline.

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
    from validator.rtp.payload import STATIC_PAYLOAD_TYPES, parse_rtpmap

    formats: dict[int, PayloadFormat] = dict(STATIC_PAYLOAD_TYPES)
    for pt, f in (payload_types or {}).items():
        formats[pt] = parse_rtpmap(f) if isinstance(f, str) else f
    clock_rates = {**{pt: f.clock_rate_hz for pt, f in formats.items()}, **(clock_rates or {})}
    wav_folder = Path(wav_dir) if wav_dir is not None else None
    if wav_folder is not None:
        wav_folder.mkdir(parents=True, exist_ok=True)
    sock, kernel_ts, ovfl = _open_socket(port, bind, rcvbuf_bytes)
    granted = _force_rcvbuf(sock, rcvbuf_bytes)
    drops0 = kernel_drops(sock) or 0
    counters = LiveCounters(clock_rates, max_events=max_events)
    rx = _Receiver(sock, counters, formats, wav_folder, _local_address(bind), port)
    out = Path(pcap_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cpu0 = time.process_time()
    t_start = time.monotonic()
    schedule = _StatusSchedule(t_start + 1.0, status, counters)
    try:
        with open(out, "wb", buffering=1 << 20) as fh:
            rx.writer = PcapWriter(fh)
            if on_ready:
                on_ready()
            try:
                stopped_by = _receive(rx, schedule, t_start=t_start, duration_s=duration_s,
                                      idle_timeout_s=idle_timeout_s, stop=stop)
            except KeyboardInterrupt:
                stopped_by = "interrupt"
        drops = kernel_drops(sock)
    finally:
        sock.close()
        for sink in rx.sinks.values():
            if sink is not None:
                sink.close()
    schedule.report()
    return ListenResult(
        str(out), rx.n, rx.nbytes, None if drops is None else drops - drops0, granted,
        time.monotonic() - t_start, stopped_by, kernel_ts, counters.stream_stats(rx.sinks),
        counters.kernel_drops if ovfl else None, counters.events_discarded,
        time.process_time() - cpu0, schedule.n_status, schedule.lag_s, rx.backlog_ns / 1e9)


def _force_rcvbuf(sock: socket.socket, rcvbuf_bytes: int) -> int:
    """The receive buffer granted, bytes; forced past ``net.core.rmem_max`` where root may."""
    granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    if granted < rcvbuf_bytes:  # capped by net.core.rmem_max: root may force it
        try:
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33),
                            rcvbuf_bytes)
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        except OSError:
            pass
    return granted


def _local_address(bind: str) -> str:
    """The destination address written to the pcap (IPv4; a wildcard is loopback)."""
    local = bind if ":" not in bind else "127.0.0.1"
    return "127.0.0.1" if local in ("0.0.0.0", "") else local


@dataclass
class _StatusSchedule:
    """The once-a-second status line, on an absolute schedule (a late tick is skipped).

    Attributes
    ----------
    next_s : float
        ``time.monotonic()`` of the next line.
    status : callable or None
        Receives the line.
    counters : LiveCounters
        Gives the line.
    n_status : int
        Lines given so far.
    lag_s : float
        Worst lateness of a tick, s.
    """

    next_s: float
    status: Callable[[str], None] | None
    counters: LiveCounters
    n_status: int = 0
    lag_s: float = 0.0

    def tick(self, now: float) -> None:
        """Give the status line if its time has come."""
        if now < self.next_s:
            return
        self.lag_s = max(self.lag_s, now - self.next_s)
        self.next_s += 1.0
        if self.next_s <= now:  # more than a second behind: skip, not burst
            self.next_s = now + 1.0
        self.report()

    def report(self) -> None:
        """Give the status line now (once more at the end)."""
        if self.status is not None:
            self.status(self.counters.status())
            self.n_status += 1


class _Receiver:
    """One socket's datagrams: to the pcap, the live counters and the per-stream WAVs."""

    def __init__(self, sock: socket.socket, counters: LiveCounters,
                 formats: dict[int, PayloadFormat], wav_folder: Path | None, local: str,
                 port: int) -> None:
        self.sock = sock
        self.counters = counters
        self.formats = formats
        self.wav_folder = wav_folder
        self.local = local
        self.port = port
        self.writer: PcapWriter | None = None
        self.sinks: dict[int, _WavSink | None] = {}
        self.n = self.nbytes = 0
        self.backlog_ns = 0
        self._cmsg_size = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(4)

    def drain(self) -> bool:
        """Read up to ``_DRAIN_BATCH`` datagrams; False once the socket's queue is empty."""
        assert self.writer is not None
        recvmsg, cmsg_size, time_ns = self.sock.recvmsg, self._cmsg_size, time.time_ns
        write_udp, add = self.writer.write_udp, self.counters.add
        for _ in range(_DRAIN_BATCH):
            try:
                data, anc, _flags, addr = recvmsg(65535, cmsg_size, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False
            t_ns = self._kernel_time_ns(anc)
            now_ns = time_ns()
            if t_ns:
                self.backlog_ns = max(self.backlog_ns, now_ns - t_ns)
            else:
                t_ns = now_ns
            src = addr[0] if ":" not in addr[0] else "127.0.0.1"
            write_udp(t_ns, src, addr[1], self.local, self.port, data)
            add(data, t_ns)
            if self.wav_folder is not None and len(data) >= 12 and data[0] >> 6 == 2 \
                    and not 200 <= data[1] <= 204:
                sink = self._sink(data, self.wav_folder)
                if sink is not None:
                    sink.add(data)
            self.n += 1
            self.nbytes += len(data)
        return True

    def _kernel_time_ns(self, anc: list[tuple[int, int, bytes]]) -> int:
        """The kernel's arrival time (0 if absent); notes the kernel's drop count."""
        t_ns = 0
        for level, ctype, cdata in anc:
            if level != socket.SOL_SOCKET:
                continue
            if ctype == _SO_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = struct.unpack("@qq", cdata[:16])
                t_ns = sec * 1_000_000_000 + nsec
            elif ctype == _SO_RXQ_OVFL and len(cdata) >= 4:
                self.counters.kernel_drops = struct.unpack("@I", cdata[:4])[0]
        return t_ns

    def _sink(self, data: bytes, wav_folder: Path) -> _WavSink | None:
        """The WAV of an RTP packet's stream, opened at its first packet (None: no WAV)."""
        ssrc = int.from_bytes(data[8:12], "big")
        if ssrc not in self.sinks:
            fmt = self.formats.get(data[1] & 0x7F)
            self.sinks[ssrc] = _WavSink(
                wav_folder / f"listen-{format_ssrc(ssrc)}.wav", fmt,
                int.from_bytes(data[4:8], "big")) \
                if fmt is not None and fmt.encoding in LIVE_WAV_ENCODINGS else None
        return self.sinks[ssrc]


def _receive(rx: _Receiver, schedule: _StatusSchedule, *, t_start: float,
             duration_s: float | None, idle_timeout_s: float | None,
             stop: threading.Event | None) -> str:
    """Receive until a limit is reached; why it stopped (``duration``, ``idle``, ``stop``).

    At most ``_DRAIN_BATCH`` datagrams are read between two looks at the
    clock; ``select`` waits (at most 0.1 s, or until the next status line)
    only once the queue ran empty.
    """
    t_last = None
    ready = False
    while True:
        now = time.monotonic()
        if duration_s is not None and now - t_start >= duration_s:
            return "duration"
        if idle_timeout_s is not None and t_last is not None \
                and now - t_last >= idle_timeout_s:
            return "idle"
        if stop is not None and stop.is_set():
            return "stop"
        schedule.tick(now)
        if not ready:  # the last batch emptied the queue: wait for more
            wait_s = min(0.1, max(0.0, schedule.next_s - now))
            ready = bool(select.select([rx.sock], [], [], wait_s)[0])
            if not ready:
                continue
        n_before = rx.n
        ready = rx.drain()
        if rx.n > n_before:
            t_last = time.monotonic()
