"""Detector settings: configured once, read-only while measuring."""

from __future__ import annotations

from dataclasses import dataclass, fields


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

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Names of the settings, for profile validation."""
        return tuple(f.name for f in fields(cls))
