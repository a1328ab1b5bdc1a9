"""DTW on MFCCs around the cross-correlation path: non-linear time warps.

A jitter buffer may time-stretch speech or music (accelerate/expand): the
audio stays intact but its timing bends. Cross-correlation gives a piecewise
linear alignment; dynamic time warping (DTW) on MFCC frames of the received
audio against the *already aligned* reference shows where the timing departs
from it.

The DTW is banded and chunked: the received file is cut into chunks of
``chunk_s`` seconds, each compared with its aligned reference chunk inside a
Sakoe-Chiba band of ``band_s``. Memory is that of one chunk (about 24 bytes
per cell in dtw-python: 1000 x 1000 frames is 24 MB), never the full N x M
grid (15 GiB for a 10-minute pair at 22.05 kHz with hop 512).

For a steady sine, MFCC frames are all alike and DTW has no unique path, so
the pipeline does not run it on tonal references.

librosa and dtw-python are imported here only, on first use: librosa's
first import and numba compilation cost seconds.

References
----------
.. [1] H. Sakoe and S. Chiba, "Dynamic programming algorithm optimization for
   spoken word recognition", IEEE Trans. ASSP 26(1), 1978.
.. [2] T. Giorgino, "Computing and visualizing dynamic time warping alignments
   in R: the dtw package", J. Stat. Softw. 31(7), 2009 (dtw-python).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from validator.align.delay import mono
from validator.align.track import AlignmentModel, aligned_reference
from validator.errors import MissingDependencyError
from validator.io.audio import AudioSource
from validator.orderstats import median, percentile
from validator.result import Event


@dataclass(frozen=True)
class Warp:
    """A stretch where the DTW path leaves the cross-correlation path.

    Attributes
    ----------
    start_s, end_s : float
        Span on the received timeline, s.
    max_offset_s : float
        Largest departure, s; positive when the received audio runs late
        (expanded), negative when early (accelerated).
    """

    start_s: float
    end_s: float
    max_offset_s: float


@dataclass(frozen=True)
class DtwResult:
    """Result of :func:`dtw_align`.

    Attributes
    ----------
    distance : float
        Mean normalised DTW distance per frame pair (dtw-python's
        ``normalizedDistance`` with the symmetric2 step pattern, averaged over
        chunks by length), on cepstral-mean-normalised MFCCs 1..n.
    offsets_s : np.ndarray, shape=(n_frames,), float
        Departure of the DTW path from the cross-correlation path at each
        received frame, s.
    hop_s : float
        Frame hop, s.
    warps : tuple of Warp
    """

    distance: float
    offsets_s: np.ndarray
    hop_s: float
    warps: tuple[Warp, ...]


def _libs() -> tuple[Any, Any]:
    """Librosa and dtw-python, imported on first use."""
    try:
        import dtw as dtw_lib
        import librosa
    except ImportError as exc:  # pragma: no cover - both are install requirements
        raise MissingDependencyError(
            f"DTW needs librosa and dtw-python ({exc.name} is missing): "
            "pip install librosa dtw-python") from exc
    return librosa, dtw_lib


def dtw_align(*, received: AudioSource, reference: AudioSource, model: AlignmentModel,
              hop_s: float = 0.01,
              chunk_s: float = 10.0, band_s: float = 0.25, n_mfcc: int = 20,
              warp_threshold_s: float = 0.02, min_warp_s: float = 0.04) -> DtwResult:
    """Banded, chunked DTW of received MFCCs against the aligned reference.

    Parameters
    ----------
    received, reference : AudioSource
    model : AlignmentModel
        The cross-correlation alignment to bend around.
    hop_s : float
        MFCC frame hop, s.
    chunk_s : float
        Chunk length, s.
    band_s : float
        Half-width of the Sakoe-Chiba band, s.
    n_mfcc : int
        MFCCs per frame (c0, the level, is dropped).
    warp_threshold_s : float
        Departure above which a frame is warped, s.
    min_warp_s : float
        Shortest warp reported, s.

    Returns
    -------
    DtwResult

    Raises
    ------
    MissingDependencyError
        If librosa or dtw-python is missing.
    """
    rec, ref = received, reference
    librosa, dtw_lib = _libs()
    fs = rec.sample_rate_hz
    hop = max(int(round(hop_s * fs)), 1)
    n_fft = 1 << int(np.ceil(np.log2(4 * hop)))
    chunk = max(int(chunk_s * fs) // hop * hop, 8 * hop)
    band = max(int(round(band_s / hop_s)), 1)
    offsets: list[np.ndarray] = []
    active: list[np.ndarray] = []
    dist_sum, frames_sum = 0.0, 0
    for c0 in range(0, rec.frames, chunk):
        m = min(chunk, rec.frames - c0)
        if m < 4 * hop:
            break
        y = mono(rec.read(c0, m))
        x = mono(aligned_reference(ref, model, c0, c0 + m, channels=ref.channels))
        fy = librosa.feature.mfcc(y=y.astype(np.float32), sr=fs, n_mfcc=n_mfcc + 1,
                                  n_fft=n_fft, hop_length=hop)[1:].T
        fx = librosa.feature.mfcc(y=x.astype(np.float32), sr=fs, n_mfcc=n_mfcc + 1,
                                  n_fft=n_fft, hop_length=hop)[1:].T
        energy = librosa.feature.rms(y=x.astype(np.float32), frame_length=n_fft,
                                     hop_length=hop)[0]
        act = energy > max(float(percentile(energy, 95.0)) * 10 ** (-30 / 20), 1e-5)
        fy = fy - fy[act].mean(axis=0) if np.any(act) else fy
        fx = fx - fx[act].mean(axis=0) if np.any(act) else fx
        al = dtw_lib.dtw(fy, fx, step_pattern="symmetric2", window_type="sakoechiba",
                         window_args={"window_size": band}, keep_internals=False)
        i1, i2 = np.asarray(al.index1), np.asarray(al.index2)
        off = np.zeros(len(fy))
        for k in range(len(fy)):
            sel = i1 == k
            off[k] = float(median(i1[sel] - i2[sel])) if np.any(sel) else 0.0
        offsets.append(off * hop / fs)
        active.append(act[:len(fy)] if len(act) >= len(fy) else
                      np.pad(act, (0, len(fy) - len(act))))
        dist_sum += float(al.normalizedDistance) * len(fy)
        frames_sum += len(fy)
    if not offsets:
        return DtwResult(0.0, np.zeros(0), hop / fs, ())
    off_all = np.concatenate(offsets)
    act_all = np.concatenate(active)
    warped = act_all & (np.abs(off_all) > warp_threshold_s)
    warps = []
    min_frames = max(int(round(min_warp_s * fs / hop)), 1)
    d = np.diff(np.concatenate(([0], warped.astype(np.int8), [0])))
    for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
        if b - a >= min_frames:
            seg = off_all[a:b]
            warps.append(Warp(float(a * hop / fs), float(b * hop / fs),
                              float(seg[np.argmax(np.abs(seg))])))
    return DtwResult(dist_sum / max(frames_sum, 1), off_all, hop / fs, tuple(warps))


def warp_events(res: DtwResult, fs: int) -> list[Event]:
    """``warp`` events from DTW (the timing is shared by all channels: reported on channel 0)."""
    out = []
    for w in res.warps:
        kind = "expanded (runs late)" if w.max_offset_s > 0 else "accelerated (runs early)"
        out.append(Event("warp", 0, float(w.start_s), float(w.end_s),
                         round(float(20 * np.log10(max(abs(w.max_offset_s) * 1000, 1e-3))), 2),
                         f"time warp for {(w.end_s - w.start_s) * 1000:.0f} ms: the audio is "
                         f"{kind} by up to {abs(w.max_offset_s) * 1000:.0f} ms against the "
                         "cross-correlation alignment (DTW on MFCCs)",
                         int(w.start_s * fs), int(w.end_s * fs)))
    return out
