"""Issue 9 targets on cases from the independent verification corpus (tests/benchmarks/verify).

Each case is made by sox / ffmpeg / GStreamer / espeak-ng and numpy written
in ``tests/benchmarks/verify``, never by ``validator.impair``, and its truth
comes from how it was built (or from the tools' own logs). Per case the
issue's targets are asserted:

- the delay is within the truth's tolerance (0.1 sample for exact cases), or
  reported as ambiguous;
- every truth fault is found by an event no longer than the fault + 5 ms,
  starting within 2 ms of it;
- no false event (an event overlapping no fault);
- the verdict fails exactly where there is a fault;
- drift error <= 0.1 ppm where there is none (1 ppm on a made drift);
- the right channel map and polarity.

Tests that fail on the current comparator are ``xfail(strict=True)`` with the
issue-9 class they belong to: once the comparator fixes one it XPASSes, the
suite goes red, and the marker must go.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))

from verify import codecs, loopback, real, score, synth  # noqa: E402
from verify.common import Case, Fault, Truth  # noqa: E402

from validator import validate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="sox is not installed")
ONSET_MS = 2.0


def problems(case: Case, result, *, min_recall: float = 1.0) -> list[str]:
    """Every issue-9 target this result misses on this case (empty: all met).

    ``min_recall`` below 1 is for live receivers, whose edits differ from run
    to run (issue 9's target for real receivers: recall >= 0.95).
    """
    s = score.score(case, result)
    t = case.truth
    out = []
    if s.delay_ok is False:
        out.append(
            f"delay {s.delay_reported} (confidence {s.delay_confidence:.2f}), "
            f"truth {t.delay_samples}"
        )
    if s.found < min_recall * s.faults:
        out.append(f"found {s.found}/{s.faults} faults; missed at received samples {s.missed}")
    late = [round(v, 2) for v in s.onset_ms if v > ONSET_MS]
    if late:
        out.append(f"onset errors over {ONSET_MS} ms: {late}")
    if s.false_events:
        out.append(f"{s.false_events} false events: {s.false_spans[:5]}")
    if s.verdict_right is False:
        out.append(f"verdict {result.verdict}, truth {'fail' if t.expect_fail else 'pass'}")
    if s.drift_error is not None and abs(s.drift_error) > (1.0 if t.drift_ppm else 0.1):
        out.append(f"drift {s.drift_reported:+.2f} ppm, truth {t.drift_ppm:+.2f}")
    if s.map_right is False:
        out.append(
            f"channel map {score.reported_channel_map(result, t.channels)}, truth {t.channel_map}"
        )
    if s.polarity_right is False:
        pol = [-1 if c.polarity_inverted else 1 for c in result.channels]
        out.append(f"polarity {pol}, truth {t.polarity}")
    return out


def check(case: Case, *, min_recall: float = 1.0) -> None:
    result = validate(str(case.received), str(case.reference))
    found = problems(case, result, min_recall=min_recall)
    assert not found, f"{case.truth.name}: " + "; ".join(found)


def xfail(klass: str):
    return pytest.mark.xfail(strict=True, reason=f"issue 9: {klass}")


# ------------------------------------------------------------ synthetic (sox + numpy)
@needs_sox
def test_gaps_in_noise_440hz_48k(tmp_path):
    check(
        synth.tone_in_noise(
            tmp_path,
            name="gaps_440_48k",
            fs=48000,
            freq=440.0,
            seconds=4.0,
            delay=480.6,
            snr_db=20,
            gap_ms=20,
            seed=7,
        )
    )


@needs_sox
def test_gaps_in_noise_997hz_16k_30db(tmp_path):
    check(
        synth.tone_in_noise(
            tmp_path,
            name="gaps_997_16k",
            fs=16000,
            freq=997.0,
            seconds=4.0,
            delay=611.55,
            snr_db=30,
            gap_ms=20,
            seed=8,
        )
    )


@needs_sox
def test_1ms_gaps_in_noise_1004hz_16k(tmp_path):
    check(
        synth.tone_in_noise(
            tmp_path,
            name="gaps1ms_1004_16k",
            fs=16000,
            freq=1004.0,
            seconds=4.0,
            delay=333.5,
            snr_db=30,
            gap_ms=1,
            seed=9,
        )
    )


@needs_sox
def test_fractional_onset_delay_1004hz_8k(tmp_path):
    check(
        synth.tone_in_noise(
            tmp_path,
            name="onset_1004_8k",
            fs=8000,
            freq=1004.0,
            seconds=4.0,
            delay=250.37,
            snr_db=None,
            gap_ms=None,
        )
    )


@needs_sox
@pytest.mark.slow
def test_clean_noise_control_997hz_48k(tmp_path):
    check(
        synth.tone_in_noise(
            tmp_path,
            name="clean_997_48k",
            fs=48000,
            freq=997.0,
            seconds=10.0,
            delay=512.45,
            snr_db=20,
            gap_ms=None,
            seed=104,
        )
    )


@needs_sox
def test_skips_1004hz_8k(tmp_path):
    check(
        synth.tone_with_removals(
            tmp_path,
            name="skip_1004_8k",
            fs=8000,
            freq=1004.0,
            seconds=6.0,
            lengths=[160] * 5,
            packet=160,
            seed=201,
        )
    )


@needs_sox
def test_cuts_997hz_8k(tmp_path):
    check(
        synth.tone_with_removals(
            tmp_path,
            name="cut_997_8k",
            fs=8000,
            freq=997.0,
            seconds=6.0,
            lengths=[80, 96, 84, 91, 88],
            seed=202,
            kind="cut",
            delay=200,
        )
    )


@needs_sox
def test_clean_tone_control_1004hz_8k(tmp_path):
    check(
        synth.tone_with_removals(
            tmp_path, name="clean_1004_8k", fs=8000, freq=1004.0, seconds=6.0, lengths=[], seed=204
        )
    )


@needs_sox
def test_sox_speed_drift_minus_50ppm(tmp_path):
    check(
        synth.tone_drift(tmp_path, name="drift_16k", fs=16000, freq=997.0, ppm=-50.0, seconds=6.0)
    )


@needs_sox
def test_repeated_packet_spans_997hz_48k(tmp_path):
    # issue 9 class 5: a repeated 20 ms packet must read as ~20 ms, not 35-51 ms (the spans are
    # right today; the drift is not)
    check(
        synth.tone_repeats(
            tmp_path, name="repeat_997_48k", fs=48000, freq=997.0, seconds=3.0, seed=205
        )
    )


@needs_sox
@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
    reason="espeak-ng or ffmpeg is not installed",
)
def test_ffmpeg_resampled_speech_drift(tmp_path):
    check(synth.speech_drift(tmp_path, name="speech_drift", fake_rate=47998))


@needs_sox
@pytest.mark.slow
def test_stereo_cut_1ms(tmp_path):
    check(
        synth.stereo(tmp_path, name="stereo_cut", variant="cut", removal=48, seed=301, seconds=4.0)
    )


@needs_sox
def test_stereo_swapped(tmp_path):
    check(synth.stereo(tmp_path, name="stereo_swap", variant="swap", seconds=3.0))


@needs_sox
@pytest.mark.slow
def test_stereo_one_channel_inverted(tmp_path):
    check(synth.stereo(tmp_path, name="stereo_inv", variant="invert_r", seconds=4.0))


@needs_sox
@pytest.mark.slow
def test_stereo_against_mono_reference_polarity(tmp_path):
    case = synth.stereo(tmp_path, name="stereo_mono", variant="mono_ref", seconds=4.0)
    result = validate(str(case.received), str(case.reference))
    s = score.score(case, result)
    assert s.polarity_right and s.map_right, problems(case, result)


# -------------------------------------------------- class 7: a tone spec on a real capture
SHIPPED = Path(__file__).resolve().parent / "data" / "real_pcmu_loss"


@pytest.mark.skipif(
    not (SHIPPED / "truth.json").exists(), reason="tests/data/real_pcmu_loss absent"
)
def test_tone_spec_on_shipped_capture():
    import json

    t = json.loads((SHIPPED / "truth.json").read_text())
    faults = [Fault("receiver_fill", s, s + n) for s, n in t["zero_fill_spans_samples"]]
    case = Case(
        SHIPPED,
        Truth(
            name="shipped_sine1004",
            klass="E",
            sample_rate_hz=8000,
            channels=1,
            how="GStreamer capture, proxy log",
            faults=faults,
            delay_samples=None,
            drift_ppm=0.0,
            expect_fail=True,
            channel_map=[0],
            polarity=[1],
        ),
    )
    result = validate(str(case.received), "sine:1004")
    found = problems(case, result)
    assert not found, "; ".join(found)


# -------------------------------------------------- real receivers and codecs (loopback, slow)
needs_loopback = pytest.mark.skipif(
    bool(loopback.tools_present()) or shutil.which("ffmpeg") is None,
    reason="espeak-ng, sox, ffmpeg or gst-launch-1.0 is not installed",
)


@needs_loopback
@pytest.mark.slow
def test_speech_opus_loss(tmp_path):
    (tmp_path / "clean").mkdir()
    (tmp_path / "lossy").mkdir()
    # the decoder lag is measured on a clean run of the same chain (numpy xcorr)
    clean = loopback.speech_opus(tmp_path / "clean", name="opus_clean", loss=0.0, seed=1)
    lag = int(clean.truth.delay_samples)
    check(
        loopback.speech_opus(
            tmp_path / "lossy", name="opus_loss", loss=0.05, seed=17, clean_lag=lag
        )
    )


@needs_loopback
@pytest.mark.slow
def test_gstreamer_jitter_buffer_default_mode(tmp_path):
    if not loopback.SHARED_PROXY.exists():
        pytest.skip(f"{loopback.SHARED_PROXY} (the proxy with jitter) is absent")
    case = loopback.gst_jitter_capture(
        tmp_path, name="gst_jitter", jitter_ms=25.0, seed=3, seconds=5.0
    )
    if len(case.truth.faults) < 3:  # timing-dependent: keep the test meaningful
        pytest.skip(f"this run's jitter buffer made only {len(case.truth.faults)} edits")
    check(case, min_recall=0.95)


@needs_loopback
@pytest.mark.slow
def test_ffmpeg_receiver_skips(tmp_path):
    check(
        loopback.ffmpeg_skip_capture(tmp_path, name="ffmpeg_skip", loss=0.03, seed=7, seconds=5.0),
        min_recall=0.95,
    )


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.skipif(not real.available(), reason="../shared/real is absent")
@pytest.mark.parametrize("name", [
    pytest.param("pcma_jitter", marks=xfail("E real receivers: one cut past the reference's end")),
    "l16_ffmpeg_receiver_loss",
    "pcmu_long_60s_loss1pct",
])
def test_shared_real_capture(name):
    case = next(c for c in real.cases() if c.truth.name == f"E_real_{name}")
    check(case)


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.skipif(not real.available(), reason="../shared/real is absent")
def test_shared_real_capture_bit_exact_fills():
    case = next(
        c for c in real.cases() if c.truth.name == "E_real_l24_48k_stereo_1ms_loss1pct_mode_none"
    )
    check(case)


# ------------------------------------------------ class F: clean speech through codecs, no fault
@pytest.fixture(scope="module")
def codec_cache(tmp_path_factory):
    """A cache for the class-F speech reference and cases (espeak-ng, sox, ffmpeg)."""
    missing = [t for t in ("espeak-ng", "sox", "ffmpeg") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed")
    return tmp_path_factory.mktemp("verify_f")


@pytest.mark.parametrize("name", codecs.FAST)
def test_clean_codec_speech_passes_without_events(codec_cache, name):
    """Clean speech through a real codec (ffmpeg) with no loss: no event, verdict pass."""
    built = codecs.build_f(codec_cache, only=(name,))
    if not built:
        pytest.skip(f"this ffmpeg cannot make {name}")
    case = built[0]
    result = validate(str(case.received), str(case.reference))
    assert [(e.type, round(e.start_s, 3), e.description) for e in result.events] == []
    check(case)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["F_opus8k_voip", "F_opus12k_voip", "F_speex_16k",
                                  "F_opus32k_audio"])
def test_low_rate_codec_speech_is_judged_on_its_level_not_its_waveform(codec_cache, name):
    """Low-rate codecs keep the level but not the waveform (residual -6.5 to -10 dB): the gain
    error is the RMS level change that numpy measures on the files (a least-squares gain read
    1.2 to 2.4 dB low), the match passes, a fricative's coded noise is no level dip, and only a
    level change beyond the 1 dB limit (Opus 8 kbit/s: -1.2 dB) fails, on gain_error alone."""
    built = codecs.build_f(codec_cache, only=(name,))
    if not built:
        pytest.skip(f"this ffmpeg cannot make {name}")
    case = built[0]
    rx, _ = sf.read(case.received, always_2d=True)
    ref, _ = sf.read(case.reference, always_2d=True)
    level_db = codecs.rms_change_db(rx[:, 0], ref[:, 0], int(case.truth.delay_samples))
    result = validate(str(case.received), str(case.reference))
    assert result.events == ()
    assert result.channels[0].gain_error_db == pytest.approx(level_db, abs=0.05)
    failed = {c.name for c in result.checks if not c.passed}
    assert failed == ({"gain_error_ch0"} if abs(level_db) > 1.0 else set())
    assert case.truth.expect_fail == (abs(level_db) > 1.0)


def _dithered_take(codec_cache: Path, folder: Path, seed: int, sample_rate_hz: int,
                   encode: list[str], ext: str) -> tuple[Path, Path]:
    """espeak-ng speech with its own 1 LSB TPDF dither (numpy, seeded), through an ffmpeg codec.

    Each seed is a new recording of the same speech, and a codec's output, and a borderline
    decision on it, moves with the dither. Returns (received, reference).
    """
    speech = codecs.reference_speech(codec_cache, sample_rate_hz)
    x, fs = sf.read(speech, dtype="int16")
    rng = np.random.default_rng(seed)
    tpdf = rng.integers(0, 2, len(x)) - rng.integers(0, 2, len(x))
    ref, coded, rec = folder / "reference.wav", folder / f"coded.{ext}", folder / "received.wav"
    sf.write(ref, np.clip(x.astype(np.int32) + tpdf, -32768, 32767).astype(np.int16), fs,
             subtype="PCM_16")
    for args in (["-i", str(ref), "-ac", "1", *encode, str(coded)],
                 ["-i", str(coded), "-ar", str(fs), "-ac", "1", "-c:a", "pcm_s16le", str(rec)]):
        subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *args], check=True)
    return rec, ref


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 4, 7, 10])
def test_aac_speech_onsets_are_no_packet_grid(codec_cache, tmp_path, seed):
    """Clean espeak-ng speech through ffmpeg's AAC at 24 kbit/s, each take with its own 1 LSB
    TPDF dither (numpy, seeded): a new recording of the same speech. espeak-ng's onsets gather
    on a 10 ms grid, which the 20 ms packet grid starting with the reference shares, and the
    codec's errors rise at those onsets, gathering on the grid by chance in some takes: before
    rises where the reference is steady had to gather on the grid too, 7 of the takes of seeds
    0-15 read as 2-4 concealed packets of 20-60 ms (these four among them); now none does."""
    if "aac" not in codecs.encoders():
        pytest.skip("this ffmpeg has no aac encoder")
    rec, ref = _dithered_take(codec_cache, tmp_path, seed, 48000, ["-c:a", "aac", "-b:a", "24k"],
                              "m4a")
    result = validate(str(rec), str(ref))
    assert [(e.type, round(e.start_s, 3), e.description) for e in result.events] == []
    assert result.verdict == "pass"


@pytest.mark.slow
def test_g722_errors_are_no_weak_concealment(codec_cache, tmp_path):
    """Clean espeak-ng speech through ffmpeg's G.722, the take of seed 9 (1 of seeds 0-11 that
    read as concealed packets). G.722's frames give its errors a real 20 ms grid, so the packet
    grid is significant; before, two packets passed the weak rule (residual -8 dB re signal,
    16-24 dB over the coding floor): one followed packets erring as much (the codec's stretch,
    no rise into it), one began at a +37.6 dB onset of the reference. A decoder's extrapolation
    stays that close to the reference only after audio it had right and while the reference
    goes on as before; now neither is a concealment."""
    if "g722" not in codecs.encoders():
        pytest.skip("this ffmpeg has no g722 encoder")
    rec, ref = _dithered_take(codec_cache, tmp_path, 9, 16000, ["-c:a", "g722"], "g722")
    result = validate(str(rec), str(ref))
    assert [(e.type, round(e.start_s, 3), e.description) for e in result.events] == []
    assert result.verdict == "pass"


@pytest.fixture(scope="module")
def speex_harvard(tmp_path_factory):
    """The shipped Harvard speech (16 kHz) through ffmpeg's Speex and back, no loss."""
    if "libspeex" not in codecs.encoders():
        pytest.skip("this ffmpeg has no libspeex")
    folder = tmp_path_factory.mktemp("speex_harvard")
    ref = ROOT / "reference_signals" / "speech" / "speech_en_harvard_16k_16bit_mono.wav"
    for args in (["-i", str(ref), "-c:a", "libspeex", str(folder / "coded.ogg")],
                 ["-i", str(folder / "coded.ogg"), "-ar", "16000", "-ac", "1", "-c:a",
                  "pcm_s16le", str(folder / "received.wav")]):
        subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *args], check=True)
    return ref, folder / "received.wav"


