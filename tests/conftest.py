"""Shared fixtures: seeded randomness, the real captures in ../shared, WAV writers, results.

The core tests generate their own data. Tests that read ``../shared/real``
(the real RTP captures, present in the team checkout and in CI but not in a
user's clone) take the ``shared_real`` fixture, which skips with a clear
reason when the folder is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from validator.result import (
    Alignment,
    ChannelMetrics,
    Event,
    InputInfo,
    Segment,
    Trace,
    ValidationResult,
)

#: ../shared/real relative to the project root (tests/ -> project root -> its parent).
SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "real"


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator (seed 1234): every run draws the same numbers."""
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def shared_real() -> Path:
    """``../shared/real``: the real RTP captures; skips when the folder is absent."""
    if not SHARED_REAL.is_dir():
        pytest.skip(f"real captures not found at {SHARED_REAL} (../shared is only in the team "
                    "checkout and CI, not in a user's clone)")
    return SHARED_REAL


WavWriter = Callable[..., Path]


@pytest.fixture
def write_wav(tmp_path: Path) -> WavWriter:
    """Write audio into ``tmp_path`` through soundfile and return the path.

    ``write_wav(name, y, sample_rate_hz, subtype="PCM_16")`` where ``y`` has
    shape ``(n_samples,)`` or ``(n_samples, n_channels)``; use
    ``subtype="FLOAT"`` for 32-bit float files (the only way to store NaN).
    """

    def _write(name: str, y: np.ndarray, sample_rate_hz: int, *,
               subtype: str = "PCM_16") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), y, sample_rate_hz, subtype=subtype, format="WAV")
        return path

    return _write


def _marker_tone(sample_rate_hz: int = 8000, duration_s: float = 1.0, *,
                 channels: int = 1, frequency_hz: float = 997.0) -> np.ndarray:
    from validator.signals import tone

    return tone([frequency_hz] * channels if channels > 1 else frequency_hz,
                sample_rate_hz=sample_rate_hz, duration_s=duration_s, marker="chirp")


@pytest.fixture
def marker_tone() -> Callable[..., np.ndarray]:
    """``marker_tone(sample_rate_hz=8000, duration_s=1.0, *, channels=1, frequency_hz=997.0)``.

    A -10 dBFS tone led by a 50 ms chirp marker and a 0.2 s gap
    (:func:`validator.signals.tone`), shape (n_samples, channels), float64.
    """
    return _marker_tone


@pytest.fixture
def tone_8k() -> np.ndarray:
    """997 Hz, 1 s, -10 dBFS, 8 kHz mono, led by a chirp marker and a 0.2 s gap."""
    return _marker_tone(8000, 1.0)


ResultFactory = Callable[..., ValidationResult]


@pytest.fixture
def make_result() -> ResultFactory:
    """Build a :class:`ValidationResult` by hand (no pipeline).

    ``make_result(events=..., channels=..., checks=..., verdict=..., **fields)``;
    ``events`` may be an int n for n one-packet dropouts 0.5 s apart. Every
    other field has fixed, plausible values, so the result is deterministic.
    """

    def _make(*, events: int | tuple[Event, ...] | list[Event] = (),
              channels: tuple[ChannelMetrics, ...] | None = None,
              alignment: Alignment | None = None, **fields: object) -> ValidationResult:
        if isinstance(events, int):
            events = tuple(_dropout_event(0.5 + 0.5 * i) for i in range(events))
        if channels is None:
            channels = (ChannelMetrics(index=0, rms_dbfs=-13.012, peak_dbfs=-10.0,
                                       reference_rms_dbfs=-13.01, gain_error_db=-0.002,
                                       frequency_hz=997.0, frequency_error_hz=0.0,
                                       snr_db=62.5, thd_n_db=-62.4, dc_offset=0.0,
                                       judged_fraction=1.0, match_db=-62.4),)
        if alignment is None:
            alignment = Alignment(delay_s=0.0125, delay_samples=100.0, delay_confidence=0.98,
                                  delay_ambiguous=False, method="xcorr", drift_ppm=1.5,
                                  segments=(Segment(0, -1, 100.0),), dtw_distance=None)
        base: dict[str, object] = dict(
            input=InputInfo(received="captures/received.wav", reference="refs/reference.wav",
                            sample_rate_hz=8000, channels=len(channels), duration_s=3.25,
                            reference_duration_s=3.25),
            alignment=alignment, channels=channels, events=tuple(events),
            notes=("a fixed note",),
            traces=tuple(Trace(c.index, 0.01, (-13.0, -13.0, -120.0), (-13.0, -13.0, -13.0),
                               (-60.0, -60.0, 0.0)) for c in channels),
            truncation_s=0.0, elapsed_s=0.25)
        base.update(fields)
        return ValidationResult(**base)  # type: ignore[arg-type]

    return _make


def _dropout_event(start_s: float, duration_s: float = 0.02, *, channel: int = 0,
                   sample_rate_hz: int = 8000) -> Event:
    a = round(start_s * sample_rate_hz)
    b = round((start_s + duration_s) * sample_rate_hz)
    return Event("dropout", channel, a / sample_rate_hz, b / sample_rate_hz, -120.0,
                 f"{duration_s * 1000:.1f} ms dropout, digital zeros", a, b)


@pytest.fixture
def dropout_event() -> Callable[..., Event]:
    """``dropout_event(start_s, duration_s=0.02, *, channel=0, sample_rate_hz=8000)``.

    A digital-zero dropout :class:`Event` on the received timeline, sample-aligned.
    """
    return _dropout_event
