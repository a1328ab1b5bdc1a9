"""Stream statistics: :func:`analyze` -> :class:`StreamStats`, as Wireshark computes them.

The counts and the jitter follow Wireshark's RTP stream analysis
(``ui/tap-rtp-analysis.c``, ``rtppacket_analyse``) so that ``packets``,
``lost`` and the jitter columns equal ``tshark -z rtp,streams``:

* **Interarrival jitter** (RFC 3550 6.4.1, A.8): ``D = (R_j - R_i) - (S_j -
  S_i)`` with the RTP timestamps S converted to ms at the payload's clock
  rate, ``J += (|D| - J) / 16``. As in Wireshark 4.0, R_i is the arrival of
  the previous packet whose timestamp is not before the first packet's, and
  S_i the RTP time of the last such packet with a known clock rate (so after
  a telephone-event, D spans the whole event).
* Min/mean/max delta and jitter skip the first packet, marker-bit packets,
  comfort noise (PT 13, 19) and the packet after it, and packets whose
  timestamp lies before the first packet's (by less than 2**31, modulo
  2**32). Telephone-event (RFC 4733) packets get no
  jitter (their timestamp does not advance during an event) but still count
  as the time reference of the next packet. Without a known clock rate
  (dynamic PT, no SDP) the jitter is ``None`` (Wireshark prints -1 / 0).
* The "mean" values are Wireshark's running means, which divide by the
  packet count so far including skipped packets.
* **Expected** = last sequence number (as received) + 65536 x wraps - first
  + 1, where a wrap is counted when a sequence number falls below the first
  one while timestamps advance. **Lost** = expected - packets: it goes
  negative with duplicates.

On top of those, RFC 3550 A.1-style bookkeeping with extended sequence
numbers gives exact ``duplicates``, ``reordered`` (arrived after a higher
sequence number) and ``missing`` (sequence numbers never received), and a
least-squares fit of arrival time against RTP time gives the clock drift.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from validator.rtp.capture import RtpStream
from validator.rtp.header import SEQ_MODULUS, TS_MODULUS, format_ssrc, seq_delta, ts_delta
from validator.rtp.payload import CN_PAYLOAD_TYPES

__all__ = ["StreamStats", "analyze", "extend_sequence", "extend_timestamps", "ssrc_collisions"]

#: RFC 3550 6.4.1: the interarrival jitter moves 1/16 of the way to each new |D|.
JITTER_DIVISOR = 16
#: A timestamp less than half the 32-bit range after the first packet's is "in sequence"
#: (Wireshark: not before the first packet, modulo 2**32).
TS_HALF_RANGE = TS_MODULUS // 2
#: Wireshark counts a step back of more than this in the sequence number as a wrap, not
#: as a late packet (``seq_num - seq > 0xFF00`` in ``rtppacket_analyse``).
SEQ_WRAP_MARGIN = 0xFF00
#: The clock drift fit needs at least this many packets with a known clock...
MIN_DRIFT_PACKETS = 3
#: ... spanning at least this much RTP time, ms.
MIN_DRIFT_SPAN_MS = 100.0

# Per-packet flags, after Wireshark's STAT_FLAG_* (ui/tap-rtp-analysis.h; our own bit values).
_WRONG_SEQ, _WRONG_TS, _MARKER, _CN, _FOLLOW_CN, _EVENT = 1, 2, 4, 8, 16, 32
#: Flags that keep a packet out of the delta and jitter minima, means and maxima.
_NOT_REGULAR = _MARKER | _CN | _WRONG_TS | _FOLLOW_CN


@dataclass(frozen=True)
class StreamStats:
    """Statistics of one RTP stream (Wireshark-compatible where the name says so).

    Times ``start_s``/``end_s`` are arrival times in seconds from the
    capture's first frame (Wireshark's "Start time"/"End time"). Jitter and
    deltas are in milliseconds; jitter is None when the clock rate is unknown.

    Attributes
    ----------
    ssrc : int
    src, dst : str
        ``ip:port`` endpoints.
    payload_type : int
        Main payload type.
    payload_types : tuple of int
        Every payload type seen, in order of first appearance.
    codec : str or None
        Encoding name of the main payload type.
    clock_rate_hz : int or None
        RTP clock rate of the main payload type.
    channels : int
    packets : int
        Packets received, duplicates included (tshark "Pkts").
    expected : int
        tshark's expected count (module docstring).
    lost : int
        ``expected - packets`` (tshark "Lost"); negative with duplicates.
    seq_wraps : int
        Sequence-number wraps 65535 -> 0 counted.
    duplicates : int
        Packets whose sequence number had already arrived.
    reordered : int
        Packets that arrived after a higher sequence number (not duplicates).
    missing : int
        Sequence numbers between the lowest and highest never received.
    sequence_errors : int
        tshark's count of packets not in sequence (loss, late or duplicate).
    min_delta_ms, mean_delta_ms, max_delta_ms : float or None
        Arrival-time difference to the previous packet.
    min_jitter_ms, mean_jitter_ms, max_jitter_ms : float or None
        RFC 3550 interarrival jitter, at the payload's clock rate.
    last_jitter_ms : float or None
        Jitter after the last packet (what an RTCP receiver report would carry).
    max_skew_ms : float or None
        Largest |RTP time - arrival time| from the first packet (positive: the
        RTP clock ran ahead of the arrivals).
    clock_drift_ppm : float or None
        Slope of the least-squares fit of arrival time against RTP time, minus
        1, in ppm. Positive: more capture-clock time passed than the RTP
        timestamps claim (the sender's media clock runs slow, or packets
        queue up). None with fewer than 3 usable packets or under 0.1 s.
    start_s, end_s : float
        First and last arrival, s from the capture's first frame.
    duration_s : float
        ``end_s - start_s``.
    first_seq, last_seq : int
        Sequence numbers of the first and last packets received.
    marker_packets, comfort_noise_packets, event_packets : int
        Packets with the marker bit, PT 13/19, telephone-event.
    empty_payloads : int
        Packets with a zero-length payload.
    truncated_packets : int
        Packets cut short by the capture's snap length.
    problems : bool
        tshark's "Problems?" X: a sequence error or a timestamp going backwards.
    ssrc_changes : int
        Times the SSRC changed within the stream (0 for a tshark-style
        per-SSRC stream; see :func:`validator.rtp.select_stream`).
    """

    ssrc: int
    src: str
    dst: str
    payload_type: int
    payload_types: tuple[int, ...]
    codec: str | None
    clock_rate_hz: int | None
    channels: int
    packets: int
    expected: int
    lost: int
    seq_wraps: int
    duplicates: int
    reordered: int
    missing: int
    sequence_errors: int
    min_delta_ms: float | None
    mean_delta_ms: float | None
    max_delta_ms: float | None
    min_jitter_ms: float | None
    mean_jitter_ms: float | None
    max_jitter_ms: float | None
    last_jitter_ms: float | None
    max_skew_ms: float | None
    clock_drift_ppm: float | None
    start_s: float
    end_s: float
    duration_s: float
    first_seq: int
    last_seq: int
    marker_packets: int
    comfort_noise_packets: int
    event_packets: int
    empty_payloads: int
    truncated_packets: int
    problems: bool
    ssrc_changes: int = 0

    @property
    def lost_percent(self) -> float:
        """``100 * lost / expected`` (0 when nothing was expected), as tshark prints it."""
        return 100.0 * self.lost / self.expected if self.expected else 0.0

    def to_dict(self) -> dict[str, object]:
        """The JSON contract row: SSRC as ``0x1234ABCD``, ``clock_rate`` in Hz, times in s/ms."""
        d = asdict(self)
        d["ssrc"] = format_ssrc(self.ssrc)
        d["clock_rate"] = d.pop("clock_rate_hz")
        d["payload_types"] = list(self.payload_types)
        d["lost_percent"] = round(self.lost_percent, 3)
        order = ["ssrc", "src", "dst", "payload_type", "codec", "clock_rate", "packets",
                 "expected", "lost", "duplicates", "reordered", "min_delta_ms", "mean_delta_ms",
                 "max_delta_ms", "mean_jitter_ms", "max_jitter_ms", "start_s", "end_s"]
        return {k: d[k] for k in order} | {k: v for k, v in d.items() if k not in order}


def extend_timestamps(timestamps: list[int]) -> list[int]:
    """Unwrap 32-bit RTP timestamps in arrival order (each within 2**31 of the previous)."""
    out: list[int] = []
    prev = None
    for ts in timestamps:
        if prev is None:
            ext = ts
        else:
            ext = prev + ts_delta(ts, prev)
        out.append(ext)
        prev = ext
    return out


def extend_sequence(sequences: list[int]) -> list[int]:
    """Extended sequence numbers (RFC 3550 A.1): unwrap relative to the highest so far.

    Each 16-bit number is mapped to the value with the same low 16 bits
    nearest the highest extended number seen so far, so wraps 65535 -> 0
    count cycles and late packets from before a wrap stay before it.
    """
    out: list[int] = []
    top = None
    for s in sequences:
        if top is None:
            ext = s
        else:
            ext = top + seq_delta(s, top)
        out.append(ext)
        top = ext if top is None or ext > top else top
    return out


def ssrc_collisions(stats: Sequence[StreamStats]) -> dict[int, int]:
    """SSRCs that more than one stream uses, with how many (RFC 3550 8.2 collisions).

    Parameters
    ----------
    stats : sequence of StreamStats
        Every stream of a capture (one per flow and SSRC).

    Returns
    -------
    dict of int to int
        SSRC -> number of streams using it, in SSRC order; empty when every
        SSRC is unique. Two streams with one SSRC are a collision, or the
        same stream captured on several legs.
    """
    ssrcs = [s.ssrc for s in stats]
    return {x: ssrcs.count(x) for x in sorted({x for x in ssrcs if ssrcs.count(x) > 1})}


def _rfc3550_counts(seqs: list[int]) -> tuple[int, int, int, list[int]]:
    ext = extend_sequence(seqs)
    seen: set[int] = set()
    dups = reordered = 0
    top = None
    for e in ext:
        if e in seen:
            dups += 1
        else:
            if top is not None and e < top:
                reordered += 1
            seen.add(e)
        top = e if top is None or e > top else top
    missing = (max(ext) - min(ext) + 1 - len(seen)) if ext else 0
    return dups, reordered, missing, ext


def analyze(stream: RtpStream) -> StreamStats:
    """Statistics of one stream, Wireshark-compatible (module docstring).

    Parameters
    ----------
    stream : RtpStream
        From :func:`validator.rtp.read_capture` (or :func:`select_stream`,
        which may join SSRCs that follow each other on one flow: each SSRC
        is then analysed on its own and the figures are combined: counts
        add up, minima and maxima are taken, means are weighted by packets).

    Returns
    -------
    StreamStats
    """
    segments = stream.segments()
    if len(segments) == 1:
        return _analyze_one(stream)
    parts = [_analyze_one(s) for s in segments]
    return _combine(stream, parts)


def _combine(stream: RtpStream, parts: list[StreamStats]) -> StreamStats:
    def total(name: str) -> int:
        return sum(int(getattr(p, name)) for p in parts)

    def pick(name: str, fn: Callable[[list[float]], float]) -> float | None:
        vals = [getattr(p, name) for p in parts if getattr(p, name) is not None]
        return fn(vals) if vals else None

    def mean(name: str) -> float | None:
        vals = [(getattr(p, name), p.packets) for p in parts if getattr(p, name) is not None]
        if not vals:
            return None
        return sum(v * w for v, w in vals) / sum(w for _, w in vals)

    pts: list[int] = []
    for p in parts:
        pts += [pt for pt in p.payload_types if pt not in pts]
    first, last = parts[0], parts[-1]
    return StreamStats(
        ssrc=stream.ssrc, src=first.src, dst=first.dst, payload_type=first.payload_type,
        payload_types=tuple(pts), codec=first.codec, clock_rate_hz=first.clock_rate_hz,
        channels=first.channels, packets=total("packets"), expected=total("expected"),
        lost=total("lost"), seq_wraps=total("seq_wraps"), duplicates=total("duplicates"),
        reordered=total("reordered"), missing=total("missing"),
        sequence_errors=total("sequence_errors"),
        min_delta_ms=pick("min_delta_ms", min), mean_delta_ms=mean("mean_delta_ms"),
        max_delta_ms=pick("max_delta_ms", max), min_jitter_ms=pick("min_jitter_ms", min),
        mean_jitter_ms=mean("mean_jitter_ms"), max_jitter_ms=pick("max_jitter_ms", max),
        last_jitter_ms=last.last_jitter_ms,
        max_skew_ms=pick("max_skew_ms", lambda v: max(v, key=abs)),
        clock_drift_ppm=mean("clock_drift_ppm"), start_s=first.start_s, end_s=last.end_s,
        duration_s=last.end_s - first.start_s, first_seq=first.first_seq,
        last_seq=last.last_seq, marker_packets=total("marker_packets"),
        comfort_noise_packets=total("comfort_noise_packets"),
        event_packets=total("event_packets"), empty_payloads=total("empty_payloads"),
        truncated_packets=total("truncated_packets"), problems=True,
        ssrc_changes=len(parts) - 1)


@dataclass
class _WiresharkState:
    """The running state of Wireshark 4.0's ``rtppacket_analyse`` over one stream.

    Times are ms from the capture's first frame; ``-1.0`` is Wireshark's
    "not yet" for the minima.
    """

    start_seq: int
    stop_seq: int
    seq_num: int
    start_time: float
    time_ms: float
    last_pt: int
    delta: float = 0.0
    max_delta: float = 0.0
    mean_delta: float = 0.0
    min_delta: float = -1.0
    jitter: float = 0.0
    max_jitter: float = 0.0
    mean_jitter: float = 0.0
    min_jitter: float = -1.0
    max_skew: float = 0.0
    lastnominal: float = 0.0
    cycles: int = 0
    under: bool = False
    sequence_errors: int = 0
    problems: bool = False
    total: int = 1
    any_clock: bool = False
    regular_jitter: bool = False
    fit_arrival: list[float] = field(default_factory=list)
    fit_nominal: list[float] = field(default_factory=list)


def _payload_classes(stream: RtpStream) -> tuple[dict[int, int], dict[int, int]]:
    """Clock rate (0: unknown or telephone-event) and flags (CN, event) per payload type."""
    clock_of: dict[int, int] = {}
    flag_of: dict[int, int] = {}
    for pt in {p.payload_type for p in stream.packets}:
        f = stream.formats.get(pt)
        flags = _CN if pt in CN_PAYLOAD_TYPES else 0
        if f is not None and f.is_event:
            clock_of[pt], flags = 0, flags | _EVENT
        else:
            clock_of[pt] = f.clock_rate_hz if f is not None else 0
        flag_of[pt] = flags
    return clock_of, flag_of


def _sequence_step(st: _WiresharkState, seq: int, in_seq: bool) -> int:
    """Count wraps and sequence errors for one packet; its ``_WRONG_SEQ`` flag."""
    if seq < st.start_seq and in_seq and not st.under:
        st.cycles += 1
        st.under = True
    elif seq == 0 and st.stop_seq == SEQ_MODULUS - 1 and in_seq and not st.under:
        st.cycles += 1
        st.under = True
    elif seq > st.start_seq and in_seq and st.under:
        st.under = False
    if in_seq and st.seq_num + 1 == seq:
        st.seq_num = seq
    elif in_seq and st.seq_num == SEQ_MODULUS - 1 and seq == 0:
        st.seq_num = seq
    elif in_seq and (st.seq_num + 1 < seq or st.seq_num - seq > SEQ_WRAP_MARGIN):
        st.seq_num = seq
        st.sequence_errors += 1
        return _WRONG_SEQ
    elif st.seq_num + 1 > seq:
        st.sequence_errors += 1
        return _WRONG_SEQ
    return 0


def _timing_step(st: _WiresharkState, cur: float, ts_off: int, clock: int) -> None:
    """Delta, RFC 3550 jitter and skew of an in-sequence packet arriving at ``cur`` ms."""
    if not clock:
        st.delta = cur - st.time_ms
        return
    st.any_clock = True
    arrival = cur - st.start_time
    nominal = ts_off / (clock / 1000)
    expected_time = st.time_ms + (nominal - st.lastnominal)
    current_diff = abs(cur - expected_time)
    st.jitter = ((JITTER_DIVISOR - 1) * st.jitter + current_diff) / JITTER_DIVISOR
    st.delta = cur - st.time_ms
    st.lastnominal = nominal
    skew = nominal - arrival
    if abs(skew) > abs(st.max_skew):
        st.max_skew = skew
    st.fit_arrival.append(arrival)
    st.fit_nominal.append(nominal)


def _running_figures(st: _WiresharkState, clock: int) -> None:
    """Min, running mean and max of delta (and jitter with a clock) after a regular packet."""
    if st.delta > st.max_delta:
        st.max_delta = st.delta
    if st.min_delta == -1 or st.delta < st.min_delta:
        st.min_delta = st.delta
    st.mean_delta = (st.mean_delta * (st.total - 1) + st.delta) / st.total
    if clock:
        st.regular_jitter = True
        if st.jitter > st.max_jitter:
            st.max_jitter = st.jitter
        st.mean_jitter = (st.mean_jitter * (st.total - 1) + st.jitter) / st.total
        if st.min_jitter == -1 or st.jitter < st.min_jitter:
            st.min_jitter = st.jitter


def _analyze_one(stream: RtpStream) -> StreamStats:
    """Statistics of one SSRC's packets, as Wireshark's RTP stream analysis computes them.

    A port of Wireshark 4.0's ``rtppacket_analyse`` (``ui/tap-rtp-analysis.c``),
    packet by packet in arrival order: sequence wraps and errors, the arrival
    delta, and the interarrival jitter of RFC 3550 section 6.4.1 as its
    appendix A.8 computes it (``J += (|D| - J) / 16``, with D the difference
    between the arrival spacing and the RTP timestamp spacing, in ms at the
    payload's clock rate). The module docstring lists which packets Wireshark
    leaves out of the minima, means and maxima. Duplicates, reordering and
    missing sequence numbers are counted separately (RFC 3550 A.1), and the
    clock drift is a least-squares fit of arrival against RTP time.

    Parameters
    ----------
    stream : RtpStream
        One SSRC on one flow, packets in arrival order (at least one).

    Returns
    -------
    StreamStats
    """
    pkts = stream.packets
    clock_of, flag_of = _payload_classes(stream)
    t0 = stream.capture_start_ns
    first = pkts[0]
    cur0 = (first.time_ns - t0) / 1e6
    st = _WiresharkState(start_seq=first.sequence, stop_seq=first.sequence,
                         seq_num=first.sequence, start_time=cur0, time_ms=cur0,
                         last_pt=first.payload_type,
                         any_clock=bool(clock_of.get(first.payload_type)))
    if st.any_clock:
        st.fit_arrival.append(0.0)
        st.fit_nominal.append(0.0)
    for p in pkts[1:]:
        cur = (p.time_ns - t0) / 1e6
        ts_off = (p.timestamp - first.timestamp) % TS_MODULUS
        in_seq = ts_off < TS_HALF_RANGE
        flags = 0 if in_seq else _WRONG_TS
        flags |= _sequence_step(st, p.sequence, in_seq)
        flags |= flag_of[p.payload_type]
        if st.last_pt in CN_PAYLOAD_TYPES:
            flags |= _FOLLOW_CN
        st.last_pt = p.payload_type
        clock = clock_of[p.payload_type]
        if in_seq:
            _timing_step(st, cur, ts_off, clock)
        if p.marker:
            flags |= _MARKER
        if not flags & _NOT_REGULAR:
            _running_figures(st, clock)
        if flags & (_WRONG_SEQ | _WRONG_TS):
            st.problems = True
        if in_seq:
            st.time_ms = cur
        st.stop_seq = p.sequence
        st.total += 1
    return _stream_stats(stream, st, flag_of)


def _clock_drift_ppm(st: _WiresharkState) -> float | None:
    """Slope of arrival against RTP time, minus 1, ppm (None when too short to tell)."""
    if len(st.fit_nominal) < MIN_DRIFT_PACKETS or \
            st.fit_nominal[-1] - st.fit_nominal[0] < MIN_DRIFT_SPAN_MS:
        return None
    slope = np.polyfit(np.asarray(st.fit_nominal), np.asarray(st.fit_arrival), 1)[0]
    return float((slope - 1.0) * 1e6) if math.isfinite(slope) else None


def _stream_stats(stream: RtpStream, st: _WiresharkState, flag_of: dict[int, int]
                  ) -> StreamStats:
    """The :class:`StreamStats` of one analysed SSRC."""
    pkts = stream.packets
    n = len(pkts)
    expected = st.stop_seq + st.cycles * SEQ_MODULUS - st.start_seq + 1
    dups, reordered, missing, _ext = _rfc3550_counts([p.sequence for p in pkts])
    have_jitter = st.any_clock
    fmt = stream.format
    end = (pkts[-1].time_ns - stream.capture_start_ns) / 1e9
    start = st.start_time / 1000.0
    has_delta = n > 1 and st.min_delta != -1
    pts_seen: list[int] = []
    for p in pkts:
        if p.payload_type not in pts_seen:
            pts_seen.append(p.payload_type)
    return StreamStats(
        ssrc=stream.ssrc, src=stream.src_endpoint, dst=stream.dst_endpoint,
        payload_type=stream.payload_type, payload_types=tuple(pts_seen),
        codec=fmt.encoding if fmt else None,
        clock_rate_hz=fmt.clock_rate_hz if fmt else None,
        channels=fmt.channels if fmt else 1,
        packets=n, expected=expected, lost=expected - n, seq_wraps=st.cycles,
        duplicates=dups, reordered=reordered, missing=missing,
        sequence_errors=st.sequence_errors,
        min_delta_ms=st.min_delta if has_delta else None,
        mean_delta_ms=st.mean_delta if has_delta else None,
        max_delta_ms=st.max_delta if has_delta else None,
        min_jitter_ms=(st.min_jitter if st.regular_jitter else 0.0) if have_jitter else None,
        mean_jitter_ms=st.mean_jitter if have_jitter else None,
        max_jitter_ms=st.max_jitter if have_jitter else None,
        last_jitter_ms=st.jitter if have_jitter else None,
        max_skew_ms=st.max_skew if have_jitter else None,
        clock_drift_ppm=_clock_drift_ppm(st),
        start_s=start, end_s=end, duration_s=end - start,
        first_seq=pkts[0].sequence, last_seq=pkts[-1].sequence,
        marker_packets=sum(1 for p in pkts if p.marker),
        comfort_noise_packets=sum(1 for p in pkts if p.payload_type in CN_PAYLOAD_TYPES),
        event_packets=sum(1 for p in pkts if flag_of[p.payload_type] & _EVENT),
        empty_payloads=sum(1 for p in pkts if not p.payload),
        truncated_packets=sum(1 for p in pkts if p.truncated),
        problems=st.problems,
    )
