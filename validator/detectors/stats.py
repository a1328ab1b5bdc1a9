"""Chi-square tail quantiles for the detectors' thresholds, without scipy.

A frame's residual power, in noise, is a scaled chi-square variable with one
degree of freedom per sample; its false-alarm threshold is the upper quantile
of that distribution. ``scipy.special.chdtri`` gives it too, but importing
scipy costs about 0.3 s, most of a short validation's cold start, for the
three numbers a run needs. This is the textbook method instead, checked
against scipy in ``tests/test_stats.py``.

References
----------
.. [1] W. H. Press et al., *Numerical Recipes*, 3rd ed., section 6.2
   (incomplete gamma function: series and Lentz continued fraction).
"""

from __future__ import annotations

import functools
import math

_EPS = 1e-15
_MAX_TERMS = 10_000


def gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma function ``Q(a, x) = Gamma(a, x) / Gamma(a)``.

    Parameters
    ----------
    a : float
        Shape, > 0.
    x : float
        Point, >= 0.

    Returns
    -------
    float
        In [0, 1]; relative accuracy about 1e-14.

    Raises
    ------
    ValueError
        If ``a <= 0`` or ``x < 0``.
    """
    if not a > 0 or x < 0:
        raise ValueError(f"gamma_q needs a > 0 and x >= 0, got a={a!r}, x={x!r}")
    if x == 0:
        return 1.0
    log_pre = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:  # series for P, Q = 1 - P
        term = total = 1.0 / a
        for n in range(1, _MAX_TERMS):
            term *= x / (a + n)
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return max(0.0, 1.0 - total * math.exp(log_pre))
    # continued fraction for Q (modified Lentz)
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(log_pre) * h


@functools.lru_cache(maxsize=64)
def chi2_isf(dof: float, p: float) -> float:
    """Upper quantile of the chi-square distribution: ``x`` with ``P(X > x) = p``.

    Parameters
    ----------
    dof : float
        Degrees of freedom, > 0.
    p : float
        Tail probability, 0 < p < 1.

    Returns
    -------
    float
        The quantile (``scipy.special.chdtri(dof, p)``), relative accuracy
        about 1e-12: bisection on ``Q(dof / 2, x / 2) = p`` in log space.

    Raises
    ------
    ValueError
        If ``dof <= 0`` or ``p`` is not in (0, 1).
    """
    if not dof > 0 or not 0.0 < p < 1.0:
        raise ValueError(f"chi2_isf needs dof > 0 and 0 < p < 1, got dof={dof!r}, p={p!r}")
    a = dof / 2.0
    target = math.log(p)

    def f(x: float) -> float:  # decreasing in x
        q = gamma_q(a, x / 2.0)
        return (math.log(q) if q > 0 else -math.inf) - target

    lo, hi = 0.0, max(2.0 * dof, 1.0)
    while f(hi) > 0:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return 0.5 * (lo + hi)
