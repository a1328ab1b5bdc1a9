"""One streaming pass over the received audio: frame features for the detectors.

The received file is read in blocks. For each block the reference is
resampled onto the received timeline through the alignment model (fractional
delay, drift and splices compensated), scaled by each channel's gain, and
subtracted. What survives the pass is small:

- per 1 ms frame and channel: mean square of the received signal ``p_y``, of
  the expected signal ``p_x`` (gain-matched, aligned reference) and of the
  residual ``p_e``, and the mean product ``p_yr`` of the received signal and
  the aligned reference, as float32;
- sample-exact runs of digital zeros and of full-scale samples;
- running sums for the level, peak and DC offset;
- a few 1 s excerpts of the received audio for the tone analysis.

Memory is therefore about 21 bytes per millisecond and channel, whatever the
sample rate, and the detectors are pure functions of these arrays. A long
capture is passed block by block (:mod:`validator.detectors.blocks`), so the
arrays never hold more than one block (about 1.3 MB per channel).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from validator.align.channels import ChannelAlignments
from validator.io.audio import AudioSource

#: A sample counts as digital silence below this magnitude (half an LSB at 16 bits).
ZERO_LEVEL = 2.0 ** -16
#: Bins of the waveform envelope kept for plots.
ENVELOPE_BINS = 3000
#: A sample counts as clipped at or above this magnitude.
CLIP_LEVEL = 1.0 - 2.0 ** -12
#: More sampled hits than this in one block: :func:`_run_mask` tests every sample.
RUN_GROUPS_MAX = 64


@dataclass
class ChannelFeatures:
    """Frame features of one channel (see module docstring).

    Attributes
    ----------
    p_y, p_x, p_e : np.ndarray, shape=(n_frames,), float32
        Mean square of received, expected and residual per frame
        (full-scale units squared).
    p_r : np.ndarray, shape=(n_frames,), float32
        Mean square of the aligned reference before the gain (``p_x / gain**2``).
    p_yr : np.ndarray, shape=(n_frames,), float32
        Mean product of the received signal and the aligned reference before
        the gain; ``p_yr / p_r`` is the frame's own least-squares gain (see
        :meth:`presence`).
    gain : float
        The channel's least-squares gain.
    zero_runs : list of (int, int)
        ``[start, end)`` received samples of digital zeros, at least
        ``min_run`` long.
    clip_runs : list of (int, int)
        ``[start, end)`` runs of samples at full scale (``|y| >= CLIP_LEVEL``).
    sum_y, sum_y2, peak : float
        Running sum, sum of squares and peak of the received samples.
    envelope : np.ndarray, shape=(4, n_bins), float32
        Waveform envelope for plots: min and max of the received, then min and
        max of the expected signal, per bin of ``Features.envelope_bin``
        samples.
    """

    p_y: np.ndarray
    p_x: np.ndarray
    p_e: np.ndarray
    p_r: np.ndarray
    p_yr: np.ndarray
    gain: float = 1.0
    zero_runs: list[tuple[int, int]] = field(default_factory=list)
    clip_runs: list[tuple[int, int]] = field(default_factory=list)
    sum_y: float = 0.0
    sum_y2: float = 0.0
    peak: float = 0.0
    envelope: np.ndarray = field(default_factory=lambda: np.zeros((4, 0), np.float32))

    def presence(self) -> np.ndarray:
        """Per-frame projection of the received signal on the expected one.

        ``g = <y, x> / <x, x>`` with ``x`` the gain-matched aligned reference:
        1 where the expected signal is there at its level, 0 where it is
        absent, whatever noise fills the frame (FIELD-NOTES, "presence beats
        power at the noise floor"). Additive noise of power ``N`` spreads ``g``
        by about ``sqrt(N / (n * p_x))`` for ``n`` samples per frame.

        Returns
        -------
        np.ndarray, shape=(n_frames,), float32
            0 where the expected signal is silent (``p_r == 0``).
        """
        den = self.p_r * np.float32(self.gain)  # negative for a channel upside down
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where((self.p_r > 0) & (den != 0), self.p_yr / den, 0.0)
        return g.astype(np.float32, copy=False)


@dataclass
class Features:
    """Frame features of every channel.

    Attributes
    ----------
    sample_rate_hz : int
    frame_len : int
        Samples per frame (1 ms, at least 4 samples).
    n_samples : int
        Received length in samples.
    channels : list of ChannelFeatures
    envelope_bin : int
        Samples per bin of each channel's ``envelope``.
    covered : np.ndarray, shape=(n_frames,), bool
        Frames that map inside the reference; outside them (before the delay,
        after the reference ends) the reference defines nothing to judge.
    excerpts : list of (int, np.ndarray)
        ``(start_sample, y)`` with y of shape (n, n_channels): 1 s excerpts of
        the received audio for tone analysis.
    """

    sample_rate_hz: int
    frame_len: int
    n_samples: int
    channels: list[ChannelFeatures]
    covered: np.ndarray
    excerpts: list[tuple[int, np.ndarray]] = field(default_factory=list)
    envelope_bin: int = 1

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return len(self.channels[0].p_y) if self.channels else 0

    @property
    def frame_s(self) -> float:
        """Frame length in seconds."""
        return self.frame_len / self.sample_rate_hz


class _RunTracker:
    """Finds runs of True in a boolean stream fed block by block."""

    def __init__(self, min_run: int) -> None:
        self.min_run = min_run
        self.open_start: int | None = None
        self.runs: list[tuple[int, int]] = []

    def feed(self, mask: np.ndarray, offset: int) -> None:
        if not mask.any():
            if self.open_start is not None:
                self._close(offset)
            return
        idx = np.flatnonzero(mask)  # sparse in audio (zero crossings): runs from the indices
        brk = np.flatnonzero(np.diff(idx) > 1)
        starts = np.concatenate((idx[:1], idx[brk + 1]))
        ends = np.concatenate((idx[brk] + 1, idx[-1:] + 1))
        # only runs that can be kept, or that touch the block's edges (they may continue)
        long = (ends - starts >= self.min_run) | (starts == 0) | (ends == len(mask))
        if self.open_start is not None and starts[0] != 0:
            self._close(offset)
        starts, ends = starts[long], ends[long]
        for s, e in zip(starts, ends, strict=True):
            if s == 0 and self.open_start is not None:
                start = self.open_start
                self.open_start = None
            else:
                if self.open_start is not None:
                    self._close(offset)
                start = offset + int(s)
            if e == len(mask):
                self.open_start = start
            else:
                self._add(start, offset + int(e))

    def _close(self, end: int) -> None:
        assert self.open_start is not None
        self._add(self.open_start, end)
        self.open_start = None

    def _add(self, s: int, e: int) -> None:
        if e - s >= self.min_run:
            self.runs.append((s, e))

    def finish(self, end: int) -> list[tuple[int, int]]:
        if self.open_start is not None:
            self._close(end)
        return self.runs


@dataclass(frozen=True)
class FeatureSpan:
    """Where the audio read lies in a longer capture (a block of it).

    A long capture is analysed block by block (:mod:`validator.detectors.blocks`);
    each block is read through a view whose sample 0 is the block's first
    sample. The frame arrays cover the whole block, but the running sums, the
    peak and the excerpts count only its core (the rest is margin that the
    neighbouring blocks report), and the envelope bins are the whole capture's.

    Attributes
    ----------
    origin : int
        Capture sample of the view's sample 0.
    total : int
        Samples in the whole capture.
    core : tuple of int
        ``[start, stop)`` of the core, samples of the view.
    excerpts : tuple of int
        Starts of the excerpts to keep, samples of the view.
    """

    origin: int
    total: int
    core: tuple[int, int]
    excerpts: tuple[int, ...]


def frame_length(sample_rate_hz: int) -> int:
    """Samples per feature frame: 1 ms, at least 4 samples."""
    return max(int(round(sample_rate_hz / 1000)), 4)


def whole_span(n: int, fs: int, *, n_excerpts: int, excerpt_s: float) -> FeatureSpan:
    """The span of a capture analysed in one piece: ``n_excerpts`` excerpts spread evenly."""
    ex_len = max(int(excerpt_s * fs), 1)
    want = sorted(set(np.linspace(0, max(n - ex_len, 0), n_excerpts).astype(int).tolist())) \
        if n_excerpts else []
    return FeatureSpan(0, n, (0, n), tuple(want))


def extract_features(rec: AudioSource, aligns: ChannelAlignments, *,
                     min_zero_run: int, min_clip_run: int = 3, block_frames: int = 4096,
                     n_excerpts: int = 8, excerpt_s: float = 1.0,
                     progress: Callable[[float], None] | None = None,
                     span: FeatureSpan | None = None) -> Features:
    """Stream the received file once and compute frame features.

    Parameters
    ----------
    rec : AudioSource
        The received source (or a view of one block of it, see ``span``).
    aligns : ChannelAlignments
        Each received channel's alignment to its reference channel
        (:func:`validator.align.channels.align_channels`), on ``rec``'s timeline.
    min_zero_run : int
        Shortest run of digital zeros kept, in samples.
    min_clip_run : int
        Shortest run of full-scale samples kept.
    block_frames : int
        Frames per block read (memory per block is about
        ``block_frames * frame_len * channels * 40`` bytes).
    n_excerpts : int
        Number of excerpts kept for tone analysis (when ``span`` is None).
    excerpt_s : float
        Length of each excerpt, s.
    progress : callable, optional
        Called with the fraction done, 0..1.
    span : FeatureSpan, optional
        Where ``rec`` lies in a longer capture; None: ``rec`` is the whole capture.

    Returns
    -------
    Features
    """
    fs = rec.sample_rate_hz
    nch = rec.channels
    flen = frame_length(fs)
    n = rec.frames
    span = span or whole_span(n, fs, n_excerpts=n_excerpts, excerpt_s=excerpt_s)
    n_frames = -(-n // flen)
    chans = [ChannelFeatures(p_y=np.zeros(n_frames, np.float32),
                             p_x=np.zeros(n_frames, np.float32),
                             p_e=np.zeros(n_frames, np.float32),
                             p_r=np.zeros(n_frames, np.float32),
                             p_yr=np.zeros(n_frames, np.float32), gain=aligns.gain(ch))
             for ch in range(nch)]
    env_bin = max(1, -(-span.total // ENVELOPE_BINS))
    n_bins = -(-span.total // env_bin)
    for c in chans:
        c.envelope = np.empty((4, n_bins), np.float32)
        c.envelope[0::2] = np.inf
        c.envelope[1::2] = -np.inf
    zeros = [_RunTracker(min_zero_run) for _ in range(nch)]
    clips = [_RunTracker(min_clip_run) for _ in range(nch)]
    gains = np.array([aligns.gain(ch) for ch in range(nch)], dtype=np.float64)
    ref_frames = aligns.reference.frames
    block = block_frames * flen
    ex_len = max(int(excerpt_s * fs), 1)
    excerpts: list[tuple[int, np.ndarray]] = []
    covered = np.zeros(n_frames, dtype=bool)
    for b0 in range(0, n, block):
        m = min(block, n - b0)
        y = rec.read(b0, m)
        xr = aligns.aligned(0, b0, b0 + m)[:, None] if nch == 1 else \
            aligns.aligned_all(b0, b0 + m)
        nf = -(-m // flen)
        f0 = b0 // flen
        starts = np.arange(b0, b0 + m, flen, dtype=np.float64)
        ends = np.minimum(starts + (flen - 1), b0 + m - 1)
        cov = np.ones(nf, dtype=bool)
        for model in aligns.models:  # judged where every channel maps inside the reference,
            # the whole frame (one that straddles the reference's end compares half a frame
            # of received audio with nothing)
            cov &= (model.ref_positions_at(starts.copy()) >= 0) \
                & (model.ref_positions_at(ends.copy()) < ref_frames)
        covered[f0:f0 + nf] = cov
        core = (max(span.core[0] - b0, 0), max(min(span.core[1] - b0, m), 0))
        for ch in range(nch):
            _fold_channel(chans[ch], y[:, ch], xr[:, ch], gains[ch], f0, flen,
                          (span.origin + b0, env_bin), core)
            zeros[ch].feed(_run_mask(y[:, ch], min_zero_run, _is_zero), b0)
            if max(-chans[ch].envelope[0].min(), chans[ch].envelope[1].max()) >= CLIP_LEVEL:
                clips[ch].feed(_run_mask(y[:, ch], min_clip_run, _is_clipped), b0)
            else:  # no sample so far is at full scale
                clips[ch].feed(np.zeros(0, dtype=bool), b0)
        excerpts.extend((w0, rec.read(w0, min(ex_len, n - w0))) for w0 in span.excerpts
                        if b0 <= w0 < b0 + m)
        if progress is not None:
            progress(min(1.0, (b0 + m) / n))
    for ch in range(nch):
        chans[ch].zero_runs = zeros[ch].finish(n)
        chans[ch].clip_runs = clips[ch].finish(n)
        if (span.origin, span.total) == (0, n):  # else the caller folds blocks first
            chans[ch].envelope[~np.isfinite(chans[ch].envelope)] = 0.0
    return Features(fs, flen, n, chans, covered, excerpts, env_bin)


def _is_zero(a: np.ndarray) -> np.ndarray:
    return np.abs(a) < ZERO_LEVEL


def _is_clipped(a: np.ndarray) -> np.ndarray:
    return np.abs(a) >= CLIP_LEVEL


def _run_mask(a: np.ndarray, min_run: int, test: Callable[[np.ndarray], np.ndarray]
              ) -> np.ndarray:
    """``test(a)``, exact wherever :class:`_RunTracker` can keep a run, testing fewer samples.

    A run of at least ``min_run`` samples holds a sample whose index is a
    multiple of ``min_run``, so only every ``min_run``-th sample is tested
    first. The mask is then exact from ``min_run - 1`` samples before each
    group of hits to as many after it, which holds each such run whole, and
    in the last ``min_run`` samples: a run that touches the block's end may go
    on in the next block, whatever its length here (one that touches its start
    holds sample 0, which is tested). Elsewhere it is False: only shorter runs
    inside the block, which the tracker drops, are missed.

    Parameters
    ----------
    a : np.ndarray, shape=(n,), float64
    min_run : int
        Shortest run kept, samples.
    test : callable
        Elementwise predicate, e.g. "is digital silence".

    Returns
    -------
    np.ndarray, shape=(n,), bool
    """
    n, step = len(a), max(min_run, 1)
    if step < 3 or n <= 4 * step:
        return test(a)
    hits = np.flatnonzero(test(a[::step])) * step
    if len(hits) > RUN_GROUPS_MAX:  # quiet audio full of zeros: one pass is cheaper
        return test(a)
    mask = np.zeros(n, dtype=bool)
    if len(hits):
        brk = np.flatnonzero(np.diff(hits) > step)
        lo = np.maximum(np.concatenate((hits[:1], hits[brk + 1])) - step + 1, 0)
        hi = np.minimum(np.concatenate((hits[brk], hits[-1:])) + step, n)
        for s, e in zip(lo.tolist(), hi.tolist(), strict=True):
            mask[s:e] = test(a[s:e])
    mask[n - step:] = test(a[n - step:])
    return mask


def _fold_channel(c: ChannelFeatures, yc: np.ndarray, xrc: np.ndarray, gain: float, f0: int,
                  flen: int, env_at: tuple[int, int], core: tuple[int, int]) -> None:
    """Add one read block of one channel to its features (frames from ``f0``).

    ``env_at``: the capture sample of ``yc[0]`` and the envelope bin width;
    ``core``: the samples of the block that the running sums and peak count.
    """
    nf = -(-len(yc) // flen)
    ec = np.multiply(xrc, -gain)
    ec += yc
    yf, ef, rf = (_framed(a, nf, flen) for a in (yc, ec, xrc))
    sq_y = np.einsum("ij,ij->i", yf, yf)
    c.p_y[f0:f0 + nf] = sq_y / flen
    c.p_e[f0:f0 + nf] = np.einsum("ij,ij->i", ef, ef) / flen
    c.p_r[f0:f0 + nf] = np.einsum("ij,ij->i", rf, rf) / flen
    c.p_yr[f0:f0 + nf] = np.einsum("ij,ij->i", yf, rf) / flen
    c.p_x[f0:f0 + nf] = c.p_r[f0:f0 + nf] * np.float32(gain ** 2)
    lo_y, hi_y = _envelope(c.envelope, env_at[0], env_at[1], yc, xrc, gain)
    a, b = core
    if (a, b) == (0, len(yc)):
        c.sum_y += float(yc.sum())
        c.sum_y2 += float(sq_y.sum())
        c.peak = max(c.peak, -lo_y, hi_y)
    elif b > a:
        yk = yc[a:b]
        c.sum_y += float(yk.sum())
        c.sum_y2 += float(np.dot(yk, yk))
        c.peak = max(c.peak, float(np.abs(yk).max()))


def _framed(a: np.ndarray, nf: int, flen: int) -> np.ndarray:
    """``a`` as ``(nf, flen)`` frames, the last one zero-padded (a view when nothing is)."""
    if len(a) < nf * flen:
        a = np.concatenate([a, np.zeros(nf * flen - len(a))])
    return a.reshape(nf, flen)


def _envelope(env: np.ndarray, b0: int, env_bin: int, y: np.ndarray, xr: np.ndarray,
              gain: float) -> tuple[float, float]:
    """Fold a block's min/max per envelope bin into ``env`` (rows: y min, y max, x min, x max).

    ``b0`` is the capture sample of ``y[0]``; the expected signal is ``gain * xr``
    (its extremes are those of ``xr`` scaled, swapped when the gain is negative).
    Returns the block's smallest and largest received sample.
    """
    first = (-b0) % env_bin  # offset in the block of the first bin boundary
    starts = np.arange(first, len(y), env_bin)
    if first:
        starts = np.concatenate(([0], starts))
    bins = (b0 + starts) // env_bin
    y_lo, y_hi = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
    r_lo, r_hi = np.minimum.reduceat(xr, starts), np.maximum.reduceat(xr, starts)
    x_lo, x_hi = (r_lo * gain, r_hi * gain) if gain >= 0 else (r_hi * gain, r_lo * gain)
    for row, (red, op) in enumerate(((y_lo, np.minimum), (y_hi, np.maximum),
                                     (x_lo, np.minimum), (x_hi, np.maximum))):
        env[row, bins] = op(env[row, bins], red)
    return float(y_lo.min()), float(y_hi.max())

