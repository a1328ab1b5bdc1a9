"""Local delay track, clock drift and piecewise alignment.

After the global delay, the delay is measured again every ``hop`` seconds of
the reference with a short normalised cross-correlation around the predicted
lag. A straight line through these local delays gives the clock drift; a
jump in them is a place where the receiver skipped (or inserted) audio, and
splits the alignment into segments that share the drift but not the offset.

A steady tone's correlation repeats every period, so its track is read from
the tone's phase instead (:mod:`validator.align.phase`), every period; a skip
then shows as a jump of the skipped length modulo the period (see
:class:`AlignmentModel`).

References
----------
.. [1] IEEE 1057-2017 ("Standard for Digitizing Waveform Recorders"), the
   least-squares fit used for gain.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import overload

import numpy as np

from validator.align.delay import mono
from validator.align.interp import HALF_TAPS, interpolate
from validator.align.xcorr import ncc, pick_peak
from validator.io.audio import AudioSource
from validator.orderstats import dense_ranks, median, percentile

#: Longest excursion of the lag track folded away (three concealed 20 ms packets), s.
MAX_EXCURSION_S = 0.06
#: NCC below which a local window is not trusted for the delay track.
MIN_SCORE = 0.6


@dataclass(frozen=True)
class LagPoint:
    """One local delay measurement.

    Attributes
    ----------
    ref_pos : int
        Reference sample at the centre of the analysis window (a delay
        measured over a window belongs to its centre when it drifts).
    lag : float
        Delay in samples at that point (received minus reference position).
    score : float
        NCC at the chosen lag.
    """

    ref_pos: int
    lag: float
    score: float


class LagTrack(Sequence[LagPoint]):
    """A lag track held as three arrays; its :class:`LagPoint` are made when asked for.

    A tone's phase track has a point every period (10 000 on 10 s at 48 kHz):
    as arrays it goes from the demodulator through the model fit without an
    object per point.

    Parameters
    ----------
    ref_pos : np.ndarray, shape=(n,), int64
    lag : np.ndarray, shape=(n,), float64
    score : np.ndarray, shape=(n,), float64
        The fields of the points, as :class:`LagPoint` describes them.
    """

    __slots__ = ("lag", "ref_pos", "score")

    def __init__(self, ref_pos: np.ndarray, lag: np.ndarray, score: np.ndarray) -> None:
        self.ref_pos = np.asarray(ref_pos, dtype=np.int64)
        self.lag = np.asarray(lag, dtype=np.float64)
        self.score = np.asarray(score, dtype=np.float64)

    @classmethod
    def of(cls, points: Sequence[LagPoint]) -> LagTrack:
        """The track of a sequence of points (itself when it is one already)."""
        if isinstance(points, LagTrack):
            return points
        return cls(np.array([pt.ref_pos for pt in points], dtype=np.int64),
                   np.array([pt.lag for pt in points], dtype=np.float64),
                   np.array([pt.score for pt in points], dtype=np.float64))

    def __len__(self) -> int:
        """Number of points."""
        return len(self.lag)

    @overload
    def __getitem__(self, i: int) -> LagPoint: ...

    @overload
    def __getitem__(self, i: slice) -> LagTrack: ...

    def __getitem__(self, i: int | slice) -> LagPoint | LagTrack:
        """Point ``i``, or the track of a slice."""
        if isinstance(i, slice):
            return LagTrack(self.ref_pos[i], self.lag[i], self.score[i])
        return LagPoint(int(self.ref_pos[i]), float(self.lag[i]), float(self.score[i]))

    def __iter__(self) -> Iterator[LagPoint]:
        """The points in order."""
        return map(LagPoint, self.ref_pos.tolist(), self.lag.tolist(), self.score.tolist())

    def __eq__(self, other: object) -> bool:
        """The same points, in the same order (with any sequence of points)."""
        if isinstance(other, LagTrack):
            return (np.array_equal(self.ref_pos, other.ref_pos)
                    and np.array_equal(self.lag, other.lag)
                    and np.array_equal(self.score, other.score))
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        """Hash of the points' values (a model holding the track stays hashable)."""
        return hash((self.ref_pos.tobytes(), self.lag.tobytes(), self.score.tobytes()))

    def __repr__(self) -> str:
        """The number of points, not every point."""
        return f"LagTrack({len(self)} points)"


@dataclass(frozen=True)
class AlignmentModel:
    """Piecewise-linear map from received samples to reference positions.

    Received sample ``n`` with ``breaks[i-1] <= n < breaks[i]`` belongs to
    segment ``i`` and carries the reference at
    ``(n - offsets[i]) / (1 + drift_ppm * 1e-6)``.

    Attributes
    ----------
    offsets : tuple of float
        Offset of each segment in samples; ``offsets[0]`` is the delay.
    breaks : tuple of int
        Received samples where a new segment starts (``len(offsets) - 1``).
    drift_ppm : float
        Clock drift; positive when the received content lasts longer.
    gains : tuple of float
        Least-squares gain of each channel (received / reference amplitude).
    points : sequence of LagPoint
        The local delay track, for reports (a :class:`LagTrack`).
    ambiguous_breaks : tuple of bool
        Per break: True when the reference is periodic, so the skipped length
        is known only modulo a period.
    period_samples : float or None
    """

    offsets: tuple[float, ...]
    breaks: tuple[int, ...]
    drift_ppm: float
    gains: tuple[float, ...]
    points: Sequence[LagPoint] = field(default=(), repr=False)
    ambiguous_breaks: tuple[bool, ...] = ()
    period_samples: float | None = None

    def shifted(self, origin: int) -> AlignmentModel:
        """The same map for a view of the received audio whose sample 0 is ``origin``.

        The track's points are left out (they are for reports, not for the map).
        """
        return replace(self, offsets=tuple(o - origin for o in self.offsets),
                       breaks=tuple(b - origin for b in self.breaks), points=())

    def ref_positions(self, start: int, stop: int) -> np.ndarray:
        """Reference positions of received samples ``start .. stop-1``.

        Returns
        -------
        np.ndarray, shape=(stop - start,), float64
        """
        return self.ref_positions_at(np.arange(start, stop, dtype=np.float64))

    def ref_positions_at(self, n: np.ndarray) -> np.ndarray:
        """Reference positions of received samples ``n`` (float64, modified in place).

        Returns
        -------
        np.ndarray, shape=n.shape, float64
        """
        if not self.breaks:
            n -= self.offsets[0]
        else:
            seg = np.searchsorted(np.asarray(self.breaks, dtype=np.float64), n, side="right")
            n -= np.asarray(self.offsets)[seg]
        if self.drift_ppm:
            n /= 1.0 + self.drift_ppm * 1e-6
        return n