@pytest.mark.slow
def test_a_codecs_wandering_lag_is_no_splice_but_a_real_cut_is(speex_harvard, tmp_path):
    """Speex moves the lag of a speech correlation track by 1-5 samples for a few hundred ms
    (its phase response follows the phonemes): that read as three skips and an insertion of
    0.9-5.3 samples on a clean capture. A splice now stands only where the waveform needs it.
    Cuts made with numpy in the same decoded file (20 samples out at 5 s, 40 repeated at 7 s,
    10 ms out at 10 s) are still found, and nothing else. The 10 ms cut is a pitch period: the
    next windows still matched the old lag, poorly, and the cut was placed 126 ms late."""
    ref, received = speex_harvard
    clean = validate(str(received), str(ref))
    assert [(e.type, round(e.start_s, 3), e.description) for e in clean.events] == []
    assert clean.verdict == "pass"
    y, fs = sf.read(received)
    a, b, c = 5 * fs, 7 * fs, 10 * fs
    cut = np.concatenate([y[:a], y[a + 20:b], y[b - 40:b], y[b:c], y[c + 160:]])
    sf.write(tmp_path / "cut.wav", cut, fs, subtype="PCM_16")
    r = validate(str(tmp_path / "cut.wav"), str(ref))
    found = sorted((e.start_s, e.type, e.description) for e in r.events)
    assert [t for _, t, _ in found] == ["dropout", "glitch", "dropout"], found
    for (start_s, _, text), at, what in zip(found, (a, b - 20, c + 20),
                                            ("skipped 20.0", "inserted 39.9", "skipped 160."),
                                            strict=True):
        assert start_s == pytest.approx(at / fs, abs=0.01)  # codec speech: 7 ms at worst
        assert what in text


