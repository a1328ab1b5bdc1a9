"""Tests of the reference signal generator and the shipped reference set."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal as sps

from validator.errors import AudioFormatError, SignalSpecError, ValidatorError
from validator.signals import (
    DEFAULT_TONE_HZ,
    STANDARD_SET,
    build_standard_set,
    log_sweep,
    marker_length_samples,
    multitone,
    quantize,
    render,
    sync_marker,
    tone,
    write_wav,
)
from validator.signals.standard_set import MANIFEST_NAME

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference_signals"
SHIPPED_NAMES = {
    "sine_440hz_44k1_16bit_5s_mono.wav",
    "sine_1004hz_8k_16bit_10s_mono_marker.wav",
    "sine_997hz_1499hz_48k_24bit_10s_stereo.wav",
    "sweep_20hz_20khz_48k_24bit_5s_mono.wav",
    "sine_997hz_48k_24bit_10s_mono_marker.wav",
    "multitone_8k_16bit_5s_mono.wav",
}
SUBTYPES = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _level_dbfs(x: np.ndarray) -> float:
    """AES17 level of a sine: 20*log10(RMS * sqrt(2))."""
    return 20.0 * math.log10(math.sqrt(np.mean(x**2)) * math.sqrt(2.0))


def _peak_frequency_hz(x: np.ndarray, sample_rate_hz: int) -> float:
    """FFT peak with a Hann window and parabolic interpolation of the log magnitude."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2.0 * b + c)) * sample_rate_hz / x.size


def _second_peak_ratio(c: np.ndarray, main: int) -> float:
    """Largest local maximum of ``c`` more than 2 samples from ``main``, over c[main]."""
    peaks, _ = sps.find_peaks(c)
    peaks = peaks[np.abs(peaks - main) > 2]
    return float(c[peaks].max() / c[main])


def _max_step(x: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(x))))


# --------------------------------------------------------------------------
# the shipped set
# --------------------------------------------------------------------------


def test_standard_set_has_the_documented_files():
    assert {entry.name for entry in STANDARD_SET} == SHIPPED_NAMES
    assert len(STANDARD_SET) == len(SHIPPED_NAMES)
    shipped = {p.name for p in REFERENCE_DIR.glob("*.wav")}
    assert shipped == SHIPPED_NAMES
    readme = (REFERENCE_DIR / "README.md").read_text(encoding="utf-8")
    assert all(name in readme for name in SHIPPED_NAMES)
    assert "python -m validator.signals.standard_set" in readme


def test_shipped_files_are_bit_identical_to_the_generator(tmp_path):
    manifest = build_standard_set(tmp_path)
    shipped_manifest_text = (REFERENCE_DIR / MANIFEST_NAME).read_text(encoding="utf-8")
    # The manifest on disk is what the generator writes now, byte for byte.
    assert (tmp_path / MANIFEST_NAME).read_text(encoding="utf-8") == shipped_manifest_text
    assert json.loads(shipped_manifest_text) == manifest
    assert shipped_manifest_text == json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    assert set(manifest["files"]) == SHIPPED_NAMES

    for entry in STANDARD_SET:
        shipped = REFERENCE_DIR / entry.name
        record = manifest["files"][entry.name]
        assert _sha256(shipped) == record["sha256"] == _sha256(tmp_path / entry.name)

        expected = quantize(render(entry), entry.bit_depth)
        samples, fs = sf.read(shipped, dtype="float64", always_2d=True)
        np.testing.assert_array_equal(samples, expected)

        info = sf.info(str(shipped))
        assert (info.format, info.subtype) == ("WAV", SUBTYPES[entry.bit_depth])
        assert fs == info.samplerate == record["sample_rate_hz"] == entry.sample_rate_hz
        assert info.channels == record["channels"] == samples.shape[1]
        assert info.frames == record["frames"] == samples.shape[0]
        assert record["bit_depth"] == entry.bit_depth
        assert record["kind"] == entry.kind
        assert record["params"] == json.loads(json.dumps(dict(entry.params)))