def track_lags(*, reference: AudioSource, received: AudioSource, initial_lag: float,
               hop_s: float,
               window_s: float = 0.1, narrow_s: float = 0.004, wide_s: float = 0.5,
               inverted: bool = False) -> list[LagPoint]:
    """Measure the local delay every ``hop_s`` seconds of the reference.

    Parameters
    ----------
    reference, received : AudioSource
    initial_lag : float
        Global delay in samples.
    hop_s, window_s : float
        Spacing and length of the analysis windows, in seconds.
    narrow_s, wide_s : float
        Search half-ranges in seconds: narrow around the prediction first,
        wide when the narrow search finds no good match (a skip or insert).
    inverted : bool
        The received audio is upside down (see ``DelayEstimate.inverted``).

    Returns
    -------
    list of LagPoint
        Only windows with a trustworthy match (NCC >= ``MIN_SCORE``). For a
        steady tone use :func:`validator.align.phase.phase_track`.
    """
    ref, rec = reference, received
    fs = ref.sample_rate_hz
    win = max(int(window_s * fs), 64)
    hop = max(int(hop_s * fs), 1)
    sn, sw = max(int(narrow_s * fs), 8), max(int(wide_s * fs), 16)
    points: list[LagPoint] = []
    pred = float(initial_lag)
    slope = 0.0
    last_pos = 0
    for p in range(0, max(ref.frames - win, 0) + 1, hop):
        r = mono(ref.read(p, win)) * (-1.0 if inverted else 1.0)
        if float(np.dot(r, r)) < win * 1e-8:
            continue  # silent reference: nothing to align on
        guess = pred + slope * (p - last_pos)
        q0 = int(round(guess))
        if q0 + p + win <= 0 or q0 + p >= rec.frames:
            continue
        y = mono(rec.read(p + q0 - sn, win + 2 * sn))
        c = ncc(r, y)
        pk = pick_peak(c)
        lag, score = q0 - sn + pk.position, pk.value
        if score < 0.9:
            yw = mono(rec.read(p + q0 - sw, win + 2 * sw))
            cw = ncc(r, yw)
            pw = pick_peak(cw)
            if pw.value > score + 0.05 and pw.ambiguity < 0.95:
                lag, score = q0 - sw + pw.position, pw.value
        if score < MIN_SCORE:
            continue
        points.append(LagPoint(p + win // 2, float(lag), float(score)))
        if len(points) >= 3:
            # drift so far: median slope of recent pairs (a jump is an outlier)
            recent = points[-21:]
            inst = [(b.lag - a.lag) / max(b.ref_pos - a.ref_pos, 1)
                    for a, b in zip(recent, recent[1:], strict=False)]
            slope = float(np.clip(median(inst), -1e-3, 1e-3))
        pred, last_pos = float(lag), p
    return points


def fit_model(points: Sequence[LagPoint], *, reference: AudioSource, received: AudioSource,
              initial_lag: float, period_samples: float | None = None,
              jump_tol: float = 0.05, sigma_floor: float | None = None,
              transition_points: float = np.inf) -> AlignmentModel:
    """Fit drift and segments to a delay track, and locate each splice.

    Parameters
    ----------
    points : sequence of LagPoint
        From :func:`track_lags`, or a :class:`LagTrack`.
    reference, received : AudioSource
    initial_lag : float
        Global delay in samples (used when the track is empty).
    period_samples : float, optional
        Period of a periodic reference (marks breaks as ambiguous).
    jump_tol : float
        Smallest step between segments, in samples (see :func:`segment_track`).
    sigma_floor : float, optional
        Smallest noise assumed for the track, samples (default
        :data:`MIN_TRACK_SIGMA`; a tone's phase track has no interpolation
        bias and takes a lower one).
    transition_points : float
        Most points that the windows straddling one step can hold, points (see
        :func:`segment_track`; a phase track's windows overlap by a known
        number of hops, a correlation track's bound is left open).

    Returns
    -------
    AlignmentModel

    Notes
    -----
    Segments and drift come from :func:`segment_track` (penalised change
    points, drift only where a ramp beats steps); splices are placed to the
    sample by the change point that minimises the squared residual of the two
    adjacent alignments, each with its own gain.
    """
    ref, rec = reference, received
    nch = rec.channels
    track = LagTrack.of(points)
    if len(track) < 2:
        gains = _gains(ref, rec, [LagPoint(0, initial_lag, 1.0)], 0.0)
        return AlignmentModel((float(initial_lag),), (), 0.0, gains, track, (),
                              period_samples)
    p = track.ref_pos.astype(np.float64)
    lag = track.lag.copy()
    score = track.score
    if period_samples:
        # a periodic reference gives each local delay modulo one period: unwrap the track so
        # that a slip of a whole period is not taken for a splice
        dd = np.diff(lag)
        dd = (dd + period_samples / 2) % period_samples - period_samples / 2
        lag = np.concatenate(([lag[0]], lag[0] + np.cumsum(dd)))
        track = LagTrack(track.ref_pos, lag, track.score)
    floor = MIN_TRACK_SIGMA if sigma_floor is None else sigma_floor
    seg_id, slope, intercepts = segment_track(p, lag, min_step=jump_tol, sigma_floor=floor,
                                              min_drift_span=2.0 * ref.sample_rate_hz,
                                              max_excursion=MAX_EXCURSION_S * ref.sample_rate_hz,
                                              smooth_span=0.15 * ref.sample_rate_hz,
                                              max_transition_points=transition_points)
    if not period_samples and slope and \
            abs(slope) * float(p[-1] - p[0]) < max(MIN_DRIFT_RAMP, 3 * track_sigma(lag)):
        # a correlation track (speech, music) whose whole drift ramp stays within its noise
        # has no measurable drift (a tone's phase track resolves far smaller ramps)
        slope, intercepts = _fit_segments(p, lag, seg_id, with_slope=False)
    cut_list = [int(c) for c in np.flatnonzero(np.diff(seg_id)) + 1]
    kept = _drop_excursions(cut_list, lag - slope * p, p,
                            max(jump_tol, 5 * track_sigma(lag, floor=floor)),
                            min_len=ref.sample_rate_hz // 2,
                            fills=_cuts_at_fills(rec, cut_list, p, lag) if period_samples else None)
    if kept != cut_list:
        seg_id = np.zeros(len(p), dtype=int)
        for c in kept:
            seg_id[c:] += 1
        slope, intercepts = _fit_segments(p, lag, seg_id, with_slope=slope != 0.0)
    while True:
        intercepts, slope, last_resolved, breaks = _place_breaks(
            ref, rec, p, lag, seg_id, slope, intercepts, period_samples, score)
        if period_samples or not breaks:
            break
        # a correlation track (speech, music) wanders with a codec's phase response: a step
        # stands only if the waveform itself needs it
        weak = [i for i, b in enumerate(breaks)
                if not _split_supported(ref, rec, p, seg_id, i, b, intercepts, 1.0 + slope)]
        if not weak:
            break
        for i in reversed(weak):
            seg_id[seg_id > i] -= 1
        slope, intercepts = _fit_segments(p, lag, seg_id, with_slope=slope != 0.0)
    gains = _gains(ref, rec, track, slope, nch=nch)
    amb = tuple(bool(period_samples) and not (last_resolved and i == len(breaks) - 1)
                for i in range(len(breaks)))
    return AlignmentModel(tuple(intercepts), tuple(breaks), slope * 1e6, gains, track,
                          amb, period_samples)


#: PELT penalty per change point (and for a drift term), in units of the track's noise
#: variance times log(n): a BIC-like cost, so that a step or a slope must earn its keep.
CHANGE_PENALTY = 4.0
#: Smallest lag ramp over the whole track that is reported as a drift, samples (0.1 sample
#: over 10 s at 48 kHz is 0.2 ppm; over an hour, 0.0006 ppm).
MIN_DRIFT_RAMP = 0.1
#: Smallest noise assumed for a lag track, samples: a clean digital path has none, but the
#: local estimates carry about 0.001-0.005 samples of interpolation bias.
MIN_TRACK_SIGMA = 0.01


def segment_track(p: np.ndarray, lag: np.ndarray, *, min_step: float = 0.5,
                  sigma_floor: float = MIN_TRACK_SIGMA,
                  min_drift_span: float = 0.0,
                  smooth_span: float = 0.0,
                  max_excursion: float = 0.0,
                  max_transition_points: float = np.inf) -> tuple[np.ndarray, float, list[float]]:
    """Split a lag track into constant segments plus an optional common drift.

    A receiver that skips or cuts audio makes the lag a staircase; a clock
    offset makes it a ramp. Both drift the same way on average, so a jump
    threshold on a smoothed track cannot tell them apart (overlapping windows
    split each step below it). Instead two models are fitted and the one with
    the lower penalised cost wins (FIELD-NOTES, "drift or steps?"):

    - constant segments with no drift: PELT change points on the track;
    - constant segments plus one common slope: PELT on the detrended track,
      alternating with a joint least-squares fit of slope and intercepts,
      from a Theil-Sen start.

    The cost is the residual sum of squares plus a penalty of
    ``CHANGE_PENALTY * sigma^2 * log(n)`` per change point and for the slope,
    with ``sigma`` the track's own noise (robustly, from the median absolute
    first difference). So the lag stays constant when it is constant, and a
    drift is reported only when a ramp explains the track better than steps.

    Parameters
    ----------
    p : np.ndarray, shape=(n,), float64
        Reference positions of the track points, samples.
    lag : np.ndarray, shape=(n,), float64
        Local delays there, samples (unwrapped for periodic references).
    min_step : float
        Adjacent segments closer than this, or than five times the track's
        noise, are one segment, samples.
    sigma_floor : float
        Smallest noise assumed for the track, samples (see :func:`track_sigma`).
    min_drift_span : float
        The drift model is considered only when one of its segments spans at
        least this much reference, samples: a clock drift shows within long
        stretches, while a jitter buffer's many short edits fake a slope.
    smooth_span : float
        Half-width of the running median taken before the change points,
        samples of reference (3 to 9 points).
    max_excursion : float
        Longest excursion folded away, samples of reference: a run of
        segments this short whose neighbours sit at one lag (a concealed or
        repeated packet pulls a dense track aside for its 20 ms).
    max_transition_points : float
        Most points a run of short segments may hold and still be one step's
        transit, points (the windows straddling the step, on both sides of a
        fill); a longer run is a staircase of edits closer together than
        the window (a receiver cutting every 1.5 ms), and each of its segments
        stays.

    Returns
    -------
    seg_id : np.ndarray, shape=(n,), int
        Segment index of each point (0, 1, ...; non-decreasing).
    slope : float
        Drift, samples of lag per sample of reference (ppm * 1e-6); 0 when no
        drift term was chosen.
    intercepts : list of float
        Lag of each segment at reference position 0, samples.

    References
    ----------
    .. [1] R. Killick, P. Fearnhead and I. A. Eckley, "Optimal detection of
       changepoints with a linear computational cost", JASA 107(500), 2012
       (PELT, in our cumulative-sum form :func:`pelt_l2`; the tests check it
       against ``ruptures``: C. Truong, L. Oudre and N. Vayatis, Signal
       Processing 167, 2020).
    .. [2] G. Schwarz, "Estimating the dimension of a model", Annals of
       Statistics 6(2), 1978 (the log(n) penalty).
    """
    n = len(p)
    if n < 4:
        return np.zeros(n, dtype=int), 0.0, [float(median(lag))]
    sigma = track_sigma(lag, floor=sigma_floor)
    pen = CHANGE_PENALTY * sigma * sigma * np.log(n)
    # a running median over +-smooth_span removes short excursions (a bad window, a concealed
    # packet pulling two or three windows aside) and keeps steps sharp
    hop = float(median(np.diff(p))) if n > 1 else 1.0
    width = int(np.clip(2 * round(smooth_span / max(hop, 1.0)) + 1, 3, 9))
    step = max(min_step, 5 * sigma)
    best: tuple[float, np.ndarray, np.ndarray, float, np.ndarray, bool] | None = None
    for with_slope in (False, True):
        # (the running median is taken on the detrended track: on a ramp it would be biased)
        slope = _theil_sen(p, running_median(lag, width)) \
            if with_slope else 0.0
        seg_id = np.zeros(n, dtype=int)
        use = np.ones(n, dtype=bool)
        for _ in range(4):
            x = running_median(lag - slope * p, width)
            new_id = _merge_close(x, _pelt(x, pen, sigma), step)
            new_id, use = _dissolve_transitions(x, new_id, step, p=p, max_span=max_excursion,
                                                max_transition_points=max_transition_points)
            new_id = _merge_close(x, new_id, step)  # the two sides of a dissolved excursion
            smooth = x + slope * p
            slope_new, _ = _fit_segments(p[use], smooth[use], new_id[use], with_slope=with_slope)
            done = np.array_equal(new_id, seg_id) and abs(slope_new - slope) < 1e-9
            seg_id, slope = new_id, slope_new
            if done:
                break
        if with_slope and max(float(p[seg_id == k].max() - p[seg_id == k].min())
                              for k in range(int(seg_id.max()) + 1)) < min_drift_span:
            continue
        smooth = running_median(lag - slope * p, width) + slope * p
        _, icpt = _fit_segments(p[use], smooth[use], seg_id[use], with_slope=with_slope)
        resid = (smooth - (np.asarray(icpt)[seg_id] + slope * p))[use]
        cost = float(np.dot(resid, resid)) + pen * (int(seg_id.max()) + with_slope)
        if best is None or cost < best[0]:
            best = (cost, seg_id, use, slope, smooth, with_slope)
    assert best is not None
    _, seg_id, use, slope, smooth, with_slope = best
    # the final fit on the filtered track: a window that matched the wrong place (thousands
    # of samples off) would tilt a least-squares line through the raw one
    slope, intercepts = _fit_segments(p[use], smooth[use], seg_id[use], with_slope=with_slope)
    return seg_id, slope, intercepts


def _dissolve_transitions(x: np.ndarray, seg_id: np.ndarray, step: float, *,
                          max_points: int = 2, p: np.ndarray | None = None,
                          max_span: float = 0.0,
                          max_transition_points: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Fold runs of short segments between two long ones into their neighbours.

    An analysis window that straddles a step measures a lag between the two
    sides: points in transit, not segments of their own. A concealed packet
    pulls the track aside and back: an excursion, which the detectors report
    as a glitch. First, a run of segments of at most ``max_points`` points is
    an excursion when the long segments either side sit within ``step`` of
    each other (it joins the left one), and a transition when all its points
    lie between them and they are no more than ``max_transition_points``
    (each point joins the nearer side). Then a run of
    segments spanning at most ``max_span`` of ``p`` whose neighbours sit
    within ``step`` of each other is an excursion too (a dense track's 20 ms
    concealed packet), and such a run at the very start joins the first long
    segment (a decoder settling). Either way its points are left out of the
    fits (``use``).
    """
    use = np.ones(len(x), dtype=bool)
    out = _fold_runs(x, seg_id, step, np.bincount(seg_id) <= max_points, use, transitions=True,
                     max_transition_points=max_transition_points)
    if p is not None and max_span > 0:
        nseg = int(out.max()) + 1
        lo = np.full(nseg, np.inf)
        hi = np.full(nseg, -np.inf)
        np.minimum.at(lo, out, p)
        np.maximum.at(hi, out, p)
        out = _fold_runs(x, out, step, (hi - lo) <= max_span, use, transitions=False)
    return out, use


def _fold_runs(x: np.ndarray, seg_id: np.ndarray, step: float, short: np.ndarray,
               use: np.ndarray, *, transitions: bool,
               max_transition_points: float = np.inf) -> np.ndarray:
    """One pass of :func:`_dissolve_transitions` over runs of ``short`` segments.

    ``use`` is updated in place; returns the renumbered segment index.
    """
    nseg = int(seg_id.max()) + 1
    out = seg_id.copy()
    meds = [float(median(x[seg_id == k])) for k in range(nseg)]
    if not transitions and nseg > 1 and short[0]:
        # a short run at the very start is the decoder or the tone settling (Opus's first
        # 10 ms wander by a tenth of a sample): it joins the first long segment
        j = 0
        while j < nseg - 1 and short[j]:
            j += 1
        if not short[j]:
            run = seg_id < j
            out[run] = j
            use[run] = False
    k = 1
    while k < nseg - 1:
        if not short[k] or short[k - 1]:
            k += 1
            continue
        j = k
        while j < nseg - 1 and short[j]:
            j += 1
        if short[j]:  # the run reaches the last segment: leave it
            break
        run = (seg_id >= k) & (seg_id < j)
        a, b = meds[k - 1], meds[j]
        lo, hi = min(a, b), max(a, b)
        if abs(a - b) < step:
            out[run] = k - 1
            use[run] = False
        elif transitions and np.count_nonzero(run) <= max_transition_points and \
                np.all((x[run] >= lo - step) & (x[run] <= hi + step)):
            idx = np.flatnonzero(run)
            out[idx] = np.where(np.abs(x[idx] - a) <= np.abs(x[idx] - b), k - 1, j)
            use[idx] = False
        k = j + 1
    return dense_ranks(out).astype(int)


def track_sigma(lag: np.ndarray, *, floor: float = MIN_TRACK_SIGMA) -> float:
    """Noise of a lag track, samples.

    The median absolute first difference (robust to steps and outliers) over
    sqrt(2), at least ``floor``.
    """
    if len(lag) < 3:
        return floor
    d = np.diff(lag)
    return max(1.4826 * float(median(np.abs(d - median(d)))) / np.sqrt(2), floor)


def _pelt(x: np.ndarray, pen: float, sigma: float) -> np.ndarray:
    """Segment index of each point: PELT change points of a piecewise-constant ``x``.

    Change points are sought only where ``x`` moves by at least ``sigma / 2``
    from one point to the next (and beside such places): on a dense, clean
    track that leaves a few per cent of the points, and a flat stretch cannot
    hold an optimal change point anyway.
    """
    d = np.abs(np.diff(x)) >= 0.5 * sigma
    near = np.zeros(len(x) + 1, dtype=bool)
    for k in (0, 1, 2):  # the point after a move, and its neighbours
        near[k:k + len(d)] |= d
    seg_id = np.zeros(len(x), dtype=int)
    for b in pelt_l2(x, pen, candidates=np.flatnonzero(near))[:-1]:
        seg_id[b:] += 1
    return seg_id


def pelt_l2(x: np.ndarray, pen: float, *, min_size: int = 2,
            candidates: np.ndarray | None = None) -> list[int]:
    """Optimal change points of a piecewise-constant signal under a squared-error cost.

    Minimises the sum over segments of the squared deviations from each
    segment's mean, plus ``pen`` per change point, exactly, by PELT (optimal
    partitioning with pruning). Segment costs come from cumulative sums, so
    one step costs O(candidates): 0.25 s for 10 000 points where the generic
    ``ruptures.Pelt(model="l2")`` takes 36 s (``tests/benchmarks/bench_pelt.py``).
    It returns the same change points (the test suite checks it against
    ``ruptures``).

    Parameters
    ----------
    x : np.ndarray, shape=(n,), float
    pen : float
        Penalty per change point, in units of ``x`` squared.
    min_size : int
        Shortest segment, points.
    candidates : np.ndarray of int, optional
        Allowed segment boundaries (indices into ``x``, a boundary ``b``
        starts a segment at ``x[b]``); all by default.

    Returns
    -------
    list of int
        Segment ends, increasing, the last one ``n`` (the ``ruptures``
        convention).

    References
    ----------
    .. [1] R. Killick, P. Fearnhead and I. A. Eckley, "Optimal detection of
       changepoints with a linear computational cost", JASA 107(500), 2012.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    n = len(x)
    if n < 2 * min_size:
        return [n]
    s1 = np.concatenate(([0.0], np.cumsum(x)))
    s2 = np.concatenate(([0.0], np.cumsum(x * x)))
    f = np.full(n + 1, np.inf)
    f[0] = -pen
    last = np.zeros(n + 1, dtype=np.int64)
    allowed = np.ones(n + 1, dtype=bool)
    if candidates is not None:
        allowed[:] = False
        allowed[np.asarray(candidates, dtype=np.int64)] = True
        allowed[[0, n]] = True
    allowed[1:min_size] = False
    allowed[n - min_size + 1:n] = False
    cands = np.zeros(0, dtype=np.int64)
    pending = [int(b) for b in np.flatnonzero(allowed)]  # boundaries not yet admissible
    j = 0
    for t in pending[1:]:
        while j < len(pending) and pending[j] <= t - min_size:
            cands = np.append(cands, pending[j])
            j += 1
        if len(cands) == 0:
            continue
        d1 = s1[t] - s1[cands]
        tot = f[cands] + (s2[t] - s2[cands]) - d1 * d1 / (t - cands)
        i = int(np.argmin(tot))
        f[t] = tot[i] + pen
        last[t] = cands[i]
        cands = cands[tot <= f[t]]  # pruning: these can never be optimal again
    ends = []
    t = n
    while t > 0:
        ends.append(t)
        t = int(last[t])
    return ends[::-1]


def _merge_close(x: np.ndarray, seg_id: np.ndarray, step: float) -> np.ndarray:
    """Join adjacent segments whose medians differ by less than ``step``.

    The closest pair is joined first, and the medians are updated as pairs
    join.
    """
    nseg = int(seg_id.max()) + 1 if len(seg_id) else 0
    if nseg < 2:
        return seg_id.copy()
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(seg_id)) + 1, [len(x)]))
    starts = [int(b) for b in bounds[:-1]]
    ends = [int(b) for b in bounds[1:]]
    meds = [float(median(x[a:b])) for a, b in zip(starts, ends, strict=True)]
    while len(meds) > 1:
        jumps = np.abs(np.diff(meds))
        k = int(np.argmin(jumps))
        if jumps[k] >= step:
            break
        ends[k] = ends.pop(k + 1)
        starts.pop(k + 1)
        meds.pop(k + 1)
        meds[k] = float(median(x[starts[k]:ends[k]]))
    out = np.zeros(len(x), dtype=int)
    for k, a in enumerate(starts[1:], 1):
        out[a:] = k
    return out


