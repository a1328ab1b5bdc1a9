"""Where the expected signal is present, and how loud the background is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from validator.detectors.common import dbfs_power
from validator.detectors.features import ChannelFeatures
from validator.detectors.settings import DetectorSettings
from validator.orderstats import median


@dataclass(frozen=True)
class Activity:
    """Activity of one channel.

    Attributes
    ----------
    active : np.ndarray, shape=(n_frames,), bool
        Frames where the aligned reference signal (before the gain) is
        at least ``active_margin_db`` above the silence threshold and above the
        received noise floor. Detectors judge only these frames, so pauses in
        speech and the quiet ends of syllables raise nothing.
    noise_power : float
        Received background level (mean square) where the reference is silent;
        0 when the reference is never silent.
    threshold_power : float
        Mean square above which the expected signal counts as active.
    floor_curve : tuple of two tuples of float, optional
        The residual floor measured on the whole capture, ``(levels_db,
        ratios_db)`` (see :func:`validator.detectors.glitch.floor_curve`);
        None: the detectors measure it on the frames they are given.
    """

    active: np.ndarray
    noise_power: float
    threshold_power: float
    floor_curve: tuple[tuple[float, ...], tuple[float, ...]] | None = None


def measure_activity(cf: ChannelFeatures, settings: DetectorSettings,
                     covered: np.ndarray | None = None, *,
                     noise_power: float | None = None) -> Activity:
    """Classify frames as active and measure the noise floor.

    Parameters
    ----------
    cf : ChannelFeatures
    settings : DetectorSettings
    covered : np.ndarray, shape=(n_frames,), bool, optional
        Frames that map inside the reference; others are never active.
    noise_power : float, optional
        The background level measured elsewhere (on the whole capture, for
        one block of it); None: measured on these frames.

    Returns
    -------
    Activity
    """
    noise = background_power(cf, covered) if noise_power is None else noise_power
    margin = 10.0 ** (settings.active_margin_db / 10.0)
    thr = max(dbfs_power(settings.silence_threshold_dbfs) * margin, noise * margin)
    active = cf.p_r >= thr
    if covered is not None:
        active &= covered
    return Activity(active, noise, thr)


def background_power(cf: ChannelFeatures, covered: np.ndarray | None = None) -> float:
    """Median received power where the reference is silent (0 with fewer than 50 such frames).

    Only frames that map inside the reference count: before the delay or after
    its end the received audio may hold anything, even the misaligned tone.
    """
    silent_ref = cf.p_r < 1e-12
    if covered is not None:
        silent_ref &= covered
    return float(median(cf.p_y[silent_ref])) if np.count_nonzero(silent_ref) >= 50 else 0.0
