"""Report formats are contracts: the JSON keys and types, a golden file, atomic writes, terminal.

The golden file ``tests/gold/report.json`` is the JSON of a hand-built
:class:`ValidationResult` (no pipeline), with ``generated_at`` fixed and
``tool.version`` stripped before comparing. When the contract changes on
purpose, rebuild it with ``VALIDATOR_UPDATE_GOLD=1 pytest tests/test_report.py``
and review the diff.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

import validator
from validator import signals
from validator.impair import zero_fill
from validator.io import atomic
from validator.pipeline import validate
from validator.report import json_report
from validator.report.json_report import SCHEMA_VERSION, TOOL_NAME, render_json, write_json
from validator.report.terminal import render_terminal
from validator.result import (
    EVENT_TYPES,
    Alignment,
    ChannelMetrics,
    Check,
    Event,
    Segment,
)

GOLD = Path(__file__).resolve().parent / "gold" / "report.json"
GENERATED_AT = "2024-05-01T12:00:00+00:00"

NUM = (int, float)
OPT_NUM = (int, float, type(None))

#: The fixed contract: key -> accepted types (bool is checked apart from int).
CONTRACT: dict[str, Any] = {
    "schema_version": int,
    "tool": {"name": str, "version": str},
    "generated_at": str,
    "input": {"received": str, "reference": str, "sample_rate_hz": int, "channels": int,
              "duration_s": NUM},
    "verdict": str,
    "alignment": {"delay_s": OPT_NUM, "delay_samples": OPT_NUM, "delay_confidence": NUM,
                  "drift_ppm": NUM, "dtw_distance": OPT_NUM},
    "channels": [{"index": int, "rms_dbfs": NUM, "peak_dbfs": NUM, "gain_error_db": OPT_NUM,
                  "frequency_hz": OPT_NUM, "snr_db": OPT_NUM, "thd_n_db": OPT_NUM,
                  "judged_fraction": OPT_NUM, "match_db": OPT_NUM}],
    "events": [{"type": str, "channel": int, "start_s": NUM, "end_s": NUM, "duration_s": NUM,
                "level_db": NUM, "description": str}],
    "checks": [{"name": str, "passed": bool, "measured": OPT_NUM, "limit": OPT_NUM,
                "unit": str}],
}


def assert_contract(doc: Any, spec: Any, where: str = "$") -> None:
    """Every key of ``spec`` is in ``doc`` with an accepted type (lists: every item)."""
    if isinstance(spec, dict):
        assert isinstance(doc, dict), f"{where}: expected an object, got {type(doc).__name__}"
        for key, sub in spec.items():
            assert key in doc, f"{where}: missing key {key!r}"
            assert_contract(doc[key], sub, f"{where}.{key}")
    elif isinstance(spec, list):
        assert isinstance(doc, list), f"{where}: expected an array, got {type(doc).__name__}"
        for i, item in enumerate(doc):
            assert_contract(item, spec[0], f"{where}[{i}]")
    else:
        types = spec if isinstance(spec, tuple) else (spec,)
        if bool not in types:
            assert not isinstance(doc, bool), f"{where}: a bool where {types} is expected"
        assert isinstance(doc, types), f"{where}: {doc!r} is not {types}"


def strict_loads(text: str) -> Any:
    """``json.loads`` that refuses NaN, Infinity and -Infinity."""
    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name} in the report")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def golden_result(make_result, dropout_event):
    """A fixed, hand-built result that touches every part of the contract."""
    events = (
        dropout_event(0.5),
        Event("glitch", 0, 1.25, 1.251, -12.5, "waveform departs from the reference for 1 ms",
              10000, 10008),
        Event("level", 1, 2.0, 2.5, -6.02, "level falls by 6.0 dB for 500 ms", 16000, 20000),
    )
    channels = (
        ChannelMetrics(0, -13.012, -10.0, -13.01, -0.002, 997.0, 0.0, 62.5, -62.4, 0.0),
        ChannelMetrics(1, -19.03, -16.0, -13.01, -6.02, 1499.0, 0.0012, 55.25, -55.0, -1e-06),
    )
    checks = (
        Check("dropout_events", False, 1, 0, "events", "number of dropout events"),
        Check("glitch_events", False, 1, 0, "events", "number of glitch events"),
        Check("level_events", False, 1, 0, "events", "number of level events"),
        Check("gain_error_ch0", True, -0.002, 1.0, "dB", "received minus reference level"),
        Check("gain_error_ch1", False, -6.02, 1.0, "dB", "received minus reference level"),
        Check("drift", True, 1.5, None, "ppm", "clock drift (limit on the magnitude)"),
        Check("truncation", True, 0.0, 0.05, "s", "reference audio missing"),
    )
    alignment = Alignment(delay_s=0.0125, delay_samples=100.0, delay_confidence=0.98,
                          delay_ambiguous=False, method="xcorr", drift_ppm=1.5,
                          segments=(Segment(0, 12000, 100.0), Segment(12000, -1, -60.0)),
                          dtw_distance=None)
    return make_result(events=events, channels=channels, checks=checks, verdict="fail",
                       alignment=alignment)


@pytest.fixture(scope="module")
def pipeline_doc(tmp_path_factory) -> dict[str, Any]:
    """The JSON the CLI path writes for a real pipeline run (8 kHz, one 20 ms zero fill)."""
    d = tmp_path_factory.mktemp("report")
    y = signals.tone(997.0, sample_rate_hz=8000, duration_s=2.0, marker="chirp")
    ref = signals.write_wav(d / "reference.wav", y, 8000)
    rec = signals.write_wav(d / "received.wav",
                            zero_fill(y, 8000, start_s=1.0, duration_s=0.02).y, 8000)
    path = write_json(validate(rec, ref), d / "received.json")
    return strict_loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the contract


def test_pipeline_json_follows_the_contract(pipeline_doc):
    assert_contract(pipeline_doc, CONTRACT)
    assert pipeline_doc["schema_version"] == SCHEMA_VERSION
    assert pipeline_doc["tool"] == {"name": TOOL_NAME, "version": validator.__version__}
    assert pipeline_doc["verdict"] in ("pass", "fail")
    assert pipeline_doc["events"], "the fixture has a dropout: events must not be empty"
    for e in pipeline_doc["events"]:
        assert e["type"] in EVENT_TYPES
        assert e["end_s"] >= e["start_s"]
        assert e["duration_s"] == pytest.approx(e["end_s"] - e["start_s"], abs=1e-9)
    assert len(pipeline_doc["channels"]) == pipeline_doc["input"]["channels"]


def test_golden_json_follows_the_contract(golden_result):
    assert_contract(strict_loads(render_json(golden_result)), CONTRACT)


def test_generated_at_is_utc_iso8601(golden_result):
    from datetime import datetime

    stamp = strict_loads(render_json(golden_result))["generated_at"]
    parsed = datetime.fromisoformat(stamp)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0


def test_no_nan_or_infinity_in_json(make_result, dropout_event):
    """Non-finite floats become null: the file stays standard JSON."""
    result = make_result(
        events=(dropout_event(0.5),),
        checks=(Check("snr_ch0", False, float("nan"), 30.0, "dB"),
                Check("thd_n_ch0", False, float("inf"), -30.0, "dB"),
                Check("drift", True, float("-inf"), None, "ppm")),
        truncation_s=float("nan"))
    doc = strict_loads(render_json(result))
    assert [c["measured"] for c in doc["checks"]] == [None, None, None]
    assert doc["truncation_s"] is None


def test_pipeline_json_has_no_nan(pipeline_doc):
    def walk(x: Any) -> None:
        if isinstance(x, float):
            assert math.isfinite(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(pipeline_doc)


# --------------------------------------------------------------------------- golden file


def _strip_volatile(doc: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    doc["tool"].pop("version")
    return doc


def test_golden_report(golden_result):
    text = render_json(golden_result, generated_at=GENERATED_AT)
    if os.environ.get("VALIDATOR_UPDATE_GOLD"):
        GOLD.parent.mkdir(parents=True, exist_ok=True)
        GOLD.write_text(text, encoding="utf-8")
    assert GOLD.is_file(), f"{GOLD} is missing; rebuild it with VALIDATOR_UPDATE_GOLD=1"
    want = _strip_volatile(strict_loads(GOLD.read_text(encoding="utf-8")))
    got = _strip_volatile(strict_loads(text))
    assert got == want
    assert list(got) == list(want), "top-level key order is part of the layout"


def test_render_is_deterministic(golden_result):
    a = render_json(golden_result, generated_at=GENERATED_AT)
    b = render_json(golden_result, generated_at=GENERATED_AT)
    assert a == b
    assert a.endswith("}\n")


# --------------------------------------------------------------------------- atomic write


def _boom(*args: object, **kwargs: object):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize("where", ["json.dumps", "os.fsync", "os.replace"])
def test_write_is_atomic(golden_result, tmp_path, monkeypatch, where):
    """If writing fails midway the old report is intact and no temporary file remains."""
    path = tmp_path / "received.json"
    path.write_text('{"old": true}\n', encoding="utf-8")
    if where == "json.dumps":
        monkeypatch.setattr(json_report.json, "dumps", _boom)
    elif where == "os.fsync":
        monkeypatch.setattr(atomic.os, "fsync", _boom)
    else:
        monkeypatch.setattr(atomic.os, "replace", _boom)
    with pytest.raises(RuntimeError, match="injected failure"):
        write_json(golden_result, path)
    monkeypatch.undo()
    assert path.read_text(encoding="utf-8") == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["received.json"]


def test_write_replaces_and_creates_folders(golden_result, tmp_path):
    path = tmp_path / "a" / "b" / "received.json"
    assert write_json(golden_result, path) == path
    assert strict_loads(path.read_text(encoding="utf-8"))["verdict"] == "fail"
    assert sorted(p.name for p in path.parent.iterdir()) == ["received.json"]


# --------------------------------------------------------------------------- terminal


def test_terminal_lists_checks_events_and_paths(golden_result, tmp_path):
    paths = [tmp_path / "received.json", tmp_path / "received.html"]
    text = render_terminal(golden_result, report_paths=paths)
    assert text.splitlines()[0] == "FAIL: 1 dropout, 1 glitch, 1 level"
    for c in golden_result.checks:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(c.name))
        assert line.rstrip().endswith("ok" if c.passed else "FAIL"), line
    for e in golden_result.events:
        assert e.description in text
    for p in paths:
        assert f"report: {p}" in text
    assert "note: a fixed note" in text
    assert "... and" not in text


def test_terminal_says_and_n_more_past_max_events(make_result):
    result = make_result(events=25, verdict="fail")
    text = render_terminal(result, max_events=20)
    assert sum(" dropout " in ln for ln in text.splitlines()) == 20
    assert "... and 5 more" in text
    assert "... and" not in render_terminal(result, max_events=25)


def test_terminal_ambiguous_delay(make_result):
    al = Alignment(None, None, 0.4, True, "tone", 0.0)
    text = render_terminal(make_result(alignment=al))
    assert "ambiguous" in text
