"""DTW on MFCCs: time warps located on speech-like audio, skipped on steady tones."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample

from validator.pipeline import validate
from validator.signals import tone

FS = 16000


def _speech_like(seconds: float = 6.0, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / FS)
    spec[(f < 150) | (f > 3400)] = 0
    x = np.fft.irfft(spec, n)
    t = np.arange(n) / FS
    y = x * np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    return (0.3 * y / np.max(np.abs(y)))[:, None]


@pytest.mark.slow
def test_expanded_stretch_is_a_warp_event():
    """A jitter buffer's expand: 0.5 s played 10 % slower (50 ms longer)."""
    ref = _speech_like()
    a, b = int(2.0 * FS), int(2.5 * FS)
    stretched = resample(ref[a:b, 0], int((b - a) * 1.1))[:, None]
    rec = np.concatenate([ref[:a], stretched, ref[b:]])
    r = validate(rec, ref, sample_rate_hz=FS, dtw=True)
    warps = [e for e in r.events if e.type == "warp"]
    assert warps, r.events
    assert all(2.0 - 0.05 <= w.start_s and w.end_s <= 2.55 + 0.2 for w in warps)
    assert r.alignment.dtw_distance is not None and r.alignment.dtw_distance > 0


@pytest.mark.slow
def test_clean_speech_like_has_no_warp_and_zero_distance():
    ref = _speech_like()
    r = validate(ref.copy(), ref, sample_rate_hz=FS, dtw=True)
    assert r.events == ()
    assert r.alignment.dtw_distance == pytest.approx(0.0, abs=1e-6)


def test_dtw_is_skipped_on_a_steady_tone():
    ref = tone(997.0, sample_rate_hz=FS, duration_s=2.0, marker="chirp")
    r = validate(ref.copy(), ref, sample_rate_hz=FS, dtw=True)
    assert r.alignment.dtw_distance is None
    assert any("DTW skipped" in n for n in r.notes)
