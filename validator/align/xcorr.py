"""Cross-correlation primitives: normalised correlation, peak picking, sub-sample peaks.

References
----------
.. [1] C. Knapp and G. Carter, "The generalized correlation method for
   estimation of time delay", IEEE Trans. ASSP 24(4), 1976.
.. [2] J. P. Lewis, "Fast normalized cross-correlation", Vision Interface, 1995.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EPS = 1e-20


def fast_len(n: int) -> int:
    """The smallest 5-smooth size ``2**a * 3**b * 5**c >= n`` (fast for pocketfft).

    numpy's FFT (pocketfft, as scipy's) takes any size, but one with a large
    prime factor is many times slower; numpy.fft imports in milliseconds where
    scipy.fft takes about 0.3 s, which is most of a short validation's cold start.
    """
    if n <= 6:
        return max(int(n), 1)
    best = 1 << (int(n) - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # the smallest power of two that brings p35 to n or above
            q = p35 if p35 >= n else p35 << (-(-n // p35) - 1).bit_length()
            best = min(best, q)
            p35 *= 3
        p5 *= 5
    return best


def ncc(template: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Normalised cross-correlation of a template against every window of a signal.

    Parameters
    ----------
    template : np.ndarray, shape=(n,), float
    signal : np.ndarray, shape=(m,), float, ``m >= n``

    Returns
    -------
    np.ndarray, shape=(m - n + 1,), float64
        ``out[l] = sum_k t[k] s[l + k] / sqrt(sum t^2 * sum_k s[l + k]^2)``,
        in [-1, 1]; 0 where either window is silent.

    Notes
    -----
    FFT correlation with running window energies (Lewis 1995), without
    mean removal: audio is near zero-mean and a DC offset is a fault to see.
    """
    t = np.asarray(template, dtype=np.float64)
    s = np.asarray(signal, dtype=np.float64)
    n = t.shape[0]
    c = correlate_valid(t, s)  # c[l] = sum_k t[k] s[l + k]
    # the window energies, then c / sqrt(es * et), each pass in place (fresh arrays of a
    # long signal cost as much again in page faults)
    cs = np.cumsum(s * s)  # cs[i]: s[0 .. i]
    den = np.empty(c.shape[0])
    den[0] = cs[n - 1]
    np.subtract(cs[n:], cs[:-n], out=den[1:])
    np.maximum(den, 0.0, out=den)
    den *= float(np.dot(t, t))
    np.sqrt(den, out=den)
    silent = den <= _EPS
    np.maximum(den, _EPS, out=den)
    np.divide(c, den, out=c)
    c[silent] = 0.0
    return np.clip(c, -1.0, 1.0, out=c)


#: Overlap-save block length of :func:`correlate_valid`, in template lengths.
BLOCK_TEMPLATES = 8


