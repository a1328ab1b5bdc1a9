"""The received audio on the reference timeline, at the rate a metric needs.

The pipeline's alignment (:class:`validator.align.track.AlignmentModel`) maps
each *received* sample to a reference position. Quality metrics need the
inverse: for every reference sample, what the receiver played for it. Per
segment ``i`` of the model, reference sample ``k`` was carried by received
position ``k * (1 + drift_ppm * 1e-6) + offsets[i]``, read with the same
Kaiser-windowed sinc as the rest of the validator
(:func:`validator.align.interp.interpolate`), so the delay, the clock drift
and every splice are undone. Reference audio that no received segment
carries (the receiver skipped it, or the capture starts late or stops
early) reads as silence: it was lost, and the score must see it.

Both signals are then brought to the metric's rate by
:func:`scipy.signal.resample_poly` in blocks (with overlap, so the result
equals one whole-signal call), which keeps memory to a few blocks at the
native rate whatever the capture's length.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.signal import resample_poly

from validator.align.channels import ChannelAlignments
from validator.align.interp import HALF_TAPS, interpolate
from validator.align.track import AlignmentModel
from validator.io.audio import AudioSource

__all__ = ["aligned_pair", "covered_fraction", "received_on_reference", "received_position"]

#: Reference samples mapped per block (native rate).
BLOCK = 1 << 18
#: Overlap either side of a block for the polyphase resampler, native samples.
RESAMPLE_PAD = 2048


def _segments(model: AlignmentModel, rec_frames: int) -> list[tuple[int, int, float]]:
    """``(first, stop, offset)`` of each segment on the received timeline."""
    bounds = [0, *model.breaks, rec_frames]
    return [(int(a), int(b), float(o)) for a, b, o in
            zip(bounds[:-1], bounds[1:], model.offsets, strict=True) if b > a]


def _ref_span(a: int, b: int, offset: float, scale: float) -> tuple[int, int]:
    """Reference samples ``[k0, k1)`` carried by received samples ``[a, b)`` of one segment."""
    k0 = math.ceil((a - offset) / scale - 1e-9)
    k1 = math.floor((b - 1 - offset) / scale + 1e-9) + 1
    return k0, k1


def received_on_reference(rec: AudioSource, model: AlignmentModel, channel: int,
                          start: int, stop: int) -> np.ndarray:
    """Received channel ``channel`` on reference samples ``start .. stop-1``.

    Parameters
    ----------
    rec : AudioSource
        The received audio.
    model : AlignmentModel
        The channel's alignment (received sample -> reference position).
    channel : int
        Zero-based received channel.
    start, stop : int
        Reference sample span.

    Returns
    -------
    np.ndarray, shape=(stop - start,), float64
        Zero where no received segment carries the reference (skipped or
        missing audio). Where a receiver inserted audio (two segments carry
        the same reference samples), the later segment wins.
    """
    out = np.zeros(max(stop - start, 0))
    scale = 1.0 + model.drift_ppm * 1e-6
    for a, b, off in _segments(model, rec.frames):
        k0, k1 = _ref_span(a, b, off, scale)
        k0, k1 = max(k0, start), min(k1, stop)
        if k1 <= k0:
            continue
        n = np.arange(k0, k1, dtype=np.float64) * scale + off
        lo = int(np.floor(n[0])) - HALF_TAPS - 2
        hi = int(np.ceil(n[-1])) + HALF_TAPS + 2
        block = rec.read(lo, hi - lo)[:, channel:channel + 1]
        out[k0 - start:k1 - start] = interpolate(block, n, origin=lo)[:, 0]
    return out


def covered_fraction(model: AlignmentModel, rec_frames: int, ref_frames: int) -> float:
    """Share (0..1) of the reference's samples that some received segment carries."""
    scale = 1.0 + model.drift_ppm * 1e-6
    spans = sorted((max(k0, 0), min(k1, ref_frames)) for k0, k1 in
                   (_ref_span(a, b, o, scale) for a, b, o in _segments(model, rec_frames)))
    total, end = 0, 0
    for k0, k1 in spans:
        k0 = max(k0, end)
        if k1 > k0:
            total += k1 - k0
            end = k1
    return total / ref_frames if ref_frames > 0 else 0.0


