"""Global delay: where the reference's first sample lands in the received file.

Sign convention (as ``scipy.signal.correlation_lags``): a positive lag means
the received audio lags the reference.

Method
------
1. Normalised cross-correlation (NCC) of the reference's head against the
   received head over every lag in ``[-max_lead, +max_delay]``.
2. If the reference is not periodic (speech, sweeps, multi-tones, a marker
   dominating the head) the highest peak is the delay, refined to a fraction
   of a sample by least squares on the reference and its derivative (a
   Gauss-Newton step of the model ``y(n) = g r(n - d)``).
3. Otherwise the signal is a steady tone, whose correlation repeats every
   period (FIELD-NOTES, "a pure sine gives no unambiguous delay"): see
   :func:`_tone_delay`. The onset (:func:`tone_onset`) or a sync marker gives
   coarse lags, whole-period candidates are compared at fractional lags over
   the reference's start, and the confidence is their posterior; below
   :data:`MIN_PERIOD_CONFIDENCE` the delay is reported as ambiguous.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from validator.align.interp import HALF_TAPS, interpolate
from validator.align.xcorr import autocorrelation, ncc, pick_peak
from validator.blas import dot
from validator.io.audio import AudioSource
from validator.io.kept import KeptBySamples
from validator.orderstats import median, percentile, unique_values

#: Runner-up/peak ratio above which the waveform correlation is called periodic.
PERIODIC_RATIO = 0.9


@dataclass(frozen=True)
class DelayEstimate:
    """Result of :func:`estimate_delay`.

    Attributes
    ----------
    lag_samples : float
        Delay in samples (fractional); positive when the received lags.
    confidence : float
        0..1; the NCC at the chosen lag, scaled down when a competing lag
        scores almost as high.
    ambiguous : bool
        True when the delay is only known modulo a period.
    method : str
        ``"xcorr"`` or ``"onset"``.
    period_samples : float or None
        Period of the correlation's repetition, for periodic references.
    note : str
        Anything the user should know (e.g. the received is active from its
        first sample).
    inverted : bool
        The received audio (all channels together) is the reference upside
        down: its correlation peak is negative.
    """

    lag_samples: float
    confidence: float
    ambiguous: bool
    method: str
    period_samples: float | None = None
    note: str = ""
    inverted: bool = False


def mono(y: np.ndarray) -> np.ndarray:
    """Mean of the channels, shape (n,) (a view of a single channel: no pass over it)."""
    if y.ndim == 2:
        return y[:, 0] if y.shape[1] == 1 else y.mean(axis=1)
    return y


def onset_index(x: np.ndarray, *, rel: float = 0.1) -> int | None:
    """First sample whose magnitude exceeds ``rel`` times the 99.9th percentile peak.

    Parameters
    ----------
    x : np.ndarray, shape=(n,)

    Returns
    -------
    int or None
        None for a silent signal.
    """
    a = np.abs(x)
    if len(a) == 0:
        return None
    peak = float(percentile(a, 99.9))
    if peak <= 1e-6:
        return None
    hit = np.flatnonzero(a > rel * peak)
    return int(hit[0]) if len(hit) else None


def refine_fraction(*, reference: AudioSource, received: AudioSource, lag: int, at: int = 0,
                    length: int | None = None, iterations: int = 3) -> float:
    """Refine an integer lag to a fractional one by least squares.

    Parameters
    ----------
    reference, received : AudioSource
        Reference and received sources.
    lag : int
        Integer delay in samples.
    at : int
        Reference sample where the fitted stretch starts.
    length : int, optional
        Length of the fitted stretch in samples (default 1 s).
    iterations : int
        Gauss-Newton steps.

    Returns
    -------
    float
        Fractional lag in samples (``lag`` plus a correction within +-1).
    """
    ref, rec = reference, received
    fs = ref.sample_rate_hz
    length = int(length or fs)
    y = mono(rec.read(at + lag, length))
    margin = 64
    r_full = mono(ref.read(at - margin, length + 2 * margin))[:, None]
    d = 0.0
    for _ in range(iterations):
        pos = np.arange(at, at + length) - d
        r = interpolate(r_full, pos, origin=at - margin)[:, 0]
        dr = _derivative(r)
        a_mat = np.stack([r, dr], axis=1)
        if np.dot(r, r) < 1e-12:
            return float(lag)
        coef, *_ = np.linalg.lstsq(a_mat, y, rcond=None)
        g, b = coef
        if abs(g) < 1e-9:
            return float(lag)
        step = -b / g
        d += float(np.clip(step, -1.0, 1.0))
        if abs(step) < 1e-4:
            break
    return float(lag + d)


def _derivative(x: np.ndarray) -> np.ndarray:
    """Exact band-limited derivative (per sample) through the FFT, Hann-tapered edges."""
    n = len(x)
    spec = np.fft.rfft(x)
    w = 2j * np.pi * np.fft.rfftfreq(n)
    return np.fft.irfft(spec * w, n)


def estimate_delay(*, reference: AudioSource, received: AudioSource, max_delay_s: float = 10.0,
                   head_s: float = 10.0) -> DelayEstimate:
    """Estimate the received audio's delay against the reference.

    Parameters
    ----------
    reference, received : AudioSource
        Reference and received sources at the same sample rate.
    max_delay_s : float
        Largest delay searched, in seconds. Leads (negative delays) are
        searched up to a quarter of the head.
    head_s : float
        Length of the reference's head used for correlation, in seconds.

    Returns
    -------
    DelayEstimate

    Notes
    -----
    See the module docstring for the method (NCC with an onset tie-break).
    """
    ref, rec = reference, received
    fs = ref.sample_rate_hz
    head = int(min(ref.frames, head_s * fs))
    max_lag = int(min(max_delay_s * fs, max(rec.frames - head // 2, 0)))
    lead = head // 4
    info = reference_head(ref, head)
    r = info.r
    # the received head from sample 0; the correlations take it from the largest lead
    # (zeros before the file), which a steady tone's delay needs only where all else fails
    y_head = mono(rec.read(0, min(rec.frames, head + max_lag)))
    if info.silent or not np.any(y_head):
        return DelayEstimate(0.0, 0.0, True, "none", note="silent input: no delay measurable")
    if info.periodicity < PERIODIC_RATIO:
        # The reference's own correlation has one peak, so the highest match is
        # the delay. (A runner-up in the cross-correlation is then a second true
        # alignment, e.g. after a skip, not an ambiguity.)
        y = _from_lead(y_head, lead, lead + max_lag + head)
        c, inverted = head_correlation(r, y)  # index i <-> lag i - lead
        peak = pick_peak(c)
        lag = peak.index - lead
        conf = max(0.0, peak.value)
        frac = refine_fraction(reference=ref, received=rec, lag=lag, at=info.busy_start or 0,
                               length=min(head, fs))
        return DelayEstimate(frac, conf, False, "xcorr", inverted=inverted)

    # Periodic: the waveform gives the delay modulo one period; the onset decides which.
    # (A steady tone's correlation over the head is flat: its highest peak says nothing, and
    # it is computed only where nothing better is left.)
    if not info.period:
        c, _ = head_correlation(r, _from_lead(y_head, lead, lead + max_lag + head))
        return DelayEstimate(float(pick_peak(c).index - lead), 0.0, True, "none", None,
                             "no tone period found: the delay is ambiguous")
    return _tone_delay(ref, rec, info, y_head, lead, max_lag=max_lag, head=head)


@dataclass(frozen=True, eq=False)
class ReferenceHead:
    """The reference's head and what the delay search learns from it alone.

    Every figure is a function of the head's samples: one ``ReferenceHead``
    serves every capture checked against the same reference
    (:func:`reference_head` keeps the last few). Compared by identity (it holds an array).

    Attributes
    ----------
    r : np.ndarray, shape=(n,), float64
        The head, mono (read-only).
    sample_rate_hz : int
    silent : bool
        The head is all zeros.
    periodicity : float
        :func:`periodicity` of the head (0 when silent).
    busy_start : int or None
        :func:`onset_index` (0 for none) where the search needs it: a head that is not
        periodic, or a tone with no lead-in; else None.
    period : float or None
        The tone's period (:func:`_period`), samples, for a periodic head.
    onset : ToneOnset or None
        The tone's onset (:func:`tone_onset`), for a tone.
    steady : tuple of int, or None
        The tone's steady span (:func:`steady_tone_span`).
    anchor : int
        Where the tone's content starts: its onset after a lead-in, else ``busy_start``.
    content_start : int
        First sample within 60 dB of the peak.
    marker : bool
        A broadband sync marker precedes the steady tone (its correlation gives a
        coarse lag).
    """

    r: np.ndarray
    sample_rate_hz: int
    silent: bool
    periodicity: float
    busy_start: int | None = None
    period: float | None = None
    onset: ToneOnset | None = None
    steady: tuple[int, int] | None = None
    anchor: int = 0
    content_start: int = 0
    marker: bool = False


def analyse_reference_head(r: np.ndarray, sample_rate_hz: int) -> ReferenceHead:
    """What :func:`estimate_delay` needs of the reference's head alone.

    Parameters
    ----------
    r : np.ndarray, shape=(n,), float64
        The reference's head, mono (kept, read-only).
    sample_rate_hz : int

    Returns
    -------
    ReferenceHead
    """
    fs = sample_rate_hz
    r.flags.writeable = False
    if not np.any(r):
        return ReferenceHead(r, fs, True, 0.0)
    ratio = periodicity(r, fs)
    if ratio < PERIODIC_RATIO:
        return ReferenceHead(r, fs, False, ratio, busy_start=_busy_start(r))
    period = _period(r, fs)
    if not period:
        return ReferenceHead(r, fs, False, ratio)
    dm = _Demodulation(r, fs / period, fs)  # one demodulation for the onset and steady span
    onset = _tone_onset(dm)
    if onset is None:
        return ReferenceHead(r, fs, False, ratio, period=period)
    busy = None if onset.lead_in else _busy_start(r)
    anchor = onset.index if busy is None else busy
    steady = _steady_tone_span(dm, MIN_STEADY_RUN_S)
    content = _content_start(r)
    marker_probe = r[anchor:anchor + int(MARKER_PROBE_S * fs)]
    # a marker is broadband and precedes the steady tone (a fade-in is neither)
    late_tone = steady is not None and steady[0] - content > MARKER_GAP_S * fs
    marker = bool(late_tone and len(marker_probe) > 8 * period
                  and periodicity(marker_probe, fs) < PERIODIC_RATIO)
    return ReferenceHead(r, fs, False, ratio, busy, period, onset, steady, anchor, content,
                         marker)


#: Reference heads kept by :func:`reference_head` (the newest).
HEADS_KEPT = 4
_heads: KeptBySamples[ReferenceHead] = KeptBySamples(HEADS_KEPT)


def reference_head(ref: AudioSource, head: int) -> ReferenceHead:
    """The reference's first ``head`` samples, analysed, or kept from an earlier call.

    A batch checks many captures against one reference: its head's analysis
    (about a third of the delay search on a 10 s tone) is kept for the
    :data:`HEADS_KEPT` newest references whose source has an
    :attr:`~validator.io.audio.AudioSource.identity`, and used again only
    when the head read now is the kept one, sample for sample (about a
    millisecond for 10 s at 48 kHz; :class:`~validator.io.kept.KeptBySamples`).
    So the figures are always those :func:`analyse_reference_head` gives on
    the samples read.

    Parameters
    ----------
    ref : AudioSource
        The reference (one channel of it).
    head : int
        Samples from the start.

    Returns
    -------
    ReferenceHead

    Raises
    ------
    AudioFormatError
        As :meth:`~validator.io.audio.AudioSource.read`.
    """
    r = mono(ref.read(0, head))
    key = None if ref.identity is None else (ref.identity, head, ref.sample_rate_hz)
    kept = _heads.get(key, r)
    if kept is not None:
        return kept
    info = analyse_reference_head(r, ref.sample_rate_hz)
    _heads.put(key, r, info)
    return info


def _from_lead(y_head: np.ndarray, lead: int, length: int) -> np.ndarray:
    """The received head read from sample ``-lead``: ``y_head`` with zeros before and after.

    Returns
    -------
    np.ndarray, shape=(length,), float64
        What ``mono(rec.read(-lead, length))`` gives (zeros outside the file).
    """
    y = np.zeros(length)
    y[lead:lead + len(y_head)] = y_head
    return y


def head_correlation(r: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, bool]:
    """NCC of the reference's head over the received head, upright, and whether it was not.

    Parameters
    ----------
    r : np.ndarray, shape=(n,)
        The reference's head.
    y : np.ndarray, shape=(m,), ``m >= n``
        The received head, from the largest lead searched.

    Returns
    -------
    c : np.ndarray, shape=(m - n + 1,)
        The NCC (:func:`~validator.align.xcorr.ncc`), negated when the received
        is upside down.
    inverted : bool
        The highest peak is negative (by more than 0.02): a polarity inversion.
    """
    c = ncc(r, y)
    inverted = bool(-c.min() > c.max() + 0.02)
    return (-c if inverted else c), inverted


#: Posterior probability of the chosen period below which a tone's delay is "ambiguous".
MIN_PERIOD_CONFIDENCE = 0.9
#: Reference time from its start over which the tone's period candidates are compared, s
#: (a sync marker, its gap and the tone's onset).
START_SPAN_S = 0.3
#: Length of a reference's start probed for a sync marker (broadband, not the tone), s.
MARKER_PROBE_S = 0.05
#: A sync marker ends this long at least before the steady tone starts, s.
MARKER_GAP_S = 0.02
#: Length of steady tone after its start on which the lag's fraction is measured, s.
STEADY_PROBE_S = 0.1
#: Residual power, relative to the tone's, below which the reference model is not trusted
#: (the 32-tap interpolator's error; -70 dB).
MODEL_FLOOR = 1e-7
#: Step of the tone's amplitude at its onset, over the lead-in, needed to see an onset, dB.
MIN_ONSET_STEP_DB = 12.0


@dataclass(frozen=True)
class ToneOnset:
    """Where a steady tone starts: the change point of its amplitude over the lead-in.

    Attributes
    ----------
    index : int
        First sample of the tone (0 when it is there from the first sample).
    lead_in : bool
        True when a lead-in (silence or noise) precedes the tone, so the onset
        was observed; False when the tone is at its level from the first sample.
    step_db : float
        Amplitude step from the lead-in to the tone, dB.
    """

    index: int
    lead_in: bool
    step_db: float


def tone_onset(x: np.ndarray, frequency_hz: float, sample_rate_hz: int) -> ToneOnset | None:
    """Find the onset of a steady tone as a change point of its demodulated amplitude.

    The signal is demodulated at the tone frequency (quadrature: ``x e^{-j w n}``)
    and smoothed over two periods, which rejects most of the noise outside the
    tone's band. The onset is the least-squares change point of the squared
    amplitude (one mean before, one after, found in O(n) with cumulative sums)
    before its first rise to half the tone's median level, so that a later gap
    or level step cannot take its place.
    A threshold at a fraction of the peak (the usual method) sits under the
    noise at 20 dB SNR; this does not (FIELD-NOTES, "onsets in noise").

    Parameters
    ----------
    x : np.ndarray, shape=(n,), float
    frequency_hz : float
        The tone's frequency, Hz.
    sample_rate_hz : int

    Returns
    -------
    ToneOnset or None
        None for a silent signal or one too short to hold two periods.

    Raises
    ------
    ValueError
        If ``x`` is not 1-D.

    References
    ----------
    .. [1] E. S. Page, "Continuous inspection schemes", Biometrika 41, 1954
       (the CUSUM / least-squares change point).
    """
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"tone_onset needs a 1-D signal, got shape {x.shape!r}")
    return _tone_onset(_Demodulation(x, frequency_hz, sample_rate_hz))


def _tone_onset(dm: _Demodulation) -> ToneOnset | None:
    """:func:`tone_onset` of a demodulation (which may be shared with other measurements)."""
    x = dm.x
    n = len(x)
    per = dm.sample_rate_hz / dm.frequency_hz
    box = max(int(round(2 * per)), 8)
    if n < 4 * box or not np.any(x):
        return None
    a2 = dm.amplitude(box) ** 2  # a2[i]: [i, i + box)
    level = float(median(a2))  # the tone's level: it fills most of the head
    if level <= 0:
        return None
    # the onset is the first rise to the tone's level: later gaps and steps are faults
    first = int(np.argmax(a2 >= 0.5 * level))
    if first < box // 2:
        return ToneOnset(0, False, 0.0)
    a2 = a2[:min(first + 2 * box, len(a2))]
    m = len(a2)
    c1 = np.concatenate(([0.0], np.cumsum(a2)))
    c2 = np.concatenate(([0.0], np.cumsum(a2 * a2)))
    k = np.arange(1, m)
    sse = (c2[k] - c1[k] ** 2 / k) + ((c2[m] - c2[k]) - (c1[m] - c1[k]) ** 2 / (m - k))
    cp = int(k[np.argmin(sse)])
    before, after = float(c1[cp] / cp), float((c1[m] - c1[cp]) / (m - cp))
    if after <= 0:
        return None
    step_db = float(10 * np.log10(after / max(before, after * 1e-12)))
    full = float(a2[: max(box // 2, 1)].mean())
    if step_db < MIN_ONSET_STEP_DB or full > 0.25 * after:
        # no clear step, or the first window is already near the tone's level
        return ToneOnset(0, False, step_db)
    # the windows crossing a hard onset ramp up over one box: the step sits at its middle
    return ToneOnset(min(cp + box // 2, n - 1), True, step_db)


def phasor(omega: float, n: int, *, block: int = 1024) -> np.ndarray:
    """``exp(1j * omega * k)`` for ``k = 0 .. n-1``, by products of two short tables.

    ``exp(1j w (qB + i)) = exp(1j w qB) exp(1j w i)``: one complex product per
    sample instead of a complex exponential, and more accurate on long spans
    (the argument ``w k`` of the direct form loses digits as ``k`` grows).

    Parameters
    ----------
    omega : float
        Angular frequency, radians per sample.
    n : int
        Length, samples.
    block : int
        Length of the inner table.

    Returns
    -------
    np.ndarray, shape=(n,), complex128
    """
    inner = np.exp(1j * omega * np.arange(block))
    outer = np.exp(1j * omega * block * np.arange(-(-n // block)))
    return (outer[:, None] * inner[None, :]).ravel()[:n]


class _Demodulation:
    """A signal demodulated at a tone's frequency, for amplitudes over any box length.

    The running sum of ``x e^{-j w n}`` is formed once (on first use), so the
    onset and the steady span of one head share it.

    Parameters
    ----------
    x : np.ndarray, shape=(n,), float
    frequency_hz : float
    sample_rate_hz : int
    """

    def __init__(self, x: np.ndarray, frequency_hz: float, sample_rate_hz: int) -> None:
        self.x = x
        self.frequency_hz = frequency_hz
        self.sample_rate_hz = sample_rate_hz
        self._sums: np.ndarray | None = None

    def amplitude(self, box: int) -> np.ndarray:
        """Amplitude at the tone's frequency, a ``box``-sample mean of the demodulation.

        Returns
        -------
        np.ndarray, shape=(len(x) - box + 1,), float64
            ``out[i]`` is the tone's amplitude over samples ``[i, i + box)``.
        """
        if self._sums is None:
            n = len(self.x)
            table = phasor(-2.0 * np.pi * self.frequency_hz / self.sample_rate_hz, n)
            sums = np.empty(n + 1, dtype=np.complex128)  # (in place: no temporaries)
            sums[0] = 0.0
            np.multiply(self.x, table, out=sums[1:])
            np.cumsum(sums[1:], out=sums[1:])
            self._sums = sums
        cs = self._sums
        amp = np.abs(cs[box:] - cs[:-box])
        amp /= box
        return amp


#: Shortest stretch at the tone's level that starts or ends its steady span, s.
MIN_STEADY_RUN_S = 0.05


def steady_tone_span(x: np.ndarray, frequency_hz: float, sample_rate_hz: int, *,
                     min_run_s: float = MIN_STEADY_RUN_S) -> tuple[int, int] | None:
    """Where a steady tone fills the signal: its first and last stretch at its level.

    The amplitude at the tone's frequency (quadrature demodulation, 10 ms
    moving average) is compared with its median: the span runs from the first
    stretch of at least ``min_run_s`` within 6 dB of it to the end of the
    last. A sync marker before the tone (broadband, a chirp passing the
    frequency only briefly), its gap and the tone's ramps lie outside.

    Parameters
    ----------
    x : np.ndarray, shape=(n,), float
    frequency_hz : float
        The tone's frequency, Hz.
    sample_rate_hz : int

    Returns
    -------
    (start, stop) : tuple of int, or None
        Sample span ``[start, stop)``; None when no such stretch exists.

    Raises
    ------
    ValueError
        If ``x`` is not 1-D.
    """
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"steady_tone_span needs a 1-D signal, got shape {x.shape!r}")
    return _steady_tone_span(_Demodulation(x, frequency_hz, sample_rate_hz), min_run_s)


def _steady_tone_span(dm: _Demodulation, min_run_s: float) -> tuple[int, int] | None:
    """:func:`steady_tone_span` of a demodulation (which may be shared)."""
    n = len(dm.x)
    sample_rate_hz = dm.sample_rate_hz
    box = max(int(round(0.01 * sample_rate_hz)),
              int(np.ceil(2 * sample_rate_hz / dm.frequency_hz)))
    if n < 2 * box:
        return None
    amp = dm.amplitude(box)  # amp[i]: [i, i + box)
    level = float(median(amp))
    if level <= 0:
        return None
    ok = amp >= 0.5 * level
    d = np.diff(np.concatenate(([0], ok.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    long_runs = [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)
                 if b - a >= min_run_s * sample_rate_hz]
    if not long_runs:
        return None
    return long_runs[0][0], min(long_runs[-1][1] + box, n)


def _tone_delay(ref: AudioSource, rec: AudioSource, info: ReferenceHead, y_head: np.ndarray,
                lead: int, *, max_lag: int, head: int) -> DelayEstimate:
    """Delay of a steady tone: waveform fraction, whole period chosen at the start.

    1. Coarse lags: the correlation peak of a sync marker, where the reference
       starts with one; the difference of the onsets of reference and received
       (:func:`tone_onset`) where the received has a lead-in, else the lag at
       which the received starts with the reference. (The highest peak of the
       steady tone's flat correlation says nothing: it may sit on any fault.)
       The local waveform correlation on the steady tone after the start,
       refined to a fraction of a sample, gives the lag modulo one period.
    2. The candidates one, two... periods either side of each coarse lag are
       compared by the
       residual energy of the received audio against the gain-matched
       reference shifted by each candidate's *fractional* lag, over a window
       that covers the reference's start (its onset and any marker). Comparing
       at integer lags would let a 0.3-0.6 sample error outweigh a whole
       period (FIELD-NOTES, "period choice for tones"). The window is the same
       for every candidate and lies inside the received file, so candidates
       that differ only outside the file tie.
    3. Confidence is the posterior of the chosen candidate, with the residual
       noise measured on the steady tone: ``P(k) ~ exp(-E_k / (2 s^2))``. Below
       :data:`MIN_PERIOD_CONFIDENCE` the delay is reported as ambiguous; among
       tied candidates the one nearest the coarse lag is kept.
    """
    fs = ref.sample_rate_hz
    r, period, on_r = info.r, float(info.period or 0.0), info.onset
    searched = lead + max_lag + head  # the received head from the largest lead (_from_lead)
    on_y = _tone_onset(_Demodulation(y_head, fs / period, fs))
    if on_r is None or on_y is None:
        c, _ = head_correlation(r, _from_lead(y_head, lead, searched))
        return DelayEstimate(float(int(np.argmax(c)) - lead), 0.0, True, "none", period,
                             "no tone found in the reference or the received head: the delay "
                             "is ambiguous")
    anchor, steady, content_r = info.anchor, info.steady, info.content_start
    # coarse lags: a sync marker's correlation peak, where the reference starts with one (the
    # steady tone's own correlation is flat, and its highest peak may sit on any fault), and
    # the onsets' difference where the received has a lead-in; else the received is taken to
    # start where the reference does
    coarses = []
    if info.marker:
        cm = ncc(r[anchor:anchor + int(MARKER_PROBE_S * fs)], y_head)
        coarses.append(int(np.argmax(cm)) - anchor)
    coarses.append(on_y.index - on_r.index if on_y.lead_in
                   else _content_start(y_head) - content_r)
    coarse = coarses[-1] if on_y.lead_in or len(coarses) == 1 else coarses[0]
    # the waveform's lag modulo a period, where the steady tone begins (after a marker and its
    # gap): the lag is still the start's there, while later a receiver's edits move it
    span = min(int(START_SPAN_S * fs), max(head - anchor - int(8 * period), 0))
    steady_at = (steady[0] if steady else anchor) + 2 * max(int(round(2 * period)), 8)
    steady_len = int(min(STEADY_PROBE_S * fs, max(head - steady_at, 8 * period)))
    reach = int(np.ceil(period)) + 1
    local = ncc(mono(ref.read(steady_at, steady_len)),
                mono(rec.read(steady_at + coarse - reach, steady_len + 2 * reach)))
    lag0 = coarse - reach + int(np.argmax(local))
    d0 = refine_fraction(reference=ref, received=rec, lag=lag0, at=steady_at,
                         length=steady_len)
    if abs(d0 - lag0) > 0.75:
        d0 = float(lag0)
    box = max(int(round(2 * period)), 8)
    n_cand = int(np.ceil(2 * box / period)) + 2
    ks = unique_values(np.concatenate([np.arange(-n_cand, n_cand + 1) + round((q - d0) / period)
                                   for q in coarses]))
    # whole periods with the waveform's sign, and half periods upside down: a steady sine
    # inverted is the same sine half a period later, except at its start
    lags = np.concatenate((d0 + ks * period, d0 + (ks + 0.5) * period))
    signs = np.concatenate((np.ones(len(ks)), -np.ones(len(ks))))
    gain_noise = _steady_gain_noise(ref, rec, d0, steady_at, period)
    started = _start_energies(ref, rec, anchor, lags, signs, box, period, span=span,
                              gain=gain_noise[0] if gain_noise else 0.0)
    sigma2 = gain_noise[1] if gain_noise else None
    if gain_noise is None or started is None or sigma2 is None:
        return DelayEstimate(float(d0), 0.0, True, "onset", period,
                             "too little of the tone to choose its period: the delay is "
                             "ambiguous",
                             head_correlation(r, _from_lead(y_head, lead, searched))[1])
    # Candidates whose fit differs by less than a tenth of one period of the tone are alike
    # (the start says nothing between them: it lies outside the received file, or an edge
    # only rings differently): they share the best energy, so that rounding cannot split them
    # (nor make the confidence depend on the machine). Among them, the reference the right
    # way up, then the one nearest the coarse lag, so that an ambiguous delay is at least the
    # plausible one.
    energies, window = started
    g, _ = gain_noise
    one_period = g * g * float(np.mean(r[steady_at:steady_at + steady_len] ** 2)) * period
    tied = np.flatnonzero(energies <= energies.min() + 0.1 * one_period)
    energies = energies.copy()
    energies[tied] = energies.min()
    logp = -(energies - energies.min()) / (2 * sigma2)
    post = np.exp(logp - logp.max())
    post /= post.sum()
    # fail closed: the best candidate must explain the start; one that leaves more than half a
    # period of tone unexplained beyond the noise means the model does not fit (the receiver
    # edited the audio near the start), and no posterior among bad fits means anything
    if energies.min() - window * sigma2 > 0.5 * one_period:
        post[:] = 0.0
    upright = tied[signs[tied] > 0]
    pool = upright if len(upright) else tied
    best = int(pool[np.argmin(np.abs(lags[pool] - coarse))])
    conf = float(post[best])
    inverted = bool(signs[best] < 0)
    ambiguous = conf < MIN_PERIOD_CONFIDENCE
    note = ""
    if ambiguous:
        why = "" if on_y.lead_in else "; the received audio is active from its first sample"
        note = (f"the tone's start does not single out one period (confidence {conf:.2f}{why}"
                "): the delay is ambiguous modulo one period")
    return DelayEstimate(float(lags[best]), conf, ambiguous, "onset", period, note, inverted)


def _start_energies(ref: AudioSource, rec: AudioSource, anchor: int, lags: np.ndarray,
                    signs: np.ndarray, box: int, period: float, *, span: int,
                    gain: float) -> tuple[np.ndarray, int] | None:
    """Residual energy over the reference's start for each candidate lag.

    Parameters
    ----------
    anchor : int
        Reference sample where its content starts (the onset, or a marker).
    lags : np.ndarray, shape=(k,)
        Candidate lags, samples.
    signs : np.ndarray, shape=(k,)
        +1, or -1 for a candidate that is the reference upside down.
    span : int
        Samples after ``anchor`` compared (covers a sync marker and its gap).
    gain : float
        Received over reference amplitude (:func:`_steady_gain_noise`).

    Returns
    -------
    (energies, window) or None
        ``energies``, shape=(k,): sum of squared residuals over one received
        window common to every candidate, full-scale units squared;
        ``window``: its length in samples. None when the window is too short.
    """
    margin = 2 * box + int(np.ceil(period))
    w_lo = max(int(np.floor(anchor + lags.min())) - margin, 0)
    w_hi = min(int(np.ceil(anchor + lags.max())) + span + margin, rec.frames)
    if w_hi - w_lo < box:
        return None
    n = np.arange(w_lo, w_hi, dtype=np.float64)
    y = mono(rec.read(w_lo, w_hi - w_lo))
    pad = HALF_TAPS + 2
    lo_r = int(np.floor(w_lo - lags.max())) - pad
    hi_r = int(np.ceil(w_hi - lags.min())) + pad
    rb = mono(ref.read(lo_r, hi_r - lo_r))[:, None]
    energies = np.empty(len(lags))
    for i, (d, sign) in enumerate(zip(lags, signs, strict=True)):
        e = y - sign * gain * interpolate(rb, n - d, origin=lo_r)[:, 0]
        energies[i] = float(dot(e, e))
    return energies, w_hi - w_lo


def _steady_gain_noise(ref: AudioSource, rec: AudioSource, d0: float, steady_at: int,
                       period: float, *, chunks: int = 8, chunk_s: float = 0.05,
                       span_s: float = 2.0) -> tuple[float, float] | None:
    """Gain and residual variance per sample of the received steady tone at lag ``d0``.

    Medians over the pieces (``chunks`` of ``chunk_s``, spread over ``span_s``
    from ``steady_at``) whose waveform matches the reference at ``d0``
    (``NCC >= 0.8``): a gap, a near-silence or a skip in the received audio
    changes neither. The
    variance never falls below the interpolator's own accuracy
    (:data:`MODEL_FLOOR`): a clean digital path has no noise, and candidates
    must not be told apart by rounding.
    """
    fs = ref.sample_rate_hz
    length = int(chunk_s * fs)
    last = min(ref.frames, rec.frames - int(np.ceil(d0)), steady_at + int(span_s * fs)) - length
    if length < 4 * period or last <= steady_at:
        return None
    gains, noises = [], []
    for at in np.linspace(steady_at, last, chunks).astype(int):
        q = int(np.ceil(at + d0))
        ys = mono(rec.read(q, length))
        lo = int(np.floor(q - d0)) - HALF_TAPS - 2
        rb = mono(ref.read(lo, length + 2 * HALF_TAPS + 6))[:, None]
        xs = interpolate(rb, np.arange(q, q + length, dtype=np.float64) - d0, origin=lo)[:, 0]
        den = float(np.dot(xs, xs))
        dy = float(np.dot(ys, ys))
        if den <= 1e-12 or float(np.dot(ys, xs)) < 0.8 * np.sqrt(den * dy):
            continue  # silent, or not this alignment (a fault, or after a skip: a half-period
            # skip reads NCC -1, so the sign counts; d0 is a positive correlation peak)
        g = float(np.dot(ys, xs) / den)
        es = ys - g * xs
        gains.append(g)
        noises.append(max(float(np.dot(es, es)), MODEL_FLOOR * g * g * den) / length)
    if not gains:
        return None
    return float(median(gains)), float(median(noises))


def periodicity(r: np.ndarray, fs: int, *, max_period_s: float = 0.05) -> float:
    """Highest normalised autocorrelation of ``r`` beyond its main lobe.

    Near 1 for a steady tone (the correlation repeats every period), lower for
    speech, noise, sweeps and marker-led signals dominated by broadband content.

    Parameters
    ----------
    r : np.ndarray, shape=(n,)
    fs : int
        Sample rate, Hz.
    max_period_s : float
        Longest period searched, s.

    Returns
    -------
    float
        In [0, 1].
    """
    n = len(r)
    if n < 4 or not np.any(r):
        return 0.0
    acf = autocorrelation(np.asarray(r, dtype=np.float64), int(max_period_s * fs) + 1)
    acf /= acf[0]
    neg = np.flatnonzero(acf < 0)
    if len(neg) == 0:
        return 0.0
    tail = acf[neg[0]:]
    return float(max(tail.max(), 0.0)) if len(tail) else 0.0


def _content_start(r: np.ndarray, *, rel_db: float = -60.0, chunk: int = 1 << 14) -> int:
    """First sample within ``rel_db`` of the peak: where content (a fade-in too) begins.

    The peak is ``max(max r, -min r)`` (no array of magnitudes), and the first
    sample above the threshold is looked for ``chunk`` samples at a time.
    """
    peak = max(float(r.max()), -float(r.min())) if len(r) else 0.0
    if peak <= 0:
        return 0
    threshold = peak * 10 ** (rel_db / 20)
    for lo in range(0, len(r), chunk):
        hit = np.flatnonzero(np.abs(r[lo:lo + chunk]) > threshold)
        if len(hit):
            return lo + int(hit[0])
    return 0


def _busy_start(r: np.ndarray) -> int:
    o = onset_index(r)
    return 0 if o is None else o


@functools.lru_cache(maxsize=2)
def _hanning(n: int) -> np.ndarray:
    """``np.hanning(n)``, cached per length (heads of 5.5 s or more share one), read-only."""
    w = np.hanning(n)
    w.flags.writeable = False
    return w


def _period(r: np.ndarray, fs: int) -> float | None:
    """Period in samples of the dominant tone of ``r`` (FFT peak, parabolic on log power)."""
    n = min(len(r), 1 << 18)
    x = r[:n] * _hanning(n)
    spec = np.abs(np.fft.rfft(x)) ** 2 + 1e-30
    k = int(np.argmax(spec[1:])) + 1
    if k <= 0 or k >= len(spec) - 1:
        return None
    a, b, c = np.log(spec[k - 1:k + 2])
    den = a - 2 * b + c
    off = 0.5 * (a - c) / den if den < 0 else 0.0
    f = (k + off) * fs / n
    return float(fs / f) if f > 0 else None