def test_manifest_layout_points_at_the_tone_start():
    manifest = json.loads((REFERENCE_DIR / MANIFEST_NAME).read_text(encoding="utf-8"))
    entry = next(e for e in STANDARD_SET if e.name == "sine_997hz_48k_24bit_10s_mono_marker.wav")
    record = manifest["files"][entry.name]
    y = render(entry)
    start = record["tone_start_sample"]
    assert record["marker_samples"] == 2400  # 50 ms at 48 kHz
    assert start == 2400 + 9600  # marker + 0.2 s gap
    # Silence before the tone, and a tone that begins with phase 0 there.
    assert np.all(y[record["marker_samples"] : start] == 0.0)
    np.testing.assert_array_equal(
        y[start:], tone(997.0, sample_rate_hz=48000, duration_s=10.0, level_dbfs=-10.0)
    )


# --------------------------------------------------------------------------
# tone: level, frequency, channels, phase, fades
# --------------------------------------------------------------------------


@pytest.mark.parametrize("level_dbfs", [-10.0, -3.0, -40.0])
@pytest.mark.parametrize(("frequency_hz", "sample_rate_hz"), [(997.0, 48000), (1004.0, 8000)])
def test_tone_level_is_aes17_dbfs(level_dbfs, frequency_hz, sample_rate_hz):
    ramp_s = 0.005
    y = tone(
        frequency_hz,
        sample_rate_hz=sample_rate_hz,
        duration_s=2.0,
        level_dbfs=level_dbfs,
        ramp_s=ramp_s,
    )
    n_ramp = round(ramp_s * sample_rate_hz)
    steady = y[n_ramp:-n_ramp, 0]
    assert _level_dbfs(steady) == pytest.approx(level_dbfs, abs=0.01)
    assert 20.0 * math.log10(np.max(np.abs(y))) == pytest.approx(level_dbfs, abs=0.01)


def test_tone_default_frequency_is_997_hz():
    assert DEFAULT_TONE_HZ == 997.0


@pytest.mark.parametrize(
    ("frequency_hz", "sample_rate_hz"),
    [(997.03, 48000), (1004.0, 8000), (440.0, 44100), (3001.7, 8000)],
)
def test_tone_frequency_from_fft_peak(frequency_hz, sample_rate_hz):
    y = tone(frequency_hz, sample_rate_hz=sample_rate_hz, duration_s=10.0)
    assert _peak_frequency_hz(y[:, 0], sample_rate_hz) == pytest.approx(frequency_hz, abs=0.01)


def test_tone_puts_each_frequency_on_its_own_channel():
    freqs = (997.0, 1499.0, 317.0)
    y = tone(freqs, sample_rate_hz=48000, duration_s=4.0)
    assert y.shape == (192000, 3)
    assert y.dtype == np.float64
    for channel, f in enumerate(freqs):
        assert _peak_frequency_hz(y[:, channel], 48000) == pytest.approx(f, abs=0.01)


def test_tone_mono_shape_and_phase_zero_start():
    fs, f, amplitude = 48000, 997.0, 10 ** (-10 / 20)
    y = tone(f, sample_rate_hz=fs, duration_s=1.0, ramp_s=0.0)
    assert y.shape == (48000, 1)
    n = np.arange(48000)
    expected = amplitude * np.sin(2 * np.pi * f * n / fs)
    np.testing.assert_allclose(y[:, 0], expected, rtol=0, atol=1e-12)
    assert y[0, 0] == 0.0


