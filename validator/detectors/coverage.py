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


@dataclass
class CoverageSums:
    """What one channel's frames contribute to its coverage, summed block by block.

    Attributes
    ----------
    content, judged : float
        Reference power (before the gain) over covered frames above the
        silence threshold, and over those of them that were judged.
    clean_pe, clean_py, clean_frames : float, float, int
        Residual and received power over judged frames outside events, and
        their count.
    all_pe, all_py, all_frames : float, float, int
        The same over every judged frame.
    """

    content: float = 0.0
    judged: float = 0.0
    clean_pe: float = 0.0
    clean_py: float = 0.0
    clean_frames: int = 0
    all_pe: float = 0.0
    all_py: float = 0.0
    all_frames: int = 0

    def add(self, other: CoverageSums) -> None:
        """Add another block's sums to these."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def coverage_sums(cf: ChannelFeatures, act: Activity, covered: np.ndarray,
                  event_frames: np.ndarray, settings: DetectorSettings, *,
                  core_frames: tuple[int, int] | None = None) -> CoverageSums:
    """One channel's coverage sums over the frames ``core_frames``.

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
    core_frames : tuple of int, optional
        ``[start, stop)`` frames counted; default all.

    Returns
    -------
    CoverageSums
    """
    f0, f1 = core_frames or (0, len(cf.p_r))
    p_r, p_y, p_e = (a[f0:f1].astype(np.float64) for a in (cf.p_r, cf.p_y, cf.p_e))
    active = act.active[f0:f1]
    content = covered[f0:f1] & (p_r * cf.gain * cf.gain
                                >= dbfs_power(settings.silence_threshold_dbfs))
    clean = active & ~event_frames[f0:f1]
    return CoverageSums(
        content=float(p_r[content].sum()), judged=float(p_r[content & active].sum()),
        clean_pe=float(p_e[clean].sum()), clean_py=float(p_y[clean].sum()),
        clean_frames=int(np.count_nonzero(clean)),
        all_pe=float(p_e[active].sum()), all_py=float(p_y[active].sum()),
        all_frames=int(np.count_nonzero(active)))


def measure_coverage(sums: CoverageSums) -> Coverage:
    """The judged share and the match of one channel from its sums over the capture.

    Parameters
    ----------
    sums : CoverageSums
        :func:`coverage_sums` of each block, added.

    Returns
    -------
    Coverage
    """
    judged = sums.judged / sums.content if sums.content > 0 else None
    pe, py, frames = sums.clean_pe, sums.clean_py, sums.clean_frames
    if frames < MIN_MATCH_FRAMES:  # events cover it all: the match over everything judged
        pe, py, frames = sums.all_pe, sums.all_py, sums.all_frames
    match = None
    if frames >= MIN_MATCH_FRAMES:
        match = float(np.clip(10 * np.log10(max(pe, 1e-30) / max(py, 1e-30)), -200.0, 40.0))
    return Coverage(judged, match)
