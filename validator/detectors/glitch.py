"""Glitches: short spans where the received waveform departs from the expected one.

Concealed packet loss (a repeated or faded packet), clicks and phase jumps
keep the level but change the waveform, so they show in the residual between
the received audio and the aligned, gain-matched reference. For a steady tone
this is a least-squares sine fit in the spirit of IEEE 1057, since the
reference is the sine.

The threshold adapts to the channel: the residual floor is modelled as
``a * p_x + b`` (a part that follows the signal, such as codec or quantisation
noise, plus an additive noise floor), and a frame is a glitch when its
residual exceeds that floor by the chi-square quantile for the frame's degrees
of freedom at ``glitch_false_alarm`` (at least 6 dB, widened by the spread the
floor actually shows), and is no lower than ``glitch_min_db`` below the
expected signal.
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


def residual_floor(cf: ChannelFeatures, act: Activity, exclude: np.ndarray) -> tuple[float, float]:
    """Model the residual floor as ``a * p_x + b``.

    Returns
    -------
    a : float
        Median residual-to-expected power ratio on active frames.
    b : float
        Median residual power where the reference is silent (0 if it never is).
    """
    use = act.active & ~exclude
    a = float(np.median(cf.p_e[use] / cf.p_x[use])) if np.any(use) else 0.0
    quiet = cf.p_x < 1e-12
    b = float(np.median(cf.p_e[quiet])) if np.count_nonzero(quiet) >= 50 else 0.0
    return a, b


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
    a, b = residual_floor(cf, act, exclude)
    floor = a * cf.p_x.astype(np.float64) + b
    k = float(chi2.isf(settings.glitch_false_alarm, flen) / flen)
    use = act.active & ~exclude & (floor > 0)
    spread_db = 0.0
    if np.count_nonzero(use) > 20:
        r = 10 * np.log10(np.maximum(cf.p_e[use], 1e-30) / floor[use])
        spread_db = 5 * 1.4826 * float(np.median(np.abs(r - np.median(r))))
    k_db = max(10 * np.log10(k), 6.0, spread_db)
    thr = np.maximum(floor * 10 ** (k_db / 10), cf.p_x * 10 ** (settings.glitch_min_db / 10))
    thr = np.maximum(thr, dbfs_power(settings.silence_threshold_dbfs))
    hit = (cf.p_e > thr) & ~exclude & (act.active | (cf.p_e > 10 * thr))
    events = []
    spans = merge_spans([(s * flen, e * flen) for s, e in runs(hit)], gap=int(MERGE_S * fs))
    for s, e in spans:
        fa, fb = s // flen, e // flen
        d = (e - s) / fs
        pe, px = float(cf.p_e[fa:fb].sum()), float(cf.p_x[fa:fb].sum())
        if px <= (fb - fa) * act.threshold_power * 0.1:
            lvl = float(power_dbfs(pe / max(fb - fa, 1)))
            text = (f"{d * 1000:.0f} ms of unexpected sound at {lvl:.1f} dBFS where the "
                    "reference is silent")
        else:
            lvl = ratio_db(pe, px)
            text = (f"waveform departs from the reference for {d * 1000:.0f} ms, "
                    f"residual {lvl:.1f} dB re signal{packet_note(d)}")
        events.append(fr.event("glitch", s, e, lvl, text))
    return events
