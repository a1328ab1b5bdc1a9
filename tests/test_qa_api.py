"""The QA-suite API: ``validator.testing.assert_stream_ok`` and the pytest plugin's
``audio_validator`` fixture (run in inner pytest sessions with ``pytester``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from validator import signals
from validator.impair import zero_fill
from validator.testing import assert_stream_ok, failure_summary, report_name

pytest_plugins = ["pytester"]

FS = 8000
DROP_S = 1.0


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> dict[str, Path]:
    """An 8 kHz marker tone: reference, a clean copy and one with a 20 ms zero fill at 1.0 s."""
    d = tmp_path_factory.mktemp("qa")
    y = signals.tone(997.0, sample_rate_hz=FS, duration_s=2.0, marker="chirp")
    return {
        "reference": signals.write_wav(d / "reference.wav", y, FS),
        "clean": signals.write_wav(d / "clean.wav", y, FS),
        "dropout": signals.write_wav(d / "dropout.wav",
                                     zero_fill(y, FS, start_s=DROP_S, duration_s=0.02).y, FS),
    }


# --------------------------------------------------------------------------- assert_stream_ok


def test_assert_stream_ok_returns_the_result_when_it_passes(wavs):
    result = assert_stream_ok(wavs["clean"], wavs["reference"])
    assert result.passed and result.events == ()


@pytest.mark.slow
def test_assert_stream_ok_message_names_checks_events_and_report(wavs, tmp_path):
    pytest.importorskip("jinja2")
    with pytest.raises(AssertionError) as info:
        assert_stream_ok(wavs["dropout"], wavs["reference"], html_dir=tmp_path / "html")
    msg = str(info.value)
    lines = msg.splitlines()
    assert lines[0] == "audio stream FAIL: 1 dropout"
    assert "    dropout_events: measured 1, limit 0 events" in lines
    (event,) = [ln for ln in lines if " dropout " in ln and " s " in ln]
    assert float(event.split()[0]) == pytest.approx(DROP_S, abs=0.002)
    report = tmp_path / "html" / "dropout.html"
    assert lines[-1] == f"  HTML report: {report}"
    assert report.is_file()


def test_assert_stream_ok_takes_a_profile_path_and_arrays(wavs, tmp_path):
    import soundfile as sf

    profile = tmp_path / "lenient.toml"
    profile.write_text("[limits]\nmax_dropouts = 1\n", encoding="utf-8")
    rec, fs = sf.read(wavs["dropout"], always_2d=True)
    ref, _ = sf.read(wavs["reference"], always_2d=True)
    result = assert_stream_ok(rec, ref, sample_rate_hz=fs, profile=profile)
    assert [e.type for e in result.events] == ["dropout"]


def test_failure_summary_lists_at_most_five_events(make_result):
    text = failure_summary(make_result(events=8, verdict="fail"))
    assert "events (8, first 5):" in text
    assert sum(" dropout " in ln for ln in text.splitlines()) == 5


def test_report_name_is_a_safe_file_name():
    assert report_name("caps/a b<c>.wav") == "a_b_c.html"
    assert report_name(None) == "received.html"
    assert report_name(Path("x/y.flac"), prefix="t::n[1]-") == "t_n_1_-y.html"


# --------------------------------------------------------------------------- pytest plugin

QA_TESTS = '''
import pytest

REF = {ref!r}

def test_clean_capture(audio_validator):
    result = audio_validator.check({clean!r}, REF)
    assert result.passed

def test_capture_with_a_dropout(audio_validator):
    audio_validator.check({dropout!r}, REF)
'''


def _plugin_args(request) -> list[str]:
    """Load the plugin explicitly only when its entry point did not (autoload disabled)."""
    if request.config.pluginmanager.has_plugin("audio_validator"):
        return []
    return ["-p", "validator.pytest_plugin"]


@pytest.fixture
def qa_suite(pytester, wavs):
    """An inner QA suite, run in a subprocess: pytester's in-process run removes the modules
    the inner session imported (those a report loads, when it renders first), and a later
    re-import then mixes two copies of their classes in this process."""
    pytest.importorskip("jinja2")
    pytester.makepyfile(test_qa=QA_TESTS.format(ref=str(wavs["reference"]),
                                                clean=str(wavs["clean"]),
                                                dropout=str(wavs["dropout"])))
    return pytester


@pytest.mark.slow
def test_plugin_passes_and_fails_with_summary_and_report(qa_suite, request):
    out_dir = qa_suite.path / "audio-reports"
    junit = qa_suite.path / "junit.xml"
    res = qa_suite.runpytest_subprocess(*_plugin_args(request), "--audio-report-dir", str(out_dir),
                             f"--junitxml={junit}", "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1, failed=1)
    text = res.stdout.str()
    assert "AssertionError: audio stream FAIL: 1 dropout" in text
    assert "dropout_events: measured 1, limit 0 events" in text
    reports = sorted(out_dir.iterdir())
    assert [p.name for p in reports] == ["test_qa.py__test_capture_with_a_dropout-dropout.html"]
    assert f"HTML report: {reports[0]}" in text
    assert "Captured audio-validator call" in text  # the report section
    assert 'data-verdict="fail"' in reports[0].read_text(encoding="utf-8")
    # the path is a user property: pytest's own JUnit XML carries it
    props = {p.get("name"): p.get("value")
             for p in ET.parse(junit).getroot().iter("property")}
    assert props["audio_report"] == str(reports[0])


@pytest.mark.slow
def test_plugin_default_report_dir_is_under_the_rootdir(qa_suite, request):
    res = qa_suite.runpytest_subprocess(*_plugin_args(request), "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1, failed=1)
    folder = qa_suite.path / "reports" / "pytest"
    assert len(list(folder.glob("*.html"))) == 1


@pytest.mark.slow
def test_plugin_ini_option(qa_suite, request):
    qa_suite.makeini("[pytest]\naudio_report_dir = from-ini\n")
    res = qa_suite.runpytest_subprocess(*_plugin_args(request), "-p", "no:cacheprovider")
    res.assert_outcomes(passed=1, failed=1)
    assert len(list((qa_suite.path / "from-ini").glob("*.html"))) == 1


def test_plugin_option_is_in_help(pytester, request):
    res = pytester.runpytest(*_plugin_args(request), "--help")
    assert "--audio-report-dir" in res.stdout.str()
