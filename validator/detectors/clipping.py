"""Clipping: runs of consecutive samples at digital full scale.

After the Frontline AES definition (12 consecutive full-scale samples at
48 kHz/16-bit); the run length here is ``clip_min_samples`` (default 3). A clipped tone or
voice clips at every peak, and where noise rides on it some peaks fall short
of full scale: runs closer than :data:`MERGE_MS` are one clipping episode,
so a 200 ms burst reads as one event, not as thirty.
"""

from __future__ import annotations

from validator.detectors.common import Frames, merge_spans
from validator.detectors.features import ChannelFeatures
from validator.detectors.settings import DetectorSettings
from validator.result import Event

#: Clipped runs closer than this are one episode, ms: noise at 20 dB SNR on a clipped
#: 1004 Hz tone left 10-49 ms between its runs of three full-scale samples.
MERGE_MS = 50.0


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
        ``type="clipping"``, one per episode (runs of ``clip_min_samples``
        closer than :data:`MERGE_MS`); ``level_db`` is 0 dBFS (the level
        clipped at).
    """
    fs = fr.sample_rate_hz
    kept = sorted((s, e) for s, e in cf.clip_runs if e - s >= settings.clip_min_samples)
    events = []
    i = 0
    for s, e in merge_spans(kept, gap=max(int(MERGE_MS * fs / 1000), 1)):
        n = runs = 0
        while i < len(kept) and kept[i][0] < e:  # the runs inside this episode, in order
            n += kept[i][1] - kept[i][0]
            runs += 1
            i += 1
        events.append(fr.event("clipping", s, e, 0.0,
                               f"{n} samples at full scale within {(e - s) / fs * 1000:.1f} ms"
                               + (f" ({runs} clipped runs)" if runs > 1 else "")))
    return events
