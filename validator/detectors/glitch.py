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
from validator.orderstats import median, percentile, unique_values
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
#: Frames over which the codec's error on the current sound is a running median (161 ms).
LOCAL_FRAMES = 161
#: Residual ratio given to frames not judged in that median, dB (silence pulls it down).
LOCAL_QUIET_DB = -60.0
#: A codec's error (that median) under this, dB re signal, is none: the capture carries the
#: reference exactly there (PCM, a lossless path), and no span there is a codec's error. The
#: codecs measured leave -38 dB (G.711) to 0 dB (Opus on unvoiced sounds).
EXACT_RESIDUAL_DB = -60.0
#: A span that correlates at least this with the reference (and see the next two) keeps its
#: waveform: on speech, a codec's error rather than a fault (:func:`waveform_kept`).
KEPT_NCC = 0.9
#: ... with its level within this of the expected one, dB,
KEPT_LEVEL_DB = 1.5
#: ... and its residual at least this far under the signal, dB.
KEPT_RESIDUAL_DB = -6.0
#: On speech, the upper percentile of the residual in the pauses (beyond the smear zone) that
#: "unexpected sound" must exceed by MIN_MARGIN_DB, and the fewest pause frames it needs.
PAUSE_PERCENTILE = 99.5
PAUSE_MIN_FRAMES = 1000
#: A span at a word's edge shorter than this that keeps the waveform is a codec's onset ramp,
#: whatever its level, frames (10 ms; a faded packet lasts a packet, 20 ms).
ONSET_RAMP_FRAMES = 10
#: Frames within this of the reference's activity edges where a waveform coder adapts to a
#: tone that starts or stops (G.726 at an onset: -22 to -32 dB re signal for 30-50 ms against
#: -38 dB steady; G.722 at a marker's end: -27 dB for 7 ms), frames (50 ms).
ADAPT_FRAMES = 50
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
    for k in unique_values(which):
        sel = which == k
        if np.count_nonzero(sel) >= min_frames:
            centres.append(float(median(lvl[sel])))
            meds.append(float(median(ratio[sel])))
    if not centres:
        centres, meds = [float(median(lvl))], [float(median(ratio))]
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
                spread_db = 5 * 1.4826 * float(median(np.abs(r - median(r))))
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