def correlate_valid(template: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Cross-correlation of a template against every full window of a signal, by FFT.

    Parameters
    ----------
    template : np.ndarray, shape=(n,), float64
    signal : np.ndarray, shape=(m,), float64, ``m >= n``

    Returns
    -------
    np.ndarray, shape=(m - n + 1,), float64
        ``out[l] = sum_k t[k] s[l + k]``.

    Notes
    -----
    A template much shorter than the signal (a 50 ms marker searched over a
    10 s head) is correlated by overlap-save: blocks of
    ``fast_len(BLOCK_TEMPLATES * n)`` samples (at least 4096) transformed together, which
    touches every sample as often as one transform of the whole signal but
    at a cache-sized length (about three times faster). Otherwise one
    transform of the whole signal. The two differ by rounding only (about
    1e-16 of the correlation's scale).

    References
    ----------
    .. [1] A. V. Oppenheim and R. W. Schafer, "Discrete-Time Signal Processing",
       3rd ed., 2010, section 8.7.3 (overlap-save).
    """
    n, m = template.shape[0], signal.shape[0]
    out_len = m - n + 1
    size = fast_len(max(BLOCK_TEMPLATES * n, 4096))
    if m < 4 * size:  # one transform of the whole signal
        nfft = fast_len(m + n - 1)
        full = np.fft.irfft(np.fft.rfft(signal, nfft) * np.conj(np.fft.rfft(template, nfft)),
                            nfft)
        return full[:out_len]
    hop = size - n + 1  # valid outputs per block
    blocks = -(-out_len // hop)
    padded = np.zeros((blocks - 1) * hop + size)
    padded[:m] = signal
    segments = np.lib.stride_tricks.sliding_window_view(padded, size)[::hop]
    spec = np.fft.rfft(segments, axis=1) * np.conj(np.fft.rfft(template, size))
    return np.fft.irfft(spec, size, axis=1)[:, :hop].ravel()[:out_len]


def autocorrelation(x: np.ndarray, lags: int) -> np.ndarray:
    """Linear autocorrelation of ``x`` at lags ``0 .. lags - 1``, by blocked FFT.

    Parameters
    ----------
    x : np.ndarray, shape=(n,), float64
    lags : int
        Number of lags wanted (>= 1).

    Returns
    -------
    np.ndarray, shape=(min(lags, n),), float64
        ``out[k] = sum_i x[i] x[i + k]`` (``x`` zero beyond its end).

    Notes
    -----
    ``x`` is cut into blocks of ``B >= lags`` samples (a power of two, at least
    4096), each transformed at length ``2 B``. The window ``x[bB : bB + 2B]``
    that block ``b`` meets at lags up to ``B`` is block ``b`` plus block
    ``b + 1`` delayed by ``B``, whose spectrum is block ``b + 1``'s times
    ``(-1)**k``: so ``sum_b conj(X_b) (X_b + (-1)**k X_(b+1))`` is the
    spectrum of the wanted correlation, and one inverse transform of length
    ``2 B`` gives it. For a long ``x`` and a few lags (50 ms over a 10 s head)
    this is about three times faster than one transform of ``2 n`` samples,
    and equal to it up to rounding (about 1e-15 of ``out[0]``).
    """
    n = x.shape[0]
    lags = min(int(lags), n)
    b = max(4096, 1 << (lags - 1).bit_length())
    nb = -(-n // b)
    padded = np.zeros((nb + 1) * b)
    padded[:n] = x
    spec = np.fft.rfft(padded.reshape(nb + 1, b), 2 * b, axis=1)
    head = np.conj(spec[:-1])
    cross = np.einsum("ij,ij->j", head, spec[1:])
    cross[1::2] *= -1.0  # block b + 1 delayed by B: (-1)**k
    power = np.einsum("ij,ij->j", head, spec[:-1]) + cross
    return np.fft.irfft(power, 2 * b)[:lags]


def parabolic_peak(values: np.ndarray, index: int) -> tuple[float, float]:
    """Sub-sample position and height of a correlation peak.

    Fits ``A cos(w (l - d))`` through the peak and its two neighbours, which is
    exact for the correlation of a sinusoid and close for any band-limited
    signal; falls back to a parabola where the cosine fit is undefined.

    Parameters
    ----------
    values : np.ndarray, shape=(n,)
    index : int
        Index of a local maximum.

    Returns
    -------
    position : float
        Fractional index of the vertex, within ``index +- 0.5``.
    height : float
        Value at the vertex.

    References
    ----------
    .. [1] L. Svilainis, "Review of high resolution time of flight estimation
       techniques for ultrasonic signals", NDT 2013 (cosine interpolation).
    """
    if index <= 0 or index >= len(values) - 1:
        return float(index), float(values[index])
    a, b, c = float(values[index - 1]), float(values[index]), float(values[index + 1])
    if b > 0:
        ratio = (a + c) / (2 * b)
        if -1.0 < ratio < 1.0:
            w = float(np.arccos(ratio))
            if w > 1e-3:
                off = float(np.arctan((c - a) / (2 * b * np.sin(w)))) / w
                if abs(off) <= 0.5:
                    return index + off, b / float(np.cos(w * off))
    den = a - 2 * b + c
    if den >= 0:
        return float(index), b
    off = 0.5 * (a - c) / den
    off = max(-0.5, min(0.5, off))
    return index + off, b - 0.25 * (a - c) * off


def local_maxima(values: np.ndarray) -> np.ndarray:
    """Indices of strict-left, non-strict-right local maxima (plateaus count once)."""
    v = values
    if len(v) < 3:
        return np.array([int(np.argmax(v))]) if len(v) else np.array([], dtype=int)
    inner = np.flatnonzero((v[1:-1] > v[:-2]) & (v[1:-1] >= v[2:])) + 1
    edges = []
    if v[0] >= v[1]:
        edges.append(0)
    if v[-1] > v[-2]:
        edges.append(len(v) - 1)
    return np.sort(np.concatenate([inner, np.array(edges, dtype=int)])).astype(int)


@dataclass(frozen=True)
class Peak:
    """A chosen correlation peak.

    Attributes
    ----------
    index : int
        Integer index of the peak.
    position : float
        Sub-sample index (parabolic).
    value : float
        Correlation at the peak.
    runner_up : float
        Highest other local maximum (outside the peak's +-1 neighbourhood).
    """

    index: int
    position: float
    value: float
    runner_up: float

    @property
    def ambiguity(self) -> float:
        """``runner_up / value``: near 1 for periodic signals, low for broadband."""
        return self.runner_up / self.value if self.value > 0 else 1.0


def pick_peak(values: np.ndarray) -> Peak:
    """Pick the highest correlation peak, with its runner-up.

    Parameters
    ----------
    values : np.ndarray, shape=(n,)
        Correlation values (e.g. from :func:`ncc`).

    Returns
    -------
    Peak
    """
    peaks = local_maxima(values)
    if len(peaks) == 0:
        i = int(np.argmax(values))
        return Peak(i, float(i), float(values[i]), 0.0)
    pv = values[peaks]
    i = int(peaks[np.argmax(pv)])
    others = pv[np.abs(peaks - i) > 1]
    runner = float(others.max()) if len(others) else 0.0
    pos, val = parabolic_peak(values, i)
    return Peak(i, pos, val, max(runner, 0.0))
