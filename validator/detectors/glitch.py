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

import numpy as np
from scipy.stats import chi2

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
from validator.result import Event

#: Glitch frames closer than this are one event, s.
MERGE_S = 0.015
#: Frame lengths searched, in 1 ms frames (a click, a packet, a burst).
SCALES = (1, 4, 16)
#: Smallest threshold above the residual floor, dB.
MIN_MARGIN_DB = 6.0


def residual_floor(cf: ChannelFeatures, act: Activity, exclude: np.ndarray, *,
                   bin_db: float = 3.0, min_frames: int = 20) -> np.ndarray:
    """Residual floor of every frame, as a function of the expected level.

    The ratio of residual to expected power is binned by the expected level
    (``bin_db`` wide bins over the active frames outside events) and its
    median taken per bin; each frame's floor is that median at its level,
    interpolated between bins. This follows codecs whose error is relative at
    high levels and absolute at low ones (G.711, Opus) as well as additive
    noise, whose ratio grows as the signal falls.

    Returns
    -------
    np.ndarray, shape=(n_frames,), float64
        Floor power per frame; 0 where nothing could be estimated.
    """
    px = cf.p_x.astype(np.float64)
    pe = cf.p_e.astype(np.float64)
    use = act.active & ~exclude & (px > 0)
    if np.count_nonzero(use) < min_frames:
        return np.zeros(len(px))
    lvl = 10 * np.log10(px[use])
    ratio = 10 * np.log10(np.maximum(pe[use], 1e-30) / px[use])
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
    all_lvl = 10 * np.log10(np.maximum(px, 1e-30))
    floor_db = np.interp(all_lvl, centres, meds)
    # below the quietest bin the floor stays at that bin's absolute level (additive noise)
    below = all_lvl < centres[0]
    floor_db[below] = meds[0] + centres[0] - all_lvl[below]
    floor = np.where(px > 0, px * 10 ** (floor_db / 10), 0.0)
    return np.maximum(floor, act.noise_power)


def detect_glitches(cf: ChannelFeatures, act: Activity, fr: Frames, settings: DetectorSettings,
                    exclude: np.ndarray) -> list[Event]:
    """Find glitches on one channel.

    Parameters
    ----------
    cf : ChannelFeatures
    act : Activity
    fr : Frames
    settings : DetectorSettings
        Uses ``glitch_min_db``, ``glitch_false_alarm`` and ``silence_threshold_dbfs``.
    exclude : np.ndarray, shape=(n_frames,), bool
        Frames already explained by another event (dropout, silence, level).

    Returns
    -------
    list of Event
        ``type="glitch"``; ``level_db`` is the residual level relative to the
        expected signal over the span.
    """
    flen, fs = fr.frame_len, fr.sample_rate_hz
    floor = residual_floor(cf, act, exclude)
    pe = cf.p_e.astype(np.float64)
    px = cf.p_x.astype(np.float64)
    base = act.active & ~exclude & (floor > 0)
    abs_floor = dbfs_power(settings.silence_threshold_dbfs)
    hit = np.zeros(len(pe), dtype=bool)
    for w in SCALES:
        # frames of w * 1 ms: longer frames see weaker, longer faults through more noise
        k_w = np.ones(w)
        pe_w = np.convolve(pe, k_w, mode="same") / w
        px_w = np.convolve(px, k_w, mode="same") / w
        fl_w = np.convolve(floor, k_w, mode="same") / w
        ok_w = np.convolve(base.astype(np.float64), k_w, mode="same") >= w - 0.5
        dof = flen * w
        k = float(chi2.isf(settings.glitch_false_alarm, dof) / dof)
        spread_db = 0.0
        if np.count_nonzero(ok_w) > 20:
            r = 10 * np.log10(np.maximum(pe_w[ok_w], 1e-30) / fl_w[ok_w])
            spread_db = 5 * 1.4826 * float(np.median(np.abs(r - np.median(r))))
        k_db = max(10 * np.log10(k), MIN_MARGIN_DB, spread_db)
        thr = np.maximum(fl_w * 10 ** (k_db / 10), px_w * 10 ** (settings.glitch_min_db / 10))
        thr = np.maximum(thr, abs_floor)
        if w == 1:
            # sound where none is expected, well above the background
            quiet_thr = np.maximum(10 * thr, act.noise_power * 10 ** (k_db / 10))
            quiet = (~act.active) & ~exclude & (pe_w > quiet_thr)
            hit |= quiet
        over = ok_w & (pe_w > thr)
        if w == 1:
            hit |= over
            continue
        # a long frame over threshold marks its own 1 ms frames that stand out
        spread = np.convolve(over.astype(np.float64), k_w, mode="same") > 0
        hit |= spread & (pe > floor * 10 ** (MIN_MARGIN_DB / 10)) & (pe > abs_floor)
    hit &= ~exclude
    events = []
    spans = merge_spans([(s * flen, e * flen) for s, e in runs(hit)], gap=int(MERGE_S * fs))
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
