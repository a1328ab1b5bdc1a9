"""``audio-validator impair``: every fault lands in the written WAV where its truth says.

Tests call ``main([...])`` directly, read the written WAV back with soundfile
and compare it sample by sample with the reference: untouched samples are
bit-identical, impaired ones are exactly what the truth's span and step say.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal as sps

from validator import signals
from validator.cli import build_parser, main
from validator.impair import (
    a_law_round_trip,
    compose,
    delay,
    drift,
    mu_law_round_trip,
    near_silence,
    packet_loss,
)
from validator.impair import cli as impair_cli
from validator.impair.cli import DEFAULT_SEED, ORDER, plan_steps, truth_path_for
from validator.signals import quantize

FS = 48000
TONE_HZ = 997.0
AMP = 10 ** (-10 / 20)  # -10 dBFS peak, the tone() default


# --------------------------------------------------------------------------- fixtures, helpers


@pytest.fixture(scope="module")
def mono(tmp_path_factory) -> dict:
    """997 Hz at 48 kHz after a chirp marker, 2.5 s, 16-bit; ``tone`` = first tone sample."""
    d = tmp_path_factory.mktemp("mono")
    y = signals.tone(TONE_HZ, sample_rate_hz=FS, duration_s=2.5, marker="chirp")
    path = signals.write_wav(d / "reference.wav", y, FS)
    start = signals.marker_length_samples("chirp", sample_rate_hz=FS) + int(0.2 * FS)
    return {"path": path, "y": quantize(y, 16), "tone": start, "end": start + int(2.5 * FS)}


@pytest.fixture(scope="module")
def stereo24(tmp_path_factory) -> dict:
    """997 Hz left, 1499 Hz right, 48 kHz, 1 s, 24-bit."""
    d = tmp_path_factory.mktemp("stereo")
    y = signals.tone([997.0, 1499.0], sample_rate_hz=FS, duration_s=1.0)
    return {"path": signals.write_wav(d / "stereo.wav", y, FS, bit_depth=24),
            "y": quantize(y, 24)}


def speech_like(fs: int, seconds: float, seed: int) -> np.ndarray:
    """Band-limited noise under a 4 Hz syllable envelope with a pause in the middle."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    env = 0.25 + 0.75 * np.sin(np.pi * 4 * t) ** 2
    env[(t > seconds * 0.45) & (t < seconds * 0.55)] = 0.0
    sos = sps.butter(4, [100, min(7000, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    y = sps.sosfilt(sos, rng.standard_normal(n)) * env
    return (0.1 * y / np.sqrt(np.mean(y**2)))[:, None]


def impair(capsys, *argv: object) -> tuple[int, str, str]:
    rc = main(["impair", *map(str, argv)])
    out, err = capsys.readouterr()
    return rc, out, err


def read(path: Path) -> np.ndarray:
    y, _ = sf.read(str(path), dtype="float64", always_2d=True)
    return y


def truth(path: Path) -> dict:
    return json.loads(truth_path_for(path).read_text(encoding="utf-8"))


def events(path: Path, kind: str | None = None) -> list[dict]:
    return [e for e in truth(path)["events"] if kind is None or e["kind"] == kind]


def outside(n: int, spans: list[tuple[int, int]]) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    for s, e in spans:
        keep[s:e] = False
    return keep


# --------------------------------------------------------------------------- each fault


@pytest.mark.parametrize("span, start, length", [
    ("1.2345s:2ms", 59256, 96),           # off the packet grid
    ("0.90001s:1samples", 43200, 1),      # one sample
    ("48000samples:7smp", 48000, 7),      # sample units
    ("1.1:0.0137", 52800, 658),           # plain seconds, off-grid length
])
def test_dropout_zeroes_exactly_the_truth_span(mono, tmp_path, capsys, span, start, length):
    out = tmp_path / "rx.wav"
    rc, stdout, err = impair(capsys, mono["path"], out, "--dropout", span)
    assert rc == 0, err
    (ev,) = events(out)
    assert (ev["kind"], ev["channel"]) == ("dropout", None)
    assert (ev["start_sample"], ev["end_sample"]) == (start, start + length)
    assert ev["start_s"] == start / FS and ev["end_s"] == (start + length) / FS
    y, ref = read(out), mono["y"]
    assert y.shape == ref.shape
    assert np.all(y[start:start + length] == 0.0)
    keep = outside(len(ref), [(start, start + length)])
    np.testing.assert_array_equal(y[keep], ref[keep])
    assert ev["detail"]["changed_samples"] == length
    assert ev["detail"]["level_before_dbfs"] is not None


def test_dropouts_repeat_and_overlap(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--dropout", "1s:5ms", "--dropout",
                  "1.002s:5ms", "--dropout", "2s:1ms")[0] == 0
    spans = [(e["start_sample"], e["end_sample"]) for e in events(out)]
    assert spans == [(48000, 48240), (48096, 48336), (96000, 96048)]
    y = read(out)
    for s, e in spans:
        assert np.all(y[s:e] == 0.0)


@pytest.mark.parametrize("plc", ["zero", "repeat", "fade"])
def test_loss_lands_on_the_packet_grid(mono, tmp_path, capsys, plc):
    out = tmp_path / "rx.wav"
    rc, _, err = impair(capsys, mono["path"], out, "--loss", "10%", "--plc", plc, "--seed", 5)
    assert rc == 0, err
    evs = events(out)
    kind = "dropout" if plc == "zero" else "glitch"
    assert len(evs) >= 5 and all(e["kind"] == kind for e in evs)
    y, ref = read(out), mono["y"]
    p = int(0.02 * FS)
    ramp = np.linspace(1.0, 0.0, p)[:, None]
    for e in evs:
        s, end = e["start_sample"], e["end_sample"]
        assert s % p == 0 and (end % p == 0 or end == len(ref))
        assert e["detail"]["n_packets"] == -(-(end - s) // p)
        if plc == "zero":
            assert np.all(y[s:end] == 0.0)
        elif plc == "repeat":
            np.testing.assert_array_equal(y[s:end], np.tile(ref[s - p:s], (e["detail"][
                "n_packets"], 1))[:end - s])
        else:
            m = min(p, end - s)
            np.testing.assert_array_equal(y[s:s + m], quantize(ref[s - p:s - p + m] * ramp[:m],
                                                                 16))
            assert np.all(y[s + m:end] == 0.0)
    keep = outside(len(ref), [(e["start_sample"], e["end_sample"]) for e in evs])
    np.testing.assert_array_equal(y[keep], ref[keep])


def test_loss_skip_deletes_the_lost_packets(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--loss", "0.1", "--plc", "skip", "--seed", 2)[0] == 0
    evs = events(out)
    assert evs and all(e["start_sample"] == e["end_sample"] for e in evs)
    ref, p = mono["y"], int(0.02 * FS)
    keep = np.ones(len(ref), dtype=bool)
    removed = 0
    for e in evs:
        s = e["detail"]["first_lost_packet"] * p
        k = e["detail"]["skipped_samples"]
        assert e["start_sample"] == s - removed  # the splice on the received timeline
        keep[s:s + k] = False
        removed += k
    np.testing.assert_array_equal(read(out), ref[keep])
    assert truth(out)["received"]["frames"] == len(ref) - removed


def test_gilbert_loss_from_mean_loss(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--loss", "5%", "--loss-model", "gilbert",
                  "--p-bg", "0.25", "--seed", 9)[0] == 0
    (step,) = truth(out)["steps"]
    assert step["params"]["model"] == "gilbert"
    assert step["params"]["p_gb"] == pytest.approx(0.05 * 0.25 / 0.95, rel=1e-12)
    ref = mono["y"]
    lib = packet_loss(ref, FS, **step["params"])
    np.testing.assert_array_equal(read(out), quantize(lib.y, 16))


@pytest.mark.parametrize("db, kind", [(-6.0, "level"), (-30.0, "dropout")])
def test_level_step_scales_exactly_the_span(mono, tmp_path, capsys, db, kind):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--level-step", f"1.3s:100ms:{db}")[0] == 0
    (ev,) = events(out)
    assert ev["kind"] == kind
    s, e = ev["start_sample"], ev["end_sample"]
    assert (s, e) == (62400, 67200)
    y, ref = read(out), mono["y"]
    np.testing.assert_array_equal(y[s:e], quantize(ref[s:e] * 10 ** (db / 20), 16))
    keep = outside(len(ref), [(s, e)])
    np.testing.assert_array_equal(y[keep], ref[keep])


@pytest.mark.parametrize("spec, level", [("1.5s:300ms", None), ("1.5s:300ms:-50", -50.0)])
def test_silence_replaces_the_span_with_noise_at_its_level(mono, tmp_path, capsys, spec, level):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--silence", spec)[0] == 0
    (ev,) = events(out)
    assert (ev["kind"], ev["start_sample"], ev["end_sample"]) == ("silence", 72000, 86400)
    expected = level if level is not None else inspect.signature(near_silence).parameters[
        "level_dbfs"].default
    assert ev["detail"]["level_dbfs"] == expected
    y = read(out)[72000:86400]
    measured = 20 * np.log10(np.sqrt(np.mean(y**2)) * np.sqrt(2))
    assert measured == pytest.approx(expected, abs=0.5)  # 16-bit quantisation at -70 dBFS


def test_clip_marks_every_full_scale_run(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--clip", "12")[0] == 0
    doc = truth(out)
    clips = events(out, "clipping")
    assert clips and all(e["detail"]["gain_db"] == 12.0 for e in clips)
    assert [c["kind"] for c in doc["conditions"]] == ["gain"]
    y, ref = read(out), mono["y"]
    boosted = ref * 10 ** (12 / 20)
    full = np.zeros(len(ref), dtype=bool)
    for e in clips:
        s, end = e["start_sample"], e["end_sample"]
        assert np.all(np.abs(boosted[s:end]) > 1.0)
        assert abs(boosted[s - 1, 0]) <= 1.0 and abs(boosted[end, 0]) <= 1.0
        assert np.all(np.abs(y[s:end]) >= 32767 / 32768)
        full[s:end] = True
    np.testing.assert_array_equal(y[~full], quantize(boosted[~full], 16))


def test_gain_and_dc(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--gain", "-3", "--dc", "0.01")[0] == 0
    assert events(out) == []
    assert [c["kind"] for c in truth(out)["conditions"]] == ["gain", "dc"]
    np.testing.assert_array_equal(read(out), quantize(mono["y"] * 10 ** (-3 / 20) + 0.01, 16))


def test_whole_sample_delay_shifts_exactly(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--delay", "10ms", "--dropout", "1s:1ms")[0] == 0
    y, ref = read(out), mono["y"]
    assert np.all(y[:480] == 0.0)
    (ev,) = events(out)
    assert (ev["start_sample"], ev["end_sample"]) == (48480, 48528)
    shifted = y[480:]
    np.testing.assert_array_equal(shifted[:48000], ref[:48000])
    assert np.all(y[48480:48528] == 0.0)


def test_fractional_delay_equals_the_library(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--delay", "10.5samples")[0] == 0
    (cond,) = truth(out)["conditions"]
    assert cond["detail"]["delay_samples"] == pytest.approx(10.5, abs=1e-9)
    np.testing.assert_array_equal(read(out), quantize(delay(mono["y"], FS,
                                                            delay_s=10.5 / FS).y, 16))


@pytest.mark.slow
def test_drift_moves_later_faults(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--drift", "1000", "--dropout", "2s:10ms")[0] == 0
    ref = mono["y"]
    r = 1.001
    assert truth(out)["received"]["frames"] == round(len(ref) * r)
    (ev,) = events(out)
    # 96000 x 1.001 = 96096 exactly; 96480 x 1.001 = 96576.48, widened to the next sample
    assert (ev["start_sample"], ev["end_sample"]) == (96096, 96577)
    lib = compose(ref, FS, [("zero_fill", {"start_s": 2.0, "duration_s": 0.01}),
                            (drift, {"ppm": 1000.0})])
    np.testing.assert_array_equal(read(out), quantize(lib.y, 16))


@pytest.mark.parametrize("option, func", [("--mulaw", mu_law_round_trip),
                                          ("--alaw", a_law_round_trip)])
def test_g711_round_trip_equals_the_library(mono, tmp_path, capsys, option, func):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, option)[0] == 0
    assert [c["detail"]["cause"] for c in truth(out)["conditions"]] == [func.__name__]
    np.testing.assert_array_equal(read(out), quantize(func(mono["y"], FS).y, 16))


def test_swap_and_invert_channels(stereo24, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, stereo24["path"], out, "--swap-channels", "--invert=1",
                  "--dropout", "0.5s:2ms")[0] == 0
    y, ref = read(out), stereo24["y"]
    assert sf.info(str(out)).subtype == "PCM_24"
    keep = outside(len(ref), [(24000, 24096)])
    np.testing.assert_array_equal(y[keep, 0], ref[keep, 1])
    np.testing.assert_array_equal(y[keep, 1], -ref[keep, 0])
    assert [c["kind"] for c in truth(out)["conditions"]] == ["channel_swap", "polarity"]
    assert truth(out)["conditions"][1]["channel"] == 1


def test_invert_without_channel_inverts_all(stereo24, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, stereo24["path"], out, "--invert")[0] == 0
    np.testing.assert_array_equal(read(out), -stereo24["y"])
    assert truth(out)["conditions"][0]["channel"] is None


def test_snr_noise_has_the_truth_rms(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--snr", "30")[0] == 0
    (cond,) = truth(out)["conditions"]
    assert cond["kind"] == "noise" and cond["detail"]["snr_db"] == 30.0
    noise = read(out) - mono["y"]
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(cond["detail"]["noise_rms"], rel=0.01)


# --------------------------------------------------------------------------- seeds, order, truth


@pytest.mark.slow
def test_same_seed_same_bytes(mono, tmp_path, capsys):
    argv = ["--loss", "3%", "--plc", "fade", "--snr", "30", "--silence", "2s:0.25s",
            "--drift", "-20"]
    a, b, c = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    for out, seed in ((a, 11), (b, 11), (c, 12)):
        assert impair(capsys, mono["path"], out, *argv, "--seed", seed)[0] == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    ta, tb = truth(a), truth(b)
    ta["received"]["path"] = tb["received"]["path"] = "x"
    assert ta == tb
    assert ta["seed"] == 11


def test_loss_pattern_does_not_depend_on_other_options(mono, tmp_path, capsys):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    assert impair(capsys, mono["path"], a, "--loss", "5%", "--seed", 3)[0] == 0
    assert impair(capsys, mono["path"], b, "--loss", "5%", "--seed", 3, "--snr", "30",
                  "--mulaw", "--silence", "0.1s:10ms")[0] == 0
    spans = [(e["start_sample"], e["end_sample"]) for e in events(a)]
    assert spans and spans == [(e["start_sample"], e["end_sample"])
                               for e in events(b) if e["detail"]["cause"] == "packet_loss"]


@pytest.mark.slow
def test_truth_steps_reproduce_the_samples_with_the_library(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--snr", "30", "--drift", "50", "--loss", "2%",
                  "--plc", "repeat", "--dropout", "1.01s:3ms", "--mulaw", "--seed", 4)[0] == 0
    doc = truth(out)
    steps = [(s["function"], s["params"]) for s in doc["steps"]]
    lib = compose(mono["y"], FS, steps)
    np.testing.assert_array_equal(read(out), quantize(lib.y, 16))
    assert [(e["start_sample"], e["end_sample"], e["kind"]) for e in doc["events"]] == sorted(
        (f.start_sample, f.end_sample, f.kind) for f in lib.events)


@pytest.mark.slow
def test_fixed_order_whatever_the_option_order(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--dc", "0.001", "--snr", "40", "--drift", "50",
                  "--delay", "1ms", "--invert", "--gain", "-1", "--loss", "2%", "--plc",
                  "repeat", "--level-step", "1s:50ms:-6", "--dropout", "1.5s:2ms",
                  "--mulaw")[0] == 0
    stages = [s["stage"] for s in truth(out)["steps"]]
    assert stages == ["codec", "timed", "timed", "loss", "level", "channels", "timing", "timing",
                      "noise", "noise"]
    assert [s["function"] for s in truth(out)["steps"]][1:3] == ["zero_fill", "attenuate"]
    assert [f"{stage}: {opts}" for stage, opts in ORDER] == truth(out)["order"]


def test_truth_document_contract(mono, tmp_path, capsys):
    out = tmp_path / "deep" / "rx.wav"
    rc, stdout, _ = impair(capsys, mono["path"], out, "--dropout", "1s:1ms")
    assert rc == 0
    doc = truth(out)
    assert doc["schema_version"] == 1 and doc["tool"] == "audio-stream-validator"
    from validator import __version__
    assert doc["tool_version"] == __version__ and doc["seed"] == DEFAULT_SEED
    assert doc["reference"]["sample_rate_hz"] == FS and len(doc["reference"]["sha256"]) == 64
    assert doc["received"]["subtype"] == "PCM_16"
    ev = doc["events"][0]
    assert set(ev) == {"kind", "channel", "start_sample", "end_sample", "start_s", "end_s",
                       "duration_s", "detail"}
    assert "truth: " in stdout and "1 dropout" in stdout
    assert sorted(p.name for p in out.parent.iterdir()) == ["rx.truth.json", "rx.wav"]


def test_truth_option_and_default_path(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    t = tmp_path / "elsewhere" / "t.json"
    assert impair(capsys, mono["path"], out, "--truth", t)[0] == 0
    assert t.exists() and not truth_path_for(out).exists()
    assert truth_path_for("a/b.WAV") == Path("a/b.truth.json")
    assert truth_path_for("a/b.flac") == Path("a/b.flac.truth.json")


def test_no_fault_writes_a_clean_copy(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    rc, stdout, _ = impair(capsys, mono["path"], out)
    assert rc == 0 and "a clean copy" in stdout
    np.testing.assert_array_equal(read(out), mono["y"])
    assert truth(out)["events"] == [] and truth(out)["steps"] == []


def test_repeat_of_a_1000hz_tone_changes_nothing(tmp_path, capsys):
    """FIELD-NOTES: 20 periods per 20 ms packet make a repeated packet invisible."""
    res = {}
    for f in (1000.0, 997.0):
        ref = signals.write_wav(tmp_path / f"r{f:g}.wav", signals.tone(
            f, sample_rate_hz=FS, duration_s=1.0, ramp_s=0.0), FS, bit_depth=32)
        out = tmp_path / f"rx{f:g}.wav"
        assert impair(capsys, ref, out, "--loss", "10%", "--plc", "repeat", "--seed", 1)[0] == 0
        res[f] = [e["detail"]["changed_samples"] for e in events(out)]
    assert res[1000.0] and all(c == 0 for c in res[1000.0])
    assert all(c > 0 for c in res[997.0])


# --------------------------------------------------------------------------- formats


def test_bits_option_and_kept_subtypes(mono, stereo24, tmp_path, capsys):
    a = tmp_path / "a.wav"
    assert impair(capsys, mono["path"], a, "--bits", "24")[0] == 0
    assert sf.info(str(a)).subtype == "PCM_24"
    np.testing.assert_array_equal(read(a), mono["y"])
    f32 = signals.write_wav(tmp_path / "f.wav", stereo24["y"], FS, bit_depth=32)
    b = tmp_path / "b.wav"
    assert impair(capsys, f32, b, "--gain", "20")[0] == 0  # float keeps values > 1
    assert sf.info(str(b)).subtype == "FLOAT"
    assert np.max(np.abs(read(b))) > 1.0 and events(b) == []


def test_integer_output_records_writer_clipping(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    rc, _, err = impair(capsys, mono["path"], out, "--gain", "12")
    assert rc == 0
    assert "clipped" in err and err.count("\n") == 1
    doc = truth(out)
    assert doc["steps"][-1]["option"] == "(writer)" and doc["steps"][-1]["function"] == "clip"
    assert doc["events"] and {e["kind"] for e in doc["events"]} == {"clipping"}


def test_unsupported_subtype_needs_bits(tmp_path, capsys):
    u8 = tmp_path / "u8.wav"
    sf.write(str(u8), np.zeros((800, 1)) + 0.25, 8000, subtype="PCM_U8")
    rc, _, err = impair(capsys, u8, tmp_path / "rx.wav")
    assert rc == 2 and "--bits" in err
    assert impair(capsys, u8, tmp_path / "rx.wav", "--bits", "16")[0] == 0


@pytest.mark.parametrize("make", ["sweep", "speech"])
def test_any_reference(tmp_path, capsys, make):
    fs = 16000
    if make == "sweep":
        y = signals.log_sweep(sample_rate_hz=fs, duration_s=2.0, start_hz=50, stop_hz=7000)
    else:
        y = speech_like(fs, 2.0, seed=3)
    ref = signals.write_wav(tmp_path / "ref.wav", y, fs)
    out = tmp_path / "rx.wav"
    assert impair(capsys, ref, out, "--dropout", "0.3s:5ms", "--loss", "5%", "--plc", "skip",
                  "--seed", 2)[0] == 0
    doc = truth(out)
    lib = compose(quantize(y, 16), fs, [(s["function"], s["params"]) for s in doc["steps"]])
    np.testing.assert_array_equal(read(out), quantize(lib.y, 16))


# --------------------------------------------------------------------------- round trip


def validate_json(capsys, rec: Path, ref: Path, out_dir: Path) -> list[dict]:
    rc = main(["validate", str(rec), "--reference", str(ref), "--output-dir", str(out_dir),
               "--no-html", "--no-junit", "--no-progress", "--quiet"])
    capsys.readouterr()
    assert rc in (0, 1)
    return json.loads((out_dir / f"{rec.stem}.json").read_text(encoding="utf-8"))["events"]


def test_round_trip_validate_finds_the_truth_dropouts(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--dropout", "0.7s:1ms", "--dropout",
                  "1.23456s:2.5ms", "--dropout", "2.1s:20ms", "--loss", "4%",
                  "--seed", 8)[0] == 0
    lo, hi = mono["tone"] + 480, mono["end"] - 480  # inside the steady tone
    truth_drops = [e for e in events(out, "dropout") if lo <= e["start_sample"] < hi]
    assert len(truth_drops) >= 5
    found = validate_json(capsys, out, mono["path"], tmp_path / "reports")
    assert [(e["type"], e["start_sample"], e["end_sample"]) for e in found] == [
        ("dropout", t["start_sample"], t["end_sample"]) for t in truth_drops]


@pytest.mark.slow
def test_round_trip_composed_faults(mono, tmp_path, capsys):
    out = tmp_path / "rx.wav"
    assert impair(capsys, mono["path"], out, "--loss", "3%", "--plc", "repeat", "--snr", "30",
                  "--drift", "50", "--seed", 21)[0] == 0
    tone_s = (mono["tone"] + 960) / FS, (mono["end"] - 960) / FS
    glitches = [e for e in events(out, "glitch") if tone_s[0] <= e["start_s"] < tone_s[1]]
    assert len(glitches) >= 2
    found = validate_json(capsys, out, mono["path"], tmp_path / "reports")
    for t in glitches:
        hits = [e for e in found if e["type"] == "glitch"
                and abs(e["start_s"] - t["start_s"]) <= 0.001]
        assert hits, (t, found)


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("argv, message", [
    (["--loss", "abc"], "probability"),
    (["--loss", "150%"], "probability"),
    (["--loss", "2"], "probability"),
    (["--dropout", "1s"], "START:DURATION"),
    (["--dropout", "1s:0ms"], "DURATION must be > 0"),
    (["--dropout", "1s:-2ms"], "bad time"),
    (["--dropout", "1s:2parsecs"], "bad time"),
    (["--dropout", "1s:0.001ms"], "shorter than one sample"),
    (["--dropout", "60s:20ms"], "--dropout 60s:20ms"),
    (["--level-step", "1s:20ms"], "START:DURATION:DB"),
    (["--silence", "1s:20ms:loud"], "finite number"),
    (["--mulaw", "--alaw"], "not allowed with"),
    (["--plc", "repeat"], "--plc needs --loss"),
    (["--loss", "2%", "--p-gb", "0.1"], "--p-gb needs --loss-model gilbert"),
    (["--loss", "2%", "--loss-model", "gilbert", "--p-gb", "0.1"], "not both"),
    (["--loss", "2%", "--ptime", "20.01ms"], "whole number of samples"),
    (["--swap-channels"], "--swap-channels"),
    (["--invert=3"], "channel"),
    (["--drift", "1e6"], "ppm"),
    (["--snr", "nan"], "finite"),
    (["--seed", "-1"], "seed"),
    (["--bits", "8"], "invalid choice"),
])
def test_bad_options_give_one_line_and_exit_2(mono, tmp_path, capsys, argv, message):
    out = tmp_path / "rx.wav"
    rc, stdout, err = impair(capsys, mono["path"], out, *argv)
    assert rc == 2
    assert stdout == ""
    assert err.startswith("audio-validator: error:") and err.count("\n") == 1, err
    assert message in err
    assert list(tmp_path.iterdir()) == []


def test_missing_reference_and_overwriting_it(mono, tmp_path, capsys):
    rc, _, err = impair(capsys, tmp_path / "nope.wav", tmp_path / "rx.wav")
    assert rc == 2 and "no such file" in err and err.count("\n") == 1
    rc, _, err = impair(capsys, mono["path"], mono["path"], "--dropout", "1s:1ms")
    assert rc == 2 and "refusing to overwrite" in err
    np.testing.assert_array_equal(read(mono["path"]), mono["y"])


def test_help_lists_the_order(capsys):
    assert main(["impair", "--help"]) == 0
    out = capsys.readouterr().out
    assert "1. codec" in out and "7. noise" in out


def test_cli_defaults_equal_library_defaults():
    lib = inspect.signature(packet_loss).parameters
    assert impair_cli.DEFAULT_PTIME_S == lib["ptime_s"].default
    assert impair_cli.DEFAULT_P_GB == lib["p_gb"].default
    assert impair_cli.DEFAULT_P_BG == lib["p_bg"].default
    assert impair_cli.DEFAULT_PLC == lib["plc"].default
    assert lib["model"].default == "random"  # --loss-model's default
    assert impair_cli.DEFAULT_SILENCE_DBFS == inspect.signature(near_silence).parameters[
        "level_dbfs"].default
    args = build_parser().parse_args(["impair", "ref.wav", "rx.wav", "--loss", "1%",
                                      "--silence", "1s:1s"])
    steps = {s.function: s.params for s in plan_steps(args, FS)}
    assert steps["packet_loss"]["ptime_s"] == lib["ptime_s"].default
    assert steps["packet_loss"]["plc"] == lib["plc"].default
    assert "level_dbfs" not in steps["near_silence"]  # the library default applies


@pytest.mark.slow
def test_registering_impair_imports_no_numerics():
    code = ("import sys; from validator.cli import build_parser; build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith('validator.impair.')), "
            "'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    # only the command line and its truth document: no fault module, no scipy
    assert out in ("['validator.impair.cli'] False",
                   "['validator.impair.cli', 'validator.impair.truth'] False"), out