def received_position(model: AlignmentModel, rec_frames: int, ref_sample: float) -> float:
    """Where reference sample ``ref_sample`` lies in the received file, samples.

    The first segment that carries it; for reference audio that was skipped,
    the start of the first segment carrying later audio (the splice point);
    clipped to ``[0, rec_frames]``.
    """
    scale = 1.0 + model.drift_ppm * 1e-6
    later = []
    for a, b, off in _segments(model, rec_frames):
        n = ref_sample * scale + off
        if a <= n < b or (b == rec_frames and n >= b):
            return float(min(max(n, 0.0), rec_frames))
        if n < a:
            later.append(a)
    if later:
        return float(min(later))
    return float(rec_frames) if ref_sample > 0 else 0.0


def _resampled(get: Callable[[int, int], np.ndarray], n: int, fs: int, fs_out: int) -> np.ndarray:
    """``get(a, b)`` (native samples ``a .. b-1``) over ``0 .. n-1``, at ``fs_out``, float32.

    Blocks start at multiples of the decimation factor and overlap by
    ``RESAMPLE_PAD``, so the result equals ``resample_poly`` of the whole signal.
    """
    g = math.gcd(fs, fs_out)
    up, down = fs_out // g, fs // g
    n_out = -(-n * up // down)
    out = np.zeros(n_out, dtype=np.float32)
    step = max(BLOCK // down, 1) * down
    pad = -(-RESAMPLE_PAD // down) * down
    for s in range(0, n, step):
        e = min(s + step, n)
        if up == down:
            out[s:e] = get(s, e)
            continue
        a, b = max(s - pad, 0), min(e + pad, n)
        y = resample_poly(get(a, b), up, down)
        j0 = (s - a) * up // down
        o0 = s * up // down
        o1 = n_out if e == n else e * up // down
        out[o0:o1] = y[j0:j0 + o1 - o0]
    return out


def aligned_pair(rec: AudioSource, aligns: ChannelAlignments, *,
                 sample_rate_hz: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference and compensated received audio, mono, on the reference's span, at a rate.

    Parameters
    ----------
    rec : AudioSource
        The received audio.
    aligns : ChannelAlignments
        The pipeline's per-channel alignment.
    sample_rate_hz : int
        Rate wanted, Hz (16000 for ViSQOL speech and PESQ-WB, 8000 for
        PESQ-NB, 48000 for ViSQOL audio).

    Returns
    -------
    reference, received : np.ndarray, shape=(n,), float32
        ``n = ceil(reference.frames * sample_rate_hz / native rate)``. The
        mix (mean) of every received channel, each on its own reference
        channel's timeline and with its polarity corrected, against the mix of
        those reference channels.
    """
    ref = aligns.reference
    fs = ref.sample_rate_hz
    nch = len(aligns.models)
    cmap = aligns.channel_map or (0,) * nch
    signs = [1.0 if aligns.gain(ch) >= 0 else -1.0 for ch in range(nch)]

    def get_ref(a: int, b: int) -> np.ndarray:
        x = ref.read(a, b - a)
        return np.mean(x[:, [min(c, x.shape[1] - 1) for c in cmap]], axis=1)

    def get_rec(a: int, b: int) -> np.ndarray:
        out = np.zeros(b - a)
        for ch in range(nch):
            out += signs[ch] * received_on_reference(rec, aligns.models[ch], ch, a, b)
        return out / nch

    n = ref.frames
    return _resampled(get_ref, n, fs, sample_rate_hz), _resampled(get_rec, n, fs, sample_rate_hz)
