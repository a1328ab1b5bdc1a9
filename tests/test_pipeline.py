"""End-to-end validation of synthetic captures with faults injected at known samples.

Every test builds a reference with :mod:`validator.signals`, impairs it with
:mod:`validator.impair` (which returns the ground truth), runs
:func:`validator.validate` on the arrays and compares with that truth in
physical units.
"""

from __future__ import annotations

import numpy as np
import pytest

from validator import impair
from validator.pipeline import validate
from validator.signals import tone

FS = 48000
FS_TEL = 8000


def _marker_tone(fs: int = FS, freq: float = 997.0, seconds: float = 3.0,
                 channels: int = 1) -> np.ndarray:
    freqs = freq if channels == 1 else [freq, 1499.0][:channels]
    return tone(freqs, sample_rate_hz=fs, duration_s=seconds, level_dbfs=-10.0,
                marker="chirp")


def _speech_like(fs: int = 16000, seconds: float = 4.0, seed: int = 7) -> np.ndarray:
    """Band-limited noise with a 4 Hz syllable envelope and pauses (broadband, not tonal)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    x = rng.standard_normal(n)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1 / fs)
    spec[(f < 150) | (f > 3400)] = 0
    x = np.fft.irfft(spec, n)
    t = np.arange(n) / fs
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    env[(t > 1.5) & (t < 1.8)] = 0.0  # a pause
    y = x * env
    return (0.3 * y / np.max(np.abs(y)))[:, None]


def _events(result, kind=None, channel=None):
    return [e for e in result.events if (kind is None or e.type == kind)
            and (channel is None or e.channel == channel)]


def _run(received: np.ndarray, reference: np.ndarray, fs: int = FS, **kw):
    return validate(received, reference, sample_rate_hz=fs, **kw)


# --- clean cases: zero events ---------------------------------------------------------------

@pytest.mark.parametrize("fs", [FS, FS_TEL])
def test_clean_copy_passes_with_zero_events(fs):
    ref = _marker_tone(fs)
    r = _run(ref.copy(), ref, fs)
    assert r.events == ()
    assert r.verdict == "pass"
    assert r.alignment.delay_samples == pytest.approx(0.0, abs=0.05)
    assert r.channels[0].gain_error_db == pytest.approx(0.0, abs=0.01)
    assert r.channels[0].frequency_hz == pytest.approx(997.0, abs=0.01)


@pytest.mark.parametrize("snr_db", [30.0, 20.0])
def test_noise_at_snr_gives_zero_events_and_measures_snr(snr_db):
    ref = _marker_tone(FS_TEL)
    rec = impair.add_noise(ref, FS_TEL, snr_db=snr_db, seed=3).y
    r = _run(rec, ref, FS_TEL)
    assert r.events == ()
    # white noise over the whole band: the SNR of the tone fit equals the injected SNR
    assert r.channels[0].snr_db == pytest.approx(snr_db, abs=1.0)


def test_mu_law_round_trip_gives_zero_events():
    ref = _marker_tone(FS_TEL, 1004.0)
    rec = impair.mu_law_round_trip(ref, FS_TEL).y
    r = _run(rec, ref, FS_TEL)
    assert r.events == ()
    assert 33.0 < r.channels[0].snr_db < 42.0


def test_speech_like_reference_clean_gives_zero_events():
    ref = _speech_like()
    rec = impair.mu_law_round_trip(ref, 16000).y
    r = _run(rec, ref, 16000)
    assert r.events == ()
    assert r.channels[0].frequency_hz is None


# --- dropouts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fs", [FS, FS_TEL])
@pytest.mark.parametrize("ms", [1.0, 2.0, 5.0, 20.0])
def test_zero_fill_found_to_the_sample(fs, ms):
    ref = _marker_tone(fs)
    imp = impair.zero_fill(ref, fs, start_s=1.2345, duration_s=ms / 1000)
    f = imp.events[0]
    r = _run(imp.y, ref, fs)
    drops = _events(r, "dropout")
    assert len(r.events) == 1 and len(drops) == 1
    assert drops[0].start_sample == f.start_sample
    assert drops[0].end_sample == f.end_sample
    assert drops[0].level_db == -120.0
    assert r.verdict == "fail"


def test_zero_fill_20ms_is_named_as_one_packet():
    ref = _marker_tone(FS_TEL)
    imp = impair.zero_fill(ref, FS_TEL, start_s=1.5, duration_s=0.02)
    (e,) = _run(imp.y, ref, FS_TEL).events
    assert "1 x 20 ms packet" in e.description


def test_attenuated_dropout_found_within_a_frame():
    ref = _marker_tone(FS)
    imp = impair.attenuate(ref, FS, start_s=1.0, duration_s=0.01, gain_db=-35.0)
    f = imp.events[0]
    r = _run(imp.y, ref)
    (d,) = _events(r, "dropout")
    assert d.start_s == pytest.approx(f.start_s, abs=0.001)
    assert d.end_s == pytest.approx(f.end_s, abs=0.001)
    assert d.level_db == pytest.approx(-35.0, abs=3.0)


def test_packet_loss_zero_fill_finds_every_lost_packet():
    ref = _marker_tone(FS_TEL, 1004.0, seconds=6.0)
    imp = impair.packet_loss(ref, FS_TEL, ptime_s=0.02, loss=0.03, plc="zero", seed=11,
                             first_packet=30)
    truth = [(f.start_sample, f.end_sample) for f in imp.events]
    assert len(truth) >= 3
    r = _run(imp.y, ref, FS_TEL)
    found = [(e.start_sample, e.end_sample) for e in _events(r, "dropout")]
    assert found == truth
    assert len(r.events) == len(truth)


# --- concealment ------------------------------------------------------------------------------

@pytest.mark.parametrize("plc", ["repeat", "fade"])
@pytest.mark.parametrize("fs", [FS, FS_TEL])
def test_concealed_packet_found(plc, fs):
    ref = _marker_tone(fs)
    fn = impair.repeat_packet if plc == "repeat" else impair.fade_packet
    imp = fn(ref, fs, start_s=1.5, ptime_s=0.02)
    f = imp.events[0]
    r = _run(imp.y, ref, fs)
    assert len(r.events) == 1
    e = r.events[0]
    assert e.type in ("glitch", "dropout", "level")
    assert e.start_s == pytest.approx(f.start_s, abs=0.002)
    assert e.end_s == pytest.approx(f.end_s, abs=0.002)


def test_repeated_packet_at_20db_snr_still_found():
    ref = _marker_tone(FS_TEL)
    imp = impair.repeat_packet(ref, FS_TEL, start_s=1.5, ptime_s=0.02)
    rec = impair.add_noise(imp.y, FS_TEL, snr_db=20.0, seed=5).y
    r = _run(rec, ref, FS_TEL)
    assert len(r.events) == 1
    assert r.events[0].start_s == pytest.approx(1.5 + 0.25, abs=0.5)  # inside the tone


def test_click_found_at_its_sample():
    ref = _marker_tone(FS)
    imp = impair.click(ref, FS, at_s=2.0, amplitude=0.5)
    r = _run(imp.y, ref)
    (e,) = r.events
    assert e.type == "glitch"
    assert e.start_s <= 2.0 + 0.001 and e.end_s >= 2.0


def test_a_click_in_bit_exact_speech_is_a_glitch():
    """A click 9-10 dB under loud speech keeps the waveform and the level, as a codec's own
    error may (G.722 fed noisy speech), and the glitch detector used to dismiss it as that:
    8 of 8 clicks of 0.15 full scale in the loudest 1 ms frames of the shipped Harvard speech,
    received bit for bit otherwise. Where the capture carries the reference exactly there is
    no codec whose error it could be."""
    from pathlib import Path

    import soundfile as sf

    speech = Path(__file__).resolve().parents[1] / "reference_signals" / "speech" / \
        "speech_en_harvard_16k_16bit_mono.wav"
    x, fs = sf.read(speech, dtype="float64", always_2d=True)
    f = fs // 1000
    p = (x[:len(x) // f * f, 0].reshape(-1, f) ** 2).mean(axis=1)
    loud = np.flatnonzero(p > np.percentile(p, 98))
    for k in loud[np.linspace(0, len(loud) - 1, 3).astype(int)]:
        at = (k * f + f // 2) / fs
        r = validate(impair.click(x, fs, at_s=at, amplitude=0.15).y, x, sample_rate_hz=fs)
        (e,) = r.events
        assert e.type == "glitch" and e.start_s <= at <= e.end_s + 1e-9
        assert -12.0 < e.level_db < -6.0  # the click under the speech: it kept the waveform
        assert r.verdict == "fail"


# --- level, gain, clipping, silence ------------------------------------------------------------

def test_gain_minus_6db_is_a_gain_error_not_an_event():
    ref = _marker_tone(FS)
    rec = impair.gain(ref, FS, gain_db=-6.0).y
    r = _run(rec, ref)
    assert r.events == ()
    assert r.channels[0].gain_error_db == pytest.approx(-6.0, abs=0.1)
    check = {c.name: c for c in r.checks}["gain_error_ch0"]
    assert not check.passed and r.verdict == "fail"


@pytest.mark.slow
def test_gain_plus_half_db_passes():
    ref = _marker_tone(FS)
    rec = impair.gain(ref, FS, gain_db=0.5).y
    r = _run(rec, ref)
    assert r.channels[0].gain_error_db == pytest.approx(0.5, abs=0.1)
    assert r.verdict == "pass" and r.events == ()


@pytest.mark.slow
def test_10db_dip_is_a_level_event():
    ref = _marker_tone(FS)
    imp = impair.attenuate(ref, FS, start_s=1.0, duration_s=0.2, gain_db=-10.0)
    r = _run(imp.y, ref)
    (e,) = r.events
    assert e.type == "level"
    assert e.level_db == pytest.approx(-10.0, abs=0.5)
    assert e.start_s == pytest.approx(1.0, abs=0.01) and e.end_s == pytest.approx(1.2, abs=0.01)


def test_clipping_found_over_the_clipped_span():
    ref = _marker_tone(FS)
    imp = impair.hard_clip(ref, FS, gain_db=12.0)
    truth = [f for f in imp.events if f.kind == "clipping"]
    r = _run(imp.y, ref)
    clips = _events(r, "clipping")
    assert clips and r.verdict == "fail"
    # runs less than 1 ms apart merge: the events cover the first to the last clipped run
    assert clips[0].start_sample == truth[0].start_sample
    assert clips[-1].end_sample == truth[-1].end_sample
    assert {e.type for e in r.events} <= {"clipping", "glitch"}


def test_a_clipped_burst_under_noise_is_one_clipping_event(rng):
    """A tone boosted 16 dB for 200 ms and clipped, then noise at 20 dB SNR: noise pulls many
    peaks under full scale (gaps of 10-18 ms between runs), yet it is one clipping episode."""
    fs = 8000
    ref = _marker_tone(fs, 1004.0, 4.0)
    boosted = impair.attenuate(ref, fs, start_s=2.0, duration_s=0.2, gain_db=16.0).y
    clipped = np.clip(boosted, -1.0, 1.0)
    rms = float(np.sqrt(np.mean(ref**2)))
    rec = np.clip(clipped + rng.normal(0.0, rms * 0.1, clipped.shape), -1.0, 1.0)
    r = _run(rec, ref, fs=fs)
    (clip,) = _events(r, "clipping")
    assert clip.start_s == pytest.approx(2.0, abs=0.02) and clip.end_s == pytest.approx(2.2,
                                                                                       abs=0.02)
    assert "clipped runs" in clip.description


def test_near_silence_span_is_silence():
    ref = _marker_tone(FS)
    imp = impair.near_silence(ref, FS, start_s=1.0, duration_s=0.5, level_dbfs=-75.0)
    r = _run(imp.y, ref)
    (e,) = r.events
    assert e.type == "silence"
    assert e.start_s == pytest.approx(1.0, abs=0.011) and e.end_s == pytest.approx(1.5, abs=0.011)


@pytest.mark.slow
def test_one_way_audio_is_one_silence_event():
    ref = _marker_tone(FS)
    rng = np.random.default_rng(0)
    rec = 1e-5 * rng.standard_normal(ref.shape)
    r = _run(rec, ref)
    sil = _events(r, "silence")
    assert len(sil) == 1 and "one-way" in sil[0].description
    assert r.verdict == "fail"


# --- alignment ---------------------------------------------------------------------------------

@pytest.mark.parametrize("delay_samples", [0.37, 123.25, 4800.5])
def test_fractional_delay_measured(delay_samples):
    ref = _marker_tone(FS_TEL)
    rec = impair.delay(ref, FS_TEL, delay_s=delay_samples / FS_TEL).y
    r = _run(rec, ref, FS_TEL)
    assert r.alignment.delay_samples == pytest.approx(delay_samples, abs=0.05)
    assert not r.alignment.delay_ambiguous
    assert r.events == ()


@pytest.mark.slow
def test_pure_sine_with_onset_gets_the_right_delay():
    """No marker: the onset decides between lags one period apart."""
    ref = tone(440.0, sample_rate_hz=44100, duration_s=3.0, level_dbfs=-10.0, ramp_s=0.0)
    rec = impair.delay(ref, 44100, delay_s=0.25).y
    r = _run(rec, ref, 44100)
    assert r.alignment.delay_s == pytest.approx(0.25, abs=1 / 44100)


@pytest.mark.slow
def test_steady_tone_without_onset_is_ambiguous():
    n = 3 * FS
    t = np.arange(n + 5000) / FS
    sine = 0.3 * np.sin(2 * np.pi * 997.0 * t)[:, None]
    r = _run(sine[5000:], sine[:n])
    assert r.alignment.delay_s is None and r.alignment.delay_ambiguous


@pytest.mark.parametrize("ppm", [100.0, -100.0])
@pytest.mark.slow
def test_drift_100ppm_over_30s_measured_without_false_events(ppm):
    ref = _marker_tone(FS_TEL, seconds=30.0)
    rec = impair.drift(ref, FS_TEL, ppm=ppm).y
    r = _run(rec, ref, FS_TEL)
    assert r.alignment.drift_ppm == pytest.approx(ppm, abs=1.0)
    assert r.events == ()


def test_skip_in_broadband_reference_is_a_dropout_of_the_right_length():
    ref = _speech_like()
    imp = impair.skip(ref, 16000, start_s=2.06, duration_s=0.04)  # inside a "syllable"
    f = imp.events[0]
    r = _run(imp.y, ref, 16000)
    (e,) = r.events
    assert e.type == "dropout"
    assert e.start_sample == pytest.approx(f.start_sample, abs=16)
    assert "640.0 samples" in e.description
    assert len(r.alignment.segments) == 2


def test_skip_in_tone_is_a_dropout_at_the_splice():
    ref = _marker_tone(FS_TEL, 1004.0, seconds=4.0)
    imp = impair.skip(ref, FS_TEL, start_s=2.0, duration_s=0.06)
    f = imp.events[0]
    r = _run(imp.y, ref, FS_TEL)
    drops = _events(r, "dropout")
    assert len(drops) == 1
    assert drops[0].start_sample == pytest.approx(f.start_sample, abs=8)
    # a single skip in a tone that fades out: the end edge resolves the whole periods
    assert "skipped 480.0 samples" in drops[0].description
    assert "modulo" not in drops[0].description


def test_speech_like_reference_with_loss():
    ref = _speech_like()
    imp = impair.zero_fill(ref, 16000, start_s=0.56, duration_s=0.02)  # inside a "syllable"
    r = _run(imp.y, ref, 16000)
    (e,) = r.events
    assert e.type == "dropout"
    assert e.start_sample == imp.events[0].start_sample


# --- channels -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_stereo_fault_on_one_channel_only():
    ref = _marker_tone(FS, channels=2)
    imp = impair.zero_fill(ref, FS, start_s=1.3, duration_s=0.005, channel=1)
    r = _run(imp.y, ref)
    assert [(e.type, e.channel) for e in r.events] == [("dropout", 1)]
    assert r.channels[0].frequency_hz == pytest.approx(997.0, abs=0.01)
    assert r.channels[1].frequency_hz == pytest.approx(1499.0, abs=0.01)


def test_mono_reference_against_stereo_capture_is_broadcast():
    ref = _marker_tone(FS_TEL)
    rec = np.repeat(ref, 2, axis=1)
    rec = impair.zero_fill(rec, FS_TEL, start_s=1.0, duration_s=0.01, channel=0).y
    r = _run(rec, ref, FS_TEL)
    assert [(e.type, e.channel) for e in r.events] == [("dropout", 0)]


# --- no reference file ----------------------------------------------------------------------------

@pytest.mark.slow
def test_tone_spec_validates_by_sine_fit_alone():
    ref = _marker_tone(FS, seconds=3.0)[int(0.3 * FS):]  # no marker: just the tone
    imp = impair.zero_fill(ref, FS, start_s=1.0, duration_s=0.002)
    r = validate(imp.y, "sine:997", sample_rate_hz=FS)
    assert r.alignment.delay_s is None
    assert [(e.type, e.start_sample) for e in r.events] == [("dropout", imp.events[0].start_sample)]
    assert r.channels[0].frequency_hz == pytest.approx(997.0, abs=0.01)
    assert r.channels[0].gain_error_db is None


# --- zero-fill followed by a noisy path --------------------------------------------------------

@pytest.mark.parametrize("fs", [pytest.param(FS, marks=pytest.mark.slow), FS_TEL])
@pytest.mark.parametrize("ms", [1.0, 2.0, 5.0])
def test_zero_fill_under_20db_noise_is_a_dropout(fs, ms):
    """Noise added after the receiver's zero-fill: the gap holds noise, not zeros."""
    ref = _marker_tone(fs)
    imp = impair.zero_fill(ref, fs, start_s=1.2345, duration_s=ms / 1000)
    rec = impair.add_noise(imp.y, fs, snr_db=20.0, seed=9).y
    f = imp.events[0]
    r = _run(rec, ref, fs)
    (e,) = r.events
    assert e.type == "dropout"
    assert e.start_s == pytest.approx(f.start_s, abs=0.0005)
    assert e.end_s == pytest.approx(f.end_s, abs=0.0005)


