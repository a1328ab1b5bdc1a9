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
from validator.rtp.header import SEQ_MODULUS, TS_MODULUS, format_ssrc
from validator.rtp.payload import CN_PAYLOAD_TYPES

__all__ = ["StreamStats", "analyze", "extend_sequence", "extend_sequence_array",
           "extend_timestamps", "extend_timestamps_array", "ssrc_collisions"]

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


def extend_timestamps(timestamps: Sequence[int] | np.ndarray) -> list[int]:
    """Unwrap 32-bit RTP timestamps in arrival order (each within 2**31 of the previous)."""
    return extend_timestamps_array(np.asarray(timestamps, dtype=np.int64)).tolist()


def extend_timestamps_array(timestamps: np.ndarray) -> np.ndarray:
    """:func:`extend_timestamps` on an array: shape=(n,) in, shape=(n,) int64 out."""
    ts = np.asarray(timestamps)
    out = np.empty(ts.shape[0], dtype=np.int64)
    if ts.shape[0] == 0:
        return out
    step = np.diff(ts.astype(np.uint32, copy=False)).view(np.int32)  # ts_delta, mod 2**32
    out[0] = int(ts[0])
    np.cumsum(step, out=out[1:])
    out[1:] += int(ts[0])
    return out


def extend_sequence(sequences: Sequence[int] | np.ndarray) -> list[int]:
    """Extended sequence numbers (RFC 3550 A.1): unwrap relative to the highest so far.

    Each 16-bit number is mapped to the value with the same low 16 bits
    nearest the highest extended number seen so far, so wraps 65535 -> 0
    count cycles and late packets from before a wrap stay before it.
    """
    return extend_sequence_array(np.asarray(sequences, dtype=np.int64)).tolist()


def extend_sequence_array(sequences: np.ndarray) -> np.ndarray:
    """:func:`extend_sequence` on an array: shape=(n,) in, shape=(n,) int64 out.

    Vectorised when every packet is at or after the highest before it (then
    "relative to the highest" is "relative to the previous"); otherwise the
    running-maximum rule is applied packet by packet, in blocks.
    """
    seq = np.asarray(sequences)
    if seq.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    half = SEQ_MODULUS // 2
    step = np.diff(seq.astype(np.uint16, copy=False)).view(np.int16)  # seq_delta, mod 2**16
    if not (step < 0).any():
        out = np.empty(seq.shape[0], dtype=np.int64)
        out[0] = int(seq[0])
        np.cumsum(step, out=out[1:])
        out[1:] += int(seq[0])
        return out
    del step
    seq = seq.astype(np.int64)
    out = np.empty_like(seq)
    top = int(seq[0])
    out[0] = top
    block = 1 << 16
    for lo in range(1, seq.shape[0], block):
        chunk = seq[lo:lo + block].tolist()
        ext = []
        for s_ in chunk:
            e = top + (s_ - top + half) % SEQ_MODULUS - half
            ext.append(e)
            if e > top:
                top = e
        out[lo:lo + len(chunk)] = ext
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


def _rfc3550_counts(seqs: np.ndarray) -> tuple[int, int, int]:
    """Duplicates, reordered and missing sequence numbers (RFC 3550 A.1)."""
    ext = extend_sequence_array(seqs)
    if ext.shape[0] == 0:
        return 0, 0, 0
    first = _first_arrivals(ext)
    n_first = int(np.count_nonzero(first))
    dups = int(ext.shape[0] - n_first)
    reordered = 0
    if n_first < ext.shape[0] or not _increasing(ext):
        top_before = np.maximum.accumulate(ext)
        reordered = int(np.count_nonzero(first[1:] & (ext[1:] < top_before[:-1])))
    missing = int(ext.max() - ext.min() + 1 - n_first)
    return dups, reordered, missing


def _increasing(a: np.ndarray) -> bool:
    """Whether ``a`` is strictly increasing (checked in blocks: no full-length temporary)."""
    block = 1 << 18
    last = a.shape[0] - 1
    return all(bool((a[lo + 1:min(lo + block, last) + 1] > a[lo:min(lo + block, last)]).all())
               for lo in range(0, max(last, 0), block))


def _first_arrivals(ext: np.ndarray) -> np.ndarray:
    """Whether each packet is the first arrival of its extended sequence number, bool."""
    if _increasing(ext):  # in order: every one is the first
        return np.ones(ext.shape[0], dtype=bool)
    _, idx = np.unique(ext, return_index=True)
    first = np.zeros(ext.shape[0], dtype=bool)
    first[idx] = True
    return first


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


