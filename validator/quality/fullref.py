"""The two full-reference metrics, behind one call each: ViSQOL v3 and PESQ.

Both take a reference and a degraded signal that are *already aligned*
(same rate, same length, sample for sample; :mod:`validator.quality.warp`
does that from the validator's alignment), and return a MOS-LQO or the reason
there is none. They never return a default number.

- **ViSQOL v3** (Hines et al. 2015; Chinen et al., "ViSQOL v3: an open source
  production ready objective speech and audio metric", QoMEX 2020) through
  ``visqol-python``: speech mode at 16 kHz with the deep-lattice mapper (the
  C++ default; the polynomial fallback over-predicts), audio mode at 48 kHz
  with the SVR mapper. Its own global alignment is switched off: the input is
  aligned already, and a global search on a badly damaged window can lock on
  a wrong lag. Its patch-level realignment stays on. Its score depends on the
  absolute level, so the caller levels the pair first
  (:data:`validator.quality.VISQOL_PEAK_DBFS`).
- **PESQ**: ITU-T P.862 (narrow band, 8 kHz, with the P.862.1 MOS-LQO
  mapping) and P.862.2 (wide band, 16 kHz), through ``pesq``, which wraps the
  ITU reference C code (it carries the ITU/owners' IP notice, hence the
  optional extra).

Both load lazily; without them :class:`~validator.errors.MissingDependencyError`
names the ``quality`` extra. The first ViSQOL call in a process compiles its
Numba kernels (about 10-30 s; cached on disk after the first run).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from validator.errors import MissingDependencyError
from validator.quality.spec import QUALITY_EXTRA, split_metric

__all__ = ["SAMPLE_RATES_HZ", "metric_rate_hz", "require", "score"]

#: (metric, mode) -> the rate it runs at, Hz.
SAMPLE_RATES_HZ: dict[tuple[str, str], int] = {
    ("visqol", "speech"): 16000,
    ("visqol", "audio"): 48000,
    ("pesq", "wb"): 16000,
    ("pesq", "nb"): 8000,
}


def metric_mode(spec: str, capture_rate_hz: int) -> tuple[str, str]:
    """``(metric, mode)`` of a canonical spec, PESQ's ``auto`` resolved by the capture's rate.

    ``pesq:auto`` is wide band (P.862.2) for captures at 16 kHz and above and
    narrow band (P.862) below: a narrow-band capture upsampled to 16 kHz would
    be scored as a band-limited wide-band signal.
    """
    name, mode = split_metric(spec)
    if name == "pesq" and mode == "auto":
        mode = "wb" if capture_rate_hz >= 16000 else "nb"
    return name, mode


def metric_rate_hz(name: str, mode: str) -> int:
    """The rate a metric runs at, Hz."""
    return SAMPLE_RATES_HZ[(name, mode)]


def require(specs: tuple[str, ...]) -> None:
    """Check that the packages of the metrics asked for import, before any work is done.

    Raises
    ------
    MissingDependencyError
        A metric's package (``visqol-python`` with its lattice runtime, or
        ``pesq``) is not installed; the message names the ``quality`` extra.
    """
    for spec in specs:
        name, mode = split_metric(spec)
        try:
            if name == "visqol":
                import visqol  # noqa: F401
                if mode == "speech":
                    import ai_edge_litert.interpreter  # noqa: F401
            else:
                import pesq  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError(
                f"quality metric {name!r} needs the quality extra ({exc.name or 'a package'} "
                f"is missing): {QUALITY_EXTRA}") from exc


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (the TFLite runtime prints an INFO line from C++)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


@functools.lru_cache(maxsize=2)
def _visqol_api(mode: str) -> Any:
    """One configured ViSQOL per mode and process (its model loads once)."""
    from visqol import VisqolApi

    api = VisqolApi()
    with _quiet_stderr():
        api.create(mode=mode, use_lattice_model=True if mode == "speech" else None,
                   disable_global_alignment=True)
    return api


def score(name: str, mode: str, reference: np.ndarray, degraded: np.ndarray) -> \
        tuple[float | None, str | None]:
    """MOS-LQO of an aligned pair, or the metric's reason for giving none.

    Parameters
    ----------
    name : {"visqol", "pesq"}
    mode : str
        ``"speech"`` / ``"audio"`` (ViSQOL), ``"wb"`` / ``"nb"`` (PESQ).
    reference, degraded : np.ndarray, shape=(n_samples,), float
        At :func:`metric_rate_hz` of the metric, aligned sample for sample,
        full scale 1.0.

    Returns
    -------
    mos_lqo : float or None
        1 .. 5 (ViSQOL audio mode tops out near 4.75), rounded to 3 decimals.
    reason : str or None
        Why there is no score: the metric's own message (PESQ's "no utterance
        detected", a buffer too short, ViSQOL's NaN). None with a score.

    Raises
    ------
    MissingDependencyError
        The metric's package is not installed.
    """
    require((f"{name}:{mode}",))
    ref = np.ascontiguousarray(reference, dtype=np.float64)
    deg = np.ascontiguousarray(degraded, dtype=np.float64)
    if name == "visqol":
        return _visqol(mode, ref, deg)
    return _pesq(mode, ref, deg)


def _visqol(mode: str, ref: np.ndarray, deg: np.ndarray) -> tuple[float | None, str | None]:
    api = _visqol_api(mode)
    try:
        with np.errstate(all="ignore"):
            mos = float(api.measure_from_arrays(ref, deg, metric_rate_hz("visqol", mode)).moslqo)
    except (ValueError, IndexError, ZeroDivisionError, FloatingPointError,
            RuntimeError) as exc:  # its failures on short or empty input
        return None, f"ViSQOL failed: {type(exc).__name__}: {exc}"
    if not math.isfinite(mos):
        return None, "ViSQOL found nothing to compare (its score is NaN)"
    return round(mos, 3), None


def _pesq(mode: str, ref: np.ndarray, deg: np.ndarray) -> tuple[float | None, str | None]:
    import pesq

    try:
        mos = float(pesq.pesq(metric_rate_hz("pesq", mode), ref, deg, mode))
    except pesq.NoUtterancesError:
        return None, "no utterance detected (PESQ found no speech)"
    except pesq.BufferTooShortError:
        return None, "too short for PESQ"
    except (pesq.PesqError, ValueError, FloatingPointError) as exc:
        return None, f"PESQ failed: {type(exc).__name__}: {exc}"
    if not math.isfinite(mos):
        return None, "PESQ gave no finite score"
    return round(mos, 3), None
