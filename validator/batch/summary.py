"""The batch summary: every figure of ``summary.json`` and ``index.html``, computed once.

:func:`summarize` is a pure function of the capture outcomes and the run's
facts; the renderers (:mod:`validator.batch.render`) only lay its result out.

Schema (``schema_version`` 1)::

    schema_version, tool {name, version}, generated_at (UTC, ISO 8601),
    run {name, dir, backend, workers, interrupted},
    verdict ("pass" | "fail" | "error"), exit_code (0 | 1 | 2),
    counts {total, pass, fail, error, not_run, ran, resumed},
    tag_keys [..],
    by_tag {key: {value: {total, pass, fail, error, not_run}}},
    by_tag_pair [{rows, columns, row_values[], column_values[], cells[][] (counts)}],
    worst {metric: {label, unit, order ("min" | "max"), captures[] {name, value, status, html}}},
    mos {metrics[], overall {metric: stats}, by_tag {key: {value: {metric: stats}}}},
    failures {checks {check: captures}, events {type: {events, captures}}, errors {type: captures}},
    throughput {wall_s, ran, captures_per_s, audio_s, audio_s_per_s,
                mean_capture_s, max_capture_s},
    workers [{id, captures, peak_rss_mb}],
    captures [{index, name, received, reference, profile, ssrc, tags {..}, status,
               error, error_type, attempts, resumed, reports {json, html, xml},
               metrics {duration_s, events, events_by_type {..}, min_snr_db,
                        max_abs_gain_error_db, delay_s, abs_drift_ppm, drift_ppm,
                        truncation_s, failed_checks[], elapsed_s, mos_lqo_visqol,
                        mos_lqo_pesq, quality_not_computed[]}, worker, peak_rss_mb}]

The quality figures (``--quality``) are whole-capture MOS-LQO: ``mos.metrics``
lists the metrics some capture was scored with (``mos_lqo_visqol``,
``mos_lqo_pesq``), and each ``stats`` is ``{n, not_computed, mean, min, p25,
median, p75, max}`` over the captures of that tag value that have a score
(``not_computed`` counts those asked for but without one); ``worst`` then also
lists the lowest scores (``mos_lqo_visqol``, ``mos_lqo_pesq``). ``mos`` and the
``mos_lqo_*`` metrics were added within version 1.

Times are seconds. ``ran`` counts the captures handed to a worker in this run
(validated, or found unreadable there), not those resumed from an earlier run
nor those the manifest already marked as errors; ``captures_per_s`` and
``audio_s_per_s`` are over those and the run's wall time.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from validator import __version__
from validator.batch.result import STATUSES, CaptureOutcome, exit_code_of

__all__ = ["MAX_CROSS_TAGS", "MOS_METRICS", "SUMMARY_SCHEMA_VERSION", "WORST_METRICS", "WORST_N",
           "capture_metrics", "summarize"]

SUMMARY_SCHEMA_VERSION = 1
TOOL_NAME = "audio-stream-validator"
#: Captures listed per "worst" metric.
WORST_N = 5
#: Tag keys (the first ones, in manifest order) crossed pairwise in ``by_tag_pair``.
MAX_CROSS_TAGS = 4
#: (metric, label, unit, order): "min" lists the lowest values first, "max" the highest
#: (zero values are left out of "max" lists: no event is not a worst case).
WORST_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("min_snr_db", "lowest SNR", "dB", "min"),
    ("max_abs_gain_error_db", "largest |gain error|", "dB", "max"),
    ("events", "most events", "events", "max"),
    ("abs_drift_ppm", "largest |drift|", "ppm", "max"),
    ("delay_s", "longest delay", "s", "max"),
    ("truncation_s", "most reference missing at the ends", "s", "max"),
)
#: The quality scores ranked in ``worst`` when some capture has them (lowest first).
MOS_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("mos_lqo_visqol", "lowest ViSQOL MOS-LQO", "MOS", "min"),
    ("mos_lqo_pesq", "lowest PESQ MOS-LQO", "MOS", "min"),
)
_CHANNEL_SUFFIX = re.compile(r"_ch\d+$")


def capture_metrics(document: dict[str, Any] | None) -> dict[str, Any]:
    """The per-capture figures the summary ranks and tabulates, from its JSON document.

    Parameters
    ----------
    document : dict or None
        :func:`validator.report.to_dict` of the capture's result.

    Returns
    -------
    dict
        ``duration_s`` (s), ``events`` (count), ``events_by_type``,
        ``min_snr_db`` (lowest over channels, dB), ``max_abs_gain_error_db``
        (largest |gain error| over channels, dB), ``delay_s`` (s, None when
        ambiguous), ``drift_ppm`` and ``abs_drift_ppm`` (ppm),
        ``truncation_s`` (s), ``failed_checks`` (names), ``elapsed_s`` (s of
        analysis). All None (and empty) for None.
    """
    if not document:
        return {"duration_s": None, "events": None, "events_by_type": {}, "min_snr_db": None,
                "max_abs_gain_error_db": None, "delay_s": None, "drift_ppm": None,
                "abs_drift_ppm": None, "truncation_s": None, "failed_checks": [],
                "elapsed_s": None, "mos_lqo_visqol": None, "mos_lqo_pesq": None,
                "quality_not_computed": []}
    quality = document.get("quality") or {}
    channels = document.get("channels") or []
    snrs = [c["snr_db"] for c in channels if _finite(c.get("snr_db"))]
    gains = [abs(c["gain_error_db"]) for c in channels if _finite(c.get("gain_error_db"))]
    events = document.get("events") or []
    alignment = document.get("alignment") or {}
    drift = alignment.get("drift_ppm")
    return {
        "duration_s": (document.get("input") or {}).get("duration_s"),
        "events": len(events),
        "events_by_type": dict(sorted(Counter(e["type"] for e in events).items())),
        "min_snr_db": min(snrs) if snrs else None,
        "max_abs_gain_error_db": max(gains) if gains else None,
        "delay_s": alignment.get("delay_s"),
        "drift_ppm": drift,
        "abs_drift_ppm": abs(drift) if isinstance(drift, int | float) and _finite(drift)
        else None,
        "truncation_s": document.get("truncation_s"),
        "failed_checks": [c["name"] for c in document.get("checks") or [] if not c["passed"]],
        "elapsed_s": document.get("elapsed_s"),
        **{f"mos_lqo_{m}": (quality.get(m) or {}).get("mos_lqo") for m in ("visqol", "pesq")},
        "quality_not_computed": [m for m in ("visqol", "pesq") if isinstance(quality.get(m), dict)
                                 and quality[m].get("mos_lqo") is None],
    }


def summarize(outcomes: Sequence[CaptureOutcome], *, run_name: str, run_dir: str,
              backend: str, workers: int, wall_s: float, generated_at: str,
              interrupted: bool = False) -> dict[str, Any]:
    """The ``summary.json`` document of a batch run (see the module docstring).

    Parameters
    ----------
    outcomes : sequence of CaptureOutcome
        Every capture of the run, in job order.
    run_name : str
    run_dir : str
        The run folder.
    backend : str
        How the captures were validated (``"process pool"``, ``"dask LocalCluster"``,
        ``"dask tcp://..."``).
    workers : int
        Worker processes (or Dask worker threads) used.
    wall_s : float
        Wall time of the run, s.
    generated_at : str
        Timestamp (UTC, ISO 8601).
    interrupted : bool
        The run was stopped before every capture was done.

    Returns
    -------
    dict
        Plain JSON values only.
    """
    rows = [_row(o) for o in outcomes]
    code = exit_code_of(list(outcomes), interrupted=interrupted)
    counts = {"total": len(rows), **{s: 0 for s in STATUSES}}
    for r in rows:
        counts[r["status"]] += 1
    ran = [o for o in outcomes if o.attempts > 0 and not o.resumed]
    counts["ran"] = len(ran)
    counts["resumed"] = sum(1 for o in outcomes if o.resumed)
    tag_keys = list(dict.fromkeys(k for o in outcomes for k, _ in o.job.tags))
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "generated_at": generated_at,
        "run": {"name": run_name, "dir": run_dir, "backend": backend, "workers": workers,
                "interrupted": interrupted},
        "verdict": {0: "pass", 1: "fail"}.get(code, "error"),
        "exit_code": code,
        "counts": counts,
        "tag_keys": tag_keys,
        "by_tag": _by_tag(rows, tag_keys),
        "by_tag_pair": _by_tag_pair(rows, tag_keys[:MAX_CROSS_TAGS]),
        "worst": _worst(rows),
        "mos": _mos(rows, tag_keys),
        "failures": _failures(rows),
        "throughput": _throughput(ran, rows, wall_s),
        "workers": _workers(ran),
        "captures": rows,
    }


def _row(o: CaptureOutcome) -> dict[str, Any]:
    j = o.job
    return {"index": j.index, "name": j.name, "received": j.received, "reference": j.reference,
            "profile": j.profile, "ssrc": j.ssrc, "tags": dict(j.tags), "status": o.status,
            "error": o.error, "error_type": o.error_type, "attempts": o.attempts,
            "resumed": o.resumed, "reports": dict(o.reports),
            "metrics": capture_metrics(o.document), "worker": o.worker,
            "peak_rss_mb": o.peak_rss_mb, "wall_s": o.wall_s, "notes": list(o.notes)}


def _counts() -> dict[str, int]:
    return {"total": 0, **{s: 0 for s in STATUSES}}


def _by_tag(rows: list[dict[str, Any]], keys: list[str]) -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for key in keys:
        table: dict[str, dict[str, int]] = defaultdict(_counts)
        for r in rows:
            if key in r["tags"]:
                c = table[r["tags"][key]]
                c["total"] += 1
                c[r["status"]] += 1
        out[key] = dict(sorted(table.items()))
    return out


def _by_tag_pair(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for a, b in itertools.combinations(keys, 2):
        both = [r for r in rows if a in r["tags"] and b in r["tags"]]
        va = sorted({r["tags"][a] for r in both})
        vb = sorted({r["tags"][b] for r in both})
        cells = [[_counts() for _ in vb] for _ in va]
        for r in both:
            c = cells[va.index(r["tags"][a])][vb.index(r["tags"][b])]
            c["total"] += 1
            c[r["status"]] += 1
        out.append({"rows": a, "columns": b, "row_values": va, "column_values": vb,
                    "cells": cells})
    return out


def _stats(rows: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """``{n, not_computed, mean, min, p25, median, p75, max}`` of one score over captures."""
    v = sorted(float(r["metrics"][metric]) for r in rows if _finite(r["metrics"].get(metric)))
    out: dict[str, Any] = {"n": len(v), "not_computed": sum(
        1 for r in rows if metric.removeprefix("mos_lqo_") in
        (r["metrics"].get("quality_not_computed") or []))}
    if not v:
        return {**out, **dict.fromkeys(("mean", "min", "p25", "median", "p75", "max"))}

    def q(f: float) -> float:
        i = f * (len(v) - 1)
        lo = int(math.floor(i))
        hi = min(lo + 1, len(v) - 1)
        return round(v[lo] + (v[hi] - v[lo]) * (i - lo), 3)

    return {**out, "mean": round(sum(v) / len(v), 3), "min": v[0], "p25": q(0.25),
            "median": q(0.5), "p75": q(0.75), "max": v[-1]}


def _mos(rows: list[dict[str, Any]], keys: list[str]) -> dict[str, Any]:
    """MOS-LQO distribution overall and per tag value, of the metrics some capture has."""
    metrics = [m for m, *_ in MOS_METRICS
               if any(r["metrics"].get(m) is not None or m.removeprefix("mos_lqo_") in
                      (r["metrics"].get("quality_not_computed") or []) for r in rows)]
    by_tag: dict[str, Any] = {}
    for key in keys:
        values = sorted({r["tags"][key] for r in rows if key in r["tags"]})
        by_tag[key] = {v: {m: _stats([r for r in rows if r["tags"].get(key) == v], m)
                           for m in metrics} for v in values} if metrics else {}
    return {"metrics": metrics, "overall": {m: _stats(rows, m) for m in metrics},
            "by_tag": by_tag}


def _worst(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    scored = [m for m in MOS_METRICS if any(_finite(r["metrics"].get(m[0])) for r in rows)]
    for metric, label, unit, order in (*WORST_METRICS, *scored):
        have = [(r["metrics"][metric], r) for r in rows
                if _finite(r["metrics"].get(metric))
                and (order == "min" or r["metrics"][metric] != 0)]
        have.sort(key=lambda vr: (vr[0] if order == "min" else -vr[0], vr[1]["index"]))
        out[metric] = {"label": label, "unit": unit, "order": order,
                       "captures": [{"name": r["name"], "value": v, "status": r["status"],
                                     "html": r["reports"].get("html")}
                                    for v, r in have[:WORST_N]]}
    return out


def _failures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    checks: Counter[str] = Counter()
    events: dict[str, dict[str, int]] = defaultdict(lambda: {"events": 0, "captures": 0})
    errors: Counter[str] = Counter()
    for r in rows:
        m = r["metrics"]
        for name in sorted({_CHANNEL_SUFFIX.sub("", c) for c in m.get("failed_checks", [])}):
            checks[name] += 1
        for kind, n in (m.get("events_by_type") or {}).items():
            events[kind]["events"] += n
            events[kind]["captures"] += 1
        if r["status"] == "error":
            errors[r["error_type"] or "error"] += 1
    return {"checks": dict(sorted(checks.items(), key=lambda kv: (-kv[1], kv[0]))),
            "events": dict(sorted(events.items(), key=lambda kv: (-kv[1]["events"], kv[0]))),
            "errors": dict(sorted(errors.items(), key=lambda kv: (-kv[1], kv[0])))}


def _throughput(ran: list[CaptureOutcome], rows: list[dict[str, Any]],
                wall_s: float) -> dict[str, Any]:
    names = {o.job.name for o in ran}
    audio_s = sum(r["metrics"].get("duration_s") or 0.0 for r in rows if r["name"] in names)
    times = [o.wall_s for o in ran]
    rate = wall_s if wall_s > 0 else math.nan
    return {"wall_s": round(wall_s, 3), "ran": len(ran),
            "captures_per_s": _round(len(ran) / rate),
            "audio_s": round(audio_s, 3), "audio_s_per_s": _round(audio_s / rate),
            "mean_capture_s": _round(sum(times) / len(times)) if times else None,
            "max_capture_s": max(times) if times else None}


def _workers(ran: list[CaptureOutcome]) -> list[dict[str, Any]]:
    by: dict[str, list[CaptureOutcome]] = defaultdict(list)
    for o in ran:
        if o.worker:
            by[o.worker].append(o)
    return [{"id": w, "captures": len(os_),
             "peak_rss_mb": max((o.peak_rss_mb for o in os_ if o.peak_rss_mb is not None),
                                default=None)}
            for w, os_ in sorted(by.items())]


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _round(x: float) -> float | None:
    return round(x, 3) if math.isfinite(x) else None