def _fit_segments(p: np.ndarray, lag: np.ndarray, seg_id: np.ndarray, *,
                  with_slope: bool) -> tuple[float, list[float]]:
    """Robust slope (or 0) and one intercept per segment.

    Without a slope each intercept is its segment's median; with one, the
    joint least-squares fit of one common slope and an intercept per segment
    (the within-segment regression, in closed form) is refitted once without
    the points more than four robust standard deviations off (a window that
    matched the wrong place).
    """
    nseg = int(seg_id.max()) + 1
    if not with_slope:
        return 0.0, [float(median(lag[seg_id == k])) if np.any(seg_id == k) else
                     float(median(lag)) for k in range(nseg)]
    slope, icpt = _common_slope_fit(p, lag, seg_id, nseg)
    resid = lag - (icpt[seg_id] + slope * p)
    keep = np.abs(resid) <= 4 * 1.4826 * float(median(np.abs(resid))) + 1e-9
    if np.sum(keep) > nseg + 1 and np.all(np.bincount(seg_id[keep], minlength=nseg) > 0):
        slope, icpt = _common_slope_fit(p[keep], lag[keep], seg_id[keep], nseg)
    return slope, [float(c) for c in icpt]


def _common_slope_fit(p: np.ndarray, lag: np.ndarray, seg_id: np.ndarray,
                      nseg: int) -> tuple[float, np.ndarray]:
    """Least squares of ``lag = intercept[seg] + slope * p``: the pooled within-segment slope."""
    count = np.maximum(np.bincount(seg_id, minlength=nseg), 1)
    p0 = float(p.mean()) if len(p) else 0.0
    pc = p - p0
    pm = np.bincount(seg_id, weights=pc, minlength=nseg) / count
    lm = np.bincount(seg_id, weights=lag, minlength=nseg) / count
    dp, dl = pc - pm[seg_id], lag - lm[seg_id]
    den = float(np.dot(dp, dp))
    slope = float(np.dot(dp, dl) / den) if den > 0 else 0.0
    return slope, lm - slope * (pm + p0)


