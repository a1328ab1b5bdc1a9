"""HTML report: one self-contained page a person reads (plots drawn in the browser, no network).

The page comes from the Jinja2 templates shipped in
``validator/report/templates/`` (autoescaped: every file name, description or
note is escaped). Its plots are drawn when the page loads, by the vendored
uPlot and the page's own script, from the data the pipeline already decimated,
which :mod:`validator.report.plots` lays out as JSON embedded in the page.
This module computes nothing but layout (formatting numbers, counting events
per type, choosing which zooms to show); no plotting library runs in Python.

jinja2 is imported only when a page is rendered; without it
:class:`~validator.errors.MissingDependencyError` names what to install.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validator import __version__
from validator.defaults import DEFAULT_MAX_ZOOMS
from validator.detectors.settings import DetectorSettings
from validator.errors import MissingDependencyError
from validator.io.atomic import write_text_atomic
from validator.report import plots
from validator.report.numbers import format_number
from validator.report.plots import event_color
from validator.result import EVENT_TYPES, ValidationResult

if TYPE_CHECKING:  # pragma: no cover
    from validator.rtp.link import RtpSection

#: Silence threshold drawn on the level plot when the caller does not say, dBFS
#: (the detectors' default).
DEFAULT_SILENCE_THRESHOLD_DBFS = DetectorSettings.silence_threshold_dbfs
TOOL_NAME = "audio-stream-validator"
#: Columns of the RTP stream table, in order, with their headings (those a row
#: has); any other keys of a row are listed under "all fields" below the table.
STREAM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ssrc", "SSRC"), ("src", "Source"), ("dst", "Destination"), ("payload_type", "PT"),
    ("codec", "Codec"), ("clock_rate", "Clock Hz"), ("packets", "Packets"),
    ("expected", "Expected"), ("lost", "Lost"), ("lost_percent", "Lost %"),
    ("duplicates", "Dupl."), ("reordered", "Reord."),
    ("mean_jitter_ms", "Jitter mean ms"), ("max_jitter_ms", "Jitter max ms"),
    ("effective_loss_pct", "Loss after buffer %"), ("burst_ratio", "BurstR"),
    ("r_factor", "R"), ("mos_cqe", "MOS-CQE"), ("not_rated_reason", "Not rated because"))
#: Known columns of the network event table.
NETWORK_EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("type", "Type"), ("first_seq", "First seq"), ("last_seq", "Last seq"),
    ("start_s", "Start s"), ("end_s", "End s"))


def _environment() -> Any:
    return template_environment(
        "validator.report", missing="the HTML report needs jinja2: "
        "pip install jinja2 (a dependency of audio-stream-validator)")


def template_environment(package: str, *, missing: str) -> Any:
    """The Jinja2 environment for the templates shipped in ``package``/templates.

    Autoescaping on, undefined names an error, and the ``num``/``fixed`` number
    filters. Built once per package and process, so templates compile once
    (batch workers render many).

    Parameters
    ----------
    package : str
        A package holding a ``templates`` folder, e.g. ``"validator.report"``.
    missing : str
        The message when jinja2 cannot be imported.

    Raises
    ------
    MissingDependencyError
        If jinja2 is not installed.
    """
    try:
        import jinja2
    except ImportError as exc:
        raise MissingDependencyError(missing) from exc
    return _build_environment(jinja2, package)


@functools.lru_cache(maxsize=4)
def _build_environment(jinja2: Any, package: str) -> Any:
    env = jinja2.Environment(loader=jinja2.PackageLoader(package, "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True,
                             bytecode_cache=_bytecode_cache(jinja2))
    env.filters["num"] = fmt_num
    env.filters["fixed"] = fmt_fixed
    return env


def _bytecode_cache(jinja2: Any) -> Any:
    """Jinja2's own cache of compiled templates, in its per-user temporary folder, or None.

    Compiling the report's templates is about 0.1 s of every cold run; the
    cache keys each template by a checksum of its source, so an edited or
    upgraded template is compiled again. A cache that cannot be read or
    written is skipped: the report never depends on it.
    """

    class QuietCache(jinja2.FileSystemBytecodeCache):  # type: ignore[misc,name-defined]
        def load_bytecode(self, bucket: Any) -> None:
            with contextlib.suppress(OSError, EOFError, ValueError):
                super().load_bytecode(bucket)

        def dump_bytecode(self, bucket: Any) -> None:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    try:
        return QuietCache()
    except (OSError, RuntimeError):  # no safe temporary folder
        return None


def fmt_num(x: Any, decimals: int = 3) -> str:
    """A number for a table cell: ``-`` for None or NaN, ints as ints, no trailing zeros.

    Parameters
    ----------
    x : int, float or None
    decimals : int
        Decimals kept at most.

    Returns
    -------
    str
        :func:`validator.report.numbers.format_number` of ``x``.
    """
    return format_number(x, decimals=decimals)


def fmt_fixed(x: Any, decimals: int = 2) -> str:
    """A number with a fixed count of decimals (columns line up); ``-`` for None or NaN."""
    if x is None:
        return "-"
    x = float(x)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _event_rows(result: ValidationResult, zoom_ids: dict[int, str]) -> list[dict[str, Any]]:
    rows = []
    for i, e in enumerate(result.events):
        rows.append({
            "index": i, "id": f"event-{i}", "type": e.type, "color": event_color(e.type),
            "channel": e.channel, "start_s": e.start_s, "duration_ms": e.duration_s * 1e3,
            "level_db": e.level_db, "description": e.description, "cause": e.cause,
            "start_sample": e.start_sample, "zoom_id": zoom_ids.get(i)})
    return rows


def render_html(result: ValidationResult, *, max_zooms: int = DEFAULT_MAX_ZOOMS,
                silence_threshold_dbfs: float = DEFAULT_SILENCE_THRESHOLD_DBFS,
                generated_at: str | None = None) -> str:
    """The HTML report of a result: one self-contained page.

    Parameters
    ----------
    result : ValidationResult
    max_zooms : int
        Zoomed plots shown at most, for the first events that have one in
        ``result.plots.zooms`` (the pipeline keeps ``zoom_events`` of them).
    silence_threshold_dbfs : float
        The silence threshold drawn on the level plots, dBFS (the profile's
        ``[detectors] silence_threshold_dbfs``).
    generated_at : str, optional
        Timestamp shown (default: now, UTC, ISO 8601).

    Returns
    -------
    str
        The page (UTF-8 text). It fetches nothing: styles, scripts, uPlot and the
        plot data are inline; the browser draws the plots when the page loads.

    Raises
    ------
    MissingDependencyError
        If jinja2 is not installed.
    """
    env = _environment()
    from markupsafe import Markup  # installed with jinja2

    r = result
    counts = Counter(e.type for e in r.events)
    known = [t for t in EVENT_TYPES if counts.get(t)]
    order = known + sorted(t for t in counts if t not in EVENT_TYPES)
    count_rows = [{"type": t, "n": counts[t], "color": event_color(t)} for t in order]

    zooms = [z for z in (r.plots.zooms if r.plots else ())
             if 0 <= z.event_index < len(r.events)][:max(max_zooms, 0)]
    zoom_ids = {z.event_index: f"zoom-{z.event_index}" for z in zooms}
    doc = plots.plot_document(r, zooms, silence_threshold_dbfs=silence_threshold_dbfs)
    drawn = {f["id"] for f in doc["figures"]}
    zoom_cards = []
    for z in zooms:
        e = r.events[z.event_index]
        zoom_cards.append({"id": zoom_ids[z.event_index], "index": z.event_index,
                           "event_id": f"event-{z.event_index}", "type": e.type,
                           "color": event_color(e.type), "channel": e.channel,
                           "start_s": e.start_s, "duration_ms": e.duration_s * 1e3,
                           "level_db": e.level_db, "description": e.description})
    tones = {cp.channel: cp.tone_hz for cp in (r.plots.channels if r.plots else ())}
    sections = [{"index": c.index, "n_events": sum(e.channel == c.index for e in r.events),
                 "tone_hz": tones.get(c.index),
                 **{kind: f"{kind}-ch{c.index}" in drawn
                    for kind in ("overview", "level", "residual", "spectrum")}}
                for c in r.channels]
    rtp = None if r.rtp is None else _rtp_card(r.rtp)
    quality = None
    if r.quality is not None:
        quality = {"q": r.quality, "plot": "quality-plot" in drawn,
                   "colors": dict(plots.QUALITY_COLORS), "labels": dict(plots.QUALITY_LABELS),
                   "missing_pct": 100.0 * (1.0 - r.quality.covered_fraction)}
    asset = plots.assets()
    failed = [k for k in r.checks if not k.passed]
    return env.get_template("report.html.j2").render(
        r=r, tool={"name": TOOL_NAME, "version": __version__},
        generated_at=generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        received_name=_basename(r.input.received), reference_name=_basename(r.input.reference),
        counts=count_rows, failed_checks=failed, events=_event_rows(r, zoom_ids),
        zooms=zoom_cards, max_zooms=max_zooms, n_zoomable=len(r.plots.zooms) if r.plots else 0,
        channels=sections, rtp=rtp, quality=quality,
        silence_threshold_dbfs=silence_threshold_dbfs,
        event_colors={t: event_color(t) for t in (*EVENT_TYPES, *order)},
        # safe: the JSON escapes < > & (script_json), and the assets are checked not
        # to close their element (plots.assets)
        plot_json=Markup(plots.script_json(doc)),
        assets={k: Markup(v) for k, v in asset.items()})


def _rtp_card(section: RtpSection) -> dict[str, Any]:
    """The RTP section's stream table, network events and the legend of its plot.

    The tables lay out the section's JSON document (:meth:`RtpSection.to_dict`),
    so that a field added to the contract shows up without a change here.
    """
    doc = section.to_dict()
    return {"ssrc": section.ssrc,
            "streams": _table(doc["streams"], STREAM_COLUMNS),
            "network_events": _table(doc["network_events"], NETWORK_EVENT_COLUMNS),
            "network_counts": plots.network_counts(doc)}


def _table(rows: Any, known: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Rows of dicts as a table of the known columns present; other keys as extras per row."""
    rows = [dict(row) for row in rows]
    present = {k for row in rows for k in row}
    cols = [(k, label) for k, label in known if k in present]
    numeric = {k: all(isinstance(row.get(k), int | float) and not isinstance(row.get(k), bool)
                      or row.get(k) is None for row in rows) for k, _ in cols}
    shown = {k for k, _ in cols}
    return {"columns": [{"key": k, "label": label, "numeric": numeric[k]} for k, label in cols],
            "rows": [[{"value": _cell(row.get(k)), "numeric": numeric[k]} for k, _ in cols]
                     for row in rows],
            "extras": [[(k, _cell(v)) for k, v in row.items() if k not in shown]
                       for row in rows]}


def _cell(v: Any) -> Any:
    """A table value: numbers stay numbers (formatted by the template), lists are joined."""
    if isinstance(v, list | tuple):
        return ", ".join(fmt_num(x) if isinstance(x, int | float) else str(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={x}" for k, x in v.items())
    return v


def _basename(path: str) -> str:
    return os.path.basename(str(path).rstrip("/\\")) or str(path)


def write_html(result: ValidationResult, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write the HTML report atomically; returns the path.

    Parameters
    ----------
    result : ValidationResult
    path : str or Path
        Destination; its folder is created if needed.
    **kwargs
        Passed to :func:`render_html` (``max_zooms``, ``silence_threshold_dbfs``).

    Returns
    -------
    Path
    """
    return write_text_atomic(path, render_html(result, **kwargs))