#: Packets handled per step by the loops that must run in order (recurrences), so
#: that no Python list ever holds a whole hour of packets.
_LOOP_BLOCK = 1 << 16


@dataclass
class _Sequence:
    """Wireshark's sequence bookkeeping (``rtppacket_analyse``), carried from block to block."""

    start: int
    stop: int
    seq_num: int
    under: bool = False
    cycles: int = 0
    errors: int = 0


def _payload_classes(stream: RtpStream) -> tuple[np.ndarray, np.ndarray]:
    """Clock rate (0: unknown or telephone-event) and flags (CN, event) per payload type.

    Returns two arrays of shape (128,), indexed by payload type.
    """
    clock_of = np.zeros(128, dtype=np.int64)
    flag_of = np.zeros(128, dtype=np.int64)
    for pt in stream.table.payload_type_counts():
        f = stream.formats.get(pt)
        flags = _CN if pt in CN_PAYLOAD_TYPES else 0
        if f is not None and f.is_event:
            clock_of[pt], flags = 0, flags | _EVENT
        else:
            clock_of[pt] = f.clock_rate_hz if f is not None else 0
        flag_of[pt] = flags
    return clock_of, flag_of


def _sequence_steps(sq: _Sequence, seq: np.ndarray, in_seq: np.ndarray) -> np.ndarray:
    """Wraps and sequence errors of a block of packets, as Wireshark counts them, in order.

    The state machine of ``rtppacket_analyse`` (a late or duplicated packet
    leaves the expected number where it was); returns each packet's
    ``_WRONG_SEQ`` as a bool array.
    """
    wrong = np.zeros(seq.shape[0], dtype=bool)
    start, stop, seq_num, under = sq.start, sq.stop, sq.seq_num, sq.under
    top = SEQ_MODULUS - 1
    for k, (s_, ok) in enumerate(zip(seq.tolist(), in_seq.tolist(), strict=True)):
        if ok and not under and (s_ < start or (s_ == 0 and stop == top)):
            sq.cycles += 1
            under = True
        elif s_ > start and ok and under:
            under = False
        if ok and (seq_num + 1 == s_ or (seq_num == top and s_ == 0)):
            seq_num = s_
        elif ok and (seq_num + 1 < s_ or seq_num - s_ > SEQ_WRAP_MARGIN):
            seq_num = s_
            sq.errors += 1
            wrong[k] = True
        elif seq_num + 1 > s_:
            sq.errors += 1
            wrong[k] = True
        stop = s_
    sq.stop, sq.seq_num, sq.under = stop, seq_num, under
    return wrong