def _theil_sen(p: np.ndarray, y: np.ndarray, *, max_points: int = 400) -> float:
    """Median of pairwise slopes (Theil-Sen), on at most ``max_points`` evenly spaced points."""
    idx = np.linspace(0, len(p) - 1, min(len(p), max_points)).round().astype(int)
    pp, yy = p[idx], y[idx]
    i, j = np.triu_indices(len(pp), 1)
    dp = pp[j] - pp[i]
    ok = dp > 0
    return float(median((yy[j] - yy[i])[ok] / dp[ok])) if np.any(ok) else 0.0


def end_edge(x: np.ndarray) -> int | None:
    """Index of the last sample above 10 % of the peak, if the signal ends by decaying.

    Returns None when the signal is still at full level in its last samples
    (the file was cut, so its end says nothing about timing).
    """
    a = np.abs(x)
    if len(a) < 16:
        return None
    peak = float(percentile(a, 99.9))
    if peak <= 1e-6 or float(a[-8:].max()) > 0.1 * peak:
        return None
    hit = np.flatnonzero(a > 0.1 * peak)
    return int(hit[-1]) if len(hit) else None


def _end_edge_offset(ref: AudioSource, rec: AudioSource, offset: float, scale: float,
                     period: float) -> tuple[float, bool]:
    """Resolve the last segment's whole-period ambiguity from the end edges, if both have one.

    After a skip in a steady tone the local delay is known modulo a period;
    where the reference and the received audio both end with a decay (a fade
    or ramp), the two ends give the offset to within a sample. A move by
    whole periods must also fit the end: it stands only where it leaves at
    most :data:`END_EDGE_GAIN` of the residual that the track's own offset
    leaves there (noise 20 dB under a fading tone can cross the edge's
    threshold after the decay, and the edges then disagree by periods).
    """
    fs = ref.sample_rate_hz
    tail = min(ref.frames, rec.frames, 2 * fs)
    er = end_edge(mono(ref.read(ref.frames - tail, tail)))
    ey = end_edge(mono(rec.read(rec.frames - tail, tail)))
    if er is None or ey is None:
        return offset, False
    pos_r = ref.frames - tail + er
    pos_y = rec.frames - tail + ey
    coarse = pos_y - pos_r * scale
    k = round((coarse - offset) / period)
    if k and _tail_cost(ref, rec, pos_r, offset + k * period, scale) \
            > END_EDGE_GAIN * _tail_cost(ref, rec, pos_r, offset, scale):
        # the edges moved the segment by whole periods, but its end does not fit the better
        # for it: one edge is noise that crossed the threshold, not the decay
        return offset, False
    return offset + k * period, True


