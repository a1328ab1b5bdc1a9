"""Numbers as the renderers print them: one formatter for HTML, JUnit and test messages.

No trailing zeros, integers as integers, ``-0`` as ``0``, infinities as
``inf``/``-inf``; what stands for a missing value (None) and for NaN is the
caller's choice (``-`` in a table cell, ``none``/``nan`` in a JUnit message).
"""

from __future__ import annotations

import math

__all__ = ["format_number"]


def format_number(x: float | int | None, *, decimals: int = 3, none: str = "-",
                  nan: str = "-") -> str:
    """A number with at most ``decimals`` decimals and no trailing zeros.

    Parameters
    ----------
    x : int, float, bool or None
        The value; a bool prints as ``True``/``False``.
    decimals : int
        Decimals kept at most (rounded half to even, as ``format``).
    none : str
        What None prints as.
    nan : str
        What NaN prints as.

    Returns
    -------
    str
        E.g. ``"0.5"``, ``"-37.24"``, ``"4"``, ``"inf"``; never ``"-0"``.
    """
    if x is None:
        return none
    if isinstance(x, bool | int):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return nan
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
