"""Level events: a local step or dip of the level against the expected level.

The received and expected levels are compared over 10 ms windows; a change
of at least ``level_step_db`` that lasts ``level_min_ms`` is an event. A
whole-file gain error is not an event: it goes in the channel metrics.

The level is judged only where the received waveform follows the reference:
where the expected signal stands at least :data:`MIN_MATCH_DB` above the
residual floor at its level (:func:`~validator.detectors.glitch.residual_floor`).
A perceptual codec (Opus) codes quiet syllables with an error as loud as the
signal, and their level by a few dB either way; that is its coding, not a
level fault. For the same reason each 10 ms window must follow the reference
in its own right: the squared correlation of received and reference over the
window, with the capture's background noise taken out of the received power,
is at least :data:`MIN_WINDOW_R2`. A level step keeps the waveform
(correlation 1 whatever its size); a codec's noise substitution in a
fricative does not (0.4 to 0.6 in Opus at 32 kbit/s, where the coded noise
sits 3 dB under the reference for 100 ms).
"""

from __future__ import annotations

import numpy as np

from validator.detectors.activity import Activity
from validator.detectors.common import Frames, ratio_db, runs
from validator.detectors.features import ChannelFeatures
from validator.detectors.glitch import residual_floor
from validator.detectors.settings import DetectorSettings
from validator.orderstats import median
from validator.result import Event

WINDOW_MS = 10.0
#: The expected signal must stand this far above the residual floor for its level to be
#: judged, dB.
MIN_MATCH_DB = 10.0
#: Squared correlation of received and reference over a window for its level to be judged:
#: the residual left after the window's own gain is at least 6 dB under the received.
MIN_WINDOW_R2 = 0.75


def _moving_sum(x: np.ndarray, w: int) -> np.ndarray:
    """Sum over ``w`` frames centred on each frame, float32."""
    return np.convolve(x.astype(np.float32, copy=False), np.ones(w, dtype=np.float32),
                       mode="same")


def detect_level_changes(cf: ChannelFeatures, act: Activity, fr: Frames,
                         settings: DetectorSettings, exclude: np.ndarray, *,
                         floor: np.ndarray | None = None) -> list[Event]:
    """Find level dips and rises on one channel.

    Parameters
    ----------
    cf : ChannelFeatures
    act : Activity
    fr : Frames
    settings : DetectorSettings
        Uses ``level_step_db`` and ``level_min_ms``.
    exclude : np.ndarray, shape=(n_frames,), bool
        Frames already explained (dropouts, silence).
    floor : np.ndarray, shape=(n_frames,), float32, optional
        The residual floor (:func:`~validator.detectors.glitch.residual_floor`),
        when the caller has it already; computed here when None.

    Returns
    -------
    list of Event
        ``type="level"``; ``level_db`` is the median level change in dB
        (negative for a dip).
    """
    fs, flen = fr.sample_rate_hz, fr.frame_len
    w = max(int(round(WINDOW_MS * fs / 1000 / flen)), 1)
    sy = _moving_sum(cf.p_y, w)
    sx = _moving_sum(cf.p_x, w)
    if floor is None:
        floor = residual_floor(cf, act, exclude)
    matched = act.active & (cf.p_x >= floor * 10.0 ** (MIN_MATCH_DB / 10.0))
    ok = _moving_sum(matched.astype(np.float32), w) >= w - 0.5
    ok &= _moving_sum(exclude.astype(np.float32), w) < 0.5
    # the received power less the capture's background noise, which lowers the correlation of
    # a window that follows the reference (a dip in 20 dB of noise) as much as a codec's noise
    # substitution does
    syr = _moving_sum(cf.p_yr, w).astype(np.float64)
    sy_clean = np.maximum(sy.astype(np.float64) - w * act.noise_power, 1e-30)
    ok &= syr * syr >= MIN_WINDOW_R2 * sy_clean * _moving_sum(cf.p_r, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = 10 * np.log10(np.maximum(sy, 1e-30) / np.maximum(sx, 1e-30))
    min_frames = max(int(np.ceil(settings.level_min_ms * fs / 1000 / flen)), 1)
    events = []
    for sign, mask in ((-1, ok & (d <= -settings.level_step_db)),
                       (1, ok & (d >= settings.level_step_db))):
        for a, b in runs(mask):
            if b - a < min_frames:
                continue
            lvl = ratio_db(float(cf.p_y[a:b].sum()), float(cf.p_x[a:b].sum()))
            med = float(median(d[a:b]))
            what = "dip" if sign < 0 else "rise"
            events.append(fr.event("level", a * flen, b * flen, med,
                                   f"level {what} of {med:+.1f} dB for "
                                   f"{(b - a) * flen / fs * 1000:.0f} ms "
                                   f"(mean {lvl:+.1f} dB)"))
    return events
