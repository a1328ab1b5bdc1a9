"""Sample-level second look at short glitches: a dropout into the noise.

When noise is added after a receiver's zero-fill (the path beyond the
receiver is noisy), the gap no longer holds digital zeros and, at 1 ms frame
resolution, a 1-2 ms gap that straddles two frames only halves their level.
The glitch detector still finds it; this step reads the samples around each
short glitch and asks whether the received signal fell to the noise floor
while the expected signal was strong. If it did, the event is a dropout,
located to within a fraction of a millisecond.
"""

from __future__ import annotations

import numpy as np

from validator.detectors.common import Frames, merge_spans, packet_note, ratio_db, runs
from validator.detectors.settings import DetectorSettings
from validator.result import Event

#: Smoothing of the sample envelopes, s.
SMOOTH_S = 0.00025
#: Breaks in a gap shorter than this are bridged, s.
BRIDGE_S = 0.001
#: Window of the expected envelope, s.
ENVELOPE_S = 0.002
#: A sample span is "gone" below this many times the noise floor ...
GONE_FACTOR = 3.0
#: ... while the expected envelope is above this many times the noise floor.
STRONG_FACTOR = 10.0


def gap_in_noise(y: np.ndarray, x: np.ndarray, fr: Frames, *, origin: int,
                 settings: DetectorSettings, core: tuple[int, int]) -> Event | None:
    """A dropout inside ``core`` if the received signal fell to the noise floor there.

    Parameters
    ----------
    y, x : np.ndarray, shape=(n,), float64
        Received and expected (aligned, gain-matched reference) samples of one
        channel, for absolute samples ``origin .. origin+n-1``; the window
        should extend well beyond ``core`` on both sides (e.g. 20 ms) so that
        the noise floor is measured there.
    fr : Frames
    origin : int
        Absolute sample index of ``y[0]``.
    settings : DetectorSettings
        Uses ``min_dropout_ms``.
    core : (int, int)
        Absolute ``[start, end)`` of the glitch to examine.

    Returns
    -------
    Event or None
        A ``dropout`` spanning the longest gone run that overlaps ``core``,
        or None.
    """
    fs = fr.sample_rate_hz
    e = y - x
    w = max(int(round(SMOOTH_S * fs)), 4)
    outside = np.ones(len(e), dtype=bool)
    outside[max(core[0] - origin - w, 0):max(core[1] - origin + w, 0)] = False
    if np.count_nonzero(outside) < 4 * w:
        return None
    floor = float(np.mean(e[outside] ** 2))  # noise floor around the event
    if floor <= 0:
        return None
    ey = np.convolve(y * y, np.ones(w) / w, mode="same")
    # the expected envelope over a longer window, so a zero crossing does not break a gap
    we = max(int(round(ENVELOPE_S * fs)), w)
    ex = np.convolve(x * x, np.ones(we) / we, mode="same")
    gone = (ey < GONE_FACTOR * floor) & (ex > STRONG_FACTOR * floor)
    min_len = max(int(np.ceil(settings.min_dropout_ms * fs / 1000)) - w, 1)
    best = None
    # noise peaks briefly above the "gone" level inside a gap: close breaks up to 1 ms
    for a, b in merge_spans(runs(gone), gap=max(int(BRIDGE_S * fs), w)):
        s, t = origin + a, origin + b
        if t <= core[0] or s >= core[1] or b - a < min_len:
            continue
        if best is None or (b - a) > (best[1] - best[0]):
            best = (a, b)
    if best is None:
        return None
    a, b = best
    lvl = ratio_db(float(np.sum(y[a:b] ** 2)), float(np.sum(x[a:b] ** 2)))
    d = (b - a) / fs
    return fr.event("dropout", origin + a, origin + b, lvl,
                    f"{d * 1000:.1f} ms dropout into the noise floor, signal {lvl:.1f} dB below "
                    f"expected{packet_note(d)}")


def reference_silent(x: np.ndarray, settings: DetectorSettings) -> bool:
    """True when the expected signal itself is near-silent over a span of digital zeros.

    A run of zeros in the received audio is only a dropout where the reference
    has something to lose: speech synthesisers and editors leave short runs of
    exact zeros between syllables, which frame-level activity (1 ms frames)
    does not resolve.

    Parameters
    ----------
    x : np.ndarray, shape=(n,), float64
        Expected (aligned, gain-matched reference) samples over the zero run.
    settings : DetectorSettings
        Uses ``silence_threshold_dbfs``.
    """
    if len(x) == 0:
        return True
    rms = float(np.sqrt(np.mean(x * x)))
    return bool(20 * np.log10(max(rms * np.sqrt(2), 1e-12)) < settings.silence_threshold_dbfs)


def surely_not_silent(power_floor: float, settings: DetectorSettings) -> bool:
    """True when a floor of the expected signal's mean power rules out :func:`reference_silent`.

    :func:`reference_silent` holds when the mean power is below
    ``10**(silence_threshold_dbfs / 10) / 2`` (AES17 dBFS: a sine's RMS level
    is ``sqrt(2) * rms``); a floor twice that (3 dB above, far beyond the float32
    rounding of frame powers) cannot be silent, so its samples need not be read.

    Parameters
    ----------
    power_floor : float
        A lower bound of the mean of ``x * x`` over the span, full-scale units squared.
    settings : DetectorSettings
        Uses ``silence_threshold_dbfs``.
    """
    return power_floor >= 10 ** (settings.silence_threshold_dbfs / 10)

