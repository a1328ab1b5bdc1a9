"""Codec faults: G.711 mu-law and A-law round trips (the codec is :mod:`validator.codecs`).

Conventions: :mod:`validator.impair.model`.
"""

from __future__ import annotations

import numpy as np

from validator.codecs.g711 import a_law_decode, a_law_encode, mu_law_decode, mu_law_encode
from validator.impair.model import (
    Impaired,
    _audio,
    _rate,
    _whole,
)

__all__ = [
    "a_law_round_trip",
    "mu_law_round_trip",
]


# --------------------------------------------------------------------------- G.711 round trips
# (the codec itself is validator.codecs.g711)


def mu_law_round_trip(y: np.ndarray, sample_rate_hz: int) -> Impaired:
    """Pass audio through a G.711 mu-law (PCMU) encoder and decoder.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified. Values beyond full scale are clipped by
        the 16-bit quantiser (and not reported).
    sample_rate_hz : int
        Sample rate in Hz (G.711 is specified at 8000 Hz; any rate is accepted).

    Returns
    -------
    Impaired
        One condition fault of kind ``"codec"`` spanning the file,
        ``detail={"cause": "mu_law_round_trip", "codec": "PCMU"}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.

    Notes
    -----
    See :func:`mu_law_encode` and :func:`mu_law_decode`. The round trip of a
    -10 dBFS sine has an SNR of about 38 dB.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    out = mu_law_decode(mu_law_encode(x))
    return Impaired(
        out, (_whole("codec", None, out, fs, cause="mu_law_round_trip", codec="PCMU"),), fs
    )


def a_law_round_trip(y: np.ndarray, sample_rate_hz: int) -> Impaired:
    """Pass audio through a G.711 A-law (PCMA) encoder and decoder.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified. Values beyond full scale are clipped by
        the 16-bit quantiser (and not reported).
    sample_rate_hz : int
        Sample rate in Hz.

    Returns
    -------
    Impaired
        One condition fault of kind ``"codec"`` spanning the file,
        ``detail={"cause": "a_law_round_trip", "codec": "PCMA"}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.

    Notes
    -----
    See :func:`a_law_encode` and :func:`a_law_decode`.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    out = a_law_decode(a_law_encode(x))
    return Impaired(
        out, (_whole("codec", None, out, fs, cause="a_law_round_trip", codec="PCMA"),), fs
    )