@pytest.mark.parametrize(
    ("frequency_hz", "sample_rate_hz"), [(997.0, 48000), (440.0, 44100), (1004.0, 8000)]
)
def test_tone_has_no_click_at_onset_or_end(frequency_hz, sample_rate_hz):
    ramp_s = 0.005
    y = tone(frequency_hz, sample_rate_hz=sample_rate_hz, duration_s=1.0, ramp_s=ramp_s)[:, 0]
    n_ramp = round(ramp_s * sample_rate_hz)
    assert y[0] == 0.0 and y[-1] == 0.0
    # Surround with digital silence, as when the file is played.
    padded = np.concatenate([np.zeros(50), y, np.zeros(50)])
    steady = _max_step(y[y.size // 4 : 3 * y.size // 4])
    onset = _max_step(padded[: 50 + 3 * n_ramp])
    end = _max_step(padded[-(50 + 3 * n_ramp) :])
    assert onset <= steady + 1e-12
    assert end <= steady + 1e-12


def test_tone_without_fade_clicks_at_the_end():
    """The click check above can fail: with ramp_s=0 the tone stops mid-cycle."""
    fs, f = 48000, 997.0
    # Pick a length whose last sample sits near a crest of the sine.
    n = 48000 + int(np.argmax(np.abs(np.sin(2 * np.pi * f * (48000 + np.arange(60) - 1) / fs))))
    y = tone(f, sample_rate_hz=fs, duration_s=n / fs, ramp_s=0.0)[:, 0]
    padded = np.concatenate([y, np.zeros(50)])
    steady = _max_step(y[1000:-1000])
    assert abs(y[-1]) > 0.5 * 10 ** (-10 / 20)
    assert _max_step(padded[-200:]) > 2.0 * steady


# --------------------------------------------------------------------------
# sync markers
# --------------------------------------------------------------------------


@pytest.mark.parametrize("marker", ["chirp", "mls"])
@pytest.mark.parametrize(
    ("frequency_hz", "sample_rate_hz"), [(997.0, 48000), (1004.0, 8000), (440.0, 44100)]
)
def test_marker_gives_a_unique_correlation_peak(marker, frequency_hz, sample_rate_hz):
    delay_samples = 123
    y = tone(frequency_hz, sample_rate_hz=sample_rate_hz, duration_s=1.0, marker=marker)[:, 0]
    received = np.concatenate([np.zeros(delay_samples), y, np.zeros(300)])
    template = y[: marker_length_samples(marker, sample_rate_hz=sample_rate_hz)]
    c = sps.correlate(received, template, mode="valid") / np.dot(template, template)
    lag = int(np.argmax(c))
    assert lag == delay_samples
    assert c[lag] == pytest.approx(1.0, abs=1e-9)
    assert _second_peak_ratio(c, lag) < 0.5


def test_pure_tone_correlation_is_ambiguous_without_marker():
    """Control for the marker test: a sine alone repeats its peak every period."""
    fs, f = 48000, 997.0
    y = tone(f, sample_rate_hz=fs, duration_s=1.0)[:, 0]
    received = np.concatenate([np.zeros(123), y, np.zeros(300)])
    template = y[2400:4800]  # 50 ms of steady tone
    c = sps.correlate(received, template, mode="valid")
    lag = int(np.argmax(c))
    assert _second_peak_ratio(c, lag) > 0.9


@pytest.mark.parametrize("marker", ["chirp", "mls"])
def test_marker_layout_and_level(marker):
    fs, gap_s, level_dbfs = 48000, 0.1, -10.0
    y = tone((997.0, 1499.0), sample_rate_hz=fs, duration_s=0.5, marker=marker, marker_gap_s=gap_s)
    n_marker = marker_length_samples(marker, sample_rate_hz=fs)
    n_gap = round(gap_s * fs)
    assert y.shape == (n_marker + n_gap + 24000, 2)
    lead = sync_marker(marker, sample_rate_hz=fs, level_dbfs=level_dbfs)
    np.testing.assert_array_equal(y[:n_marker, 0], lead)
    np.testing.assert_array_equal(y[:n_marker, 1], lead)
    assert np.all(y[n_marker : n_marker + n_gap] == 0.0)
    np.testing.assert_array_equal(
        y[n_marker + n_gap :], tone((997.0, 1499.0), sample_rate_hz=fs, duration_s=0.5)
    )
    amplitude = 10 ** (level_dbfs / 20)
    if marker == "chirp":
        assert n_marker == 2400
        assert np.max(np.abs(lead)) == pytest.approx(amplitude, abs=1e-3)
        assert lead[0] == 0.0 and lead[-1] == 0.0
    else:
        assert n_marker == 2047  # 42.6 ms
        assert _level_dbfs(lead) == pytest.approx(level_dbfs, abs=0.01)


def test_mls_marker_lasts_about_50_ms():
    for fs in (8000, 16000, 44100, 48000, 96000):
        assert 0.035 <= marker_length_samples("mls", sample_rate_hz=fs) / fs <= 0.071


def test_chirp_marker_stays_in_the_telephone_band():
    fs = 8000
    lead = sync_marker("chirp", sample_rate_hz=fs)
    spectrum = np.abs(np.fft.rfft(lead, 8 * fs)) ** 2
    freqs = np.fft.rfftfreq(8 * fs, 1 / fs)
    in_band = spectrum[(freqs >= 200) & (freqs <= 3500)].sum()
    assert in_band / spectrum.sum() > 0.99


# --------------------------------------------------------------------------
# multitone and sweep
# --------------------------------------------------------------------------


def test_multitone_peak_is_level_and_components_are_equal():
    fs, freqs, level_dbfs, ramp_s = 8000, (317.0, 997.0, 2503.0), -10.0, 0.005
    y = multitone(freqs, sample_rate_hz=fs, duration_s=5.0, level_dbfs=level_dbfs, channels=2)
    assert y.shape == (40000, 2)
    np.testing.assert_array_equal(y[:, 0], y[:, 1])
    peak = 10 ** (level_dbfs / 20)
    assert np.max(np.abs(y)) == pytest.approx(peak, rel=0, abs=1e-12)
    # Least-squares fit of each component's amplitude over the steady part.
    n_ramp = round(ramp_s * fs)
    n = np.arange(n_ramp, y.shape[0] - n_ramp)
    basis = np.column_stack([fn(2 * np.pi * f * n / fs) for f in freqs for fn in (np.sin, np.cos)])
    coef, *_ = np.linalg.lstsq(basis, y[n_ramp:-n_ramp, 0], rcond=None)
    amplitudes = np.hypot(coef[0::2], coef[1::2])
    np.testing.assert_allclose(amplitudes, amplitudes[0], rtol=0, atol=1e-9)
    # Equal components, each below the composite peak by the sum's crest.
    assert 3 * amplitudes[0] >= peak - 1e-12
    assert amplitudes[0] < peak


def _mean_frequency_hz(y: np.ndarray, sample_rate_hz: int, t_s: float, half_s: float) -> float:
    """Mean instantaneous frequency over t_s +- half_s from the analytic signal's phase."""
    phase = np.unwrap(np.angle(sps.hilbert(y)))
    k, m = round(t_s * sample_rate_hz), round(half_s * sample_rate_hz)
    return float((phase[k + m] - phase[k - m]) / (2 * np.pi) / (2 * m / sample_rate_hz))


def _sweep_mean_frequency_hz(f1, f2, duration_s, sample_rate_hz, t_s, half_s):
    """Exact mean frequency of the Farina sweep over the same window."""
    k, m = round(t_s * sample_rate_hz), round(half_s * sample_rate_hz)
    rate = math.log(f2 / f1)

    def cycles(t):
        return f1 * duration_s / rate * math.expm1(t * rate / duration_s)

    t0, t1 = (k - m) / sample_rate_hz, (k + m) / sample_rate_hz
    return (cycles(t1) - cycles(t0)) / (t1 - t0)


@pytest.mark.parametrize(
    ("t_s", "nominal_hz"), [(0.5, 39.9), (1.0, 79.6), (2.5, 632.5), (4.0, 5024.0)]
)
def test_log_sweep_instantaneous_frequency(t_s, nominal_hz):
    fs, duration_s, f1, f2 = 48000, 5.0, 20.0, 20000.0
    y = log_sweep(start_hz=f1, stop_hz=f2, sample_rate_hz=fs, duration_s=duration_s)[:, 0]
    assert y.shape == (240000,)
    assert 20 * math.log10(np.max(np.abs(y))) == pytest.approx(-10.0, abs=0.01)
    measured = _mean_frequency_hz(y, fs, t_s, 0.05)
    expected = _sweep_mean_frequency_hz(f1, f2, duration_s, fs, t_s, 0.05)
    assert expected == pytest.approx(nominal_hz, rel=0.01)  # f1 * (f2/f1)**(t/T)
    assert measured == pytest.approx(expected, rel=1e-3)


def test_log_sweep_clamps_stop_below_nyquist():
    fs, duration_s, t_s = 8000, 2.0, 1.8
    y = log_sweep(start_hz=20.0, stop_hz=20000.0, sample_rate_hz=fs, duration_s=duration_s)[:, 0]
    expected = _sweep_mean_frequency_hz(20.0, 0.475 * fs, duration_s, fs, t_s, 0.05)
    assert _mean_frequency_hz(y, fs, t_s, 0.05) == pytest.approx(expected, rel=1e-3)


# --------------------------------------------------------------------------
# quantization and WAV output
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bit_depth", [16, 24, 32])
def test_write_wav_round_trips_through_soundfile(tmp_path, rng, bit_depth):
    y = np.concatenate(
        [
            tone((997.0, 1499.0), sample_rate_hz=48000, duration_s=0.2, marker="mls"),
            rng.uniform(-1.0, 1.0, size=(4800, 2)),
            np.array([[1.0, -1.0], [1.5, -1.5], [0.5 / 32768, 1.5 / 32768]]),
        ]
    )
    path = write_wav(tmp_path / "x.wav", y, 48000, bit_depth=bit_depth)
    assert path == tmp_path / "x.wav"
    back, fs = sf.read(path, dtype="float64", always_2d=True)
    assert fs == 48000
    assert sf.info(str(path)).subtype == SUBTYPES[bit_depth]
    np.testing.assert_array_equal(back, quantize(y, bit_depth))
    # Nothing left behind by the atomic write.
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]


@pytest.mark.parametrize("bit_depth", [16, 24])
def test_quantize_rounds_to_the_integer_grid(rng, bit_depth):
    scale = 2.0 ** (bit_depth - 1)
    y = rng.uniform(-0.99, 0.99, size=(1000, 1))
    q = quantize(y, bit_depth)
    codes = q * scale
    np.testing.assert_array_equal(codes, np.round(codes))
    assert np.max(np.abs(q - y)) <= 0.5 / scale
    edges = quantize(np.array([[1.0], [-1.0], [2.0], [0.5 / scale], [1.5 / scale]]), bit_depth)
    np.testing.assert_array_equal(edges[:, 0] * scale, [scale - 1, -scale, scale - 1, 0.0, 2.0])


def test_quantize_32_is_float32():
    y = np.array([[0.1], [1.0 / 3.0], [-0.7]])
    np.testing.assert_array_equal(quantize(y, 32), y.astype(np.float32).astype(np.float64))


@pytest.mark.parametrize("bit_depth", [16, 24, 32])
def test_write_wav_is_reproducible(tmp_path, bit_depth):
    y = multitone((317.0, 997.0), sample_rate_hz=48000, duration_s=0.1, channels=2)
    a = write_wav(tmp_path / "a.wav", y, 48000, bit_depth=bit_depth)
    b = write_wav(tmp_path / "b.wav", y.copy(), 48000, bit_depth=bit_depth)
    assert a.read_bytes() == b.read_bytes()
    # libsndfile's PEAK chunk carries a wall-clock timestamp; it must not be there.
    assert b"PEAK" not in a.read_bytes()


def test_write_wav_replaces_atomically_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "t.wav"
    write_wav(target, tone(997.0, duration_s=0.05), 48000)
    old = target.read_bytes()
    write_wav(target, tone(1499.0, duration_s=0.05), 48000)
    assert target.read_bytes() != old
    old = target.read_bytes()

    def broken_write(self, data):
        raise OSError("disk full")

    monkeypatch.setattr(sf.SoundFile, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_wav(target, tone(440.0, duration_s=0.05), 48000)
    assert target.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["t.wav"]


# --------------------------------------------------------------------------
# bad arguments
# --------------------------------------------------------------------------

BAD_CALLS = [
    ("frequency zero", lambda: tone(0.0), 0.0),
    ("frequency negative", lambda: tone(-997.0), -997.0),
    ("frequency at nyquist", lambda: tone(24000.0), 24000.0),
    ("frequency above nyquist", lambda: tone(5000.0, sample_rate_hz=8000), 5000.0),
    ("frequency nan", lambda: tone(float("nan")), float("nan")),
    ("frequency string", lambda: tone("997"), "997"),  # type: ignore[arg-type]
    ("frequency list empty", lambda: tone([]), []),
    ("second channel bad", lambda: tone([997.0, 30000.0]), 30000.0),
    ("duration zero", lambda: tone(997.0, duration_s=0.0), 0.0),
    ("duration negative", lambda: tone(997.0, duration_s=-1.0), -1.0),
    ("level above 0 dBFS", lambda: tone(997.0, level_dbfs=0.5), 0.5),
    ("level inf", lambda: tone(997.0, level_dbfs=float("inf")), float("inf")),
    ("ramp negative", lambda: tone(997.0, ramp_s=-0.001), -0.001),
    ("ramp too long", lambda: tone(997.0, duration_s=0.1, ramp_s=0.06), 0.06),
    ("unknown marker", lambda: tone(997.0, marker="click"), "click"),
    ("negative marker gap", lambda: tone(997.0, marker="chirp", marker_gap_s=-0.1), -0.1),
    ("sample rate zero", lambda: tone(997.0, sample_rate_hz=0), 0),
    ("sample rate fractional", lambda: tone(997.0, sample_rate_hz=44100.5), 44100.5),  # type: ignore[arg-type]
    ("multitone duplicates", lambda: multitone([997.0, 997.0]), [997.0, 997.0]),
    ("multitone channels zero", lambda: multitone([997.0], channels=0), 0),
    ("sweep start zero", lambda: log_sweep(start_hz=0.0), 0.0),
    ("sweep start above stop", lambda: log_sweep(start_hz=500.0, stop_hz=100.0), 500.0),
    ("sweep level", lambda: log_sweep(level_dbfs=3.0), 3.0),
    ("marker unknown", lambda: sync_marker("pink"), "pink"),
    ("quantize bit depth", lambda: quantize(np.zeros((4, 1)), 8), 8),
    ("quantize bit depth str", lambda: quantize(np.zeros((4, 1)), "16"), "16"),  # type: ignore[arg-type]
    ("write bit depth", lambda: write_wav("unused.wav", np.zeros((4, 1)), 48000, bit_depth=20), 20),
]


@pytest.mark.parametrize(("call", "bad"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments_raise_signal_spec_error(call, bad):
    with pytest.raises(SignalSpecError) as info:
        call()
    assert isinstance(info.value, ValidatorError)
    assert isinstance(info.value, ValueError)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    "y",
    [
        np.array([[0.0], [np.nan]]),
        np.zeros((4, 1), dtype=np.int16),
        np.zeros((0, 1)),
        np.zeros((2, 2, 2)),
        [[0.0], [0.1]],
    ],
    ids=["nan", "integer", "empty", "3-d", "list"],
)
def test_bad_audio_raises_audio_format_error(tmp_path, y):
    with pytest.raises(AudioFormatError):
        quantize(y, 16)
    with pytest.raises(AudioFormatError):
        write_wav(tmp_path / "x.wav", y, 48000)
    assert list(tmp_path.iterdir()) == []
