"""Band-limited interpolation of a source at arbitrary fractional positions.

The reference is resampled onto the received timeline with a Kaiser-windowed
sinc (Smith, "Digital Audio Resampling Home Page", CCRMA; the table-driven
polyphase form). This is what compensates a fractional delay and clock drift
before the residual is formed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

HALF_TAPS = 16
PHASES = 1024
KAISER_BETA = 9.0
#: Positions within this many samples of ``first + k`` are taken as one constant fraction
#: (a millionth of the 1/1024 sample phase step; positions computed as ``n - d`` stray by
#: rounding only, about 1e-13).
UNIT_STEP_TOLERANCE = 1e-9


@lru_cache(maxsize=4)
def _table(half_taps: int, phases: int, beta: float) -> np.ndarray:
    """Polyphase table, shape (phases, 2*half_taps); row p is for fraction p/phases."""
    k = np.arange(-half_taps + 1, half_taps + 1, dtype=np.float64)
    frac = np.arange(phases, dtype=np.float64) / phases
    t = k[None, :] - frac[:, None]
    # evaluate the Kaiser window continuously: I0(beta*sqrt(1-(t/H)^2))/I0(beta)
    x = np.clip(1 - (t / half_taps) ** 2, 0, None)
    win = np.i0(beta * np.sqrt(x)) / np.i0(beta)
    h = np.sinc(t) * win
    h /= h.sum(axis=1, keepdims=True)
    return h


def interpolate(x: np.ndarray, positions: np.ndarray, *, origin: int = 0) -> np.ndarray:
    """Sample ``x`` at fractional positions with a windowed-sinc interpolator.

    Parameters
    ----------
    x : np.ndarray, shape=(n, n_channels), float
        Source samples; ``x[i]`` is source sample ``origin + i``.
    positions : np.ndarray, shape=(m,), float64
        Source sample positions to evaluate (in the source's absolute index).
        Positions closer than ``HALF_TAPS`` to the ends of ``x`` see zeros.
    origin : int
        Absolute index of ``x[0]``.

    Returns
    -------
    np.ndarray, shape=(m, n_channels), float64

    Notes
    -----
    32 taps, Kaiser beta 9, 1024 phases: interpolation error below -80 dB
    up to 0.4 of the sample rate. Integer positions are copied exactly, and a
    constant fractional part is applied as one FIR filter (fast paths).
    """
    pos = np.asarray(positions, dtype=np.float64) - origin
    m = pos.shape[0]
    n, nch = x.shape
    if m > 1 and abs(pos[-1] - pos[0] - (m - 1)) <= UNIT_STEP_TOLERANCE \
            and np.max(np.abs(pos - (pos[0] + np.arange(m)))) <= UNIT_STEP_TOLERANCE:
        return _unit_steps(x, float(pos[0]), m)
    out = np.zeros((m, nch))
    if m == 0:
        return out
    ip = np.floor(pos)
    frac = pos - ip
    if np.all(frac < 1e-9) or np.all(frac > 1 - 1e-9):
        idx = np.rint(pos).astype(np.int64)
        ok = (idx >= 0) & (idx < n)
        out[ok] = x[idx[ok]]
        return out
    h = _table(HALF_TAPS, PHASES, KAISER_BETA)
    ph = np.rint(frac * PHASES).astype(np.int64)
    ip = ip.astype(np.int64) + ph // PHASES
    ph %= PHASES
    if np.all(ph == ph[0]) and np.all(np.diff(ip) == 1):
        # constant fraction, consecutive positions: one FIR filter
        return _fir(x, int(ip[0]), int(ph[0]), m)
    pad = HALF_TAPS + 1
    xp = np.zeros((n + 2 * pad, nch))
    xp[pad:pad + n] = x
    base = ip + pad
    lo_ok = (base - HALF_TAPS + 1 >= 0) & (base + HALF_TAPS < n + 2 * pad)
    base = np.where(lo_ok, base, pad)  # out-of-range positions read zeros below
    for j, k in enumerate(range(-HALF_TAPS + 1, HALF_TAPS + 1)):
        out += xp[base + k] * h[ph, j][:, None]
    out[~lo_ok] = 0.0
    return out


def _unit_steps(x: np.ndarray, first: float, m: int) -> np.ndarray:
    """:func:`interpolate` at ``first + k`` (``k < m``): a copy, or one FIR filter.

    Positions one sample apart share their fraction, so the phase of the
    first is every position's: no fraction nor phase per position (four
    times faster on 4800 positions than forming them).
    """
    n, nch = x.shape
    ip = int(np.floor(first))
    frac = first - ip
    if frac < 1e-9 or frac > 1 - 1e-9:  # whole samples: a copy (zeros outside x)
        i0 = int(np.rint(first))
        out = np.zeros((m, nch))
        lo, hi = max(i0, 0), min(i0 + m, n)
        if hi > lo:
            out[lo - i0:hi - i0] = x[lo:hi]
        return out
    ph = int(np.rint(frac * PHASES))
    return _fir(x, ip + ph // PHASES, ph % PHASES, m)


def _fir(x: np.ndarray, ip: int, ph: int, m: int) -> np.ndarray:
    """``x`` at ``ip + k + ph / PHASES`` (``k < m``): the table's row ``ph`` as one FIR filter.

    Samples outside ``x`` are zeros; a position whose 32 samples leave ``x``
    padded by ``HALF_TAPS + 1`` zeros reads zero (the general path's rule).
    """
    n, nch = x.shape
    length = m + 2 * HALF_TAPS - 1
    first = ip - HALF_TAPS + 1
    if first >= 0 and first + length <= n:
        seg = x[first:first + length]
    else:
        seg = np.zeros((length, nch))
        lo, hi = max(first, 0), min(first + length, n)
        if hi > lo:
            seg[lo - first:hi - first] = x[lo:hi]
    taps = _table(HALF_TAPS, PHASES, KAISER_BETA)[ph][::-1]
    out = np.empty((m, nch))
    for ch in range(nch):
        out[:, ch] = np.convolve(seg[:, ch], taps, mode="valid")
    out[:max(-2 - ip, 0)] = 0.0  # windows that leave the padded source
    out[max(n + 1 - ip, 0):] = 0.0
    return out