def local_floor(cf: ChannelFeatures, act: Activity, exclude: np.ndarray) -> np.ndarray:
    """The codec's error on the sound being coded: a running median of the residual ratio.

    A codec's error depends on the kind of sound as much as on its level: on
    clean speech G.722 leaves -25 dB re signal on vowels but -8 dB on
    fricatives (its 2-bit high band), Opus and AAC substitute noise for
    unvoiced sounds (0 dB). A phoneme lasts 50-150 ms, so the median of the
    residual-to-expected ratio over the :data:`LOCAL_FRAMES` frames around
    each frame (frames not judged count as :data:`LOCAL_QUIET_DB`, so that
    silence pulls it down) follows the sound, where the per-level floor
    (:func:`residual_floor`) mixes every kind. A fault shorter than half the
    window (a concealed or repeated 20-60 ms packet run) does not move it.

    Parameters
    ----------
    cf : ChannelFeatures
        Frame powers ``p_e`` and ``p_x``, shape ``(n_frames,)``, float32.
    act : Activity
        ``act.active``: the judged frames.
    exclude : np.ndarray, shape=(n_frames,), bool
        Frames explained by other events (left out like inactive ones).

    Returns
    -------
    np.ndarray, shape=(n_frames,), float32
        Floor power per frame (the local median ratio times ``p_x``).

    References
    ----------
    .. [1] J. W. Tukey, *Exploratory Data Analysis*, Addison-Wesley, 1977
       (running medians); ``scipy.ndimage.median_filter``.
    """
    from scipy.ndimage import median_filter

    use = act.active & ~exclude & (cf.p_x > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 10 * np.log10(np.maximum(cf.p_e, 1e-30) / cf.p_x)
    r = np.where(use, r, LOCAL_QUIET_DB).astype(np.float32)
    med = median_filter(r, size=LOCAL_FRAMES, mode="constant", cval=LOCAL_QUIET_DB)
    return np.where(use, cf.p_x * 10 ** (med / 10), 0.0).astype(np.float32)


def _smear_floor(cf: ChannelFeatures, act: Activity, far: np.ndarray, exclude: np.ndarray, *,
                 by_sound: bool) -> np.ndarray:
    """What a codec leaves in the reference's silences, learnt from the capture, per frame.

    A codec smears sound into the silence after (and before) speech: Opus
    leaves -43 to -50 dBFS for up to ~26 ms at word ends, AAC and MP3 a
    pre-echo before onsets. Within :data:`SMEAR_FRAMES` of the reference's
    activity the floor is the 95th percentile of the residual there; farther
    out nothing (the silence is judged as before). On speech (``by_sound``)
    two more are learnt: the smear relative to the loudest expected frame
    within :data:`SMEAR_FRAMES` (a loud onset has a loud pre-echo; measured
    on clean Opus 12 kbit/s, AAC 24 kbit/s and MP3 32 kbit/s speech: up to
    -5 to -12 dB), its :data:`PAUSE_PERCENTILE` percentile, and what the
    codec makes of the noise in longer pauses (G.722 fed noisy speech leaves
    1 ms spikes 7 dB over the noise), the same percentile there.

    Parameters
    ----------
    cf : ChannelFeatures
        Frame powers ``p_e`` and ``p_x``, shape ``(n_frames,)``, float32.
    act : Activity
        ``act.active``: frames whose reference is active.
    far : np.ndarray, shape=(n_frames,), bool
        Frames away from the reference's activity (where "unexpected sound" is judged).
    exclude : np.ndarray, shape=(n_frames,), bool
        Frames explained by other events.
    by_sound : bool
        The reference is speech or music (not a steady tone).

    Returns
    -------
    np.ndarray, shape=(n_frames,), float32
        Residual power the codec may leave in each frame (full-scale units
        squared; 0 where nothing was learnt); "unexpected sound" must exceed
        it by :data:`MIN_MARGIN_DB`.
    """
    out = np.zeros(len(cf.p_e), dtype=np.float32)
    zone = far & _dilate(act.active, SMEAR_FRAMES)
    if np.count_nonzero(zone) >= SMEAR_MIN_FRAMES:
        out[zone] = float(percentile(cf.p_e[zone], 95.0))
        if by_sound:
            idx = np.flatnonzero(zone & ~exclude)
            near = _window_max(cf.p_x, idx, SMEAR_FRAMES).astype(np.float64)
            ok = near > 0
            if np.count_nonzero(ok) >= SMEAR_MIN_FRAMES:
                with np.errstate(divide="ignore"):
                    rel = np.log10(np.maximum(cf.p_e[idx][ok], 1e-30) / near[ok])
                q = 10 ** float(percentile(rel, PAUSE_PERCENTILE))
                at = idx[ok]
                out[at] = np.maximum(out[at], (near[ok] * q).astype(np.float32))
    pause = far & ~zone & ~exclude
    if by_sound and np.count_nonzero(pause) >= PAUSE_MIN_FRAMES:
        out[far] = np.maximum(out[far], float(percentile(cf.p_e[pause], PAUSE_PERCENTILE)))
    return out


def detect_glitches(cf: ChannelFeatures, act: Activity, fr: Frames, settings: DetectorSettings,
                    exclude: np.ndarray, *, by_sound: bool = False,
                    floor: np.ndarray | None = None) -> list[Event]:
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
    by_sound : bool
        Also hold the floor at the codec's error on the sound around each
        frame (:func:`local_floor`), and drop spans that keep the waveform
        and level (:func:`waveform_kept`): for references that are not a
        steady tone (speech, music), whose kind of sound changes.
    floor : np.ndarray, shape=(n_frames,), float32, optional
        The residual floor (:func:`residual_floor`),
        when the caller has it already; computed here when None.

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
    if floor is None:
        floor = residual_floor(cf, act, exclude)
    base = act.active & ~exclude & (floor > 0)
    k_db = _margins_db(cf, base, floor, flen, settings)
    local = None
    if by_sound:
        local = local_floor(cf, act, exclude)
        floor = np.maximum(floor, local)
    # pass 2: thresholds, chunk by chunk
    abs_floor = dbfs_power(settings.silence_threshold_dbfs)
    min_ratio = 10 ** (settings.glitch_min_db / 10)
    # a 1 ms frame inside a long flagged frame counts when it stands out on its own
    # (chi-square at 1e-6, at least MIN_MARGIN_DB)
    own_db = max(MIN_MARGIN_DB, 10 * np.log10(chi2_isf(flen, 1e-6) / flen))
    # frames next to the reference's activity edges hold the ringing of any band-limited
    # onset (a sinc's tails), which is no fault: "unexpected sound" is judged away from them
    far = ~_dilate(act.active, EDGE_GUARD_FRAMES)
    smear_floor = _smear_floor(cf, act, far, exclude, by_sound=by_sound)
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
                smear_thr = smear_floor[a:b] * np.float32(10 ** (MIN_MARGIN_DB / 10))
                h |= far[a:b] & (pe_w > np.maximum(quiet_thr, smear_thr))
                h |= over
                continue
            # a long frame over threshold marks its own 1 ms frames that stand out
            spread = _box(over.astype(np.float32), w) > 0
            h |= spread & (pe > fl * 10 ** (own_db / 10)) & (pe > abs_floor)
        hit[lo:hi] = h[lo - a:hi - a]
    hit &= ~exclude
    events = _glitch_events(hit, cf, act, fr)
    if local is not None:
        events = [e for e in events if not _codec_error(cf, act, e.start_sample // flen,
                                                        -(-e.end_sample // flen), local)]
    else:
        events = [e for e in events if not _coder_adapting(cf, act, e.start_sample // flen,
                                                           -(-e.end_sample // flen))]
    return events


def _coder_adapting(cf: ChannelFeatures, act: Activity, start_frame: int,
                    end_frame: int) -> bool:
    """Whether a glitch on a tone is a waveform coder adapting at the tone's start or end.

    An ADPCM coder (G.726, G.722) adapts its step size to a signal that has
    just started or is about to stop: for a few tens of ms its error is
    10-15 dB above its steady error, with the waveform kept
    (:func:`waveform_kept`). A span that lies wholly within
    :data:`ADAPT_FRAMES` of the reference's activity edges and keeps the
    waveform is that, not a fault. In the steady tone the detector keeps its
    full sensitivity (a repeat of a few samples is a phase jump, which the
    sine model sees at -18 to -35 dB).
    """
    a, b = start_frame, end_frame
    lo, hi = a - ADAPT_FRAMES, b + ADAPT_FRAMES
    # the capture's own ends count as edges: the coder starts there
    at_edge = lo < 0 or hi > len(act.active) or not act.active[lo:hi].all()
    return at_edge and waveform_kept(cf, a, b)


def _codec_error(cf: ChannelFeatures, act: Activity, start_frame: int, end_frame: int,
                 local: np.ndarray) -> bool:
    """Whether a glitch on speech is the codec's own error (see :func:`waveform_kept`).

    At a word's edge (an inactive frame within :data:`EDGE_GUARD_FRAMES`) a
    span shorter than :data:`ONSET_RAMP_FRAMES` that keeps the waveform may
    also be quieter: a waveform coder ramping up at an onset (G.722: one
    frame 5.6 dB low, correlation 0.96). Where the capture carries the
    reference exactly (its codec error there, ``local``, under
    :data:`EXACT_RESIDUAL_DB`), there is no codec whose error a span could be:
    a one-sample click under loud bit-exact speech (0.3 full scale at 48 kHz,
    0.15 at 16 kHz) is about -10 dB re signal over its 1 ms frame and keeps the
    waveform, and it is a fault.
    """
    a, b = start_frame, end_frame
    if ratio_db(float(local[a:b].sum()), float(cf.p_x[a:b].sum())) < EXACT_RESIDUAL_DB:
        return False
    edge = not act.active[max(a - EDGE_GUARD_FRAMES, 0):b + EDGE_GUARD_FRAMES].all()
    return waveform_kept(cf, a, b, any_level=edge and b - a < ONSET_RAMP_FRAMES)


def waveform_kept(cf: ChannelFeatures, start_frame: int, end_frame: int, *,
                  any_level: bool = False) -> bool:
    """Whether a span keeps the reference's waveform and level: a codec's error, no fault.

    Over the span's frames the received signal correlates at least
    :data:`KEPT_NCC` with the aligned reference, its level is within
    :data:`KEPT_LEVEL_DB` of the expected one, and the residual stays
    :data:`KEPT_RESIDUAL_DB` or more under the signal. A concealed or
    repeated packet of speech does not (measured on Opus PLC: correlation
    -0.3 to 0.93, residual -6 to +8 dB re signal), a fade changes the level,
    a click raises the residual; a waveform coder fed noisy speech (G.722
    with 30 dB SNR at its input) leaves stretches of 10-30 ms at -8 to -13
    dB re signal with correlation 0.94-0.98 and the level held.

    Parameters
    ----------
    cf : ChannelFeatures
        Frame powers ``p_y``, ``p_x``, ``p_e``, ``p_r`` and the product
        ``p_yr``, shape ``(n_frames,)``.
    start_frame, end_frame : int
        The span's frames ``[start_frame, end_frame)``.
    any_level : bool
        Only the correlation is asked for (a codec's onset ramp).

    Returns
    -------
    bool
    """
    a, b = start_frame, end_frame
    sy, sx = float(cf.p_y[a:b].sum()), float(cf.p_x[a:b].sum())
    se, sr = float(cf.p_e[a:b].sum()), float(cf.p_r[a:b].sum())
    if sy <= 0 or sx <= 0 or sr <= 0:
        return False
    ncc = float(cf.p_yr[a:b].sum()) * float(np.sign(cf.gain) or 1.0) / np.sqrt(sy * sr)
    if any_level:
        return ncc >= KEPT_NCC
    return bool(ncc >= KEPT_NCC and abs(ratio_db(sy, sx)) <= KEPT_LEVEL_DB
                and ratio_db(se, sx) <= KEPT_RESIDUAL_DB)
