"""E-model rating of an RTP stream: :func:`rate_stream` -> :class:`StreamRating`.

From the packets an RTP capture holds (arrival times, sequence numbers, RTP
timestamps) this measures what the E-model needs, and rates the stream with
:mod:`validator.quality.emodel` (ITU-T G.107 (06/2015)):

* **network loss**: sequence numbers never received between the lowest and
  the highest received (a duplicate is counted once);
* **effective loss Ppl**: network loss plus the packets a modelled jitter
  buffer (:class:`~validator.quality.loss.JitterBuffer`, fixed 60 ms by
  default) would have discarded as late, over the packets expected, %;
* **BurstR**: the Gilbert fit of that effective loss pattern, in sequence
  order (:func:`~validator.quality.loss.gilbert_fit`);
* **Ie, Bpl**: ITU-T G.113 Appendix I for the stream's codec, with or
  without packet-loss concealment at the receiver; a codec G.113 does not
  list makes the stream *not rated*, with the reason;
* **Ta**: the absolute one-way delay = network one-way delay + the mean time
  a packet waits in the modelled buffer + one packet time (a sample waits
  for its packet to fill). The network one-way delay is given, or half the
  RTCP round-trip time when the capture holds RTCP sender and receiver
  reports for the stream, or else the stated assumption
  :data:`ASSUMED_ONE_WAY_DELAY_MS`. The echo path delays follow as
  T = Ta and Tr = 2 Ta (a symmetric connection whose echo returns from the
  far end); every other G.107 parameter keeps its Table 3 default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from validator.quality.emodel import (
    CodecImpairment,
    EModelInput,
    Rating,
    codec_impairment,
    rate,
)
from validator.quality.loss import GilbertFit, JitterBuffer, gilbert_fit, late_from_transit

if TYPE_CHECKING:  # pragma: no cover
    from validator.rtp.capture import Capture, RtpStream

__all__ = [
    "ASSUMED_ONE_WAY_DELAY_MS",
    "EModelSettings",
    "StreamRating",
    "rate_capture",
    "rate_stream",
    "rate_streams",
]

#: Network one-way delay assumed when none is given and the capture has no RTCP round trip,
#: ms: a lab network (loopback or one LAN), as the real captures in ../shared were made.
ASSUMED_ONE_WAY_DELAY_MS = 0.0
#: G.107 (06/2015) Table 3 permitted ranges outside which a rating is an extrapolation.
_RANGES = {"ppl_pct": 20.0, "burst_ratio": 8.0, "ta_ms": 500.0}


@dataclass(frozen=True)
class EModelSettings:
    """How to rate streams: the modelled receiver and the delay.

    Attributes
    ----------
    jitter_buffer : JitterBuffer
        The receiver's modelled jitter buffer (default fixed, 60 ms).
    one_way_delay_ms : float or None
        Network one-way delay, ms. None: half the RTCP round-trip time when
        the capture has it, else :data:`ASSUMED_ONE_WAY_DELAY_MS`.
    plc : bool
        The receiver conceals lost packets (G.711: Bpl 25.1 instead of 4.3).
    """

    jitter_buffer: JitterBuffer = field(default_factory=JitterBuffer)
    one_way_delay_ms: float | None = None
    plc: bool = False

    def __post_init__(self) -> None:
        """Check the one-way delay (0..60000 ms when given)."""
        d = self.one_way_delay_ms
        if d is not None and not 0 <= d <= 60_000:  # also refuses NaN
            from validator.quality.loss import JitterBufferSpecError

            raise JitterBufferSpecError(f"bad one-way delay {d!r} ms: expected 0..60000")


@dataclass(frozen=True)
class StreamRating:
    """The E-model rating of one RTP stream, with every input it used.

    Attributes
    ----------
    ssrc : int
    codec : str or None
        Encoding name of the main payload type.
    rated : bool
        False when the stream cannot be rated honestly (see ``not_rated_reason``).
    not_rated_reason : str or None
        One line: why there is no score (unknown payload type, a codec G.113
        gives no Ie/Bpl for, no packets).
    r_factor : float or None
        Transmission rating R (G.107 clause 7.1); None when not rated.
    mos_cqe : float or None
        MOS-CQE from R (G.107 Annex B), 1 to 4.5; None when not rated.
    burst_ratio : float or None
        BurstR of the effective loss pattern (1: random; 1 without loss).
    gilbert : GilbertFit or None
        The Gilbert fit behind ``burst_ratio``.
    expected_packets : int
        Sequence numbers from the lowest to the highest received.
    network_lost : int
        Sequence numbers never received.
    late_packets : int or None
        Packets that arrived after their play-out deadline in the modelled
        buffer; None when the clock rate is unknown.
    network_loss_pct : float
        ``100 * network_lost / expected_packets``, %.
    effective_loss_pct : float or None
        Ppl: ``100 * (network_lost + late_packets) / expected_packets``, %.
    jitter_buffer : JitterBuffer
        The modelled buffer.
    buffer_wait_ms : float or None
        Mean time the in-time packets waited in it, ms.
    packet_ms : float or None
        Audio per packet, ms (the median RTP timestamp step).
    one_way_delay_ms : float
        Network one-way delay used, ms.
    delay_source : str
        ``"given"``, ``"rtcp"`` (half the RTCP round trip) or ``"assumed"``.
    ta_ms : float or None
        Absolute one-way delay Ta used, ms.
    impairment : CodecImpairment or None
        Ie, Bpl and their G.113 source.
    plc : bool
        Whether the receiver was taken to conceal losses.
    rating : Rating or None
        R and its terms (Ro, Is, Id, Ie,eff, A).
    notes : tuple of str
        Ratings outside G.107's validated ranges, loss rated as random.
    """

    ssrc: int
    codec: str | None
    rated: bool
    not_rated_reason: str | None
    r_factor: float | None
    mos_cqe: float | None
    burst_ratio: float | None
    gilbert: GilbertFit | None
    expected_packets: int
    network_lost: int
    late_packets: int | None
    network_loss_pct: float
    effective_loss_pct: float | None
    jitter_buffer: JitterBuffer
    buffer_wait_ms: float | None
    packet_ms: float | None
    one_way_delay_ms: float
    delay_source: str
    ta_ms: float | None
    impairment: CodecImpairment | None
    plc: bool
    rating: Rating | None
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a terminal: ``R 91.08, MOS-CQE 4.36 (...)`` or ``not rated: ...``."""
        if not self.rated:
            return f"E-model: not rated: {self.not_rated_reason}"
        assert self.r_factor is not None and self.mos_cqe is not None
        imp = self.impairment
        codec = f"{self.codec} Ie {imp.ie:g} Bpl {imp.bpl:g}" if imp else str(self.codec)
        return (f"E-model: R {self.r_factor:.1f}, MOS-CQE {self.mos_cqe:.2f} ({codec}; loss "
                f"{self.network_loss_pct:.2f} % network, {self.effective_loss_pct:.2f} % after "
                f"the {self.jitter_buffer.type} {self.jitter_buffer.size_ms:g} ms buffer, BurstR "
                f"{self.burst_ratio:.2f}; Ta {self.ta_ms:.0f} ms, network "
                f"{self.one_way_delay_ms:g} ms {self.delay_source})")

    def to_dict(self) -> dict[str, Any]:
        """The fields added to a stream's JSON row (always the same keys; null when unknown)."""
        def rnd(v: float | None, n: int = 3) -> float | None:
            return None if v is None else round(v, n)

        g = self.gilbert
        imp = self.impairment
        rt = self.rating
        return {
            "rated": self.rated,
            "not_rated_reason": self.not_rated_reason,
            "r_factor": rnd(self.r_factor, 2),
            "mos_cqe": rnd(self.mos_cqe, 3),
            "burst_ratio": rnd(self.burst_ratio),
            "network_loss_pct": rnd(self.network_loss_pct),
            "effective_loss_pct": rnd(self.effective_loss_pct),
            "late_packets": self.late_packets,
            "jitter_buffer": {**self.jitter_buffer.to_dict(),
                              "mean_wait_ms": rnd(self.buffer_wait_ms)},
            "emodel": {
                "codec": self.codec,
                "ie": imp.ie if imp else None,
                "bpl": imp.bpl if imp else None,
                "plc": self.plc,
                "source": imp.source if imp else None,
                "one_way_delay_ms": rnd(self.one_way_delay_ms),
                "delay_source": self.delay_source,
                "packet_ms": rnd(self.packet_ms),
                "ta_ms": rnd(self.ta_ms),
                "expected_packets": self.expected_packets,
                "network_lost": self.network_lost,
                "gilbert_p": rnd(g.p, 6) if g else None,
                "gilbert_q": rnd(g.q, 6) if g else None,
                "ro": rnd(rt.ro) if rt else None,
                "is": rnd(rt.is_) if rt else None,
                "id": rnd(rt.id_) if rt else None,
                "ie_eff": rnd(rt.ie_eff) if rt else None,
                "a": rt.a if rt else None,
                "notes": list(self.notes),
            },
        }


