"""Glitches: short spans where the received waveform departs from the expected one.

Concealed packet loss (a repeated or faded packet), clicks and phase jumps
keep the level but change the waveform, so they show in the residual between
the received audio and the aligned, gain-matched reference. For a steady tone
this is a least-squares sine fit in the spirit of IEEE 1057, since the
reference is the sine.

The threshold adapts to the channel: the residual floor is measured as a
function of the expected level (see :func:`residual_floor`), and a frame is a
glitch when its
residual exceeds that floor by the chi-square quantile for the frame's degrees
of freedom at ``glitch_false_alarm`` (at least 6 dB, widened by the spread the
floor actually shows), and is no lower than ``glitch_min_db`` below the
expected signal. This is tested on 1, 4 and 16 ms frames, so that a click
and a concealed 20 ms packet in noise are both seen at their best scale.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from validator.detectors.activity import Activity
from validator.detectors.common import (
    Frames,
    dbfs_power,
    merge_spans,
    packet_note,
    power_dbfs,
    ratio_db,
    runs,
)
from validator.detectors.features import ChannelFeatures
from validator.detectors.settings import DetectorSettings
from validator.detectors.stats import chi2_isf
from validator.result import Event

#: Glitch frames closer than this are one event, s.
MERGE_S = 0.015
#: Frame lengths searched, in 1 ms frames (a click, a packet, a burst).
SCALES = (1, 4, 16)
#: Smallest threshold above the residual floor, dB.
MIN_MARGIN_DB = 6.0
#: Largest margin the residual's own spread may add, dB (G.722 needs 25-30): a wrong model
#: spreads the residual without bound, and an uncapped margin would blind the detector.
MAX_MARGIN_DB = 30.0
#: Frames either side of the reference's activity where "unexpected sound" is not judged.
EDGE_GUARD_FRAMES = 2
#: Frames after (and before) the reference's activity where a codec's smear is learnt (30 ms).
SMEAR_FRAMES = 30
#: Fewest frames in that zone from which a smear level is learnt.
SMEAR_MIN_FRAMES = 50
#: Frames handled at once (about 17 minutes of 1 ms frames).
CHUNK_FRAMES = 1 << 20
#: A glitch ends where its residual (4 ms mean) last comes within this of its peak, dB: a
#: codec recovering after a concealed packet (Opus: -20 dB re signal for 40 ms, -30 dB for
#: 65 ms) is the fault's tail, not a longer fault.
RECOVERY_DB = 10.0
#: A stretch this long that has recovered (see :data:`RECOVERY_DB`) separates two glitches, s.
SPLIT_S = 0.010


def _chunks(n: int, margin: int) -> Iterator[tuple[int, int, int, int]]:
    """``(lo, hi, a, b)``: core ``[lo, hi)`` of each chunk, read as ``[a, b)`` with a margin."""
    for lo in range(0, n, CHUNK_FRAMES):
        hi = min(lo + CHUNK_FRAMES, n)
        yield lo, hi, max(lo - margin, 0), min(hi + margin, n)


def floor_curve(cf: ChannelFeatures, use: np.ndarray, *, bin_db: float = 3.0,
                min_frames: int = 20, max_samples: int = 400_000
                ) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """The residual-to-expected ratio as a function of the expected level.

    The ratio is binned by the expected level (``bin_db`` wide bins over the
    frames ``use`` where the expected signal is present, at most
    ``max_samples`` of them, evenly strided) and its median taken per bin
    with at least ``min_frames`` frames.

    Returns
    -------
    (levels_db, ratios_db) : tuple of two tuples of float, or None
        The median level and ratio of each bin, in order of level, dB; None
        when fewer than ``min_frames`` frames can be used.
    """
    px = cf.p_x
    idx = np.flatnonzero(use & (px > 0))
    if len(idx) < min_frames:
        return None
    idx = idx[::max(1, len(idx) // max_samples)]
    lvl = 10 * np.log10(px[idx].astype(np.float64))
    ratio = 10 * np.log10(np.maximum(cf.p_e[idx].astype(np.float64), 1e-30)
                          / px[idx].astype(np.float64))
    edges = np.arange(np.floor(lvl.min()), lvl.max() + bin_db, bin_db)
    which = np.digitize(lvl, edges)
    centres, meds = [], []
    for k in np.unique(which):
        sel = which == k
        if np.count_nonzero(sel) >= min_frames:
            centres.append(float(np.median(lvl[sel])))
            meds.append(float(np.median(ratio[sel])))
    if not centres:
        centres, meds = [float(np.median(lvl))], [float(np.median(ratio))]
    return tuple(centres), tuple(meds)


def residual_floor(cf: ChannelFeatures, act: Activity, exclude: np.ndarray, *,
                   bin_db: float = 3.0, min_frames: int = 20,
                   max_samples: int = 400_000) -> np.ndarray:
    """Residual floor of every frame, as a function of the expected level.

    The ratio of residual to expected power is binned by the expected level
    (``bin_db`` wide bins over the active frames outside events, at most
    ``max_samples`` of them, evenly strided) and its median taken per bin;
    each frame's floor is that median at its level, interpolated between
    bins. This follows codecs whose error is relative at high levels and
    absolute at low ones (G.711, Opus) as well as additive noise, whose ratio
    grows as the signal falls.

    When ``act.floor_curve`` is set (measured on the whole capture, for one
    block of it), that curve is used instead of one measured on these frames.

    Returns
    -------
    np.ndarray, shape=(n_frames,), float32
        Floor power per frame; 0 where nothing could be estimated.
    """
    px = cf.p_x
    if act.floor_curve is not None:
        centres, meds = act.floor_curve
    else:
        curve = floor_curve(cf, act.active & ~exclude, bin_db=bin_db, min_frames=min_frames,
                            max_samples=max_samples)
        if curve is None:
            return np.zeros(len(px), dtype=np.float32)
        centres, meds = curve
    floor = np.zeros(len(px), dtype=np.float32)
    for lo in range(0, len(px), CHUNK_FRAMES):
        p = px[lo:lo + CHUNK_FRAMES].astype(np.float64)
        lv = 10 * np.log10(np.maximum(p, 1e-30))
        fdb = np.interp(lv, centres, meds)
        # below the quietest bin the floor stays at that bin's absolute level (additive noise)
        below = lv < centres[0]
        fdb[below] = meds[0] + centres[0] - lv[below]
        floor[lo:lo + CHUNK_FRAMES] = np.maximum(np.where(p > 0, p * 10 ** (fdb / 10), 0.0),
                                                 act.noise_power)
    return floor


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    """``mask`` grown by ``k`` frames on each side."""
    if k <= 0 or not mask.any():
        return mask.copy()
    # a frame is set when any frame within k of it is: a window count over a running
    # integer sum (exact)
    padded = np.concatenate((np.zeros(k, np.int64), mask, np.zeros(k, np.int64)))
    c = np.concatenate(([0], np.cumsum(padded)))
    return c[2 * k + 1:] - c[:-(2 * k + 1)] > 0


def _window_max(x: np.ndarray, at: np.ndarray, k: int) -> np.ndarray:
    """The largest of ``x[i - k .. i + k]`` (clipped to the array) at each index ``i`` of ``at``."""
    out = x[np.clip(at - k, 0, len(x) - 1)].copy()
    for j in range(1, 2 * k + 1):
        out = np.maximum(out, x[np.clip(at - k + j, 0, len(x) - 1)])
    return out


def _box(x: np.ndarray, w: int) -> np.ndarray:
    """Mean over ``w`` frames centred on each frame (float32)."""
    x = x.astype(np.float32, copy=False)
    if w == 1:
        return x
    # np.convolve(x, ones(w), "same") / w as w shifted adds (numpy's correlate is slower
    # for these short kernels; a running sum would lose small residuals beside large ones)
    lead = (w - 1) // 2
    xp = np.concatenate([np.zeros(w - 1 - lead, np.float32), x, np.zeros(lead, np.float32)])
    n = len(x)
    acc = xp[:n].copy()
    for k in range(1, w):
        acc += xp[k:k + n]
    acc /= np.float32(w)
    return acc


def _without_recovery(s: int, e: int, cf: ChannelFeatures,
                      flen: int) -> list[tuple[int, int]]:
    """The span ``[s, e)`` (samples) without its recovery tails, split where it recovered.

    The residual relative to the expected signal is averaged over 4 ms. A
    stretch of at least :data:`SPLIT_S` whose residual stays more than
    :data:`RECOVERY_DB` under the span's peak separates two faults (two
    concealed packets 40 ms apart); each piece keeps its start and ends at
    its last frame within :data:`RECOVERY_DB` of its own peak. Spans where
    the reference is silent (unexpected sound) are left as they are.
    """
    fa, fb = s // flen, -(-e // flen)
    if fb - fa < 8:
        return [(s, e)]
    px = cf.p_x[fa:fb].astype(np.float32)
    if np.any(px <= 0):
        return [(s, e)]
    r = _box(cf.p_e[fa:fb].astype(np.float32), 4).astype(np.float64) / np.maximum(
        _box(px, 4).astype(np.float64), 1e-30)
    r_db = 10 * np.log10(np.maximum(r, 1e-30))
    near = r_db >= r_db.max() - RECOVERY_DB
    split = max(int(round(SPLIT_S * 1000)), 1)  # 1 ms frames
    pieces, start = [], 0
    for a, b in runs(~near):
        if a > 0 and b < len(near) and b - a >= split:
            pieces.append((start, a))
            start = b
    pieces.append((start, len(near)))
    out = []
    for a, b in pieces:
        seg = r_db[a:b]
        last = a + int(np.flatnonzero(seg >= seg.max() - RECOVERY_DB)[-1])
        lo = s if a == 0 else (fa + a) * flen
        out.append((lo, min(e, (fa + last + 1) * flen)))
    return out


def _margins_db(cf: ChannelFeatures, base: np.ndarray, floor: np.ndarray, flen: int,
                settings: DetectorSettings) -> dict[int, float]:
    """Threshold above the residual floor for each frame scale, dB.

    The chi-square upper quantile for the frame's degrees of freedom at
    ``glitch_false_alarm``, at least :data:`MIN_MARGIN_DB`, widened by five
    robust standard deviations of the residual about its floor (measured on
    a strided sample of the judged frames) up to :data:`MAX_MARGIN_DB`.
    """
    n = len(cf.p_e)
    k_db = {}
    stride = max(1, n // 400_000)
    for w in SCALES:
        dof = flen * w
        k = float(chi2_isf(dof, settings.glitch_false_alarm) / dof)  # chi-square upper quantile
        r_all = []
        for lo, hi, a, b in _chunks(n, w):
            ok = _box(base[a:b].astype(np.float32), w)[lo - a:hi - a] >= 1 - 0.5 / w
            pe_w = _box(cf.p_e[a:b], w)[lo - a:hi - a]
            fl_w = _box(floor[a:b], w)[lo - a:hi - a]
            idx = np.flatnonzero(ok)[::stride]
            if len(idx):
                r_all.append(10 * np.log10(np.maximum(pe_w[idx], 1e-30) / fl_w[idx]))
        spread_db = 0.0
        if r_all:
            r = np.concatenate(r_all)
            if len(r) > 20:
                spread_db = 5 * 1.4826 * float(np.median(np.abs(r - np.median(r))))
        k_db[w] = max(10 * np.log10(k), MIN_MARGIN_DB, min(spread_db, MAX_MARGIN_DB))
    return k_db


def _glitch_events(hit: np.ndarray, cf: ChannelFeatures, act: Activity,
                   fr: Frames) -> list[Event]:
    """Events from the flagged frames: merged, without recovery tails, each described."""
    flen, fs = fr.frame_len, fr.sample_rate_hz
    events = []
    spans = merge_spans([(s * flen, e * flen) for s, e in runs(hit)], gap=int(MERGE_S * fs))
    spans = [piece for s, e in spans for piece in _without_recovery(s, e, cf, flen)]
    for s, e in spans:
        fa, fb = s // flen, e // flen
        d = (e - s) / fs
        e_sum, x_sum = float(cf.p_e[fa:fb].sum()), float(cf.p_x[fa:fb].sum())
        if x_sum <= (fb - fa) * act.threshold_power * 0.1:
            lvl = float(power_dbfs(e_sum / max(fb - fa, 1)))
            text = (f"{d * 1000:.0f} ms of unexpected sound at {lvl:.1f} dBFS where the "
                    "reference is silent")
        else:
            lvl = ratio_db(e_sum, x_sum)
            text = (f"waveform departs from the reference for {d * 1000:.0f} ms, "
                    f"residual {lvl:.1f} dB re signal{packet_note(d)}")
        events.append(fr.event("glitch", s, e, lvl, text))
    return events


def detect_glitches(cf: ChannelFeatures, act: Activity, fr: Frames, settings: DetectorSettings,
                    exclude: np.ndarray) -> list[Event]:
    """Find glitches on one channel.

    Parameters
    ----------
    cf : ChannelFeatures
        The channel's 1 ms frame powers: ``p_e`` residual (received minus the
        aligned, gain-matched reference), ``p_x`` expected, ``p_y`` received;
        float32, shape ``(n_frames,)``, full scale 1.0.
    act : Activity
        Which frames are judged (``act.active``), the activity threshold and
        the noise power (full-scale power units).
    fr : Frames
        Sample rate (Hz), frame length (samples) and channel of the events.
    settings : DetectorSettings
        Uses ``glitch_min_db`` (residual re expected signal, dB),
        ``glitch_false_alarm`` (probability per frame) and
        ``silence_threshold_dbfs`` (dBFS).
    exclude : np.ndarray, shape=(n_frames,), bool
        Frames already explained by another event (dropout, silence, level).

    Returns
    -------
    list of Event
        ``type="glitch"``, to the 1 ms frame; ``level_db`` is the residual
        relative to the expected signal over the span, dB, or its level in
        dBFS where the reference is silent (unexpected sound).

    References
    ----------
    .. [1] IEEE 1057-2017: the residual of a least-squares fit to the
       expected waveform, tested here per frame (1, 4 and 16 ms) against a
       chi-square quantile above its floor.

    Notes
    -----
    Frames are processed in chunks of ``CHUNK_FRAMES`` (with a margin), so the
    memory this needs does not grow with the capture's length.
    """
    flen = fr.frame_len
    n = len(cf.p_e)
    floor = residual_floor(cf, act, exclude)
    base = act.active & ~exclude & (floor > 0)
    k_db = _margins_db(cf, base, floor, flen, settings)
    # pass 2: thresholds, chunk by chunk
    abs_floor = dbfs_power(settings.silence_threshold_dbfs)
    min_ratio = 10 ** (settings.glitch_min_db / 10)
    # a 1 ms frame inside a long flagged frame counts when it stands out on its own
    # (chi-square at 1e-6, at least MIN_MARGIN_DB)
    own_db = max(MIN_MARGIN_DB, 10 * np.log10(chi2_isf(flen, 1e-6) / flen))
    # frames next to the reference's activity edges hold the ringing of any band-limited
    # onset (a sinc's tails), which is no fault: "unexpected sound" is judged away from them
    far = ~_dilate(act.active, EDGE_GUARD_FRAMES)
    # A codec smears sound into the silence after (and before) speech: Opus leaves -43 to
    # -50 dBFS for up to ~26 ms at word ends. Its level is learnt from this capture: within
    # SMEAR_FRAMES of the reference's activity the threshold sits above the smear's 95th
    # percentile there; farther out the silence is judged as before.
    smear_zone = far & _dilate(act.active, SMEAR_FRAMES)
    smear_power = 0.0
    if np.count_nonzero(smear_zone) >= SMEAR_MIN_FRAMES:
        smear_power = float(np.percentile(cf.p_e[smear_zone], 95))
    # and at the first and last frames of an active run the expected signal is only a sliver:
    # the residual there is judged against the run's level next to it, not the sliver's
    edge = act.active & _dilate(~act.active, EDGE_GUARD_FRAMES)
    px_eff = cf.p_x
    if edge.any():
        px_eff = cf.p_x.astype(np.float32, copy=True)
        px_eff[edge] = _window_max(cf.p_x, np.flatnonzero(edge), EDGE_GUARD_FRAMES)
    hit = np.zeros(n, dtype=bool)
    for lo, hi, a, b in _chunks(n, max(SCALES)):
        pe, px, fl = cf.p_e[a:b], px_eff[a:b], floor[a:b]
        h = np.zeros(b - a, dtype=bool)
        for w in SCALES:
            # frames of w * 1 ms: longer frames see weaker, longer faults through more noise
            pe_w, px_w, fl_w = _box(pe, w), _box(px, w), _box(fl, w)
            ok_w = _box(base[a:b].astype(np.float32), w) >= 1 - 0.5 / w
            thr = np.maximum(np.maximum(fl_w * 10 ** (k_db[w] / 10), px_w * min_ratio), abs_floor)
            over = ok_w & (pe_w > thr)
            if w == 1:
                # sound where none is expected, well above the background
                quiet_thr = np.maximum(10 * thr, act.noise_power * 10 ** (k_db[w] / 10))
                smear_thr = np.where(smear_zone[a:b], smear_power * 10 ** (MIN_MARGIN_DB / 10),
                                     0.0)
                h |= far[a:b] & (pe_w > np.maximum(quiet_thr, smear_thr))
                h |= over
                continue
            # a long frame over threshold marks its own 1 ms frames that stand out
            spread = _box(over.astype(np.float32), w) > 0
            h |= spread & (pe > fl * 10 ** (own_db / 10)) & (pe > abs_floor)
        hit[lo:hi] = h[lo - a:hi - a]
    hit &= ~exclude
    return _glitch_events(hit, cf, act, fr)