#: A whole-period move from the end edges stands only if it leaves at most this share of the
#: residual over the end that the track's own offset leaves.
END_EDGE_GAIN = 0.5


def _tail_cost(ref: AudioSource, rec: AudioSource, edge_r: int, offset: float,
               scale: float) -> float:
    """Squared residual over a reference end edge under one alignment.

    Over the 100 ms up to the reference's end edge ``edge_r`` and 10 ms past
    it, after a least-squares gain, with reference sample ``p`` on received
    sample ``q = p * scale + offset``; infinite when that span is not received.
    """
    fs = ref.sample_rate_hz
    q_lo = max(int(np.floor((edge_r - fs // 10) * scale + offset)), 0)
    q_hi = min(int(np.ceil((edge_r + fs // 100) * scale + offset)), rec.frames)
    if q_hi - q_lo < 4:
        return float("inf")
    y = mono(rec.read(q_lo, q_hi - q_lo))
    (r,) = _reference_on(ref, q_lo, q_hi, (offset,), scale)
    return _fit_cost(y, r)


def _reference_on(ref: AudioSource, q_lo: int, q_hi: int, offsets: Sequence[float],
                  scale: float) -> list[np.ndarray]:
    """The mono reference on received samples ``q_lo .. q_hi-1`` under each offset.

    Reference sample ``p`` lies on received sample ``q = p * scale + offset``;
    one read covers every offset.
    """
    n = np.arange(q_lo, q_hi, dtype=np.float64)
    pos = [(n - c) / scale for c in offsets]
    lo = int(np.floor(min(x[0] for x in pos))) - HALF_TAPS - 2
    hi = int(np.ceil(max(x[-1] for x in pos))) + HALF_TAPS + 2
    r = mono(ref.read(lo, hi - lo))[:, None]
    return [interpolate(r, x, origin=lo)[:, 0] for x in pos]


def _fit_cost(y: np.ndarray, r: np.ndarray) -> float:
    """Squared residual of ``y`` after ``r`` times its least-squares gain."""
    e = y - _ls_gain(y, r) * r
    return float(np.dot(e, e))


def _drop_excursions(cuts: list[int], det: np.ndarray, p: np.ndarray, tol: float, *,
                     min_len: int, fills: set[int] | None = None) -> list[int]:
    """Remove runs of cuts that bound a short excursion which returns to the same offset.

    Concealment (PLC) can pull the local delay aside for a packet or two (one
    or more short segments) and back; that is a glitch, not a splice, and the
    detectors report it. Cuts ``i..j`` go when they span less than
    ``min_len`` samples of reference and the segments before ``i`` and after
    ``j`` sit within ``tol`` of each other (whole-segment medians), unless one
    of them is in ``fills``: a cut at a receiver's zero fill is an edit, and the
    audio after it the receiver's own (a fill and a later cut can return a
    tone to its phase, to within the tolerance, by coincidence).
    """
    fills = fills or set()
    changed = True
    while changed and len(cuts) >= 2:
        changed = False
        bounds = [0, *cuts, len(det)]
        for i in range(len(cuts) - 1):
            before = float(median(det[bounds[i]:cuts[i]]))
            for j in range(len(cuts) - 1, i, -1):
                if p[cuts[j]] - p[cuts[i]] >= min_len or fills.intersection(cuts[i:j + 1]):
                    continue
                after = float(median(det[cuts[j]:bounds[j + 2]]))
                if abs(after - before) <= tol:
                    cuts = cuts[:i] + cuts[j + 1:]
                    changed = True
                    break
            if changed:
                break
    return cuts


#: Shortest run of digital zeros in a tone that is a receiver's fill, samples (as in
#: _locate_splice).
MIN_FILL_SAMPLES = 8


def _cuts_at_fills(rec: AudioSource, cuts: list[int], p: np.ndarray,
                   lag: np.ndarray) -> set[int]:
    """The cuts of a tone's track whose gap holds a receiver's fill.

    A steady tone has no digital silence, so a run of at least
    :data:`MIN_FILL_SAMPLES` digital zeros in the received samples between the
    points either side of a cut (at ``p + lag``) is the receiver's fill.

    Returns
    -------
    set of int
        Indices from ``cuts`` (track points that start a segment).
    """
    out = set()
    for c in cuts:
        lo = max(int(np.floor(p[c - 1] + lag[c - 1])), 0)
        hi = min(int(np.ceil(p[c] + lag[c])), rec.frames)
        if hi - lo < MIN_FILL_SAMPLES:
            continue
        zero = np.all(np.abs(rec.read(lo, hi - lo)) < 2.0 ** -16, axis=1).astype(np.int8)
        d = np.diff(np.concatenate(([0], zero, [0])))
        if np.any(np.flatnonzero(d == -1) - np.flatnonzero(d == 1) >= MIN_FILL_SAMPLES):
            out.add(c)
    return out


def _place_breaks(ref: AudioSource, rec: AudioSource, p: np.ndarray, lag: np.ndarray,
                  seg_id: np.ndarray, slope: float, intercepts: list[float],
                  period_samples: float | None,
                  score: np.ndarray) -> tuple[list[float], float, bool, list[int]]:
    """Final offsets and slope of the segments, and each splice placed to the sample.

    The search for a splice starts at segment A's last point, or earlier where
    A ends in points that matched poorly (:func:`_doubtful_tail`).

    Returns
    -------
    intercepts, slope, last_resolved, breaks
        ``last_resolved``: the last segment's whole periods were resolved from
        the end edges (:func:`_end_edge_offset`).
    """
    nseg = int(seg_id.max()) + 1
    intercepts = list(intercepts)
    if len(p) < 4 or (p[-1] - p[0]) < 2 * ref.sample_rate_hz:
        # too short a baseline for a meaningful drift figure
        slope = 0.0
        intercepts = [float(median(lag[seg_id == s])) for s in range(nseg)]
    # Digital paths with no resampling delay by whole samples: when the track is
    # consistent with that (no drift, integer offsets), snap to it, since the
    # fitted fraction is then only estimation noise.
    snapped = np.array([np.round(median(lag[seg_id == s])) for s in range(nseg)])
    dev = np.abs(lag - snapped[seg_id])
    if float(median(dev)) < 0.03 and float(percentile(dev, 90.0)) < 0.1:
        slope = 0.0
        intercepts = [float(v) + 0.0 for v in snapped]  # (+ 0.0: no "-0.00" in reports)
    last_resolved = False
    if period_samples and nseg > 1:
        intercepts[-1], last_resolved = _end_edge_offset(ref, rec, intercepts[-1], 1.0 + slope,
                                                         period_samples)
    scale = 1.0 + slope
    # model: q = p*scale + c  <=>  offset c
    breaks: list[int] = []
    for s in range(1, nseg):
        i_last = _doubtful_tail(score, np.flatnonzero(seg_id == s - 1))
        i_first = int(np.flatnonzero(seg_id == s)[0])
        # the splice lies inside the span that the two segments' own points cover (a dense
        # track's short segments: the search must not reach the next edit)
        first_a = int(np.flatnonzero(seg_id == s - 1)[0])
        last_b = int(np.flatnonzero(seg_id == s)[-1])
        limits = (p[first_a] * scale + intercepts[s - 1], p[last_b] * scale + intercepts[s])
        breaks.append(_locate_splice(ref, rec, p[i_last], p[i_first], intercepts[s - 1],
                                     intercepts[s], scale, limits=limits))
    return intercepts, slope, last_resolved, breaks


#: A correlation point matched poorly: its score is under this share of its segment's median.
DOUBTFUL_SCORE = 0.9
#: ... and a segment's trailing run of such points is searched for its splice, at most this
#: many points (a window after a cut can still match the old lag a pitch period away).
DOUBTFUL_POINTS = 5


def _doubtful_tail(score: np.ndarray, idx: np.ndarray) -> int:
    """Index of the first point of a segment's trailing run of poor matches (else its last).

    Voiced speech repeats every pitch period: after a cut of about one period,
    a window's narrow search can still find the old lag at a poorer score
    (Speex speech, 10 ms cut: 0.75 against 0.9 before it) for a hop or two,
    so the splice may lie before the segment's last point.
    """
    i = len(idx) - 1
    floor = DOUBTFUL_SCORE * float(median(score[idx]))
    while i > 0 and len(idx) - i <= DOUBTFUL_POINTS and score[idx[i]] < floor:
        i -= 1
    return int(idx[i])


#: A splice in a correlation track stands when the two alignments, each on its side, leave
#: at most this share of the residual that either alignment alone leaves (1 dB less).
SPLIT_GAIN = 10 ** (-1 / 10)
#: ... over at most this much received audio either side of the splice, s.
SPLIT_REACH_S = 0.5


def _split_supported(ref: AudioSource, rec: AudioSource, p: np.ndarray, seg_id: np.ndarray,
                     i: int, b: int, intercepts: list[float], scale: float) -> bool:
    """Whether the waveform needs splice ``i`` (received sample ``b``) between segments i, i+1.

    Over the two segments' own spans (at most :data:`SPLIT_REACH_S` either
    side), the split, each side with its own alignment and least-squares
    gain, must leave at most :data:`SPLIT_GAIN` of the residual of the better
    of the two alignments alone. A real skip or insertion misaligns one side
    under either alignment (1.25 ms cut out of Speex speech: 2.9 dB; 10 ms,
    with the splice placed 126 ms late: more); a codec whose phase response
    moves the lag of a correlation track by 1-5 samples for a few hundred ms
    leaves the waveform no better fitted by the split (0.0-0.2 dB).
    """
    fs = ref.sample_rate_hz
    idx_a, idx_b = np.flatnonzero(seg_id == i), np.flatnonzero(seg_id == i + 1)
    reach = int(SPLIT_REACH_S * fs)
    q_lo = max(b - reach, int(np.floor(p[idx_a[0]] * scale + intercepts[i])), 0)
    q_hi = min(b + reach, int(np.ceil(p[idx_b[-1]] * scale + intercepts[i + 1])), rec.frames)
    if not q_lo < b < q_hi:
        return True  # nothing to weigh it on: the track's own evidence stands
    y = mono(rec.read(q_lo, q_hi - q_lo))
    ra, rb = _reference_on(ref, q_lo, q_hi, (intercepts[i], intercepts[i + 1]), scale)
    k = b - q_lo
    split = _fit_cost(y[:k], ra[:k]) + _fit_cost(y[k:], rb[k:])
    return split <= SPLIT_GAIN * min(_fit_cost(y, ra), _fit_cost(y, rb))


def _locate_splice(ref: AudioSource, rec: AudioSource, p_a: float, p_b: float, c_a: float,
                   c_b: float, scale: float, *,
                   limits: tuple[float, float] | None = None) -> int:
    """Received sample where alignment A gives way to alignment B (least squares change point).

    ``limits`` bounds the search, received samples (where segment A's first
    point and segment B's last point lie).
    """
    fs = ref.sample_rate_hz
    win = int(0.1 * fs)
    q_lo = int(np.floor(min(p_a * scale + c_a, p_b * scale + c_b))) - win // 4
    q_hi = int(np.ceil(max(p_a * scale + c_a, p_b * scale + c_b))) + win
    if limits is not None:
        q_lo = max(q_lo, int(np.floor(min(limits))))
        q_hi = min(q_hi, int(np.ceil(max(limits))))
    q_lo = max(q_lo, 0)
    q_hi = min(q_hi, rec.frames)
    if q_hi - q_lo < 4:
        return int(q_lo)
    y = mono(rec.read(q_lo, q_hi - q_lo))
    n = np.arange(q_lo, q_hi, dtype=np.float64)
    span_lo = int(min((q_lo - c_a) / scale, (q_lo - c_b) / scale)) - 64
    span_hi = int(max((q_hi - c_a) / scale, (q_hi - c_b) / scale)) + 64
    r = mono(ref.read(span_lo, span_hi - span_lo))[:, None]
    ra = interpolate(r, (n - c_a) / scale, origin=span_lo)[:, 0]
    rb = interpolate(r, (n - c_b) / scale, origin=span_lo)[:, 0]
    # each alignment with its own gain, from the quarter of the window it surely owns (one
    # gain for both goes negative near a half-period jump and puts the splice anywhere)
    # (a quarter too quiet to tell, e.g. a speech pause, takes the window's shared gain)
    qn = max(len(y) // 4, 1)
    shared = abs(_ls_gain(y, 0.5 * (ra + rb)))
    loud = 0.1 * float(np.dot(y, y)) / max(len(y), 1) * qn
    ga = abs(_ls_gain(y[:qn], ra[:qn])) if float(np.dot(y[:qn], y[:qn])) > loud else shared
    gb = abs(_ls_gain(y[-qn:], rb[-qn:])) if float(np.dot(y[-qn:], y[-qn:])) > loud else shared
    ea = (y - ga * ra) ** 2
    eb = (y - gb * rb) ** 2
    cost = np.concatenate(([0.0], np.cumsum(ea))) + (eb.sum() - np.concatenate(([0.0],
                                                                                 np.cumsum(eb))))
    best = float(cost.min())
    # A receiver splices at its fill: the end of a run of digital zeros whose cost is within
    # a few per cent of the best (over the fill and quiet audio both alignments fit alike)
    zero = np.abs(y) < 2.0 ** -16
    after_zeros = np.flatnonzero(zero[:-1] & ~zero[1:]) + 1  # first sample after a zero run
    ends = [int(e) for e in after_zeros if zero[max(e - 8, 0):e].all()]
    near = [e for e in ends if cost[e] <= best + 0.05 * (float(cost.max()) - best)]
    if near:
        return int(q_lo + min(near, key=lambda e: abs(e - int(np.argmin(cost)))))
    # where both alignments fit equally (silence), take the middle of the tie
    tie = np.flatnonzero(cost <= best + 1e-9 * max(float(cost.max()), 1e-30))
    return int(q_lo + int(tie[len(tie) // 2]))


def _ls_gain(y: np.ndarray, r: np.ndarray) -> float:
    den = float(np.dot(r, r))
    return float(np.dot(y, r) / den) if den > 1e-20 else 0.0


def _gains(ref: AudioSource, rec: AudioSource, points: Sequence[LagPoint], slope: float, *,
           nch: int | None = None, window_s: float = 0.1,
           max_points: int = 60) -> tuple[float, ...]:
    """Median over analysis windows of each channel's least-squares gain."""
    fs = ref.sample_rate_hz
    nch = nch or rec.channels
    win = int(window_s * fs)
    if len(points) > max_points:
        idx = np.linspace(0, len(points) - 1, max_points).round().astype(int)
        points = [points[i] for i in idx]
    per: list[list[float]] = [[] for _ in range(nch)]
    for pt in points:
        start = pt.ref_pos - win // 2
        q0 = int(np.floor(start + pt.lag))
        n = np.arange(q0, q0 + win, dtype=np.float64)
        pos = (n - (pt.lag - slope * pt.ref_pos)) / (1 + slope)
        r = interpolate(broadcast_channels(ref.read(start - 64, win + 128), nch), pos,
                        origin=start - 64)
        y = rec.read(q0, win)
        for ch in range(nch):
            g = robust_gain(y[:, ch], r[:, ch], frame=max(int(fs / 1000), 4))
            if g is not None:
                per[ch].append(g)
    return tuple(float(median(v)) if v else 0.0 for v in per)


def robust_gain(y: np.ndarray, r: np.ndarray, *, frame: int) -> float | None:
    """Least-squares gain of ``y`` on ``r``, refitted without outlier frames.

    Frames (``frame`` samples) whose residual power exceeds 10 times the
    median are left out of the second fit, so that a dropout or glitch in the
    window does not bias the gain.

    Returns
    -------
    float or None
        None when ``r`` is silent.
    """
    den = float(np.dot(r, r))
    if den <= len(r) * 1e-8:
        return None
    g = float(np.dot(y, r) / den)
    nf = len(r) // frame
    if nf < 4:
        return g
    e = (y[:nf * frame] - g * r[:nf * frame]).reshape(nf, frame)
    pe = (e * e).mean(axis=1)
    keep = np.repeat(pe <= 10 * median(pe) + 1e-20, frame)
    rk, yk = r[:nf * frame][keep], y[:nf * frame][keep]
    den = float(np.dot(rk, rk))
    return float(np.dot(yk, rk) / den) if den > 1e-20 else g


def running_median(x: np.ndarray, width: int) -> np.ndarray:
    """Median of the ``width`` points centred on each point (odd ``width``), edges repeated.

    ``scipy.ndimage.median_filter(x, width, mode="nearest")``, without importing scipy.
    """
    half = width // 2
    xp = np.concatenate((np.repeat(x[:1], half), x, np.repeat(x[-1:], half)))
    return median(np.lib.stride_tricks.sliding_window_view(xp, width), axis=1)


def broadcast_channels(r: np.ndarray, nch: int) -> np.ndarray:
    """Broadcast a mono reference block, shape (n, 1), to ``nch`` channels."""
    if r.shape[1] == nch:
        return r
    return np.repeat(r[:, :1], nch, axis=1)


def aligned_reference(ref: AudioSource, model: AlignmentModel, start: int, stop: int, *,
                      channels: int) -> np.ndarray:
    """The reference resampled onto received samples ``start .. stop-1``, before any gain.

    Parameters
    ----------
    ref : AudioSource
    model : AlignmentModel
    start, stop : int
        Received sample span.
    channels : int
        Channels wanted (a mono reference is broadcast).

    Returns
    -------
    np.ndarray, shape=(stop - start, channels), float64
        Zero where the span maps outside the reference.
    """
    if stop <= start:
        return np.zeros((0, channels))
    if not model.drift_ppm and all(float(o).is_integer() for o in model.offsets):
        # whole-sample delays and no drift (a digital path): plain reads, segment by segment
        bounds = [start, *(b for b in model.breaks if start < b < stop), stop]
        seg0 = int(np.searchsorted(np.asarray(model.breaks, dtype=np.int64), start,
                                   side="right"))
        parts = [broadcast_channels(ref.read(a - int(model.offsets[seg0 + i]), b - a), channels)
                 for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
    pos = model.ref_positions(start, stop)
    lo = int(np.floor(pos.min())) - HALF_TAPS - 2
    hi = int(np.ceil(pos.max())) + HALF_TAPS + 2
    if hi - lo > 2 * (stop - start) + 8 * ref.sample_rate_hz:
        # splices far apart inside one span: read each piece on its own
        step = 4096
        return np.concatenate([aligned_reference(ref, model, a, min(a + step, stop),
                                                 channels=channels)
                               for a in range(start, stop, step)])
    return interpolate(broadcast_channels(ref.read(lo, hi - lo), channels), pos, origin=lo)
