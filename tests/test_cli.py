"""The command line: exit codes, report files, output modes, generate, and default drift.

Tests call ``main([...])`` directly (coverage.py ``cmdline`` style); only
``python -m validator --version`` runs in a subprocess.
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

import validator
from validator import signals
from validator.cli import build_parser, main
from validator.defaults import DEFAULT_MAX_DELAY_S
from validator.impair import zero_fill
from validator.pipeline import validate
from validator.verdict import EXIT_FAIL, EXIT_PASS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README_CASE = Path("tests/data/real_pcmu_loss")
FS = 48000
DROPOUT_START_S = 1.5
DROPOUT_S = 0.020


@pytest.fixture(scope="module")
def pair_48k(tmp_path_factory) -> dict:
    """997 Hz, 3 s, 48 kHz with a chirp marker: reference, clean copy, and a 20 ms zero fill."""
    d = tmp_path_factory.mktemp("pair48k")
    y = signals.tone(997.0, sample_rate_hz=FS, duration_s=3.0, marker="chirp")
    bad = zero_fill(y, FS, start_s=DROPOUT_START_S, duration_s=DROPOUT_S)
    return {
        "reference": signals.write_wav(d / "reference.wav", y, FS),
        "clean": signals.write_wav(d / "clean_capture.wav", y, FS),
        "dropout": signals.write_wav(d / "dropout_capture.wav", bad.y, FS),
        "truth_start": bad.faults[0].start_sample,
        "truth_end": bad.faults[0].end_sample,
    }


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# --------------------------------------------------------------------------- exit codes


def test_clean_pair_exits_0(pair_48k, tmp_path, capsys):
    rc, out, err = run(["validate", str(pair_48k["clean"]), "--reference",
                        str(pair_48k["reference"]), "--output-dir", str(tmp_path)], capsys)
    assert rc == EXIT_PASS, out
    assert err == ""
    assert out.startswith("PASS: no events")


@pytest.mark.slow
def test_zero_fill_20ms_exits_1(pair_48k, tmp_path, capsys):
    rc, out, err = run(["validate", str(pair_48k["dropout"]), "--reference",
                        str(pair_48k["reference"]), "--output-dir", str(tmp_path)], capsys)
    assert rc == EXIT_FAIL
    assert err == ""
    assert out.startswith("FAIL: 1 dropout")
    doc = json.loads((tmp_path / "dropout_capture.json").read_text(encoding="utf-8"))
    (ev,) = doc["events"]
    assert ev["type"] == "dropout"
    assert ev["start_sample"] == pytest.approx(pair_48k["truth_start"], abs=1)
    assert ev["end_sample"] == pytest.approx(pair_48k["truth_end"], abs=1)


# --------------------------------------------------------------------------- report files


@pytest.mark.slow
def test_json_report_lands_in_output_dir_as_received_stem(pair_48k, tmp_path, capsys):
    out_dir = tmp_path / "nested" / "reports"  # created on demand
    rc, out, _ = run(["validate", str(pair_48k["clean"]), "-r", str(pair_48k["reference"]),
                      "--output-dir", str(out_dir)], capsys)
    assert rc == EXIT_PASS
    expected = out_dir / "clean_capture.json"
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "clean_capture.html", "clean_capture.json", "clean_capture.xml"]
    doc = json.loads(expected.read_text(encoding="utf-8"))
    assert doc["verdict"] == "pass"
    assert doc["input"]["received"] == str(pair_48k["clean"])
    assert f"report: {expected}" in out


@pytest.mark.slow
def test_json_path_option(pair_48k, tmp_path, capsys):
    target = tmp_path / "elsewhere" / "my-report.json"
    out_dir = tmp_path / "reports"
    rc, out, _ = run(["validate", str(pair_48k["dropout"]), "-r", str(pair_48k["reference"]),
                      "--json", str(target), "--output-dir", str(out_dir), "--no-html",
                      "--no-junit"], capsys)
    assert rc == EXIT_FAIL
    assert json.loads(target.read_text(encoding="utf-8"))["verdict"] == "fail"
    assert not out_dir.exists(), "--json replaces the default path"
    assert f"report: {target}" in out


@pytest.mark.slow
def test_no_json_writes_nothing(pair_48k, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --output-dir is relative ("reports")
    out_dir = tmp_path / "reports_explicit"
    rc, out, _ = run(["validate", str(pair_48k["clean"]), "-r", str(pair_48k["reference"]),
                      "--no-json", "--no-html", "--no-junit", "--output-dir", str(out_dir)],
                     capsys)
    assert rc == EXIT_PASS
    assert list(tmp_path.iterdir()) == []
    assert "report:" not in out


@pytest.mark.parametrize(("which", "rc_expected", "line"), [
    ("clean", EXIT_PASS, "PASS\n"),
    ("dropout", EXIT_FAIL, "FAIL\n"),
])
@pytest.mark.slow
def test_quiet_prints_only_the_verdict(pair_48k, tmp_path, capsys, which, rc_expected, line):
    rc, out, err = run(["validate", str(pair_48k[which]), "-r", str(pair_48k["reference"]),
                        "--quiet", "--output-dir", str(tmp_path)], capsys)
    assert rc == rc_expected
    assert out == line
    assert err == ""
    assert (tmp_path / f"{pair_48k[which].stem}.json").is_file(), "--quiet still writes JSON"


def test_max_events_limits_the_summary(tmp_path, capsys):
    y = signals.tone(997.0, sample_rate_hz=8000, duration_s=3.0, marker="chirp")
    for k in range(5):
        y = zero_fill(y, 8000, start_s=0.5 + 0.5 * k, duration_s=0.02).y
    ref = signals.write_wav(tmp_path / "ref.wav", signals.tone(
        997.0, sample_rate_hz=8000, duration_s=3.0, marker="chirp"), 8000)
    rec = signals.write_wav(tmp_path / "rec.wav", y, 8000)
    rc, out, _ = run(["validate", str(rec), "-r", str(ref), "--no-json", "--no-html",
                      "--no-junit", "--max-events", "2"], capsys)
    assert rc == EXIT_FAIL
    assert out.startswith("FAIL: 5 dropout")
    assert "... and 3 more" in out
    assert sum(" dropout " in ln for ln in out.splitlines()) == 2


# --------------------------------------------------------------------------- version and help


@pytest.mark.slow
def test_python_m_validator_version():
    proc = subprocess.run([sys.executable, "-m", "validator", "--version"], capture_output=True,
                          text=True, timeout=60, cwd=PROJECT_ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"audio-validator {validator.__version__}"


def test_version_via_main(capsys):
    rc, out, _ = run(["--version"], capsys)
    assert rc == 0
    assert out.strip() == f"audio-validator {validator.__version__}"


def test_help_exits_0(capsys):
    rc, out, _ = run(["validate", "--help"], capsys)
    assert rc == 0
    assert "--reference" in out and "--output-dir" in out


# --------------------------------------------------------------------------- generate


def test_generate_tone_equals_library(tmp_path, capsys):
    out_path = tmp_path / "OUT.wav"
    rc, out, _ = run(["generate", "tone", str(out_path), "--freq", "997", "--rate", "8000",
                      "--duration", "1"], capsys)
    assert rc == EXIT_PASS
    assert str(out_path) in out
    lib_path = signals.write_wav(tmp_path / "lib.wav",
                                 signals.tone(997, sample_rate_hz=8000, duration_s=1), 8000)
    got, fs_got = sf.read(out_path, dtype="float64", always_2d=True)
    want, fs_want = sf.read(lib_path, dtype="float64", always_2d=True)
    assert fs_got == fs_want == 8000
    assert got.shape == want.shape == (8000, 1)
    np.testing.assert_array_equal(got, want)
    assert sf.info(str(out_path)).subtype == "PCM_16"
    assert out_path.read_bytes() == lib_path.read_bytes(), "write_wav is byte-reproducible"


def test_generate_tone_one_channel_per_freq(tmp_path, capsys):
    out_path = tmp_path / "stereo.wav"
    rc, _, _ = run(["generate", "tone", str(out_path), "--freq", "997", "--freq", "1499",
                    "--rate", "8000", "--duration", "0.5", "--marker", "chirp", "--bits", "24"],
                   capsys)
    assert rc == EXIT_PASS
    got, _ = sf.read(out_path, dtype="float64", always_2d=True)
    want = signals.quantize(signals.tone([997, 1499], sample_rate_hz=8000, duration_s=0.5,
                                         marker="chirp"), 24)
    np.testing.assert_array_equal(got, want)


def test_generate_standard_set(tmp_path, capsys):
    out_dir = tmp_path / "std"
    rc, out, _ = run(["generate", "standard-set", str(out_dir)], capsys)
    assert rc == EXIT_PASS
    assert str(out_dir) in out
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    names = {e.name for e in signals.STANDARD_SET}
    assert set(manifest["files"]) == names
    assert {p.name for p in out_dir.glob("*.wav")} == names
    for name, rec in manifest["files"].items():
        info = sf.info(str(out_dir / name))
        assert info.frames == rec["frames"]
        assert info.samplerate == rec["sample_rate_hz"]
        assert info.channels == rec["channels"]


def test_generate_into_missing_folder_creates_it(tmp_path, capsys):
    out_path = tmp_path / "nodir" / "OUT.wav"
    rc, _, _ = run(["generate", "tone", str(out_path), "--rate", "8000", "--duration", "0.1"],
                   capsys)
    assert rc == 0
    assert sf.info(str(out_path)).frames == 800
    assert [p.name for p in out_path.parent.iterdir()] == ["OUT.wav"]  # no temp file left


# --------------------------------------------------------------------------- defaults


def _validate_defaults():
    return build_parser().parse_args(["validate", "rec.wav", "--reference", "ref.wav"])


def test_cli_max_delay_default_equals_library_default():
    lib = inspect.signature(validate).parameters["max_delay_s"].default
    assert lib == DEFAULT_MAX_DELAY_S
    assert _validate_defaults().max_delay == lib


def _generate_defaults(kind: str):
    return build_parser().parse_args(["generate", kind, "out.wav"])


@pytest.mark.parametrize(("kind", "func", "option", "param"), [
    ("tone", signals.tone, "rate", "sample_rate_hz"),
    ("tone", signals.tone, "duration", "duration_s"),
    ("tone", signals.tone, "level", "level_dbfs"),
    ("tone", signals.tone, "ramp", "ramp_s"),
    ("tone", signals.tone, "marker", "marker"),
    ("multitone", signals.multitone, "channels", "channels"),
    ("sweep", signals.log_sweep, "start", "start_hz"),
    ("sweep", signals.log_sweep, "stop", "stop_hz"),
    ("sweep", signals.log_sweep, "rate", "sample_rate_hz"),
    ("sweep", signals.log_sweep, "duration", "duration_s"),
    ("sweep", signals.log_sweep, "level", "level_dbfs"),
    ("sweep", signals.log_sweep, "ramp", "ramp_s"),
])
def test_generate_defaults_equal_library_defaults(kind, func, option, param):
    """A ``generate`` option left out means what the generator's own default means."""
    lib = inspect.signature(func).parameters[param].default
    assert getattr(_generate_defaults(kind), option) == lib


