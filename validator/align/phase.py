r"""Dense delay track of a steady tone, by quadrature demodulation at its frequency.

The windowed cross-correlation track (:func:`~validator.align.track.track_lags`)
measures one delay per 100 ms window. A real receiver can edit a tone more
often than that: a jitter buffer in its default mode cuts 10-12 ms out of
decoded buffers 90 ms apart, and an ffmpeg receiver skips 5 ms blocks 15 ms
apart (FIELD-NOTES, "skips and cuts in a steady tone"). A 100 ms window
straddles both edits, and a running median folds them away.

For a steady tone the delay can be read every period instead. Received and
reference are demodulated at the tone's angular frequency :math:`\omega` with
the same Hann window, the reference read ``D`` samples earlier:

.. math::

   Z_y(k) = \sum_i w_i\, y[n_k + i]\, e^{-j \omega i}, \qquad
   Z_r(k) = \sum_i w_i\, r[n_k - D + i]\, e^{-j \omega i}.

For :math:`y[n] = g\, r[n - L]` the ratio is :math:`g\, e^{-j \omega (L - D)}`,
so :math:`L = D - \arg(Z_y \bar Z_r) / \omega`, modulo one period; the
track is unwrapped along time. An error in the assumed frequency cancels
(both signals see it alike). Windows of four periods put the image at twice
the frequency eight bins from DC, below -60 dB, and a hop of one period
places each edit to about a period.

Each point carries the window's coherence :math:`2 |Z_y|^2 / \sum_i w_i
y[n_k + i]^2` (the share of its power at the tone: 1 for a clean tone, low
in noise, in a gap or across an edit); points below
:data:`~validator.align.track.MIN_SCORE`, points whose amplitude is under half
the track's median (a zero fill, a fade), and points where the reference
itself is not the steady tone (a marker, silence, ramps) are left out.

References
----------
.. [1] IEEE 1057-2017, "Standard for Digitizing Waveform Recorders", clause
   4.1 (sine fit: amplitude and phase at a known frequency).
.. [2] F. J. Harris, "On the use of windows for harmonic analysis with the
   discrete Fourier transform", Proc. IEEE 66(1), 1978 (Hann window leakage).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from validator.align.track import MIN_SCORE, LagPoint, LagTrack
from validator.blas import matmul
from validator.io.audio import AudioSource
from validator.orderstats import median

T = TypeVar("T")

#: Demodulation window, in periods of the tone (Hann).
WINDOW_PERIODS = 4.0
#: Most points in a track; a longer capture takes a longer hop.
MAX_POINTS = 100_000
#: Smallest coherence of the reference window: the reference is the steady tone there.
MIN_REFERENCE_COHERENCE = 0.9
#: A point's amplitude ratio must reach this share of the track's median ratio.
MIN_AMPLITUDE_SHARE = 0.5
#: Received samples demodulated per block (memory stays flat in duration).
BLOCK = 1 << 18
#: Smallest step of a tone's phase that is an edit, radians: a lag error this large leaves a
#: residual 40 dB under the tone, below G.711's coding noise (-37 dB).
MIN_PHASE_STEP_RAD = 0.01
#: Smallest noise assumed for a phase track, samples (it has no interpolation bias).
PHASE_SIGMA_FLOOR = 0.001


def min_step_samples(period_samples: float) -> float:
    """The lag step of :data:`MIN_PHASE_STEP_RAD` for a tone of this period, samples."""
    return MIN_PHASE_STEP_RAD * period_samples / (2.0 * np.pi)


def phase_track(*, reference: AudioSource, received: AudioSource, initial_lag: float,
                period_samples: float, inverted: bool = False,
                threads: int = 1) -> Sequence[LagPoint]:
    """Delay of a steady tone every period, from its demodulated phase.

    Parameters
    ----------
    reference, received : AudioSource
        Mono reference and received sources at the same sample rate (of wider
        ones, channel 0 is tracked).
    initial_lag : float
        Global delay, samples (received minus reference position); the track
        starts on the branch nearest it.
    period_samples : float
        The tone's period, samples (``sample_rate_hz / frequency_hz``).
    inverted : bool
        The received tone is upside down (see ``DelayEstimate.inverted``).
    threads : int
        Blocks of the track demodulated at once (the same track).

    Returns
    -------
    sequence of LagPoint
        Points in received order (a :class:`~validator.align.track.LagTrack`);
        ``lag`` is unwrapped along the track (a
        skip shows as a step of its length modulo the period), ``score`` is
        the coherence.

    Raises
    ------
    ValueError
        If ``period_samples`` is not positive.
    """
    tracks = phase_tracks(reference=reference, received=received, mapping=[0],
                          initial_lags=[initial_lag], periods_samples=[period_samples],
                          inverted=[inverted], threads=threads)
    assert tracks is not None  # one channel always shares its own reads
    return tracks[0]


def phase_tracks(*, reference: AudioSource, received: AudioSource, mapping: Sequence[int],
                 initial_lags: Sequence[float], periods_samples: Sequence[float],
                 inverted: Sequence[bool], threads: int = 1) -> list[Sequence[LagPoint]] | None:
    """Every channel's :func:`phase_track` from one read of each file per block, or None.

    Each block is read once for all channels (where the hop is many periods,
    only its windows, at the longest window length), and each channel takes
    its own windows from it. The points are those of
    :func:`phase_track` channel by channel, exactly. None when the channels
    cannot share the reads (different whole-sample delays or hops); then
    track each channel on its own.

    Parameters
    ----------
    reference, received : AudioSource
        All channels of both.
    mapping : sequence of int
        The reference channel of each received channel.
    initial_lags, periods_samples : sequence of float
        Per received channel, as :func:`phase_track` takes them.
    inverted : sequence of bool
        Per received channel.
    threads : int
        Blocks demodulated at once.

    Returns
    -------
    list of sequence of LagPoint, or None
    """
    ref, rec = reference, received
    dms = [_Demodulator.of(p, lag, ref.frames, rec.frames)
           for p, lag in zip(periods_samples, initial_lags, strict=True)]
    nwin = max(dm.nwin for dm in dms)
    if len({(dm.d, dm.hop, dm.n_lo) for dm in dms}) > 1:
        return None
    # every channel's window starts: the shortest window's grid
    grid = replace(dms[0], nwin=min(dm.nwin for dm in dms), n_hi=max(dm.n_hi for dm in dms))
    if grid.n_hi < grid.n_lo:  # no window fits: the files do not overlap at this delay
        return [[] for _ in dms]
    sparse = grid.hop >= 2 * nwin

    def demodulate(c: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        starts, span = grid.block(c)
        span += nwin - grid.nwin
        if sparse:  # (k, nwin, channels): only the windows' samples are converted
            ys, rs = rec.read_windows(starts, nwin), ref.read_windows(starts - grid.d, nwin)
        else:
            yb, rb = rec.read(c, span), ref.read(c - grid.d, span)
        out = []
        for ch, dm in enumerate(dms):
            k = int(np.searchsorted(starts, dm.n_hi, side="right"))  # this channel's windows
            if sparse:
                ratio = dm.demodulate(ys[:k, :dm.nwin, ch], rs[:k, :dm.nwin, mapping[ch]])
            else:  # overlapping windows of one stretch
                ratio = dm.ratio(*dm.window_sums(yb[:, ch], k),
                                 *dm.window_sums(rb[:, mapping[ch]], k))
            out.append((starts[:k], *ratio))
        return out

    parts = parallel_map(demodulate, grid.blocks(), threads)
    return [dm.points([q[ch] for q in parts], initial_lags[ch], inverted[ch])
            for ch, dm in enumerate(dms)]


def parallel_map(fn: Callable[[int], T], items: Sequence[int], threads: int) -> list[T]:
    """``[fn(i) for i in items]``, ``threads`` at once (in order either way).

    For work that releases the GIL (numpy's array passes, file reads); one
    thread runs it here.
    """
    if threads > 1 and len(items) > 1:
        with ThreadPoolExecutor(max_workers=threads) as ex:
            return list(ex.map(fn, items))
    return [fn(i) for i in items]


@dataclass(frozen=True)
class _Demodulator:
    """The quadrature demodulator of one tone's phase track (see the module docstring)."""

    period: float
    nwin: int
    hop: int
    d: int
    n_lo: int
    n_hi: int  # last window start

    @classmethod
    def of(cls, period_samples: float, initial_lag: float, ref_frames: int,
           rec_frames: int) -> _Demodulator:
        if not period_samples > 0:
            raise ValueError(f"period_samples must be positive, got {period_samples!r}")
        nwin = max(int(round(WINDOW_PERIODS * period_samples)), 16)
        hop = max(int(round(period_samples)), 1, int(np.ceil(rec_frames / MAX_POINTS)))
        d = int(round(initial_lag))
        return cls(float(period_samples), nwin, hop, d, max(0, d),
                   min(rec_frames, ref_frames + d) - nwin)

    @property
    def step(self) -> int:
        """Samples per block of the track (whole hops)."""
        return max(BLOCK // self.hop, 1) * self.hop

    def blocks(self) -> range:
        """First window start of each block."""
        return range(self.n_lo, self.n_hi + 1, self.step)

    def block(self, c: int) -> tuple[np.ndarray, int]:
        """The window starts of the block from ``c``, and the samples they span."""
        count = (min(c + self.step, self.n_hi + 1) - c + self.hop - 1) // self.hop
        return c + self.hop * np.arange(count), (count - 1) * self.hop + self.nwin

    @functools.cached_property
    def kernel(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The Hann window (unit sum) and the real and imaginary demodulation kernels."""
        w = np.hanning(self.nwin + 2)[1:-1]
        w /= w.sum()
        k = w * np.exp(-1j * (2.0 * np.pi / self.period) * np.arange(self.nwin))
        return w, np.ascontiguousarray(k.real), np.ascontiguousarray(k.imag)

    @functools.cached_property
    def polyphase(self) -> tuple[int, np.ndarray, np.ndarray]:
        """The kernels cut into ``q`` hops: ``(q, [k_re | k_im] (hop, 2q), w (hop, q))``.

        Column ``j`` of each holds the kernel's samples ``[j hop, (j + 1) hop)``
        (zeros past the window).
        """
        w, k_re, k_im = self.kernel
        q = -(-self.nwin // self.hop)
        pad = np.zeros((3, q * self.hop))
        pad[0, :self.nwin], pad[1, :self.nwin], pad[2, :self.nwin] = k_re, k_im, w
        cols = pad.reshape(3, q, self.hop).transpose(0, 2, 1)  # (3, hop, q)
        return q, np.ascontiguousarray(np.concatenate((cols[0], cols[1]), axis=1)), \
            np.ascontiguousarray(cols[2])

    def window_sums(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``Z`` and windowed power of the ``k`` windows ``x[i hop:i hop + nwin]``, one pass.

        The windows overlap, so their products with the kernels are formed
        hop by hop: ``x`` cut into rows of one hop is one matrix, times the
        kernels cut likewise (:attr:`polyphase`), and each window sums ``q``
        consecutive rows' products. The same sums as :meth:`demodulate`'s
        (to rounding), with contiguous matrix products instead of strided
        windows: about three times faster.

        Parameters
        ----------
        x : np.ndarray, shape=(n,), float64
            ``n >= (k - 1) hop + nwin``.
        k : int
            Windows.

        Returns
        -------
        z : np.ndarray, shape=(k,), complex128
        power : np.ndarray, shape=(k,), float64
        """
        q, kern, win = self.polyphase
        h = self.hop
        rows = k + q - 1
        flat = np.zeros(rows * h)
        m = min(len(x), rows * h)
        flat[:m] = x[:m]
        xs = flat.reshape(rows, h)
        a = matmul(xs, kern)  # (rows, 2q): row i, column j: hop i against the kernel's hop j
        b = matmul(xs * xs, win)
        re, im, p = a[:k, 0].copy(), a[:k, q].copy(), b[:k, 0].copy()
        for j in range(1, q):
            re += a[j:j + k, j]
            im += a[j:j + k, q + j]
            p += b[j:j + k, j]
        return re + 1j * im, p

    def demodulate(self, y: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ratio ``Z_y / Z_r`` and coherence of windows ``y`` and ``r``, shape (k, nwin)."""
        w, k_re, k_im = self.kernel
        kern = np.stack((k_re, k_im), axis=1)
        zy, zr = matmul(y, kern), matmul(r, kern)  # (real products, on this thread)
        py, pr = matmul(y * y, w[:, None])[:, 0], matmul(r * r, w[:, None])[:, 0]
        return self.ratio(zy[:, 0] + 1j * zy[:, 1], py, zr[:, 0] + 1j * zr[:, 1], pr)

    @staticmethod
    def ratio(zy: np.ndarray, py: np.ndarray, zr: np.ndarray,
              pr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ratio ``Z_y / Z_r`` and coherence from the windows' sums (see the module docstring)."""
        ok_ref = (pr > 1e-12) & (2.0 * np.abs(zr) ** 2 >= MIN_REFERENCE_COHERENCE * pr)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(ok_ref, zy / np.where(ok_ref, zr, 1.0), 0.0)
            cy = np.where(py > 1e-14, 2.0 * np.abs(zy) ** 2 / np.where(py > 0, py, 1.0), 0.0)
        return ratio, np.where(ok_ref, cy, 0.0)

    def points(self, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
               initial_lag: float, inverted: bool) -> Sequence[LagPoint]:
        """The track's points from the blocks' (starts, ratio, coherence), in order."""
        if not parts:
            return []
        n = np.concatenate([q[0] for q in parts])
        ratio = np.concatenate([q[1] for q in parts]) * (-1.0 if inverted else 1.0)
        score = np.concatenate([q[2] for q in parts])
        amp = np.abs(ratio)
        keep = (score >= MIN_SCORE) & (amp > 0)
        if not np.any(keep):
            return []
        keep &= amp >= MIN_AMPLITUDE_SHARE * float(median(amp[keep]))
        n, ratio, score = n[keep], ratio[keep], score[keep]
        omega = 2.0 * np.pi / self.period
        delta = np.unwrap(-np.angle(ratio)) / omega  # L - D, unwrapped along the track
        # start on the branch nearest the global delay
        delta -= self.period * round((delta[0] - (initial_lag - self.d)) / self.period)
        lag = self.d + delta
        ref_pos = np.round(n + self.nwin / 2 - lag).astype(np.int64)
        return LagTrack(ref_pos, lag, score)
