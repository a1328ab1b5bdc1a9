"""Our PELT (``validator.align.track.pelt_l2``) against ``ruptures``, the reference implementation.

``ruptures.Pelt(model="l2", min_size=2, jump=1)`` minimises the same penalised
squared-error cost; both must return the same change points. The candidate-
restricted form used on dense tracks must agree with the full search on
piecewise-constant tracks.
"""

from __future__ import annotations

import numpy as np
import pytest

from validator.align.track import _pelt, pelt_l2

ruptures = pytest.importorskip("ruptures")


@pytest.mark.parametrize("n,sigma,rate", [(300, 0.01, 0.02), (800, 0.1, 0.02),
                                          (1200, 0.05, 0.005), (200, 0.3, 0.05)])
def test_pelt_l2_equals_ruptures(n, sigma, rate, rng):
    x = np.cumsum(rng.random(n) < rate) * 0.5 + sigma * rng.standard_normal(n)
    pen = 4.0 * sigma * sigma * np.log(n)
    want = ruptures.Pelt(model="l2", min_size=2, jump=1).fit(x[:, None]).predict(pen=pen)
    assert pelt_l2(x, pen) == want


def test_candidate_restriction_keeps_the_change_points(rng):
    n, sigma = 5000, 0.002
    steps = np.sort(rng.choice(np.arange(10, n - 10), 30, replace=False))
    x = np.zeros(n)
    for s in steps:
        x[s:] += rng.choice([-1, 1]) * rng.uniform(0.1, 0.8)
    x += sigma * rng.standard_normal(n)
    pen = 4.0 * 0.01 ** 2 * np.log(n)
    full = pelt_l2(x, pen)[:-1]
    restricted = list(np.flatnonzero(np.diff(_pelt(x, pen, 0.01))) + 1)
    assert restricted == full
    assert all(any(abs(b - s) <= 1 for b in full) for s in steps)


def test_flat_track_has_no_change_point(rng):
    x = 0.01 * rng.standard_normal(2000)
    assert pelt_l2(x, 4.0 * 1e-4 * np.log(2000)) == [2000]
