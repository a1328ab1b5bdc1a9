"""Order statistics: numpy's own numbers, without importing ``numpy.ma``.

``np.median``, ``np.percentile`` and ``np.unique`` call ``np.ma.isMaskedArray``
or ``np.ma.is_masked``, and the first such call imports ``numpy.ma``: 11-19 ms
of a 10 s validation's cold start (the speed issue's target for all of it is
0.5 s). Nothing else on a validation's path needs ``numpy.ma``, so the
validation uses these instead. They give the same numbers, bit for bit, by
numpy's own steps: :func:`median` is ``numpy.lib._function_base_impl._median``
with its NaN check done here (or, for a long 1-D array, the mean of the middle
values found inside a bracket of them); :func:`percentile` is numpy's ``"linear"``
method (Hyndman and Fan's definition 7) as ``_quantile`` computes it, with the
partition's indices sorted in Python instead of by ``np.unique``.
``tests/test_kernels.py`` checks each against numpy.

References
----------
.. [1] R. J. Hyndman and Y. Fan, "Sample quantiles in statistical packages",
   The American Statistician 50(4), 1996 (definition 7).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

#: Shortest 1-D input whose median :func:`median` takes from a bracket of its middle.
BRACKET_MIN = 64 * 64


def median(a: ArrayLike, axis: int | None = None) -> Any:
    """``np.median(a, axis=axis)``, to the bit.

    A long 1-D input (:data:`BRACKET_MIN` values or more) is first tried by
    :func:`_bracketed_median`, three to four times faster on an amplitude
    track whose values are nearly all alike; anything else, and any input
    that way cannot settle, by numpy's own steps.

    Parameters
    ----------
    a : array_like, shape=(n,) or (m, n), real
        Not modified (a copy is partitioned, as numpy does).
    axis : int, optional
        Axis along which the median is taken; None: the flattened array.

    Returns
    -------
    numpy scalar or np.ndarray
        What ``np.median`` returns: a scalar of the mean's type (``np.float64``
        for integers and float64, ``np.float32`` for float32) for ``axis=None``
        or a 1-D input, else an array; NaN where a NaN was among the values.
        An empty input goes to ``np.median`` itself (NaN, with its warning).
    """
    arr = np.asanyarray(a)
    if axis is None and arr.ndim == 1 and arr.size >= BRACKET_MIN:
        fast = _bracketed_median(arr)
        if fast is not None:
            return fast
    sz = arr.size if axis is None else arr.shape[axis]
    if sz == 0:
        return np.median(arr, axis=axis)
    if axis is not None:
        axis = axis % arr.ndim
    kth = [sz // 2 - 1, sz // 2] if sz % 2 == 0 else [(sz - 1) // 2]
    nans = np.issubdtype(arr.dtype, np.inexact)
    if nans:
        kth.append(-1)
    part = np.partition(arr, kth, axis=axis)
    if part.shape == ():  # pragma: no cover (a 0-d input)
        return part.item()
    axis = 0 if axis is None else axis
    index = part.shape[axis] // 2
    indexer: list[slice] = [slice(None)] * part.ndim
    indexer[axis] = slice(index, index + 1) if part.shape[axis] % 2 else \
        slice(index - 1, index + 1)
    out = np.mean(part[tuple(indexer)], axis=axis)
    if nans:  # numpy's _median_nancheck, less its masked-array test
        last = part.take(-1, axis=axis)
        isnan = np.isnan(last)
        if isnan.any():
            if isinstance(out, np.generic):
                return last
            np.copyto(out, last, where=isnan)
    return out


def _bracketed_median(x: np.ndarray, *, step: int = 64, band: float = 0.05) -> Any:
    """:func:`median` of a long 1-D array from a bracket of its middle, or None.

    A sample of every ``step``-th value gives two values either side of the
    median (``band`` of the sample below and above its middle); when the
    values below the lower one and those between the two bracket the middle
    ranks, only those between are partitioned. The middle values' mean is
    numpy's own (``np.mean`` of them), so the result is ``np.median(x)`` to
    the bit. None (the caller takes numpy's steps) when the bracket misses
    the middle, or with a NaN (whose comparisons leave values uncounted).
    """
    n = x.size
    k_lo, k_hi = (n - 1) // 2, n // 2
    sample = np.sort(x[::step])
    m = len(sample)
    lo, hi = sample[int(m * (0.5 - band))], sample[min(int(m * (0.5 + band)) + 1, m - 1)]
    below = int(np.count_nonzero(x < lo))
    inside = x[(x >= lo) & (x <= hi)]
    above = int(np.count_nonzero(x > hi))
    if below + len(inside) + above != n or not below <= k_lo <= k_hi < below + len(inside):
        return None
    part = np.partition(inside, [k_lo - below, k_hi - below])
    return np.mean(part[k_lo - below:k_hi - below + 1])


def percentile(a: np.ndarray, q: float) -> Any:
    """``np.percentile(a, q)`` of a 1-D real array, to the bit.

    Parameters
    ----------
    a : np.ndarray, shape=(n,), float or int, ``n >= 1``
        Not modified (a copy is partitioned, as numpy does).
    q : float
        Percentile, 0 to 100.

    Returns
    -------
    numpy scalar
        numpy's value (a NaN when ``a`` holds one), of its type (``np.float64``,
        or ``np.float32`` for a float32 array).

    Raises
    ------
    ValueError
        If ``a`` is empty or not 1-D, or ``q`` is outside [0, 100].
    """
    arr = np.asanyarray(a)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"percentile needs a non-empty 1-D array, got shape {arr.shape!r}")
    if arr.dtype.kind == "c" or not 0 <= q <= 100:
        raise ValueError(f"percentile needs real values and q in [0, 100], got q={q!r}")
    arr = arr.flatten()  # numpy partitions a copy
    n = arr.shape[0]
    quantile = np.true_divide(q, 100, out=...)
    virtual = np.asanyarray((n - 1) * quantile)
    if np.issubdtype(virtual.dtype, np.integer):  # pragma: no cover (q is a float)
        return np.percentile(a, q)
    previous = np.floor(virtual, out=...)
    following = np.add(previous, 1, out=...)
    if virtual >= n - 1:
        previous[...] = -1
        following[...] = -1
    if np.isnan(virtual):  # pragma: no cover (q is checked)
        previous[...] = -1
        following[...] = -1
    previous = previous.astype(np.intp)
    following = following.astype(np.intp)
    # numpy: arr.partition(np.unique(np.concatenate(([0, -1], previous, next))))
    arr.partition(np.array(sorted({0, -1, int(previous), int(following)}), dtype=np.intp))
    nans = np.issubdtype(arr.dtype, np.inexact) and bool(np.isnan(arr[-1]))
    lo, hi = arr[previous], arr[following]
    gamma = float(np.asanyarray(virtual - previous, dtype=virtual.dtype))  # (weak q)
    diff = hi - lo
    out = np.add(lo, diff * gamma, out=...)
    np.subtract(hi, diff * (1 - gamma), out=out, where=gamma >= 0.5, casting="unsafe",
                dtype=type(out.dtype))
    result = out[()]
    return arr[-1] if nans else result


def unique_values(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` of a 1-D integer array: its distinct values, ascending.

    Parameters
    ----------
    a : np.ndarray, shape=(n,), int

    Returns
    -------
    np.ndarray, shape=(k,), the dtype of ``a``
    """
    s = np.sort(np.asarray(a).ravel())
    if len(s) < 2:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def dense_ranks(a: np.ndarray) -> np.ndarray:
    """``np.unique(a, return_inverse=True)[1]`` of a 1-D integer array.

    Parameters
    ----------
    a : np.ndarray, shape=(n,), int

    Returns
    -------
    np.ndarray, shape=(n,), intp
        The rank of each value among the distinct values, 0 for the smallest.
    """
    a = np.asarray(a).ravel()
    return np.searchsorted(unique_values(a), a).astype(np.intp)