@dataclass(frozen=True)
class _Pattern:
    lost: np.ndarray  # bool per expected packet, in sequence order
    network_lost: int
    late: int | None
    waits: tuple[tuple[float, int], ...]  # (mean wait ms, packets) per segment
    packet_ms: np.ndarray  # float64, the RTP time step per packet, ms


def _segment_pattern(stream: RtpStream, buffer: JitterBuffer) -> _Pattern:
    """Loss pattern of one single-SSRC stream, in sequence order (lost or late = True)."""
    from validator.rtp.stats import _first_arrivals, extend_sequence_array, extend_timestamps_array

    t = stream.table
    ext = extend_sequence_array(t.sequence)
    is_first = _first_arrivals(ext)
    lo, hi = int(ext.min()), int(ext.max())
    received = np.zeros(hi - lo + 1, dtype=bool)
    received[(ext if is_first.all() else ext[is_first]) - lo] = True
    late_at = np.zeros(hi - lo + 1, dtype=bool)
    fmt = stream.format
    late: int | None = None
    waits: tuple[tuple[float, int], ...] = ()
    steps = np.zeros(0)
    if fmt is not None and fmt.clock_rate_hz > 0:
        mine = is_first & (t.payload_type == stream.payload_type)
        every = bool(mine.all())
        idx = None if every else np.flatnonzero(mine)
        e_i = ext if every else ext[idx]
        del is_first, mine
        clock_ms = fmt.clock_rate_hz / 1000.0
        ts = extend_timestamps_array(t.timestamp if every else t.timestamp[idx])
        steps = _rtp_steps_ms(e_i, ts, clock_ms)
        pkt_ms = float(np.median(steps, overwrite_input=True)) if steps.shape[0] else 20.0
        transit = _transit_ms(t.time_ns if every else t.time_ns[idx], ts, clock_ms)
        del ts
        is_late, mean_wait, _final = late_from_transit(transit, buffer=buffer,
                                                       packet_ms=pkt_ms)
        del transit
        late_at[e_i[is_late] - lo] = True
        late = int(np.count_nonzero(late_at))
        in_time = e_i.shape[0] - late
        if mean_wait is not None:
            waits = ((mean_wait, in_time),)
    lost = ~received | late_at
    return _Pattern(lost, int(np.count_nonzero(~received)), late, waits, steps)


