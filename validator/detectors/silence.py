"""Near-silence while the reference is active, including one-way audio."""

from __future__ import annotations

import numpy as np

from validator.detectors.activity import Activity
from validator.detectors.common import Frames, power_dbfs, runs
from validator.detectors.features import ChannelFeatures
from validator.detectors.settings import DetectorSettings
from validator.result import Event


def detect_silence(cf: ChannelFeatures, act: Activity, fr: Frames,
                   settings: DetectorSettings) -> list[Event]:
    """Find near-silent spans on one channel.

    A span is near-silent when the received level over 10 ms stays below
    ``silence_threshold_dbfs`` for at least ``silence_min_ms`` while the
    expected signal is active. A channel that is near-silent over all its
    active frames is reported once, as one-way audio.

    Parameters
    ----------
    cf : ChannelFeatures
    act : Activity
    fr : Frames
    settings : DetectorSettings

    Returns
    -------
    list of Event
        ``type="silence"``; ``level_db`` is the received level in dBFS.
    """
    fs, flen = fr.sample_rate_hz, fr.frame_len
    if not np.any(act.active):
        return []
    w = max(int(round(0.01 * fs / flen)), 1)
    py = np.convolve(cf.p_y, np.full(w, 1.0 / w, dtype=np.float32), mode="same")
    quiet = act.active & (power_dbfs(py) < settings.silence_threshold_dbfs)
    idx = np.flatnonzero(act.active)
    if quiet[idx].mean() >= 0.99:
        a, b = int(idx[0]), int(idx[-1]) + 1
        lvl = float(power_dbfs(cf.p_y[idx].mean()))
        return [fr.event("silence", a * flen, min(b * flen, len(cf.p_y) * flen), lvl,
                         f"one-way audio: channel {fr.channel} is near-silent ({lvl:.1f} dBFS) "
                         "for the whole time the reference is active")]
    min_frames = max(int(np.ceil(settings.silence_min_ms * fs / 1000 / flen)), 1)
    events = []
    for a, b in runs(quiet):
        if b - a >= min_frames:
            lvl = float(power_dbfs(cf.p_y[a:b].mean()))
            events.append(fr.event("silence", a * flen, b * flen, lvl,
                                   f"near-silence ({lvl:.1f} dBFS) for "
                                   f"{(b - a) * flen / fs * 1000:.0f} ms while the reference "
                                   "is active"))
    return events