def test_polarity_inversion_is_reported_not_mistaken_for_a_delay():
    ref = _marker_tone(FS_TEL)
    r = _run(-ref, ref, FS_TEL)
    assert r.channels[0].polarity_inverted
    assert r.channels[0].gain_error_db == pytest.approx(0.0, abs=0.01)
    assert r.alignment.delay_samples == pytest.approx(0.0, abs=0.05)
    assert r.events == ()
    assert {c.name: c.passed for c in r.checks}["polarity_inversions"] is False


def test_zeros_in_the_reference_itself_are_not_dropouts():
    """Speech synthesisers leave short runs of exact zeros inside syllables (espeak-ng)."""
    ref = _speech_like()
    ref[16000:16032] = 0.0  # 2 ms of digital silence inside a loud "syllable" at 1.0 s
    rec = impair.mu_law_round_trip(ref, 16000).y
    assert _run(rec, ref, 16000).events == ()
    lost = impair.zero_fill(rec, 16000, start_s=0.56, duration_s=0.002)
    (e,) = _run(lost.y, ref, 16000).events
    assert e.start_sample == lost.events[0].start_sample


def test_zero_fills_over_a_loud_reference_are_judged_without_reading_it(monkeypatch):
    """A run of digital zeros is no dropout where the reference is near-silent too
    (test_zeros_in_the_reference_itself_are_not_dropouts); the frames inside a run bound the
    reference's power from below, so a run over a loud reference reads none of its samples.
    The events are those of reading every run."""
    from validator.align.channels import ChannelAlignments
    from validator.detectors import detect
    from validator.detectors.refine import reference_silent, surely_not_silent
    from validator.detectors.settings import DetectorSettings

    rec = _marker_tone(seconds=3.0)
    starts = (0.5, 0.9, 1.3, 2.1, 2.6)
    for start_s in starts:
        rec = impair.zero_fill(rec, FS, start_s=start_s, duration_s=0.02).y
    spans = {(int(s * FS), int(s * FS) + 960) for s in starts}
    reads: list[tuple[int, int]] = []
    real = ChannelAlignments.expected

    def spy(self, ch, start, stop):
        reads.append((start, stop))
        return real(self, ch, start, stop)

    monkeypatch.setattr(ChannelAlignments, "expected", spy)
    fast = _run(rec, _marker_tone(seconds=3.0))
    assert {(e.start_sample, e.end_sample) for e in _events(fast, "dropout")} == spans
    assert not spans & set(reads)
    monkeypatch.setattr(detect, "surely_not_silent", lambda *a: False)  # read every run
    reads.clear()
    assert _run(rec, _marker_tone(seconds=3.0)).events == fast.events
    assert spans <= set(reads)
    # the bound's margin: whatever holds it is not near-silent, down to the threshold itself
    settings = DetectorSettings()
    for level_dbfs in np.arange(settings.silence_threshold_dbfs - 6, -3, 0.25):
        x = 10 ** (level_dbfs / 20) * np.sin(np.arange(960) * 0.3)
        power = float(np.mean(x * x))
        assert not surely_not_silent(power, settings) or not reference_silent(x, settings)
        assert surely_not_silent(power, settings) == (level_dbfs >= settings.silence_threshold_dbfs
                                                      + 3.02)


def test_a_dip_in_noisy_speech_like_audio_is_a_level_event(monkeypatch):
    """bench_sensitivity's speech-like reference with a -10 dB dip of 100 ms, white noise 20 dB
    below it after the fault (seed 20261638). A level window must follow the reference (a
    codec's noise substitution does not), but the background noise lowers a followed window's
    correlation too, in the dip's quiet syllables below r^2 0.75: it is taken out of the
    received power first. Without that the dip read as a 75 ms glitch and a dropout."""
    from pathlib import Path

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")  # the bench sets them on import; they are put back after
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent / "benchmarks"))
    import bench_sensitivity as bench

    kind = next(i for i, k in enumerate(bench.B_KINDS) if k.name.startswith("dip -10 dB"))
    case = bench.b_case(2, kind, "SNR 20 dB", 20261638)
    assert case.misses == [] and case.bad_events == []
    assert [hit for *_, hit in case.found] == [True]
