"""Renderers of a batch run: ``index.html`` and ``junit.xml``. They only lay figures out.

``index.html`` is rendered from the summary document (:func:`validator.batch.summarize`)
by the Jinja2 template shipped in ``validator/batch/templates/`` (autoescaped:
every path, tag value and message is escaped). It is self-contained (inline
style and script, no network) and links every per-capture report by a
relative path, so the run folder can be moved or archived whole.

``junit.xml`` holds one ``<testsuite>`` per capture: for a validated capture
the suite :func:`validator.report.junit.render_junit` rendered in its worker
(:attr:`CaptureOutcome.junit`, plus the capture's tags as properties); for a
capture that could not be validated a suite with one ``<error>``; for one not
run a ``<skipped>``. Nothing is read from disk.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from validator.batch.result import CaptureOutcome
from validator.report.junit import xml_safe

__all__ = ["render_batch_junit", "render_index", "render_text"]


def _basename(p: object) -> str:
    return os.path.basename(str(p).rstrip("/\\")) or str(p)


def _environment() -> Any:
    from validator.report.html import template_environment

    env = template_environment(
        "validator.batch", missing="the batch index needs jinja2: pip install jinja2 (a "
        "dependency of audio-stream-validator)")
    env.filters["basename"] = _basename
    return env


def render_index(summary: dict[str, Any]) -> str:
    """The run's ``index.html``: a sortable table of every capture, and the summary.

    Parameters
    ----------
    summary : dict
        The summary document (:func:`validator.batch.summarize`).

    Returns
    -------
    str
        One self-contained HTML page (UTF-8 text).

    Raises
    ------
    MissingDependencyError
        If jinja2 is not installed.
    """
    env = _environment()
    captures = summary["captures"]
    event_types = sorted({t for c in captures
                          for t in (c["metrics"].get("events_by_type") or {})})
    return env.get_template("index.html.j2").render(
        s=summary, captures=captures, tag_keys=summary["tag_keys"], event_types=event_types,
        errors=[c for c in captures if c["status"] == "error"])


def render_batch_junit(outcomes: Sequence[CaptureOutcome], *,
                       name: str = "audio-stream-validator batch") -> str:
    """The run's JUnit XML: one ``<testsuite>`` per capture, in job order.

    Parameters
    ----------
    outcomes : sequence of CaptureOutcome
        A validated capture's suites come from its ``junit`` document.
    name : str
        Name of the ``<testsuites>`` root.

    Returns
    -------
    str
        UTF-8 XML text with an XML declaration and a trailing newline.
    """
    from validator.report.junit import CLASS_PREFIX

    root = ET.Element("testsuites", {"name": xml_safe(name)})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    time_s = 0.0
    for o in outcomes:
        suites = _validated_suites(o) if o.status in ("pass", "fail") else []
        if not suites:
            stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(o.job.received).stem or "received")
            suites = [_problem_suite(o, f"{CLASS_PREFIX}.{stem}")]
        for suite in suites:
            _add_tags(suite, o)
            for key in totals:
                totals[key] += int(suite.get(key, "0") or 0)
            try:
                time_s += float(suite.get("time", "0") or 0)
            except ValueError:
                pass
            root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{time_s:.3f}")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def _validated_suites(o: CaptureOutcome) -> list[ET.Element]:
    """The ``<testsuite>`` elements of a capture's own JUnit document (none if it has none)."""
    if not o.junit:
        return []
    try:
        root = ET.fromstring(o.junit)
    except ET.ParseError:
        return []
    return list(root.iter("testsuite"))


def _problem_suite(o: CaptureOutcome, classname: str) -> ET.Element:
    error = o.status != "not_run"
    suite = ET.Element("testsuite", {
        "name": xml_safe(o.job.received), "tests": "1", "failures": "0",
        "errors": "1" if error else "0", "skipped": "0" if error else "1", "time": "0.000"})
    ET.SubElement(suite, "properties")
    case = ET.SubElement(suite, "testcase", {"name": "validate", "classname": classname,
                                             "time": "0.000"})
    if error:
        message = o.error or f"{o.job.name}: its JUnit report is missing from the run folder"
        el = ET.SubElement(case, "error", {"message": xml_safe(message),
                                           "type": xml_safe(o.error_type or "error")})
        el.text = xml_safe(message + ("\n" + o.traceback if o.traceback else "") + "\n")
    else:
        ET.SubElement(case, "skipped", {"message": "not run: the batch was interrupted"})
    return suite


def _add_tags(suite: ET.Element, o: CaptureOutcome) -> None:
    props = suite.find("properties")
    if props is None:
        props = ET.Element("properties")
        suite.insert(0, props)
    ET.SubElement(props, "property", {"name": "batch_capture", "value": o.job.name})
    for key, value in o.job.tags:
        ET.SubElement(props, "property", {"name": xml_safe(f"tag.{key}"),
                                          "value": xml_safe(value)})


def render_text(summary: dict[str, Any], *, max_listed: int = 20,
                report_paths: Sequence[str | os.PathLike[str]] = ()) -> str:
    """The terminal summary of a run.

    The verdict line, the throughput, the captures that did not pass (the
    first ``max_listed``) and the reports written.

    Parameters
    ----------
    summary : dict
        The summary document.
    max_listed : int
        Captures that did not pass listed at most.
    report_paths : sequence of path
        Listed last.

    Returns
    -------
    str
    """
    c, t, run = summary["counts"], summary["throughput"], summary["run"]
    parts = [f"{c['pass']} pass", f"{c['fail']} fail"]
    if c["error"]:
        parts.append(f"{c['error']} could not be validated")
    if c["not_run"]:
        parts.append(f"{c['not_run']} not run (interrupted)")
    lines = [f"{summary['verdict'].upper()}: {c['total']} capture"
             f"{'' if c['total'] == 1 else 's'}: {', '.join(parts)}"]
    rate = "" if t["captures_per_s"] is None else (
        f": {t['captures_per_s']:.2f} captures/s, {t['audio_s_per_s']:.1f} s of audio/s")
    resumed = f", {c['resumed']} resumed from the earlier run" if c["resumed"] else ""
    lines.append(f"  ran {c['ran']} in {t['wall_s']:.1f} s on {run['backend']} "
                 f"({run['workers']} worker{'' if run['workers'] == 1 else 's'}){rate}{resumed}")
    mos = summary.get("mos") or {}
    labels = {"mos_lqo_visqol": "ViSQOL", "mos_lqo_pesq": "PESQ"}
    parts_q = []
    for m in mos.get("metrics") or []:
        st = mos["overall"][m]
        text = f"{labels.get(m, m)} median {st['median']:.2f} (min {st['min']:.2f}, " \
               f"{st['n']} scored" if st["n"] else f"{labels.get(m, m)} (none scored"
        parts_q.append(text + (f", {st['not_computed']} not computed)" if st["not_computed"]
                               else ")"))
    if parts_q:
        lines.append("  MOS-LQO: " + "; ".join(parts_q))
    bad = [r for r in summary["captures"] if r["status"] in ("fail", "error")]
    width = max((len(r["name"]) for r in bad[:max_listed]), default=0)
    for r in bad[:max_listed]:
        why = r["error"] if r["status"] == "error" else ", ".join(r["metrics"]["failed_checks"])
        lines.append(f"  {r['status']:<6s} {r['name']:<{width}s}  {why}")
    if len(bad) > max_listed:
        lines.append(f"  ... and {len(bad) - max_listed} more (see index.html)")
    lines += [f"  report: {p}" for p in report_paths]
    return "\n".join(lines) + "\n"