def test_generate_default_bits_equals_write_wav_default():
    lib = inspect.signature(signals.write_wav).parameters["bit_depth"].default
    assert _generate_defaults("tone").bits == lib


# --------------------------------------------------------------------------- the README command


def test_readme_first_command(tmp_path, capsys, monkeypatch):
    """``audio-validator validate tests/data/real_pcmu_loss/received.wav --reference ...``.

    Run from the project root exactly as the README shows it: exit 1 and
    exactly the 4 dropouts of truth.json, each within 1 ms of its lost packet.
    """
    monkeypatch.chdir(PROJECT_ROOT)
    truth = json.loads((README_CASE / "truth.json").read_text(encoding="utf-8"))
    rc, out, err = run(["validate", f"{README_CASE}/received.wav",
                        "--reference", f"{README_CASE}/reference.wav",
                        "--output-dir", str(tmp_path)], capsys)
    assert rc == EXIT_FAIL
    assert err == ""
    assert out.startswith("FAIL: 4 dropout\n")
    doc = json.loads((tmp_path / "received.json").read_text(encoding="utf-8"))
    events = doc["events"]
    assert [e["type"] for e in events] == ["dropout"] * 4
    want = np.array(truth["dropped_intervals_s"])
    got = np.array([[e["start_s"], e["end_s"]] for e in events])
    # on the received timeline a span may sit up to 3 samples (0.375 ms) off: 1 ms tolerance
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)
    for e in events:
        assert "digital zeros" in e["description"]