def _transit_ms(time_ns: np.ndarray, ts: np.ndarray, clock_ms: float) -> np.ndarray:
    """``arrival_ms - rtp_ms`` per packet (arrival ns / 1e6, RTP ticks / clock), in blocks."""
    out = np.empty(ts.shape[0])
    for lo in range(0, ts.shape[0], 1 << 18):
        hi = lo + (1 << 18)
        out[lo:hi] = time_ns[lo:hi] / 1e6 - ts[lo:hi] / clock_ms
    return out


def _rtp_steps_ms(ext: np.ndarray, ts: np.ndarray, clock_ms: float) -> np.ndarray:
    """RTP time per packet between consecutive sequence numbers (forward steps only), ms."""
    from validator.rtp.stats import _increasing

    if not _increasing(ext):
        by_seq = np.argsort(ext, kind="stable")
        ext, ts = ext[by_seq], ts[by_seq]
    out = np.empty(max(ext.shape[0] - 1, 0))
    n = 0
    for lo in range(0, out.shape[0], 1 << 18):
        hi = min(lo + (1 << 18), out.shape[0])
        de = ext[lo + 1:hi + 1] - ext[lo:hi]
        dt = ts[lo + 1:hi + 1] - ts[lo:hi]
        ok = (de > 0) & (dt > 0)
        k = int(np.count_nonzero(ok))
        out[n:n + k] = dt[ok] / de[ok] / clock_ms
        n += k
    return out[:n]


