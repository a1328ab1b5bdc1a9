"""Chi-square tail quantiles (validator.detectors.stats) against scipy.special.chdtri."""

from __future__ import annotations

import math

import pytest

from validator.detectors.stats import chi2_isf, gamma_q

special = pytest.importorskip("scipy.special")

#: Degrees of freedom the glitch detector meets: 1 ms frames at 4..192 kHz, times 1, 4, 16.
DOFS = (1, 2, 4, 8, 16, 44, 48, 64, 176, 192, 256, 704, 768, 3072, 12288)
PROBS = (1e-12, 1e-9, 1e-6, 1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.999)


@pytest.mark.parametrize("dof", DOFS)
def test_chi2_isf_matches_scipy(dof):
    for p in PROBS:
        want = float(special.chdtri(dof, p))
        assert chi2_isf(dof, p) == pytest.approx(want, rel=1e-10), (dof, p)


@pytest.mark.parametrize("a", (0.5, 1.0, 2.5, 8.0, 24.0, 96.0, 6144.0))
def test_gamma_q_matches_scipy_on_both_branches(a):
    for x in (0.0, 0.1 * a, 0.5 * a, a, a + 0.5, a + 2.0, 2 * a, 3 * a + 30):
        assert gamma_q(a, x) == pytest.approx(float(special.gammaincc(a, x)), rel=1e-10,
                                              abs=1e-300), (a, x)


def test_quantile_is_the_inverse_of_the_tail():
    for dof in (3, 48, 768):
        for p in (1e-6, 0.05):
            x = chi2_isf(dof, p)
            assert gamma_q(dof / 2, x / 2) == pytest.approx(p, rel=1e-9)
            assert math.isfinite(x) and x > 0


@pytest.mark.parametrize("dof, p", [(0, 0.1), (-1, 0.1), (4, 0.0), (4, 1.0), (4, float("nan"))])
def test_bad_arguments_raise(dof, p):
    with pytest.raises(ValueError):
        chi2_isf(dof, p)
