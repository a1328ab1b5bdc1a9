"""Detector settings: configured once, read-only while measuring."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from validator.errors import ProfileError

#: Valid ranges (inclusive unless noted) of each setting: outside them a detector's
#: arithmetic overflows (10**(100000/10)) or loses its meaning.
#: (low, high, low_open): low_open excludes the low bound.
RANGES: dict[str, tuple[float, float, bool]] = {
    "min_dropout_ms": (0.0, 60_000.0, True),
    "dropout_depth_db": (0.0, 200.0, True),
    "glitch_min_db": (-200.0, 0.0, False),
    "glitch_false_alarm": (0.0, 0.5, True),
    "level_step_db": (0.0, 100.0, True),
    "level_min_ms": (0.0, 3_600_000.0, True),
    "clip_min_samples": (1.0, 1e9, False),
    "silence_threshold_dbfs": (-200.0, 0.0, False),
    "silence_min_ms": (0.0, 3_600_000.0, True),
    "active_margin_db": (0.0, 200.0, False),
    "packet_ms": (0.125, 1000.0, False),
}


def setting_problem(key: str, value: object) -> str | None:
    """What is wrong with one setting's value, or None when it is valid.

    Parameters
    ----------
    key : str
        A field of :class:`DetectorSettings`, or any other profile number (a
        limit): a key outside :data:`RANGES` may be any finite number.
    value : object
        The value given.

    Returns
    -------
    str or None
        ``"key = value; expected ..."``: not a finite number, outside
        :data:`RANGES`, or a fraction where a whole number is needed.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{key} = {value!r}; expected a number"
    if not math.isfinite(value):
        return f"{key} = {value!r}; expected a finite number"
    low, high, low_open = RANGES.get(key, (-math.inf, math.inf, False))
    if not ((value > low if low_open else value >= low) and value <= high):
        return (f"{key} = {value!r}; expected a value in {'(' if low_open else '['}{low:g}, "
                f"{high:g}]")
    if key == "clip_min_samples" and not float(value).is_integer():
        return f"{key} = {value!r}; expected a whole number >= 0"
    return None


@dataclass(frozen=True)
class DetectorSettings:
    """Thresholds of the detectors. All levels follow AES17 dBFS.

    Attributes
    ----------
    min_dropout_ms : float
        Shortest dropout reported, in ms (digital zeros or a fall of at least
        ``dropout_depth_db``).
    dropout_depth_db : float
        How far below the expected level a span must fall to be a dropout, dB.
    glitch_min_db : float
        Residual levels below this, relative to the expected signal, never count
        as a glitch (dB, negative).
    glitch_false_alarm : float
        False-alarm probability per frame used to set the glitch threshold above
        the measured residual floor (chi-square model of the frame power).
    level_step_db : float
        Smallest local level change reported as a level event, dB.
    level_min_ms : float
        Shortest level change reported, ms.
    clip_min_samples : int
        Shortest run of full-scale samples reported as clipping.
    silence_threshold_dbfs : float
        Received level below which audio is near-silent, dBFS.
    silence_min_ms : float
        Shortest near-silence reported as silence (shorter ones are dropouts), ms.
    active_margin_db : float
        The expected signal counts as active where it is at least this far above
        both the silence threshold and the measured noise floor, dB.
    packet_ms : float
        Packet time of the stream, ms: concealed packets are sought on a grid
        of this period (its phase is learnt from the capture).

    Raises
    ------
    ProfileError
        A value that is not a finite number, lies outside :data:`RANGES`, or
        a fractional ``clip_min_samples``.
    """

    min_dropout_ms: float = 1.0
    dropout_depth_db: float = 20.0
    glitch_min_db: float = -30.0
    glitch_false_alarm: float = 1e-9
    level_step_db: float = 3.0
    level_min_ms: float = 20.0
    clip_min_samples: int = 3
    silence_threshold_dbfs: float = -60.0
    silence_min_ms: float = 200.0
    active_margin_db: float = 10.0
    packet_ms: float = 20.0

    def __post_init__(self) -> None:
        """Check every value (see Raises): a bad setting fails here, not as a wrong answer."""
        for f in fields(self):
            problem = setting_problem(f.name, getattr(self, f.name))
            if problem is not None:
                raise ProfileError(f"detector settings: {problem}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Names of the settings, for profile validation."""
        return tuple(f.name for f in fields(cls))
