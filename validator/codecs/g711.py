"""ITU-T G.711 mu-law (PCMU) and A-law (PCMA): encode, decode, lookup tables.

Bit-exact with the ITU-T G.191 Software Tool Library (``g711.c``): audio is
quantised to the 16-bit grid first (``clip(round(y * 32768), -32768,
32767)``), and codes decode to 16-bit values divided by 32768.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from validator.errors import AudioFormatError

__all__ = ["a_law_decode", "a_law_encode", "g711_decode_table", "mu_law_decode", "mu_law_encode"]

_FULL_SCALE_16 = 32768


def _to_int16_grid(y: Any) -> np.ndarray:
    a = np.asarray(y)
    if not np.issubdtype(a.dtype, np.floating):
        raise AudioFormatError(f"audio must be floating point in [-1, 1), got dtype {a.dtype!r}")
    if not np.all(np.isfinite(a)):
        raise AudioFormatError("audio contains NaN or infinite samples")
    return np.clip(np.round(a * _FULL_SCALE_16), -32768, 32767).astype(np.int32)


def _codes(codes: Any) -> np.ndarray:
    c = np.asarray(codes)
    if not np.issubdtype(c.dtype, np.integer) or (c.size and (c.min() < 0 or c.max() > 255)):
        raise AudioFormatError("G.711 codes must be integers in 0..255")
    return c.astype(np.int32)


def _bit_length(v: np.ndarray) -> np.ndarray:
    """Bit length of non-negative ints (0 -> 0), exact for v < 2**52."""
    return np.frexp(v.astype(np.float64))[1].astype(np.int32)


def mu_law_encode(y: np.ndarray) -> np.ndarray:
    """Encode audio to G.711 mu-law codes.

    Parameters
    ----------
    y : np.ndarray, any shape, float
        Audio in full-scale units; quantised first to the 16-bit grid
        ``clip(round(y * 32768), -32768, 32767)``.

    Returns
    -------
    np.ndarray, same shape, uint8
        Transmitted code octets (0xFF and 0x7F are zero; 0x80 and 0x00 the
        positive and negative maxima).

    Raises
    ------
    AudioFormatError
        ``y`` is not a finite floating array.

    Notes
    -----
    ITU-T Rec. G.711 (1988) Table 2a, implemented as ``ulaw_compress`` of the
    ITU-T G.191 Software Tool Library (g711.c): 14-bit magnitude, bias 33,
    8 segments; negative inputs use the one's complement.
    """
    lin = _to_int16_grid(y)
    absno = np.where(lin < 0, (~lin) >> 2, lin >> 2) + 33
    absno = np.minimum(absno, 0x1FFF)
    segno = 1 + _bit_length(absno >> 6)
    high = 8 - segno
    low = 0xF - ((absno >> segno) & 0xF)
    code = (high << 4) | low
    code = np.where(lin >= 0, code | 0x80, code)
    return code.astype(np.uint8)


def mu_law_decode(codes: np.ndarray) -> np.ndarray:
    """Decode G.711 mu-law codes to audio.

    Parameters
    ----------
    codes : np.ndarray, any shape, integer in 0..255
        Code octets.

    Returns
    -------
    np.ndarray, same shape, float64
        Decoded values in full-scale units (16-bit value / 32768); the range
        is +-32124/32768.

    Raises
    ------
    AudioFormatError
        Codes are not integers in 0..255.

    Notes
    -----
    ITU-T Rec. G.711 Table 2a, as ``ulaw_expand`` of ITU-T G.191 (g711.c).
    """
    c = _codes(codes)
    sign = np.where(c < 0x80, -1, 1)
    mant = ~c
    exponent = (mant >> 4) & 0x7
    step = 4 << (exponent + 1)
    mant = mant & 0xF
    lin = sign * ((0x80 << exponent) + step * mant + step // 2 - 4 * 33)
    return lin.astype(np.float64) / _FULL_SCALE_16


def a_law_encode(y: np.ndarray) -> np.ndarray:
    """Encode audio to G.711 A-law codes.

    Parameters
    ----------
    y : np.ndarray, any shape, float
        Audio in full-scale units; quantised first to the 16-bit grid
        ``clip(round(y * 32768), -32768, 32767)``.

    Returns
    -------
    np.ndarray, same shape, uint8
        Transmitted code octets, even bits inverted (0xD5 / 0x55 are the
        smallest positive / negative values).

    Raises
    ------
    AudioFormatError
        ``y`` is not a finite floating array.

    Notes
    -----
    ITU-T Rec. G.711 (1988) Table 1a, implemented as ``alaw_compress`` of the
    ITU-T G.191 Software Tool Library (g711.c): 12-bit magnitude, 8 segments,
    XOR 0x55; negative inputs use the one's complement.
    """
    lin = _to_int16_grid(y)
    ix = np.where(lin < 0, (~lin) >> 4, lin >> 4)
    big = ix > 15
    iexp = np.where(big, _bit_length(ix) - 4, 0)
    mant = (ix >> np.maximum(iexp - 1, 0)) - 16
    code = np.where(big, mant + (iexp << 4), ix)
    code = np.where(lin >= 0, code | 0x80, code)
    return (code ^ 0x55).astype(np.uint8)


def a_law_decode(codes: np.ndarray) -> np.ndarray:
    """Decode G.711 A-law codes to audio.

    Parameters
    ----------
    codes : np.ndarray, any shape, integer in 0..255
        Code octets.

    Returns
    -------
    np.ndarray, same shape, float64
        Decoded values in full-scale units (16-bit value / 32768); the range
        is +-32256/32768.

    Raises
    ------
    AudioFormatError
        Codes are not integers in 0..255.

    Notes
    -----
    ITU-T Rec. G.711 Table 1a, as ``alaw_expand`` of ITU-T G.191 (g711.c).
    """
    c = _codes(codes)
    ix = (c ^ 0x55) & 0x7F
    iexp = ix >> 4
    mant = ix & 0xF
    mant = np.where(iexp > 0, mant + 16, mant)
    mant = (mant << 4) + 8
    mant = mant << np.maximum(iexp - 1, 0)
    lin = np.where(c > 127, mant, -mant)
    return lin.astype(np.float64) / _FULL_SCALE_16


@functools.lru_cache(maxsize=2)
def _decode_table(encoding: str) -> np.ndarray:
    codes = np.arange(256)
    table = mu_law_decode(codes) if encoding == "PCMU" else a_law_decode(codes)
    table.setflags(write=False)
    return table


def g711_decode_table(encoding: str) -> np.ndarray:
    """The decoded value of every code octet, for decoding by table lookup.

    Parameters
    ----------
    encoding : {"PCMU", "PCMA"}
        mu-law or A-law.

    Returns
    -------
    np.ndarray, shape=(256,), float64, read-only
        ``table[code]`` is :func:`mu_law_decode` (or :func:`a_law_decode`)
        of ``code``, in full-scale units.

    Raises
    ------
    AudioFormatError
        Neither ``"PCMU"`` nor ``"PCMA"``.
    """
    if encoding not in ("PCMU", "PCMA"):
        raise AudioFormatError(f"not a G.711 encoding: {encoding!r} (expected 'PCMU' or 'PCMA')")
    return _decode_table(encoding)
