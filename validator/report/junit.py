"""JUnit XML report: what CI servers (Jenkins, GitLab, GitHub Actions) ingest.

One ``<testsuite>`` per validated input, one ``<testcase>`` per check of the
verdict; a failed check carries a ``<failure>`` whose message gives the
measured value, the limit and the unit, and whose text lists the first events
(time, duration, channel, type, depth). The layout follows the common Jenkins
JUnit schema (``testsuites > testsuite > properties, testcase > failure``);
``tests/data/junit-jenkins.xsd`` holds the schema the tests validate against.

Like every renderer it only lays out the result: counts are of checks, and
times are the analysis time the result recorded.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from validator import __version__
from validator.io.atomic import write_text_atomic
from validator.report.numbers import format_number
from validator.result import Check, Event, ValidationResult

TOOL_NAME = "audio-stream-validator"
#: Events listed in a failure's text at most.
MAX_FAILURE_EVENTS = 10
#: ``classname`` prefix of every test case (Jenkins shows it as the package).
CLASS_PREFIX = "audio_validator"


#: The characters XML 1.0 cannot hold: the complement of its ``Char`` production (#x9, #xA,
#: #xD, #x20-#xD7FF, #xE000-#xFFFD, #x10000-#x10FFFF) written as the few ranges it leaves,
#: which compiles in a millisecond (the production itself takes 15 ms of every cold run).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Replace the characters XML 1.0 cannot hold (control characters in a file name, say).

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        ``text`` with each such character replaced by U+FFFD.
    """
    return _NOT_XML.sub("\ufffd", text)


def _num(x: float | int | None) -> str:
    """A number in a message or property: 6 decimals at most, ``none``, ``nan``, bools as 0/1."""
    return format_number(int(x) if isinstance(x, bool) else x, decimals=6, none="none",
                         nan="nan")


def _seconds(x: float) -> str:
    """A time attribute: decimal seconds, never negative, never NaN (schema: a plain decimal)."""
    return f"{x:.3f}" if math.isfinite(x) and x > 0 else "0.000"


def _class_name(received: str) -> str:
    stem = Path(str(received)).stem or "received"
    return f"{CLASS_PREFIX}.{re.sub(r'[^A-Za-z0-9_-]+', '_', stem)}"


def _event_line(e: Event) -> str:
    return (f"{e.start_s:10.4f} s  {e.duration_s * 1000:8.2f} ms  ch{e.channel:<2d} {e.type:<8s} "
            f"{e.level_db:7.1f} dB  {e.description}"
            + (f"  [{e.cause}]" if e.cause else ""))


def failure_message(check: Check) -> str:
    """One line: the check, what was measured and its limit.

    For example ``dropout_events: measured 4, limit 0 events``.
    """
    limit = "none" if check.limit is None else _num(check.limit)
    unit = f" {check.unit}" if check.unit else ""
    return f"{check.name}: measured {_num(check.measured)}, limit {limit}{unit}"


def failure_text(check: Check, result: ValidationResult, *,
                 max_events: int = MAX_FAILURE_EVENTS) -> str:
    """The failure's body: the check's description, its numbers and the first events.

    For an event-count check (``<type>_events``) the events listed are those of
    that type; for any other check, the first events of any type.
    """
    lines = [failure_message(check)]
    if check.description:
        lines.append(check.description)
    kind = check.name[:-len("_events")] if check.name.endswith("_events") else None
    events = [e for e in result.events if kind is None or e.type == kind]
    if events:
        lines.append(f"first events ({min(len(events), max_events)} of {len(events)}):")
        lines += ["  " + _event_line(e) for e in events[:max_events]]
    return "\n".join(lines) + "\n"


def _suite(result: ValidationResult, timestamp: str, max_events: int) -> ET.Element:
    r = result
    failures = sum(1 for k in r.checks if not k.passed)
    suite = ET.Element("testsuite", {
        "name": xml_safe(str(r.input.received)), "tests": str(len(r.checks)),
        "failures": str(failures), "errors": "0", "skipped": "0",
        "time": _seconds(r.elapsed_s), "timestamp": timestamp})
    props = ET.SubElement(suite, "properties")
    a = r.alignment
    for name, value in (
            ("tool", TOOL_NAME), ("tool_version", __version__), ("verdict", r.verdict),
            ("received", str(r.input.received)), ("reference", str(r.input.reference)),
            ("sample_rate_hz", _num(r.input.sample_rate_hz)),
            ("channels", _num(r.input.channels)), ("duration_s", _num(r.input.duration_s)),
            ("events", _num(len(r.events))),
            ("delay_s", "ambiguous" if a.delay_s is None else _num(a.delay_s)),
            ("drift_ppm", _num(a.drift_ppm))):
        ET.SubElement(props, "property", {"name": name, "value": xml_safe(value)})
    classname = _class_name(r.input.received)
    for k in r.checks:
        case = ET.SubElement(suite, "testcase", {"name": k.name, "classname": classname,
                                                 "time": "0.000"})
        if not k.passed:
            fail = ET.SubElement(case, "failure", {"message": xml_safe(failure_message(k)),
                                                   "type": "CheckFailed"})
            fail.text = xml_safe(failure_text(k, r, max_events=max_events))
    return suite


def render_junit(results: Sequence[ValidationResult], *, timestamp: str | None = None,
                 name: str = TOOL_NAME, max_events: int = MAX_FAILURE_EVENTS) -> str:
    """The JUnit XML of one or more results.

    Parameters
    ----------
    results : sequence of ValidationResult
        One ``<testsuite>`` each, in order.
    timestamp : str, optional
        ``YYYY-MM-DDTHH:MM:SS`` (UTC, no zone, as the schema wants); default now.
    name : str
        Name of the ``<testsuites>`` root.
    max_events : int
        Events listed in a failure's text at most.

    Returns
    -------
    str
        UTF-8 XML text with an XML declaration and a trailing newline.
    """
    if isinstance(results, ValidationResult):  # a lone result is one suite, not an error
        results = [results]
    stamp = timestamp or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    suites = [_suite(r, stamp, max_events) for r in results]
    root = ET.Element("testsuites", {
        "name": name,
        "tests": str(sum(int(s.get("tests", "0")) for s in suites)),
        "failures": str(sum(int(s.get("failures", "0")) for s in suites)),
        "errors": "0",
        "time": _seconds(sum(r.elapsed_s for r in results if math.isfinite(r.elapsed_s)))})
    root.extend(suites)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def write_junit(results: Sequence[ValidationResult] | ValidationResult,
                path: str | os.PathLike[str], **kwargs: object) -> Path:
    """Write the JUnit XML atomically; returns the path.

    Parameters
    ----------
    results : ValidationResult or sequence of them
    path : str or Path
        Destination; its folder is created if needed.
    **kwargs
        Passed to :func:`render_junit`.

    Returns
    -------
    Path
    """
    if isinstance(results, ValidationResult):
        results = [results]
    return write_text_atomic(path, render_junit(results, **kwargs))  # type: ignore[arg-type]