def rate_stream(stream: RtpStream, settings: EModelSettings | None = None, *,
                rtcp_rtt_ms: float | None = None) -> StreamRating:
    """Rate one RTP stream with the E-model (module docstring).

    Parameters
    ----------
    stream : RtpStream
        From :func:`validator.rtp.read_capture` (or :func:`select_stream`; an
        SSRC change restarts the modelled buffer).
    settings : EModelSettings, optional
        Buffer, delay and PLC; the defaults when omitted.
    rtcp_rtt_ms : float, optional
        The stream's RTCP round-trip time, ms (its half is the network
        one-way delay unless ``settings.one_way_delay_ms`` is given).

    Returns
    -------
    StreamRating
        ``rated=False`` with the reason when the codec has no G.113 values
        or the payload type is unknown; the loss figures are still measured
        where they can be.
    """
    cfg = settings or EModelSettings()
    parts = [_segment_pattern(s, cfg.jitter_buffer) for s in stream.segments()]
    lost = parts[0].lost if len(parts) == 1 else np.concatenate([p.lost for p in parts])
    expected = int(lost.shape[0])
    network_lost = sum(p.network_lost for p in parts)
    late = None if any(p.late is None for p in parts) else sum(p.late or 0 for p in parts)
    waits = [w for p in parts for w in p.waits]
    in_time = sum(n for _, n in waits)
    wait_ms = sum(w * n for w, n in waits) / in_time if in_time else None
    steps = parts[0].packet_ms if len(parts) == 1 else np.concatenate([p.packet_ms for p in parts])
    packet_ms = float(np.median(steps)) if steps.shape[0] else None
    net_pct = 100.0 * network_lost / expected if expected else 0.0
    eff_pct = None if late is None else 100.0 * (network_lost + late) / expected
    fit = gilbert_fit(lost)
    if cfg.one_way_delay_ms is not None:
        owd, source = cfg.one_way_delay_ms, "given"
    elif rtcp_rtt_ms is not None:
        owd, source = rtcp_rtt_ms / 2.0, "rtcp"
    else:
        owd, source = ASSUMED_ONE_WAY_DELAY_MS, "assumed"
    imp = codec_impairment(stream.codec, plc=cfg.plc)
    common: dict[str, Any] = dict(
        ssrc=stream.ssrc, codec=stream.codec, burst_ratio=fit.burst_ratio, gilbert=fit,
        expected_packets=expected, network_lost=network_lost, late_packets=late,
        network_loss_pct=net_pct, effective_loss_pct=eff_pct, jitter_buffer=cfg.jitter_buffer,
        buffer_wait_ms=wait_ms, packet_ms=packet_ms, one_way_delay_ms=owd, delay_source=source,
        plc=cfg.plc)
    if isinstance(imp, str) or eff_pct is None:
        reason = imp if isinstance(imp, str) else \
            "the RTP clock rate is unknown, so late packets cannot be told"
        return StreamRating(rated=False, not_rated_reason=reason, r_factor=None, mos_cqe=None,
                            ta_ms=None, impairment=None, rating=None, **common)
    ta = owd + (wait_ms or 0.0) + (packet_ms or 0.0)
    notes = []
    burst = fit.burst_ratio
    if burst < 1:
        notes.append(f"BurstR {burst:.3f} < 1 (the loss is no burstier than random): rated "
                     "with BurstR 1, the lower end of its range in G.107 Table 3")
        burst = 1.0
    over = [f"{name} {value:.3g}" for name, value, top in (
        ("Ppl %", eff_pct, _RANGES["ppl_pct"]), ("BurstR", burst, _RANGES["burst_ratio"]),
        ("Ta ms", ta, _RANGES["ta_ms"])) if value > top]
    if over:
        notes.append(f"{', '.join(over)} outside the ranges of G.107 Table 3 (Ppl 0-20 %, BurstR "
                     "1-8, Ta 0-500 ms): the rating is an extrapolation")
    rating = rate(EModelInput(ie=imp.ie, bpl=imp.bpl, ppl_pct=eff_pct, burst_ratio=burst,
                              ta_ms=ta, t_ms=ta, tr_ms=2 * ta))
    return StreamRating(rated=True, not_rated_reason=None, r_factor=rating.r,
                        mos_cqe=rating.mos_cqe, ta_ms=ta, impairment=imp, rating=rating,
                        notes=tuple(notes), **common)


def rate_streams(streams: Sequence[RtpStream], settings: EModelSettings | None = None, *,
                 rtcp_rtt_ms: Mapping[int, float] | None = None) -> tuple[StreamRating, ...]:
    """:func:`rate_stream` for each stream, with the RTCP round trips found per SSRC.

    Parameters
    ----------
    streams : sequence of RtpStream
    settings : EModelSettings, optional
    rtcp_rtt_ms : mapping, optional
        ``{ssrc: round-trip time in ms}`` from the capture's RTCP.

    Returns
    -------
    tuple of StreamRating
        In the order of ``streams``.
    """
    rtts = rtcp_rtt_ms or {}
    return tuple(rate_stream(s, settings, rtcp_rtt_ms=rtts.get(s.ssrc)) for s in streams)


def rate_capture(capture: Capture, streams: Sequence[RtpStream] | None = None,
                 settings: EModelSettings | None = None) -> tuple[StreamRating, ...]:
    """Rate the streams of a capture, with RTCP round-trip times when the capture has RTCP.

    Parameters
    ----------
    capture : Capture
        From :func:`validator.rtp.read_capture`.
    streams : sequence of RtpStream, optional
        The streams to rate (default: all of the capture's, in its order).
    settings : EModelSettings, optional

    Returns
    -------
    tuple of StreamRating
        In the order of ``streams``.
    """
    rtts: dict[int, float] = {}
    if capture.rtcp_packets and (settings is None or settings.one_way_delay_ms is None):
        from validator.rtp.rtcp import round_trip_times

        rtts = round_trip_times(capture.path)
    return rate_streams(capture.streams if streams is None else streams, settings,
                        rtcp_rtt_ms=rtts)
