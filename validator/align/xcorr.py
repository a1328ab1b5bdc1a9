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
    m = s.shape[0]
    nfft = fast_len(m + n - 1)
    full = np.fft.irfft(np.fft.rfft(s, nfft) * np.conj(np.fft.rfft(t, nfft)), nfft)
    c = full[:m - n + 1]  # c[l] = sum_k t[k] s[l + k]
    cs = np.concatenate(([0.0], np.cumsum(s * s)))
    es = cs[n:] - cs[:-n]
    et = float(np.dot(t, t))
    den = np.sqrt(np.maximum(es, 0.0) * et)
    out = np.where(den > _EPS, c / np.maximum(den, _EPS), 0.0)
    return np.clip(out, -1.0, 1.0)


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
