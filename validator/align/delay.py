"""Global delay: where the reference's first sample lands in the received file.

Sign convention (as ``scipy.signal.correlation_lags``): a positive lag means
the received audio lags the reference.

Method
------
1. Normalised cross-correlation (NCC) of the reference's head against the
   received head over every lag in ``[-max_lead, +max_delay]``.
2. If one peak stands clear (runner-up below 0.9 of it: speech, sweeps,
   multi-tones) that lag is the delay.
3. Otherwise the signal is periodic (a steady tone): its correlation repeats
   every period, so the waveform alone gives the delay only modulo a period
   (FIELD-NOTES, "a pure sine gives no unambiguous delay"). The onset decides:
   the first sample above 10 % of the head's peak in each signal gives a
   coarse lag, and among the correlation peaks within two periods of it the
   one whose *onset window* (20 ms of pre-onset silence plus 100 ms of signal,
   which also covers a sync marker) correlates best wins.
4. With neither a clear peak nor a distinct onset window, the delay is
   reported as ambiguous.
5. The integer lag is refined to a fraction of a sample by least squares on
   the reference and its derivative (a Gauss-Newton step of the model
   ``y(n) = g r(n - d)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from validator.align.interp import interpolate
from validator.align.xcorr import local_maxima, ncc, pick_peak
from validator.io.audio import AudioSource

#: Runner-up/peak ratio above which the waveform correlation is called periodic.
PERIODIC_RATIO = 0.9
#: Runner-up/peak ratio of onset windows above which the delay is ambiguous.
ONSET_AMBIGUOUS_RATIO = 0.995


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
    """Mean of the channels, shape (n,)."""
    return y.mean(axis=1) if y.ndim == 2 else y


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
    peak = float(np.percentile(a, 99.9))
    if peak <= 1e-6:
        return None
    hit = np.flatnonzero(a > rel * peak)
    return int(hit[0]) if len(hit) else None


def _window(x: np.ndarray, start: int, length: int) -> np.ndarray:
    out = np.zeros(length)
    lo, hi = max(start, 0), min(start + length, len(x))
    if hi > lo:
        out[lo - start: hi - start] = x[lo:hi]
    return out


def refine_fraction(ref: AudioSource, rec: AudioSource, lag: int, *, at: int = 0,
                    length: int | None = None, iterations: int = 3) -> float:
    """Refine an integer lag to a fractional one by least squares.

    Parameters
    ----------
    ref, rec : AudioSource
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