@dataclass
class _Timing:
    """Delta, jitter, skew and figures of one stream (ms), carried from block to block.

    ``t_prev``: arrival of the last in-sequence packet; ``nom_prev``: RTP time
    of the last in-sequence packet with a clock; ``j``: the jitter so far.
    ``fit``: n, sums of x, y, x*x, x*y of the drift fit (x: RTP time, y:
    arrival, both from the first fitted point), and its first and last x.
    """

    t_prev: float
    t_first: float
    nom_prev: float = 0.0
    j: float = 0.0
    any_clock: bool = False
    max_skew: float = 0.0
    fit: list[float] = field(default_factory=lambda: [0, 0.0, 0.0, 0.0, 0.0])
    fit_span: list[float] = field(default_factory=list)
    fig: dict[str, float] = field(default_factory=dict)
    mean_delta: float = 0.0
    mean_jitter: float = 0.0
    last_jitter: float = 0.0
    regular_jitter: bool = False

    def add_fit(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add points to the least-squares sums of arrival against RTP time."""
        if not x.shape[0]:
            return
        if not self.fit_span:
            self.fit_span = [float(x[0]), float(y[0])]
        x0, y0 = self.fit_span[0], self.fit_span[1]
        dx, dy = x - x0, y - y0
        f = self.fit
        f[0] += x.shape[0]
        f[1] += float(dx.sum())
        f[2] += float(dy.sum())
        f[3] += float((dx * dx).sum())
        f[4] += float((dx * dy).sum())
        self.fit_span[2:] = [float(x[-1])]


def _jitter_recursion(tm: _Timing, diff_ms: np.ndarray) -> np.ndarray:
    """RFC 3550 A.8 ``J = ((16 - 1) J + |D|) / 16`` after each packet, in order, from tm.j."""
    j = tm.j
    d = JITTER_DIVISOR
    out = []
    for x in diff_ms.tolist():
        j = ((d - 1) * j + x) / d
        out.append(j)
    tm.j = j
    return np.asarray(out, dtype=np.float64)


def _running_mean(m: float, values: np.ndarray, totals: np.ndarray) -> float:
    """Wireshark's running mean ``m = (m (total - 1) + x) / total``, continued over the values."""
    for x, t in zip(values.tolist(), totals.tolist(), strict=True):
        m = (m * (t - 1) + x) / t
    return m


def _timing_block(tm: _Timing, cur: np.ndarray, ts_off: np.ndarray, in_seq: np.ndarray,
                  clock: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Delta and jitter of a block's packets (valid where in sequence / with a clock).

    ``D = |cur - (time_prev + nominal - nominal_prev)|`` where ``time_prev``
    is the arrival of the previous in-sequence packet and ``nominal_prev``
    the RTP time (ms) of the previous in-sequence packet with a clock.
    """
    seq_idx = np.flatnonzero(in_seq)
    before = np.concatenate([[tm.t_prev], cur[seq_idx[:-1]]])[:seq_idx.shape[0]]
    delta = np.zeros(cur.shape[0])
    delta[seq_idx] = cur[seq_idx] - before
    if seq_idx.shape[0]:
        tm.t_prev = float(cur[seq_idx[-1]])
    has_clock = clock[seq_idx] != 0
    timed = seq_idx[has_clock]
    jit = np.zeros(cur.shape[0])
    if not timed.shape[0]:
        return delta, jit
    tm.any_clock = True
    nominal = ts_off[timed] / (clock[timed] / 1000)
    last_nominal = np.concatenate([[tm.nom_prev], nominal[:-1]])
    tm.nom_prev = float(nominal[-1])
    expected = before[has_clock] + (nominal - last_nominal)
    jit[timed] = _jitter_recursion(tm, np.abs(cur[timed] - expected))
    arrival = cur[timed] - tm.t_first
    skew = nominal - arrival
    k = int(np.argmax(np.abs(skew)))
    if abs(skew[k]) > abs(tm.max_skew):
        tm.max_skew = float(skew[k])
    tm.add_fit(nominal, arrival)
    return delta, jit


def _figures_block(tm: _Timing, lo: int, delta: np.ndarray, jit: np.ndarray,
                   regular: np.ndarray, clock: np.ndarray) -> None:
    """Min, running mean and max of delta (and jitter with a clock) over a block's regular packets.

    ``regular`` indexes the block; ``lo + regular`` is Wireshark's packet count.
    """
    if regular.shape[0]:
        d = delta[regular]
        fig = tm.fig
        fig["min_delta"] = min(fig.get("min_delta", np.inf), float(d.min()))
        fig["max_delta"] = max(fig.get("max_delta", 0.0), float(d.max()))
        tm.mean_delta = _running_mean(tm.mean_delta, d, lo + regular)
    reg_clock = regular[clock[regular] != 0]
    if reg_clock.shape[0]:
        j = jit[reg_clock]
        tm.regular_jitter = True
        tm.fig["min_jitter"] = min(tm.fig.get("min_jitter", np.inf), float(j.min()))
        tm.fig["max_jitter"] = max(tm.fig.get("max_jitter", 0.0), float(j.max()))
        tm.mean_jitter = _running_mean(tm.mean_jitter, j, lo + reg_clock)


def _analyze_one(stream: RtpStream) -> StreamStats:
    """Statistics of one SSRC's packets, as Wireshark's RTP stream analysis computes them.

    A port of Wireshark 4.0's ``rtppacket_analyse`` (``ui/tap-rtp-analysis.c``)
    on the packet table, in blocks of :data:`_LOOP_BLOCK` packets with the
    state carried over: sequence wraps and errors, the arrival delta, and the
    interarrival jitter of RFC 3550 section 6.4.1 as its appendix A.8
    computes it (``J += (|D| - J) / 16``, with D the difference between the
    arrival spacing and the RTP timestamp spacing, in ms at the payload's
    clock rate). Element-wise steps are vectorised with the same floating
    point operations; the recurrences (sequence state, jitter, running
    means) run in order. The module docstring lists which packets Wireshark
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
    t = stream.table
    clock_of, flag_of = _payload_classes(stream)
    t0 = stream.capture_start_ns
    ts0 = int(t.timestamp[0])
    cur0 = (int(t.time_ns[0]) - t0) / 1e6
    first_seq = int(t.sequence[0])
    sq = _Sequence(first_seq, first_seq, first_seq)
    tm = _Timing(cur0, cur0)
    if clock_of[int(t.payload_type[0])]:
        tm.any_clock = True
        tm.add_fit(np.zeros(1), np.zeros(1))
    problems = False
    prev_pt = int(t.payload_type[0])
    cn = tuple(CN_PAYLOAD_TYPES)
    for lo in range(1, len(t), _LOOP_BLOCK):
        hi = min(lo + _LOOP_BLOCK, len(t))
        pt = t.payload_type[lo:hi].astype(np.int64)
        cur = (t.time_ns[lo:hi] - t0) / 1e6
        ts_off = (t.timestamp[lo:hi].astype(np.int64) - ts0) % TS_MODULUS
        in_seq = ts_off < TS_HALF_RANGE
        clock = clock_of[pt]
        wrong = _sequence_steps(sq, t.sequence[lo:hi], in_seq)
        delta, jit = _timing_block(tm, cur, ts_off, in_seq, clock)
        flags = np.where(in_seq, 0, _WRONG_TS) | np.where(wrong, _WRONG_SEQ, 0) | flag_of[pt]
        follow = np.isin(np.concatenate([[prev_pt], pt[:-1]]), cn)
        flags |= np.where(follow, _FOLLOW_CN, 0) | np.where(t.marker[lo:hi], _MARKER, 0)
        prev_pt = int(pt[-1])
        _figures_block(tm, lo, delta, jit, np.flatnonzero((flags & _NOT_REGULAR) == 0), clock)
        problems |= bool((flags & (_WRONG_SEQ | _WRONG_TS)).any())
    tm.last_jitter = tm.j
    return _stream_stats(stream, sq, tm, flag_of, problems)


def _clock_drift_ppm(tm: _Timing) -> float | None:
    """Slope of arrival against RTP time, minus 1, ppm (None when too short to tell).

    The least-squares slope from the sums gathered block by block (the same
    line ``np.polyfit(x, y, 1)`` fits; they agree to about 1e-9 ppm).
    """
    n, sx, sy, sxx, sxy = tm.fit
    if n < MIN_DRIFT_PACKETS or tm.fit_span[2] - tm.fit_span[0] < MIN_DRIFT_SPAN_MS:
        return None
    den = n * sxx - sx * sx
    if den <= 0:
        return None
    slope = (n * sxy - sx * sy) / den
    return float((slope - 1.0) * 1e6) if math.isfinite(slope) else None


def _stream_stats(stream: RtpStream, sq: _Sequence, tm: _Timing, flag_of: np.ndarray,
                  problems: bool) -> StreamStats:
    """The :class:`StreamStats` of one analysed SSRC."""
    t = stream.table
    n = len(t)
    seq = t.sequence
    expected = int(seq[-1]) + sq.cycles * SEQ_MODULUS - int(seq[0]) + 1
    dups, reordered, missing = _rfc3550_counts(seq)
    have_jitter = tm.any_clock
    fmt = stream.format
    end = (int(t.time_ns[-1]) - stream.capture_start_ns) / 1e9
    start = tm.t_first / 1000.0
    fig = tm.fig
    has_delta = n > 1 and "min_delta" in fig
    pts_seen = tuple(t.payload_type_counts())
    pt = t.payload_type
    return StreamStats(
        ssrc=stream.ssrc, src=stream.src_endpoint, dst=stream.dst_endpoint,
        payload_type=stream.payload_type, payload_types=pts_seen,
        codec=fmt.encoding if fmt else None,
        clock_rate_hz=fmt.clock_rate_hz if fmt else None,
        channels=fmt.channels if fmt else 1,
        packets=n, expected=expected, lost=expected - n, seq_wraps=sq.cycles,
        duplicates=dups, reordered=reordered, missing=missing,
        sequence_errors=sq.errors,
        min_delta_ms=fig.get("min_delta") if has_delta else None,
        mean_delta_ms=tm.mean_delta if has_delta else None,
        max_delta_ms=fig.get("max_delta") if has_delta else None,
        min_jitter_ms=fig.get("min_jitter", 0.0) if have_jitter else None,
        mean_jitter_ms=tm.mean_jitter if have_jitter else None,
        max_jitter_ms=fig.get("max_jitter", 0.0) if have_jitter else None,
        last_jitter_ms=tm.last_jitter if have_jitter else None,
        max_skew_ms=tm.max_skew if have_jitter else None,
        clock_drift_ppm=_clock_drift_ppm(tm),
        start_s=start, end_s=end, duration_s=end - start,
        first_seq=int(seq[0]), last_seq=int(seq[-1]),
        marker_packets=int(np.count_nonzero(t.marker)),
        comfort_noise_packets=int(np.count_nonzero(np.isin(pt, tuple(CN_PAYLOAD_TYPES)))),
        event_packets=int(np.count_nonzero(flag_of[pt] & _EVENT)),
        empty_payloads=int(np.count_nonzero(t.payload_length == 0)),
        truncated_packets=int(np.count_nonzero(t.truncated)),
        problems=problems,
    )