@pytest.mark.slow
@pytest.mark.parametrize(("tone", "fs", "codec"), [
    ("sine_997hz_48k_24bit_10s_mono_marker", 16000, "g722"),
    ("sine_997hz_48k_24bit_10s_mono_marker", 8000, "g726"),
    ("sine_1004hz_8k_16bit_10s_mono_marker", 16000, "g722"),
    ("sine_440hz_44k1_16bit_5s_mono", 8000, "g726"),
])
def test_shipped_tones_through_adpcm_codecs_pass(tmp_path, tone, fs, codec):
    """A QA engineer's first test: a shipped tone through G.722 or G.726 (ffmpeg, 32 kbit/s)
    and back, no loss. The ADPCM coder adapts at the marker, the tone's onset and the
    capture's start (-22 to -32 dB re signal for up to 50 ms, against -38 dB steady), keeping
    the waveform: that read as glitches of 6-46 ms. It is the coder, not a fault."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    src = ROOT / "reference_signals" / f"{tone}.wav"
    ref, coded, rx = tmp_path / "ref.wav", tmp_path / "coded.wav", tmp_path / "rx.wav"
    opts = ["-c:a", "g722"] if codec == "g722" else ["-c:a", "g726", "-b:a", "32k"]
    for args in (["-i", str(src), "-ar", str(fs), "-ac", "1", "-c:a", "pcm_s16le", str(ref)],
                 ["-i", str(ref), *opts, str(coded)],
                 ["-i", str(coded), "-ar", str(fs), "-ac", "1", "-c:a", "pcm_s16le", str(rx)]):
        subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *args], check=True)
    r = validate(str(rx), str(ref))
    assert [(e.type, round(e.start_s, 3), e.description) for e in r.events] == []
    assert r.verdict == "pass", [c for c in r.checks if not c.passed]
