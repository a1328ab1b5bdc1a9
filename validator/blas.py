"""BLAS products cut small enough that BLAS runs them on the calling thread.

OpenBLAS (numpy's wheels ship it) splits a dot product of more than 10,000
elements, and a matrix product of more than 262,144 multiply-adds
(``m * n * k``), across its threads. The validation's products are a few
microseconds each, so threads gain nothing; and where the library's threads
must be woken, or the machine is busy with other work (a test suite on every
core), each such call waits for them: in process, with two BLAS threads and
one core busy elsewhere, a 10 s validation took 0.58 s before these helpers
(the harmonic fit's complex dot products waiting about 7 ms each) and
0.21-0.25 s after, as with one BLAS thread. The command line and the batch workers
start with one BLAS thread; the Python API runs in the caller's process,
whose numpy may have many. These helpers cut every product below those sizes,
so it never starts a thread, whatever the caller's settings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Longest stretch of one dot product (OpenBLAS threads above 10,000).
DOT_CHUNK = 8192
#: Most multiply-adds of one matrix product (OpenBLAS threads above 65536 * 4).
MATMUL_CHUNK = 262_144


def dot(a: np.ndarray, b: np.ndarray) -> Any:
    """``np.dot(a, b)`` of two 1-D arrays, in stretches of at most :data:`DOT_CHUNK`.

    Parameters
    ----------
    a, b : np.ndarray, shape=(n,), float64 or complex128

    Returns
    -------
    numpy float64 or complex128
        Equal to ``np.dot(a, b)`` to rounding (the stretches' sums added).
    """
    n = a.shape[0]
    if n <= DOT_CHUNK:
        return np.dot(a, b)
    total = np.dot(a[:DOT_CHUNK], b[:DOT_CHUNK])
    for i in range(DOT_CHUNK, n, DOT_CHUNK):
        total += np.dot(a[i:i + DOT_CHUNK], b[i:i + DOT_CHUNK])
    return total


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` of two 2-D arrays, in row blocks of at most :data:`MATMUL_CHUNK` products.

    Parameters
    ----------
    a : np.ndarray, shape=(m, k)
    b : np.ndarray, shape=(k, n)

    Returns
    -------
    np.ndarray, shape=(m, n)
        Equal to ``a @ b`` to rounding.
    """
    m, k = a.shape
    n = b.shape[1]
    rows = max(MATMUL_CHUNK // max(k * n, 1), 1)
    if m <= rows:
        return a @ b  # type: ignore[no-any-return]
    out = np.empty((m, n), dtype=np.result_type(a, b))
    for i in range(0, m, rows):
        np.matmul(a[i:i + rows], b, out=out[i:i + rows])
    return out
