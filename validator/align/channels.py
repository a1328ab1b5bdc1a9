"""Channels: which reference channel each received channel carries, and one alignment each.

A stereo capture is not one signal. With a different tone per channel (997 Hz
left, 1499 Hz right) each has its own period, so one skip can shift one
channel by 0.015 cycle and the other by half a cycle (FIELD-NOTES, "stereo
with one tone per channel"); aligned on the channel mean with one period, a
bit-exact channel reads "polarity inverted". Channels may also arrive swapped
or one of them upside down. So:

1. :func:`channel_map` finds the reference channel each received channel
   carries: the assignment that maximises the polarity-blind normalised
   correlation (best over the searched delays) of the heads. The identity is
   kept unless another assignment is clearly better.
2. :func:`align_channels` measures the delay, the lag track, drift and
   splices of every received channel against its own reference channel, so
   that per-channel polarity, gain and splices are each channel's own.
3. :class:`ChannelAlignments` carries the models and gives the aligned
   reference of any channel (:meth:`~ChannelAlignments.expected`), for the
   feature pass, the sample-level second look and the report's plots.

Whether all channels share one clock (same drift, same splice positions) is
reported by :attr:`ChannelAlignments.shared_clock`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from validator.align.delay import DelayEstimate, estimate_delay
from validator.align.phase import (
    PHASE_SIGMA_FLOOR,
    WINDOW_PERIODS,
    min_step_samples,
    parallel_map,
    phase_track,
    phase_tracks,
)
from validator.align.track import (
    AlignmentModel,
    LagPoint,
    aligned_reference,
    fit_model,
    track_lags,
)
from validator.align.xcorr import ncc
from validator.io.audio import AudioSource

#: Another channel assignment replaces the identity only when its mean |NCC| is higher by this.
MAP_MARGIN = 0.2
#: Seconds of each head compared for the channel map.
MAP_HEAD_S = 2.0
#: Splices of two channels closer than this are the same splice (shared clock), s.
SAME_SPLICE_S = 0.002


class ChannelView(AudioSource):
    """One channel of a source, as a mono source.

    Parameters
    ----------
    source : AudioSource
    channel : int
        Zero-based channel index in ``source``.
    """

    def __init__(self, source: AudioSource, channel: int) -> None:
        self.source = source
        self.channel = channel
        self.name = source.name
        self.identity = None if source.identity is None else (source.identity, "channel",
                                                                channel)
        self.sample_rate_hz = source.sample_rate_hz
        self.channels = 1
        self.frames = source.frames
        self.checks_samples = False  # the source checks what it reads

    def _read(self, start: int, frames: int) -> np.ndarray:
        return self.source.read(start, frames)[:, self.channel:self.channel + 1]

    def read_windows(self, starts: np.ndarray, length: int) -> np.ndarray:  # noqa: D102
        return self.source.read_windows(starts, length)[:, :, self.channel:self.channel + 1]


@dataclass(frozen=True)
class ChannelAlignments:
    """Every received channel's alignment to its reference channel.

    Attributes
    ----------
    models : tuple of AlignmentModel
        One per received channel (each with one gain: its own).
    estimates : tuple of DelayEstimate
        The global delay of each channel, for confidence and notes.
    channel_map : tuple of int
        ``channel_map[i]`` is the reference channel that received channel
        ``i`` carries (0 for every channel with a mono reference).
    reference : AudioSource
        The reference, all its channels.
    """

    models: tuple[AlignmentModel, ...]
    estimates: tuple[DelayEstimate, ...]
    channel_map: tuple[int, ...]
    reference: AudioSource

    def shifted(self, origin: int) -> ChannelAlignments:
        """The same alignments for a view of the received audio whose sample 0 is ``origin``."""
        return replace(self, models=tuple(m.shifted(origin) for m in self.models))

    def reference_channel(self, ch: int) -> AudioSource:
        """The reference channel that received channel ``ch`` carries, as a mono source."""
        return ChannelView(self.reference, self.channel_map[ch])

    def gain(self, ch: int) -> float:
        """Received over reference amplitude of channel ``ch`` (negative: upside down)."""
        return float(self.models[ch].gains[0])

    def aligned(self, ch: int, start: int, stop: int) -> np.ndarray:
        """The reference of channel ``ch`` on received samples ``start .. stop-1``, before gain.

        Returns
        -------
        np.ndarray, shape=(stop - start,), float64
            Zero where the span maps outside the reference.
        """
        return aligned_reference(self.reference_channel(ch), self.models[ch], start, stop,
                                 channels=1)[:, 0]

    def aligned_all(self, start: int, stop: int) -> np.ndarray:
        """Every channel's reference on received samples ``start .. stop-1``, before gain.

        Where every channel shares one map (the same offsets, splices and drift)
        and carries its own reference channel, or a mono reference, the
        reference is read once for all channels; otherwise channel by channel.

        Returns
        -------
        np.ndarray, shape=(stop - start, n_channels), float64
        """
        n = len(self.models)
        first = self.models[0]
        same_map = all((m.offsets, m.breaks, m.drift_ppm) == (first.offsets, first.breaks,
                                                              first.drift_ppm)
                       for m in self.models[1:])
        identity = self.channel_map == tuple(range(n)) and self.reference.channels == n
        mono = self.reference.channels == 1
        if n > 1 and same_map and (identity or mono):
            return aligned_reference(self.reference, first, start, stop, channels=n)
        return np.stack([self.aligned(ch, start, stop) for ch in range(n)], axis=1)

    def expected(self, ch: int, start: int, stop: int) -> np.ndarray:
        """What channel ``ch`` should hold on received samples ``start .. stop-1``.

        Returns
        -------
        np.ndarray, shape=(stop - start,), float64
            The aligned reference times the channel's gain.
        """
        return self.aligned(ch, start, stop) * self.gain(ch)

    @property
    def shared_clock(self) -> bool:
        """All channels share one timeline: the same drift and splices at the same places."""
        first = self.models[0]
        fs = self.reference.sample_rate_hz
        for m in self.models[1:]:
            if abs(m.drift_ppm - first.drift_ppm) > 1.0 or len(m.breaks) != len(first.breaks):
                return False
            if any(abs(a - b) > SAME_SPLICE_S * fs for a, b in zip(m.breaks, first.breaks,
                                                                   strict=True)):
                return False
        return True


def channel_map(*, reference: AudioSource, received: AudioSource,
                max_delay_s: float) -> tuple[int, ...]:
    """The reference channel that each received channel carries.

    Parameters
    ----------
    reference, received : AudioSource
        With the same number of channels (a mono reference maps every
        received channel to 0).
    max_delay_s : float
        Largest delay searched, s.

    Returns
    -------
    tuple of int
        ``out[i]``: reference channel of received channel ``i``; the identity
        unless another assignment's mean |NCC| is higher by :data:`MAP_MARGIN`.

    Notes
    -----
    The score of a pair is the highest |NCC| of the reference head against
    the received head over the searched delays, so it is blind to delay and
    polarity; the assignment is the one with the highest total
    (``scipy.optimize.linear_sum_assignment``, Kuhn-Munkres).
    """
    ref, rec = reference, received
    n = rec.channels
    if ref.channels == 1 or n == 1:
        return (0,) * n
    fs = ref.sample_rate_hz
    head = int(min(ref.frames, MAP_HEAD_S * fs))
    span = int(min(max_delay_s * fs, max(rec.frames - head // 2, 0))) + head
    r = ref.read(0, head)
    y = rec.read(0, span)
    score = np.zeros((n, ref.channels))
    for i in range(n):
        for j in range(ref.channels):
            if np.any(r[:, j]) and np.any(y[:, i]) and len(y) >= head:
                score[i, j] = float(np.max(np.abs(ncc(r[:, j], y[:, i]))))
    best = _best_assignment(score)
    identity = tuple(range(n))
    gain = (score[np.arange(n), list(best)].mean() - score[np.arange(n), list(identity)].mean())
    return best if gain > MAP_MARGIN else identity


def _best_assignment(score: np.ndarray) -> tuple[int, ...]:
    """The column of each row that maximises the total score, each column used once.

    Up to 8 rows every permutation is tried (exact, and no scipy import on the
    path of a stereo validation); more rows go to Kuhn-Munkres
    (``scipy.optimize.linear_sum_assignment``).
    """
    n, m = score.shape
    if n <= 8:
        import itertools

        cols = max(itertools.permutations(range(m), n),
                   key=lambda p: float(score[np.arange(n), list(p)].sum()))
        return tuple(int(c) for c in cols)
    from scipy.optimize import linear_sum_assignment

    rows, cols_ = linear_sum_assignment(-score)
    return tuple(int(c) for _, c in sorted(zip(rows, cols_, strict=True)))


def align_channels(*, reference: AudioSource, received: AudioSource, max_delay_s: float,
                   mapping: Sequence[int], threads: int = 1) -> ChannelAlignments:
    """Align every received channel to its reference channel.

    Parameters
    ----------
    reference, received : AudioSource
        Reference and received sources at the same sample rate.
    max_delay_s : float
        Largest delay searched, s.
    mapping : sequence of int
        From :func:`channel_map`.
    threads : int
        Blocks of a tone's phase track demodulated at once (the same alignment).

    Returns
    -------
    ChannelAlignments
        With one :class:`~validator.align.track.AlignmentModel` per received
        channel: global delay (:func:`~validator.align.delay.estimate_delay`),
        lag track, drift and splices (:func:`~validator.align.track.fit_model`).
    """
    ref, rec = reference, received
    views = [(ChannelView(ref, mapping[ch]), ChannelView(rec, ch)) for ch in range(rec.channels)]
    def delay_of(ch: int) -> DelayEstimate:
        r, y = views[ch]
        return estimate_delay(reference=r, received=y, max_delay_s=max_delay_s)

    # (each channel's delay on its own: in threads where there are several)
    estimates = shared_clock_delays(parallel_map(delay_of, range(rec.channels), threads))
    periods = [est.period_samples if est.method != "xcorr" else None for est in estimates]
    tracks = None
    if rec.channels > 1 and all(periods):  # tones on every channel: one read for all of them
        tracks = phase_tracks(reference=ref, received=rec, mapping=mapping,
                              initial_lags=[e.lag_samples for e in estimates],
                              periods_samples=[float(p or 0) for p in periods],
                              inverted=[e.inverted for e in estimates], threads=threads)
    models = []
    for ch, ((r, y), est, period) in enumerate(zip(views, estimates, periods, strict=True)):
        points = tracks[ch] if tracks is not None else lag_track(
            reference=r, received=y, initial_lag=est.lag_samples, period_samples=period,
            inverted=est.inverted, threads=threads)
        models.append(fit_track(points, reference=r, received=y, initial_lag=est.lag_samples,
                                period_samples=period))
    return ChannelAlignments(tuple(models), tuple(estimates), tuple(mapping), ref)


def lag_track(*, reference: AudioSource, received: AudioSource, initial_lag: float,
              period_samples: float | None, inverted: bool = False,
              threads: int = 1) -> Sequence[LagPoint]:
    """The local delay track of one channel: every period for a steady tone, else windowed.

    A steady tone is tracked by its demodulated phase
    (:func:`~validator.align.phase.phase_track`), which resolves edits a
    period apart; other signals by windowed cross-correlation
    (:func:`~validator.align.track.track_lags`, 100 ms windows, a hop of
    1/2000 of the reference between 50 ms and 1 s).

    Parameters
    ----------
    reference, received : AudioSource
        Mono reference and received sources.
    initial_lag : float
        Global delay, samples.
    period_samples : float or None
        The tone's period, samples; None for a signal that is not a steady tone.
    inverted : bool
        The received channel is upside down.
    threads : int
        Blocks of a phase track demodulated at once (the same track).

    Returns
    -------
    sequence of LagPoint
        A :class:`~validator.align.track.LagTrack` for a tone, a list otherwise.
    """
    ref, rec = reference, received
    if period_samples:
        return phase_track(reference=ref, received=rec, initial_lag=initial_lag,
                           period_samples=period_samples,
                           inverted=inverted, threads=threads)
    hop_s = max(0.05, min(1.0, ref.duration_s / 2000))
    return track_lags(reference=ref, received=rec, initial_lag=initial_lag, hop_s=hop_s,
                      inverted=inverted)


def fit_track(points: Sequence[LagPoint], *, reference: AudioSource, received: AudioSource,
              initial_lag: float, period_samples: float | None) -> AlignmentModel:
    """Drift and splices of one channel's lag track (:func:`lag_track`).

    A tone's phase track is fitted with the tolerances of a phase: a step is
    an edit from :data:`~validator.align.phase.MIN_PHASE_STEP_RAD` of phase,
    and the track's noise floor is
    :data:`~validator.align.phase.PHASE_SIGMA_FLOOR`; one step's transit holds
    at most the points of two windows (``2 * WINDOW_PERIODS`` at a hop of one
    period: the windows straddling either end of a fill).

    Parameters
    ----------
    points : sequence of LagPoint
    reference, received : AudioSource
        Mono reference and received sources.
    initial_lag : float
        Global delay, samples.
    period_samples : float or None
        The tone's period, samples; None for a correlation track.

    Returns
    -------
    AlignmentModel
    """
    ref, rec = reference, received
    if period_samples:
        return fit_model(points, reference=ref, received=rec, initial_lag=initial_lag,
                         period_samples=period_samples,
                         jump_tol=min_step_samples(period_samples),
                         sigma_floor=PHASE_SIGMA_FLOOR,
                         transition_points=int(2 * WINDOW_PERIODS))
    return fit_model(points, reference=ref, received=rec, initial_lag=initial_lag)


def shared_clock_delays(estimates: Sequence[DelayEstimate]) -> list[DelayEstimate]:
    """Make ambiguous tone delays agree with the most confident channel's delay.

    A steady tone's delay is known only modulo half its period (a half period
    later is the same sine upside down). Channels of one capture share one
    clock, so where a channel's delay is ambiguous, the point of its own
    lattice (its lag plus whole half periods, the sign flipping with each)
    nearest the most confident channel's lag, within half a sample, is taken:
    an inverted channel then reads as inverted, not as half a period late.
    The channels' own tracks afterwards check the shared clock.

    Parameters
    ----------
    estimates : sequence of DelayEstimate
        One per received channel.

    Returns
    -------
    list of DelayEstimate
        Unchanged where a channel is confident, not periodic, or no lattice
        point lies within half a sample of the reference lag.
    """
    out = list(estimates)
    if len(out) < 2:
        return out
    lead = max(range(len(out)), key=lambda i: out[i].confidence)
    target = out[lead].lag_samples
    for i, est in enumerate(out):
        if i == lead or not est.ambiguous or not est.period_samples or est.method == "xcorr":
            continue
        half = est.period_samples / 2
        j = round((target - est.lag_samples) / half)
        lag = est.lag_samples + j * half
        if abs(lag - target) <= 0.5:
            out[i] = replace(est, lag_samples=float(lag), inverted=est.inverted ^ bool(j % 2))
    return out
