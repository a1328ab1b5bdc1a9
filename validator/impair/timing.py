"""Timing faults: a delay (whole or fractional samples) and clock drift.

Conventions: :mod:`validator.impair.model`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sp_fft
from scipy import special

from validator.errors import SignalSpecError
from validator.impair.model import (
    _INT_TOL,
    Impaired,
    _audio,
    _fault,
    _rate,
    _real,
    _to_samples,
)

__all__ = [
    "delay",
    "drift",
]

# Band-limited interpolator used by drift(): Kaiser-windowed sinc.
_INTERP_HALF_TAPS = 64
_INTERP_STOPBAND_DB = 100.0
_INTERP_BETA = 0.1102 * (_INTERP_STOPBAND_DB - 8.7)  # Kaiser's formula, A > 50 dB
_INTERP_CUTOFF = 0.95  # of Nyquist; transition band about 0.90 .. 1.0
_INTERP_CHUNK = 4096
# delay(): zero guard (samples) around the signal in the FFT buffer.
_FFT_GUARD = 8192


# --------------------------------------------------------------------------- timing


def delay(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    delay_s: float,
    total_s: float | None = None,
) -> Impaired:
    """Delay the audio by a (possibly fractional) time, prepending silence.

    Positive ``delay_s``: the output lags the input; input sample ``i`` lands
    at output position ``i + delay_s * fs``.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    delay_s : float
        Delay in s (>= 0). Fractions of a sample are allowed.
    total_s : float or None
        Output length in s (``round(total_s * fs)`` samples, >= 1); the delayed
        audio is cut or padded with zeros to fit. ``None``: the output has
        ``n_samples + ceil(delay_s * fs)`` samples.

    Returns
    -------
    Impaired
        One condition fault of kind ``"delay"`` spanning the output,
        ``detail={"cause": "delay", "delay_s": ..., "delay_samples": ...}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Negative or non-finite ``delay_s``; ``total_s`` shorter than a sample.

    Notes
    -----
    A whole number of samples is an exact shift. A fractional delay is the
    ideal band-limited delay, applied as a linear phase
    ``exp(-2j*pi*k*d/N)`` on the DFT of the signal zero-padded by 8192
    samples each side (Laakso et al., "Splitting the unit delay", IEEE Signal
    Processing Magazine 13(1), 1996, sec. II). An abrupt start or end of the
    input then rings (Gibbs) on both sides of the edge, as a real band-limited
    system would.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    d_s = _real("delay_s", delay_s)
    if d_s < 0:
        raise SignalSpecError(f"delay_s must be >= 0 s (output lags input), got {delay_s!r}")
    d = d_s * fs
    n, n_ch = x.shape
    d_int = int(round(d))
    integer = abs(d - d_int) < _INT_TOL
    n_natural = n + (d_int if integer else math.ceil(d))
    if total_s is None:
        n_out = n_natural
    else:
        n_out = _to_samples(_real("total_s", total_s), fs)
        if n_out < 1:
            raise SignalSpecError(f"total_s={total_s!r} s is shorter than one sample")
    if integer:
        out = np.zeros((n_out, n_ch))
        m = max(0, min(n, n_out - d_int))
        out[d_int : d_int + m] = x[:m]
        d = float(d_int)
    else:
        g = _FFT_GUARD
        size = sp_fft.next_fast_len(max(n_out, n_natural) + 2 * g, real=True)
        buf = np.zeros((size, n_ch))
        buf[g : g + n] = x
        k = np.arange(size // 2 + 1)
        spec = sp_fft.rfft(buf, axis=0) * np.exp(-2j * np.pi * k * d / size)[:, None]
        out = sp_fft.irfft(spec, n=size, axis=0)[g : g + n_out]
    fault = _fault("delay", None, 0, n_out, fs, cause="delay", delay_s=d_s, delay_samples=d)
    return Impaired(np.ascontiguousarray(out), (fault,), fs)


def _bandlimited_interp(x: np.ndarray, t: np.ndarray, *, cutoff: float) -> np.ndarray:
    """Evaluate ``x`` (n, c) at fractional positions ``t`` (m,) by windowed sinc.

    Kernel ``h(u) = cutoff * sinc(cutoff * u) * w(u / K)``, ``w`` the Kaiser
    window (beta from Kaiser's formula for 100 dB), ``K`` = 64 taps each side.
    Samples outside ``x`` are zeros.
    """
    n = x.shape[0]
    half = _INTERP_HALF_TAPS
    offsets = np.arange(-half + 1, half + 1)
    norm = special.i0(_INTERP_BETA)
    out = np.empty((t.shape[0], x.shape[1]))
    for i in range(0, t.shape[0], _INTERP_CHUNK):
        tc = t[i : i + _INTERP_CHUNK]
        base = np.floor(tc).astype(np.int64)
        dist = (tc - base)[:, None] - offsets[None, :]
        u = dist / half
        win = special.i0(_INTERP_BETA * np.sqrt(np.clip(1.0 - u * u, 0.0, None))) / norm
        h = cutoff * np.sinc(cutoff * dist) * win
        idx = base[:, None] + offsets[None, :]
        h[(idx < 0) | (idx >= n)] = 0.0
        out[i : i + _INTERP_CHUNK] = np.einsum("mk,mkc->mc", h, x[np.clip(idx, 0, n - 1)])
    return out


def drift(y: np.ndarray, sample_rate_hz: int, *, ppm: float) -> Impaired:
    """Resample so the content lasts ``1 + ppm * 1e-6`` times longer (clock drift).

    Output sample ``m`` carries the input at position ``m / r`` with
    ``r = 1 + ppm * 1e-6``: a tone at ``f`` Hz comes out at ``f / r`` Hz and
    input sample ``i`` lands at output position ``i * r``. Positive ppm: the
    received content is longer (the sender's clock is slow relative to the
    receiver's).

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz (the same for input and output).
    ppm : float
        Drift in parts per million, ``-1e5 < ppm < 1e5``.

    Returns
    -------
    Impaired
        ``y`` with ``round(n_samples * r)`` samples; one condition fault of
        kind ``"drift"`` spanning the output,
        ``detail={"cause": "drift", "ppm": ppm, "ratio": r}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Non-finite ``ppm`` or ``|ppm| >= 1e5``.

    Notes
    -----
    Band-limited interpolation at the exact positions ``m / r`` with a
    Kaiser-windowed sinc of 128 taps, cutoff 0.95 x Nyquist (times ``r`` when
    ``r < 1``, against aliasing) and about 100 dB stopband (J. O. Smith,
    "Digital Audio Resampling Home Page", CCRMA; Kaiser window design after
    Oppenheim & Schafer, "Discrete-Time Signal Processing", sec. 7.5.3).
    It works for any ppm, unlike a rational ``resample_poly`` whose filter
    grows with the denominator. Content above 0.90 x Nyquist is attenuated,
    and the first and last 64 output samples see zeros beyond the input.
    ``ppm == 0`` returns an exact copy.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    drift_ppm = _real("ppm", ppm)
    if not abs(drift_ppm) < 1e5:
        raise SignalSpecError(f"ppm must be within (-1e5, 1e5), got {ppm!r}")
    ratio = 1.0 + drift_ppm * 1e-6
    n = x.shape[0]
    if drift_ppm == 0.0:
        out = x
    else:
        n_out = max(1, int(round(n * ratio)))
        t = np.arange(n_out, dtype=np.float64) / ratio
        out = _bandlimited_interp(x, t, cutoff=_INTERP_CUTOFF * min(1.0, ratio))
    fault = _fault("drift", None, 0, out.shape[0], fs, cause="drift", ppm=drift_ppm, ratio=ratio)
    return Impaired(out, (fault,), fs)
