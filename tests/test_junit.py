"""The JUnit XML report: golden file, the Jenkins schema, failure contents.

The golden file ``tests/gold/report.xml`` is the JUnit XML of two hand-built
results (one failing, one passing) with the volatile parts stripped before
comparing: timestamps, times, paths and the tool version. Rebuild it with
``VALIDATOR_UPDATE_GOLD=1 pytest tests/test_junit.py`` and review the diff.

``tests/data/junit-jenkins.xsd`` is the schema (see its header for the
source); validation needs lxml and skips cleanly without it.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from validator.pipeline import validate
from validator.report.junit import render_junit, write_junit, xml_safe
from validator.result import Alignment, ChannelMetrics, Check, Event, InputInfo, Segment

HERE = Path(__file__).resolve().parent
GOLD = HERE / "gold" / "report.xml"
XSD = HERE / "data" / "junit-jenkins.xsd"
REAL = HERE / "data" / "real_pcmu_loss"
TIMESTAMP = "2024-05-01T12:00:00"
#: Attributes and property values that change from run to run or machine to machine.
VOLATILE_ATTRS = ("timestamp", "time", "hostname")
VOLATILE_PROPERTIES = ("tool_version", "received", "reference")


def failing(make_result, dropout_event):
    """Two dropouts, a glitch and a gain error: four failed checks of seven."""
    events = (
        dropout_event(0.5),
        Event("glitch", 0, 1.25, 1.251, -12.5, "waveform departs from the reference for 1 ms",
              10000, 10008, cause="no network loss"),
        dropout_event(2.0, channel=1),
    )
    channels = (
        ChannelMetrics(0, -13.012, -10.0, -13.01, -0.002, 997.0, 0.0, 62.5, -62.4, 0.0),
        ChannelMetrics(1, -19.03, -16.0, -13.01, -6.02, 1499.0, 0.0012, 55.25, -55.0, 0.0),
    )
    checks = (
        Check("dropout_events", False, 2, 0, "events", "number of dropout events"),
        Check("glitch_events", False, 1, 0, "events", "number of glitch events"),
        Check("level_events", True, 0, 0, "events", "number of level events"),
        Check("gain_error_ch0", True, -0.002, 1.0, "dB", "received minus reference level"),
        Check("gain_error_ch1", False, -6.02, 1.0, "dB", "received minus reference level"),
        Check("drift", True, 1.5, None, "ppm", "clock drift (limit on the magnitude)"),
        Check("snr_ch0", False, float("nan"), 30.0, "dB", "signal-to-noise ratio"),
    )
    alignment = Alignment(0.0125, 100.0, 0.98, False, "xcorr", 1.5,
                          (Segment(0, -1, 100.0),), None)
    return make_result(events=events, channels=channels, checks=checks, verdict="fail",
                       alignment=alignment, elapsed_s=0.25)


def passing(make_result):
    checks = (Check("dropout_events", True, 0, 0, "events", "number of dropout events"),
              Check("drift", True, 0.0, None, "ppm", "clock drift"))
    return make_result(checks=checks, verdict="pass", elapsed_s=float("nan"),
                       input=InputInfo("captures/clean.wav", "sine:997", 48000, 1, 3.25, 3.25),
                       alignment=Alignment(None, None, 0.4, True, "tone", 0.0))


@pytest.fixture
def results(make_result, dropout_event):
    return [failing(make_result, dropout_event), passing(make_result)]


def normalise(xml_text: str) -> str:
    """The XML with volatile attributes and property values blanked, re-serialised."""
    root = ET.fromstring(xml_text)
    for el in root.iter():
        for attr in VOLATILE_ATTRS:
            if attr in el.attrib:
                el.set(attr, "*")
        if el.tag == "property" and el.get("name") in VOLATILE_PROPERTIES:
            el.set("value", "*")
        if el.tag == "testsuite":
            el.set("name", Path(el.get("name", "")).name)
    return ET.tostring(root, encoding="unicode")


def schema():
    etree = pytest.importorskip("lxml.etree", reason="lxml is not installed: "
                                "pip install lxml (in the test extra) to validate against the XSD")
    return etree, etree.XMLSchema(etree.parse(str(XSD)))


def assert_valid(xml_text: str) -> None:
    etree, xsd = schema()
    doc = etree.fromstring(xml_text.encode("utf-8"))
    assert xsd.validate(doc), "\n".join(str(e) for e in xsd.error_log)


# --------------------------------------------------------------------------- golden


def test_golden_junit(results):
    text = render_junit(results, timestamp=TIMESTAMP)
    if os.environ.get("VALIDATOR_UPDATE_GOLD"):
        GOLD.write_text(text, encoding="utf-8")
    assert GOLD.is_file(), f"{GOLD} is missing; rebuild it with VALIDATOR_UPDATE_GOLD=1"
    assert normalise(text) == normalise(GOLD.read_text(encoding="utf-8"))


def test_render_is_deterministic(results):
    assert render_junit(results, timestamp=TIMESTAMP) == render_junit(results,
                                                                      timestamp=TIMESTAMP)


# --------------------------------------------------------------------------- schema


def test_golden_validates_against_the_jenkins_schema(results):
    assert_valid(render_junit(results, timestamp=TIMESTAMP))
    assert_valid(render_junit(results))  # the default timestamp has the schema's form


def test_pipeline_result_validates(tmp_path):
    result = validate(REAL / "received.wav", REAL / "reference.wav")
    path = write_junit([result], tmp_path / "r.xml")
    assert_valid(path.read_text(encoding="utf-8"))
    assert_valid(render_junit([]))


def test_schema_rejects_what_jenkins_would():
    """The validation is not vacuous: a suite without a name or with a bad count fails."""
    etree, xsd = schema()
    bad = [
        '<testsuites><testsuite tests="1" failures="0" errors="0"/></testsuites>',
        '<testsuites><testsuite name="a" tests="x" failures="0" errors="0"/></testsuites>',
        '<testsuites><testsuite name="a" tests="1" failures="0" errors="0" '
        'timestamp="2024-05-01 12:00"/></testsuites>',
        '<testsuites><testsuite name="a" tests="1" failures="0" errors="0">'
        '<testcase classname="c"/></testsuite></testsuites>',
    ]
    for text in bad:
        assert not xsd.validate(etree.fromstring(text)), text


def test_control_characters_in_names_stay_well_formed(make_result):
    info = InputInfo("caps/bad\x01name<&>.wav", "refs/r.wav", 8000, 1, 3.25, 3.25)
    text = render_junit([make_result(input=info, checks=(Check("x", False, 1, 0, "events"),),
                                     verdict="fail")])
    root = ET.fromstring(text)
    assert root.find("testsuite").get("name") == "caps/bad\ufffdname<&>.wav"
    assert_valid(text)


# --------------------------------------------------------------------------- contents


def test_one_suite_per_input_one_case_per_check(results):
    root = ET.fromstring(render_junit(results, timestamp=TIMESTAMP))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["captures/received.wav", "captures/clean.wav"]
    for suite, result in zip(suites, results, strict=True):
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == [k.name for k in result.checks]
        assert suite.get("tests") == str(len(result.checks))
        assert suite.get("failures") == str(sum(not k.passed for k in result.checks))
        assert suite.get("timestamp") == TIMESTAMP
        for case, check in zip(cases, result.checks, strict=True):
            assert (case.find("failure") is None) == check.passed
    assert root.get("tests") == "9" and root.get("failures") == "4"


def test_failure_carries_measured_limit_and_first_events(results):
    root = ET.fromstring(render_junit(results, timestamp=TIMESTAMP))
    case = root.find("testsuite/testcase[@name='dropout_events']")
    fail = case.find("failure")
    assert fail.get("message") == "dropout_events: measured 2, limit 0 events"
    assert fail.get("type") == "CheckFailed"
    lines = fail.text.splitlines()
    assert "first events (2 of 2):" in lines
    # only the dropouts, with times and types
    events = [ln for ln in lines if ln.startswith("  ")]
    assert len(events) == 2 and all("dropout" in ln for ln in events)
    assert events[0].split()[:2] == ["0.5000", "s"] and "ch0" in events[0]
    assert events[1].split()[:2] == ["2.0000", "s"] and "ch1" in events[1]
    gain = root.find("testsuite/testcase[@name='gain_error_ch1']/failure")
    assert gain.get("message") == "gain_error_ch1: measured -6.02, limit 1 dB"
    assert "first events (3 of 3)" in gain.text  # not an event check: the first of any type
    glitch = root.find("testsuite/testcase[@name='glitch_events']/failure")
    assert "[no network loss]" in glitch.text
    snr = root.find("testsuite/testcase[@name='snr_ch0']/failure")
    assert snr.get("message") == "snr_ch0: measured nan, limit 30 dB"


def test_properties_describe_the_input(results):
    root = ET.fromstring(render_junit(results, timestamp=TIMESTAMP))
    props = {p.get("name"): p.get("value") for p in root.find("testsuite/properties")}
    assert props["verdict"] == "fail"
    assert props["received"] == "captures/received.wav"
    assert props["sample_rate_hz"] == "8000" and props["delay_s"] == "0.0125"
    props2 = {p.get("name"): p.get("value") for p in root.findall("testsuite")[1][0]}
    assert props2["delay_s"] == "ambiguous"


def test_a_lone_result_is_one_suite(results, tmp_path):
    path = write_junit(results[0], tmp_path / "x" / "one.xml")
    root = ET.fromstring(path.read_text(encoding="utf-8"))
    assert len(root.findall("testsuite")) == 1
    assert path.read_text(encoding="utf-8").startswith('<?xml version="1.0" encoding="UTF-8"?>')


def test_xml_safe_keeps_exactly_the_characters_of_xml_1_0():
    """Every code point is kept or replaced as XML 1.0's ``Char`` production says."""
    def is_char(cp: int) -> bool:
        return (cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD
                or 0x10000 <= cp <= 0x10FFFF)

    text = "".join(map(chr, range(0x110000)))
    out = xml_safe(text)
    assert len(out) == len(text)
    assert all((a == b) == is_char(ord(a)) for a, b in zip(text, out, strict=True))
    assert set(out[cp] for cp in range(0x110000) if not is_char(cp)) == {"\ufffd"}