def estimate_delay(ref: AudioSource, rec: AudioSource, *, max_delay_s: float = 10.0,
                   head_s: float = 10.0) -> DelayEstimate:
    """Estimate the received audio's delay against the reference.

    Parameters
    ----------
    ref, rec : AudioSource
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
    fs = ref.sample_rate_hz
    head = int(min(ref.frames, head_s * fs))
    max_lag = int(min(max_delay_s * fs, max(rec.frames - head // 2, 0)))
    lead = head // 4
    r = mono(ref.read(0, head))
    y = mono(rec.read(-lead, lead + max_lag + head))
    if not np.any(r) or not np.any(y):
        return DelayEstimate(0.0, 0.0, True, "none", note="silent input: no delay measurable")
    c = ncc(r, y)  # index i <-> lag i - lead
    inverted = bool(-c.min() > c.max() + 0.02)  # polarity inversion: a negative peak
    if inverted:
        c = -c
    peak = pick_peak(c)
    lag = peak.index - lead
    if periodicity(r, fs) < PERIODIC_RATIO:
        # The reference's own correlation has one peak, so the highest match is
        # the delay. (A runner-up in the cross-correlation is then a second true
        # alignment, e.g. after a skip, not an ambiguity.)
        conf = max(0.0, peak.value)
        frac = refine_fraction(ref, rec, lag, at=_busy_start(r), length=min(head, fs))
        return DelayEstimate(frac, conf, False, "xcorr", inverted=inverted)

    # Periodic: the period of the dominant tone.
    period = _period(r, fs)
    o_r = onset_index(r)
    o_y = onset_index(mono(rec.read(0, min(rec.frames, head + max_lag))))
    if o_r is None or o_y is None:
        return DelayEstimate(float(lag), peak.value * 0.1, True, "none", period)
    coarse = o_y - o_r
    span = int(np.ceil(2 * (period or 1) + 0.005 * fs))
    pre, win = int(0.02 * fs), int(0.1 * fs)
    rw = _window(r, o_r - pre, pre + win)
    ys = mono(rec.read(coarse + o_r - pre - span, pre + win + 2 * span))
    c2 = ncc(rw, ys)  # index j <-> lag coarse - span + j
    inverted = bool(-c2.min() > c2.max() + 0.02)  # the onset or marker upside down
    if inverted:
        c2 = -c2
    pk2 = pick_peak(c2)
    lag = pk2.index + coarse - span
    ratio = pk2.ambiguity
    note = ""
    conf = float(max(pk2.value, 0.0))
    if o_y <= 2:
        y0 = mono(rec.read(0, 2))
        peak_y = float(np.percentile(np.abs(mono(rec.read(0, min(rec.frames, head)))), 99.9))
        if peak_y > 0 and abs(float(y0[0])) > 0.3 * peak_y:
            # the received starts abruptly mid-waveform: it was cut, the onset is not seen
            return DelayEstimate(float(lag), 0.0, True, "none", period,
                                 "the received audio starts mid-signal (no onset) and the "
                                 "reference is a steady tone: the delay is ambiguous")
        note = ("the received audio is active from its first sample; the delay assumes the "
                "file starts at the signal's onset")
        conf *= 0.5
    ambiguous = bool(ratio > ONSET_AMBIGUOUS_RATIO)
    if ambiguous and period:
        # A smeared onset (decoder ramp): take the correlation peak nearest the
        # envelope onset, which is unambiguous while the onset is good to a
        # third of a period.
        near = local_maxima(c2)
        near = near[c2[near] >= 0.9 * pk2.value]
        j = int(near[np.argmin(np.abs(near - span))]) if len(near) else pk2.index
        lag = j + coarse - span
        ambiguous = abs(j - span) > 0.35 * period
        note = "delay taken from the envelope onset (the onset is smeared)"
        conf = 0.5 * float(c2[j])
    if ambiguous:
        conf *= 0.1
    frac = refine_fraction(ref, rec, lag, at=_busy_start(r), length=min(head, fs))
    if abs(frac - lag) > 0.75:
        frac = float(lag)
    return DelayEstimate(frac, conf, ambiguous, "onset", period, note, inverted)


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
    spec = np.fft.rfft(r, 2 * n)
    acf = np.fft.irfft(np.abs(spec) ** 2)[: min(n, int(max_period_s * fs) + 1)]
    acf /= acf[0]
    neg = np.flatnonzero(acf < 0)
    if len(neg) == 0:
        return 0.0
    tail = acf[neg[0]:]
    return float(max(tail.max(), 0.0)) if len(tail) else 0.0


def _busy_start(r: np.ndarray) -> int:
    o = onset_index(r)
    return 0 if o is None else o


def _period(r: np.ndarray, fs: int) -> float | None:
    """Period in samples of the dominant tone of ``r`` (FFT peak, parabolic on log power)."""
    n = min(len(r), 1 << 18)
    x = r[:n] * np.hanning(n)
    spec = np.abs(np.fft.rfft(x)) ** 2 + 1e-30
    k = int(np.argmax(spec[1:])) + 1
    if k <= 0 or k >= len(spec) - 1:
        return None
    a, b, c = np.log(spec[k - 1:k + 2])
    den = a - 2 * b + c
    off = 0.5 * (a - c) / den if den < 0 else 0.0
    f = (k + off) * fs / n
    return float(fs / f) if f > 0 else None
