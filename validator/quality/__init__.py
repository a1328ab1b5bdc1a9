"""Call quality scores: ViSQOL v3 and PESQ from the audio (here), the E-model from the network.

The E-model (ITU-T G.107) of RTP streams lives in :mod:`validator.quality.emodel`,
:mod:`validator.quality.rating` and :mod:`validator.quality.loss`. This
package's own functions are the full-reference scores on the validator's alignment.

Users read a MOS first and the events second. This stage scores the received
audio against its reference with the metrics they know, after the
validator's own alignment has undone the delay, the clock drift and every
splice (:mod:`validator.quality.warp`): the two classic failures of these
metrics in the field (PESQ's length mismatch, ViSQOL failing when the global
delay exceeds half a patch) cannot happen, and audio the receiver skipped is
scored as the silence it left.

- :func:`assess_quality` is the pipeline's stage: the whole capture plus
  sliding windows (default 8 s, 4 s hop, on the reference timeline) that
  locate a drop in quality; each window says where it lies on the received
  file.
- :func:`score_aligned` scores two arrays that are already aligned.
- Where a score cannot be computed (a silent or too short span, no active
  speech, the metric's own "no utterance detected"), the result says why and
  gives no number (:attr:`validator.result.QualityScore.reason`).

The metrics are an optional extra (``pip install
'audio-stream-validator[quality]'``): ``visqol-python`` (ViSQOL v3,
Apache-2.0, its models ship in the wheel) and ``pesq`` (the ITU-T P.862
reference C code, which carries the ITU/owners' IP notice).

References
----------
.. [1] ITU-T P.862 (02/2001), "Perceptual evaluation of speech quality (PESQ)";
   P.862.1 (11/2003), its mapping to MOS-LQO; P.862.2 (11/2007), the
   wideband extension.
.. [2] M. Chinen, F. S. C. Lim, J. Skoglund, N. Gureev, F. O'Gorman and
   A. Hines, "ViSQOL v3: An Open Source Production Ready Objective Speech and
   Audio Metric", QoMEX 2020.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from validator.errors import QualityError
from validator.quality.spec import METRICS, QUALITY_EXTRA, parse_metrics
from validator.result import QualityResult, QualityScore, QualityWindow

if TYPE_CHECKING:  # pragma: no cover
    from validator.align.channels import ChannelAlignments
    from validator.io.audio import AudioSource

__all__ = ["DEFAULT_HOP_S", "DEFAULT_WINDOW_S", "METRICS", "MIN_ACTIVE_S", "MIN_SCORED_S",
           "QUALITY_EXTRA", "assess_quality", "parse_metrics", "requested_metrics",
           "score_aligned"]

#: Sliding window length and hop on the reference timeline, s.
DEFAULT_WINDOW_S = 8.0
DEFAULT_HOP_S = 4.0
#: Shortest span scored, s (PESQ and ViSQOL both fail below about 0.75 s).
MIN_SCORED_S = 1.0
#: Least active speech (reference frames within 40 dB of its loudest) in a scored span, s.
MIN_ACTIVE_S = 1.0
#: Frame for the activity measure, s; a frame is active within this many dB of the loudest.
ACTIVITY_FRAME_S = 0.02
ACTIVITY_RANGE_DB = 40.0
#: Received audio quieter than this over a span (RMS, dBFS) is silent: nothing to score.
SILENT_DBFS = -90.0
#: ViSQOL's score moves with the absolute level (its spectrogram has a fixed floor: the same
#: speech against itself scores 4.34 at a -12 dBFS peak and 4.55 at -1 dBFS), so both signals
#: are scaled by one gain that puts the reference's peak here, dBFS. PESQ levels itself.
VISQOL_PEAK_DBFS = -1.0


def _level_dbfs(x: np.ndarray) -> float:
    """RMS level, dB re a full-scale sine (AES17)."""
    p = float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0
    return 10.0 * np.log10(max(2.0 * p, 1e-30))


def _frame_levels_db(x: np.ndarray, fs: int) -> np.ndarray:
    n = max(int(ACTIVITY_FRAME_S * fs), 1)
    m = len(x) // n
    if m == 0:
        return np.zeros(0)
    p = np.mean(np.square(x[:m * n].reshape(m, n), dtype=np.float64), axis=1)
    return 10.0 * np.log10(np.maximum(2.0 * p, 1e-30))


class _Scorer:
    """Scores spans of one aligned pair at the metric's rate, with the honest refusals first."""

    def __init__(self, name: str, mode: str, reference: np.ndarray, received: np.ndarray,
                 sample_rate_hz: int) -> None:
        self.name, self.mode = name, mode
        self.ref, self.rec, self.fs = reference, received, sample_rate_hz
        peak = float(np.max(np.abs(reference))) if reference.size else 0.0
        self.gain = 10 ** (VISQOL_PEAK_DBFS / 20) / peak if name == "visqol" and peak > 0 \
            else 1.0
        levels = _frame_levels_db(reference, sample_rate_hz)
        self.levels = levels
        top = float(levels.max()) if levels.size else -300.0
        self.active_floor_db = max(top - ACTIVITY_RANGE_DB, SILENT_DBFS)

    def __call__(self, a: int, b: int) -> tuple[float | None, str | None]:
        from validator.quality.fullref import score

        dur = (b - a) / self.fs
        if dur < MIN_SCORED_S - 1e-9:
            return None, f"too short: {dur:.2f} s (at least {MIN_SCORED_S:g} s is needed)"
        flen = max(int(ACTIVITY_FRAME_S * self.fs), 1)
        frames = self.levels[a // flen:b // flen]
        active_s = float(np.sum(frames >= self.active_floor_db)) * flen / self.fs
        if active_s < MIN_ACTIVE_S:
            what = "the reference is silent" if not np.any(frames > SILENT_DBFS) else \
                f"only {active_s:.2f} s of active signal in the reference"
            return None, f"{what} (at least {MIN_ACTIVE_S:g} s is needed)"
        if _level_dbfs(self.rec[a:b]) < SILENT_DBFS:
            return None, (f"the received audio is silent (below {SILENT_DBFS:g} dBFS) where the "
                          "reference is active: no score, see the silence and dropout events")
        return score(self.name, self.mode, self.gain * self.ref[a:b], self.gain * self.rec[a:b])


def _window_starts(duration_s: float, window_s: float, hop_s: float) -> list[float]:
    """Window starts covering ``[0, duration_s]``: every hop, plus one ending at the end."""
    if duration_s <= window_s:
        return [0.0]
    starts = list(np.arange(0.0, duration_s - window_s + 1e-9, hop_s))
    if starts[-1] + window_s < duration_s - 1e-6:
        starts.append(duration_s - window_s)
    return [float(s) for s in starts]


def _check_window(window_s: float, hop_s: float) -> None:
    if not (np.isfinite(window_s) and np.isfinite(hop_s) and window_s >= MIN_SCORED_S
            and 0 < hop_s):
        raise QualityError(f"quality windows: window {window_s!r} s and hop {hop_s!r} s; "
                           f"expected a window >= {MIN_SCORED_S:g} s and a hop > 0 s")


def _assess(pairs: dict[int, tuple[np.ndarray, np.ndarray]], specs: tuple[str, ...],
            capture_rate_hz: int, *, window_s: float, hop_s: float, windows: bool,
            to_received_s: Callable[[float], float], covered: float, t0: float) -> QualityResult:
    from validator.quality.fullref import metric_mode, metric_rate_hz

    whole: dict[str, QualityScore] = {}
    scorers = []
    for spec in specs:
        name, mode = metric_mode(spec, capture_rate_hz)
        fs = metric_rate_hz(name, mode)
        ref, rec = pairs[fs]
        sc = _Scorer(name, mode, ref, rec, fs)
        mos, reason = sc(0, len(ref))
        whole[name] = QualityScore(name, mode, fs, mos, reason, round(len(ref) / fs, 3))
        scorers.append(sc)
    dur_s = min((len(sc.ref) / sc.fs for sc in scorers), default=0.0)
    wins: list[QualityWindow] = []
    if windows and scorers:
        starts = _window_starts(dur_s, window_s, hop_s)
        for s in starts:
            e = min(s + window_s, dur_s)
            vals: dict[str, float | None] = {}
            missing: list[tuple[str, str]] = []
            for sc in scorers:
                if len(starts) == 1 and e >= dur_s - 1e-9 and s == 0.0:
                    mos, reason = whole[sc.name].mos_lqo, whole[sc.name].reason
                else:
                    mos, reason = sc(int(round(s * sc.fs)), int(round(e * sc.fs)))
                vals[sc.name] = mos
                if mos is None:
                    missing.append((sc.name, reason or "not computed"))
            wins.append(QualityWindow(round(to_received_s(s), 4), round(to_received_s(e), 4),
                                      round(s, 4), round(e, 4), vals.get("visqol"),
                                      vals.get("pesq"), tuple(missing)))
    return QualityResult(visqol=whole.get("visqol"), pesq=whole.get("pesq"),
                         windows=tuple(wins), window_s=float(window_s), hop_s=float(hop_s),
                         covered_fraction=round(covered, 4),
                         elapsed_s=round(time.perf_counter() - t0, 3))


def requested_metrics(quality: str | Iterable[str] | None,
                      profile_quality: Iterable[str] = ()) -> tuple[str, ...]:
    """The metrics a run asks for (the call's, else the profile's), checked before any work.

    Parameters
    ----------
    quality : str, iterable of str or None
        ``validate(quality=...)`` / ``--quality``; None defers to the profile.
    profile_quality : iterable of str
        The profile's ``quality = [...]``.

    Returns
    -------
    tuple of str
        Canonical specs (empty: no quality scores).

    Raises
    ------
    QualityError
        A malformed metric name.
    MissingDependencyError
        The ``quality`` extra is not installed.
    """
    from validator.quality.fullref import require

    specs = parse_metrics(quality if quality is not None else tuple(profile_quality))
    require(specs)
    return specs


def assess_quality(rec: AudioSource, aligns: ChannelAlignments, metrics: str | Iterable[str], *,
                   window_s: float = DEFAULT_WINDOW_S, hop_s: float = DEFAULT_HOP_S,
                   windows: bool = True) -> QualityResult:
    """Score the received audio against its reference on the pipeline's alignment.

    Parameters
    ----------
    rec : AudioSource
        The received audio (any rate, any channel count).
    aligns : ChannelAlignments
        The pipeline's alignment of every received channel
        (:func:`validator.align.channels.align_channels`).
    metrics : str or iterable of str
        ``"visqol,pesq"``, ``["visqol:audio", "pesq:nb"]``... (see
        :func:`validator.quality.spec.parse_metrics`).
    window_s, hop_s : float
        Sliding windows on the reference timeline, s.
    windows : bool
        Also score the sliding windows.

    Returns
    -------
    QualityResult
        Whole-capture scores (each a number or a reason), the windows with
        their span on the received and the reference timelines, and the
        share of the reference the received audio carries.

    Raises
    ------
    QualityError
        A malformed metric name, or a window shorter than ``MIN_SCORED_S``.
    MissingDependencyError
        The ``quality`` extra is not installed.
    """
    from validator.io.audio import ToneSource
    from validator.quality.fullref import metric_mode, metric_rate_hz, require
    from validator.quality.warp import aligned_pair, covered_fraction, received_position

    t0 = time.perf_counter()
    specs = parse_metrics(metrics)
    _check_window(window_s, hop_s)
    require(specs)
    fs = rec.sample_rate_hz
    if isinstance(aligns.reference, ToneSource):
        reason = "no reference recording: a tone spec (sine:F) has nothing to score against"
        scores = {}
        for spec in specs:
            name, mode = metric_mode(spec, fs)
            scores[name] = QualityScore(name, mode, metric_rate_hz(name, mode), None, reason)
        return QualityResult(visqol=scores.get("visqol"), pesq=scores.get("pesq"),
                             window_s=float(window_s), hop_s=float(hop_s), covered_fraction=0.0)
    rates = sorted({metric_rate_hz(*metric_mode(s, fs)) for s in specs})
    pairs = {r: aligned_pair(rec, aligns, sample_rate_hz=r) for r in rates}
    model = aligns.models[0]
    ref_fs = aligns.reference.sample_rate_hz

    def to_received_s(t_ref_s: float) -> float:
        return received_position(model, rec.frames, t_ref_s * ref_fs) / fs

    return _assess(pairs, specs, fs, window_s=window_s, hop_s=hop_s, windows=windows,
                   to_received_s=to_received_s,
                   covered=covered_fraction(model, rec.frames, aligns.reference.frames),
                   t0=t0)


def score_aligned(reference: np.ndarray, received: np.ndarray, sample_rate_hz: int,
                  metrics: str | Sequence[str], *, window_s: float = DEFAULT_WINDOW_S,
                  hop_s: float = DEFAULT_HOP_S, windows: bool = False) -> QualityResult:
    """Score two arrays that are already aligned sample for sample.

    Parameters
    ----------
    reference, received : np.ndarray, shape=(n_samples,) or (n_samples, n_channels), float
        Full scale 1.0; channels are mixed to mono. ``received`` is cut or
        zero-padded to the reference's length.
    sample_rate_hz : int
        Rate of both arrays, Hz; each metric resamples to its own.
    metrics : str or sequence of str
        As for :func:`assess_quality`.
    window_s, hop_s : float
        Sliding windows, s (window times are the same on both timelines here).
    windows : bool
        Also score the sliding windows.

    Returns
    -------
    QualityResult

    Raises
    ------
    QualityError
        A malformed metric name, a bad window, or arrays that are not finite
        1-D/2-D float arrays.
    MissingDependencyError
        The ``quality`` extra is not installed.
    """
    from math import gcd

    from scipy.signal import resample_poly

    from validator.quality.fullref import metric_mode, metric_rate_hz, require

    t0 = time.perf_counter()
    specs = parse_metrics(metrics)
    _check_window(window_s, hop_s)
    require(specs)
    mono = []
    for what, x in (("reference", reference), ("received", received)):
        x = np.asarray(x)
        if x.ndim not in (1, 2) or not np.issubdtype(x.dtype, np.floating) or \
                not np.all(np.isfinite(x)):
            raise QualityError(f"{what}: expected a finite float array of shape (n,) or "
                               f"(n, channels), got dtype {x.dtype} shape {x.shape}")
        mono.append(x.mean(axis=1) if x.ndim == 2 else x)
    ref, rec = mono
    rec = np.concatenate([rec[:len(ref)], np.zeros(max(len(ref) - len(rec), 0))])
    pairs = {}
    for r in sorted({metric_rate_hz(*metric_mode(s, sample_rate_hz)) for s in specs}):
        g = gcd(r, sample_rate_hz)
        up, down = r // g, sample_rate_hz // g
        pairs[r] = tuple(np.asarray(resample_poly(x, up, down) if up != down else x,
                                    dtype=np.float32) for x in (ref, rec))
    return _assess(pairs, specs, sample_rate_hz, window_s=window_s, hop_s=hop_s,  # type: ignore[arg-type]
                   windows=windows, to_received_s=float, covered=1.0, t0=t0)
