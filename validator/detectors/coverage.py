"""How much of the reference the detectors judged, and how well the received matches it.

Two figures per channel that keep the verdict from passing by default:

- ``judged_fraction``: the share of the reference's energy (over the received
  timeline, where it maps inside the reference) that lies in frames the
  detectors actually judged. A wrong alignment, a noise floor measured on the
  wrong frames or a threshold above the signal leave frames unjudged: a
  detector that looked at nothing found nothing, and that must not pass.
- ``match_db``: the residual left after alignment and gain, relative to the
  received level, over the judged frames outside events:
  ``10 log10(sum p_e / sum p_y)``. It is the inverse of the
  signal-to-residual ratio: -40 dB for G.711, -20 dB at 20 dB SNR, and near
  0 dB when received and reference do not match at all (the wrong file, a
  misalignment, another channel's signal). When events cover nearly all the
  judged frames (a channel that carries another signal reads as one long
  level event), it is taken over all judged frames instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from validator.detectors.activity import Activity
from validator.detectors.common import dbfs_power
from validator.detectors.features import ChannelFeatures
from validator.detectors.settings import DetectorSettings

#: match_db is not given when fewer judged frames than this lie outside events.
MIN_MATCH_FRAMES = 20


@dataclass(frozen=True)
class Coverage:
    """Judged share and match of one channel.

    Attributes
    ----------
    judged_fraction : float or None
        In [0, 1]; None when the reference holds nothing above the silence
        threshold on this channel's covered frames (nothing to judge).
    match_db : float or None
        Residual over received power on judged frames outside events (on all
        judged frames when events cover them), dB; None when fewer than
        :data:`MIN_MATCH_FRAMES` frames were judged.
    """

    judged_fraction: float | None
    match_db: float | None


def measure_coverage(cf: ChannelFeatures, act: Activity, covered: np.ndarray,
                     event_frames: np.ndarray, settings: DetectorSettings) -> Coverage:
    """Measure the judged share and the match of one channel.

    Parameters
    ----------
    cf : ChannelFeatures
        Frame features (``p_r``, ``p_y``, ``p_e``), shape ``(n_frames,)`` each.
    act : Activity
        The frames the detectors judged (``act.active``).
    covered : np.ndarray, shape=(n_frames,), bool
        Frames that map inside the reference.
    event_frames : np.ndarray, shape=(n_frames,), bool
        Frames that events (of any type) touch.
    settings : DetectorSettings
        ``silence_threshold_dbfs`` decides which reference frames hold content.

    Returns
    -------
    Coverage
    """
    gain2 = cf.gain * cf.gain
    content = covered & (cf.p_r * np.float32(gain2) >= dbfs_power(settings.silence_threshold_dbfs))
    total = float(cf.p_r[content].astype(np.float64).sum())
    judged = None
    if total > 0:
        judged = float(cf.p_r[content & act.active].astype(np.float64).sum()) / total
    use = act.active & ~event_frames
    if np.count_nonzero(use) < MIN_MATCH_FRAMES:
        use = act.active  # events cover it all: the match over everything judged
    match = None
    if np.count_nonzero(use) >= MIN_MATCH_FRAMES:
        pe = float(cf.p_e[use].astype(np.float64).sum())
        py = float(cf.p_y[use].astype(np.float64).sum())
        match = float(np.clip(10 * np.log10(max(pe, 1e-30) / max(py, 1e-30)), -200.0, 40.0))
    return Coverage(judged, match)
