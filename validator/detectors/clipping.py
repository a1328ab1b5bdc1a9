"""Clipping: runs of consecutive samples at digital full scale.

After the Frontline AES definition (12 consecutive full-scale samples at
48 kHz/16-bit); the run length here is ``clip_min_samples`` (default 3).
"""

from __future__ import annotations

from validator.detectors.common import Frames, merge_spans
from validator.detectors.features import ChannelFeatures
from validator.detectors.settings import DetectorSettings
from validator.result import Event


def detect_clipping(cf: ChannelFeatures, fr: Frames, settings: DetectorSettings) -> list[Event]:
    """Find clipped runs on one channel.

    Parameters
    ----------
    cf : ChannelFeatures
        Uses ``clip_runs`` (samples with ``|y| >= CLIP_LEVEL``).
    fr : Frames
    settings : DetectorSettings
        Uses ``clip_min_samples``.

    Returns
    -------
    list of Event
        ``type="clipping"``; runs closer than 1 ms are merged; ``level_db`` is
        the channel's peak in dBFS.
    """
    fs = fr.sample_rate_hz
    kept = [(s, e) for s, e in cf.clip_runs if e - s >= settings.clip_min_samples]
    events = []
    for s, e in merge_spans(kept, gap=max(fs // 1000, 1)):
        n = sum(min(e2, e) - max(s2, s) for s2, e2 in kept if s2 < e and e2 > s)
        events.append(fr.event("clipping", s, e, 0.0,
                               f"{n} samples at full scale within {(e - s) / fs * 1000:.1f} ms"))
    return events
