"""Plots of the HTML report: the decimated plot data, laid out for the page's script.

The page draws its figures in the browser with the vendored uPlot
(``validator/report/vendor/``, MIT) and its own script
(``validator/report/static/plots.js``), from one JSON document embedded in the
page. This module builds that document from data the pipeline already
decimated (``result.traces``, ``result.plots``, ``result.rtp``,
``result.quality``): it names each figure after its placeholder's id, rounds
the numbers so that the page stays small, and gives the colours and axis
labels. It measures nothing, and no plotting library is imported in Python.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

from validator.result import (
    EVENT_TYPES,
    ChannelPlot,
    Event,
    EventZoom,
    QualityResult,
    Trace,
    ValidationResult,
)

#: One colour per event type, shared by the plots and the page's CSS.
EVENT_COLORS: Mapping[str, str] = {
    "dropout": "#d92d20",
    "glitch": "#e8710a",
    "level": "#7a5af8",
    "clipping": "#c11574",
    "silence": "#0e9384",
    "warp": "#4d7c0f",
}
#: Colour of an event type not listed above.
OTHER_COLOR = "#667085"
RECEIVED_COLOR = "#1f5fbf"
EXPECTED_COLOR = "#98a2b3"
RESIDUAL_COLOR = "#b54708"
THRESHOLD_COLOR = "#667085"
JITTER_COLOR = "#344054"
#: The tone's line on the spectrum, and its harmonics'.
TONE_COLOR = "#12b76a"
HARMONIC_COLOR = "#a6a6a6"
#: Network event colours of the RTP plot (loss first).
NETWORK_COLORS: Mapping[str, str] = {
    "loss": "#d92d20",
    "lost": "#d92d20",
    "duplicate": "#7a5af8",
    "reorder": "#e8710a",
    "reordered": "#e8710a",
    "late": "#c11574",
}
#: Colour of each quality metric's window scores.
QUALITY_COLORS: Mapping[str, str] = {"visqol": "#1f5fbf", "pesq": "#d92d20"}
QUALITY_LABELS: Mapping[str, str] = {"visqol": "ViSQOL v3", "pesq": "PESQ"}
#: Floor of level plots, dB (digital zeros read -120).
FLOOR_DB = -125.0
#: Decimals kept in the page: amplitudes in full-scale units (1e-4 FS is -80 dBFS,
#: below a pixel), levels in dB, times in s, frequencies in Hz.
AMPLITUDE_DECIMALS = 4
DB_DECIMALS = 2
TIME_DECIMALS = 5
HZ_DECIMALS = 1
#: The x axis of every timeline figure (they share it).
TIME_LABEL = "time on the received file, s"
#: Inlined assets: (package folder, file name).
_ASSETS = {"uplot_js": ("vendor", "uPlot.iife.min.js"), "uplot_css": ("vendor", "uPlot.min.css"),
           "uplot_license": ("vendor", "LICENSE.uPlot"), "plots_js": ("static", "plots.js")}


def event_color(kind: str) -> str:
    """The colour of an event type (hex)."""
    return EVENT_COLORS.get(kind, OTHER_COLOR)


def rounded(values: Iterable[float | None], decimals: int, *,
            floor: float | None = None) -> dict[str, Any]:
    """Numbers for the page: rounded, clipped at ``floor`` if given, as whole multiples.

    Parameters
    ----------
    values : iterable of float or None
    decimals : int
        Decimals kept (0 to 15).
    floor : float, optional
        Values below (including -inf) are drawn at the floor.

    Returns
    -------
    dict
        ``{"decimals": d, "ints": [k, ...]}``: each number is ``k / 10**d``, the
        double that ``np.round(v, d)`` gives; None (a gap in the plot) for NaN,
        a missing value, or one beyond 2**53 units (no audio figure comes
        near). JSON writes whole numbers three times faster than floats, in a
        third less space; the page's script and :func:`load_plot_json` divide
        them back into the same doubles (a correctly rounded division by an
        exact power of ten).
    """
    import numpy as np

    a = np.asarray(list(values), dtype=np.float64)  # None reads as NaN
    if floor is not None:
        a = np.where(a < floor, floor, a)  # -inf too; NaN stays NaN
    k = np.rint(a * 10.0 ** decimals)  # (np.round's own steps: k / 10**d is its result)
    finite = np.abs(k) <= 2.0 ** 53  # (whole in a double and in JavaScript; not NaN)
    ints: list[int | None] = np.where(finite, k, 0).astype(np.int64).tolist()
    if not finite.all():
        ints = [v if ok else None for v, ok in zip(ints, finite.tolist(), strict=True)]
    return {"decimals": int(decimals), "ints": ints}


def load_plot_json(text: str) -> Any:
    """A page's plot data as its script reads it: every :func:`rounded` array as numbers.

    Parameters
    ----------
    text : str
        The JSON text of the page's ``#plot-data`` element.

    Returns
    -------
    dict
    """
    def numbers(d: dict[str, Any]) -> Any:
        if set(d) == {"decimals", "ints"}:
            scale = 10.0 ** d["decimals"]
            return [None if k is None else k / scale for k in d["ints"]]
        return d

    return json.loads(text, object_hook=numbers)


def plot_document(result: ValidationResult, zooms: Sequence[EventZoom], *,
                  silence_threshold_dbfs: float) -> dict[str, Any]:
    """The JSON document the page's script draws: shared data and one entry per figure.

    Parameters
    ----------
    result : ValidationResult
    zooms : sequence of EventZoom
        The zooms the page shows (``result.plots.zooms``, at most ``max_zooms``).
    silence_threshold_dbfs : float
        Drawn on the level plots, dBFS.

    Returns
    -------
    dict
        ``duration_s``; ``events`` as ``[start_s, end_s, type index, channel]`` with
        ``types`` and ``type_colors``; ``colors``; ``figures``: a list of dicts, each
        with the ``id`` of its placeholder on the page, a ``kind`` and its data.
    """
    r = result
    types = [t for t in EVENT_TYPES if any(e.type == t for e in r.events)]
    types += sorted({e.type for e in r.events} - set(types))
    index = {t: i for i, t in enumerate(types)}
    figures: list[dict[str, Any]] = []
    channel_plots = {cp.channel: cp for cp in (r.plots.channels if r.plots else ())}
    traces = {t.channel: t for t in r.traces}
    for c in r.channels:
        figures += channel_figures(c.index, channel_plots.get(c.index), traces.get(c.index),
                                   silence_threshold_dbfs=silence_threshold_dbfs)
    figures += [zoom_figure(z, r.events[z.event_index]) for z in zooms]
    if r.rtp is not None:
        figures.append(rtp_figure(r.rtp.to_dict()))
    if r.quality is not None and r.quality.windows:
        figures.append(quality_figure(r.quality))
    return {
        "duration_s": r.input.duration_s,
        "types": types, "type_colors": [event_color(t) for t in types],
        "events": [[round(e.start_s, TIME_DECIMALS), round(e.end_s, TIME_DECIMALS),
                    index[e.type], e.channel] for e in r.events],
        "colors": {"received": RECEIVED_COLOR, "expected": EXPECTED_COLOR,
                   "residual": RESIDUAL_COLOR, "threshold": THRESHOLD_COLOR,
                   "jitter": JITTER_COLOR, "tone": TONE_COLOR, "harmonic": HARMONIC_COLOR},
        "time_label": TIME_LABEL,
        "figures": figures,
    }


def channel_figures(channel: int, cp: ChannelPlot | None, trace: Trace | None, *,
                    silence_threshold_dbfs: float) -> list[dict[str, Any]]:
    """A channel's figures: waveform overview, level, residual and spectrum (those with data).

    Parameters
    ----------
    channel : int
    cp : ChannelPlot or None
        Envelope bins (min/max per bin, FS) and spectra (Hz, dB FS).
    trace : Trace or None
        Levels (dBFS) and residual (dB FS) every ``hop_s``.
    silence_threshold_dbfs : float

    Returns
    -------
    list of dict
        Ids ``overview-ch<n>``, ``level-ch<n>``, ``residual-ch<n>``, ``spectrum-ch<n>``.
        Series on a regular time axis carry ``x0`` (first point, s) and ``dx`` (step, s).
    """
    figs: list[dict[str, Any]] = []
    if cp is not None:
        n = len(cp.received_min)
        expected = len(cp.expected_min) == n
        figs.append({
            "id": f"overview-ch{channel}", "kind": "overview", "channel": channel,
            "x0": 0.5 * cp.envelope_hop_s, "dx": cp.envelope_hop_s,  # bin centres
            "received_min": rounded(cp.received_min, AMPLITUDE_DECIMALS),
            "received_max": rounded(cp.received_max, AMPLITUDE_DECIMALS),
            "expected_min": rounded(cp.expected_min, AMPLITUDE_DECIMALS) if expected else [],
            "expected_max": rounded(cp.expected_max, AMPLITUDE_DECIMALS) if expected else [],
            "y_label": "amplitude, FS"})
    if trace is not None and trace.received_dbfs:
        same = len(trace.expected_dbfs) == len(trace.received_dbfs)
        figs.append({
            "id": f"level-ch{channel}", "kind": "level", "channel": channel,
            "x0": 0.0, "dx": trace.hop_s,
            "received": rounded(trace.received_dbfs, DB_DECIMALS, floor=FLOOR_DB),
            "expected": rounded(trace.expected_dbfs, DB_DECIMALS, floor=FLOOR_DB) if same else [],
            "threshold_dbfs": silence_threshold_dbfs,
            "threshold_label": f"silence threshold {silence_threshold_dbfs:g} dBFS",
            "floor_db": FLOOR_DB, "y_label": "level, dBFS"})
    if trace is not None and trace.residual_db:
        figs.append({
            "id": f"residual-ch{channel}", "kind": "residual", "channel": channel,
            "x0": 0.0, "dx": trace.hop_s,
            "residual": rounded(trace.residual_db, DB_DECIMALS, floor=FLOOR_DB),
            "floor_db": FLOOR_DB, "y_label": "residual, dB FS"})
    if cp is not None and cp.spectrum_hz:
        figs.append({
            "id": f"spectrum-ch{channel}", "kind": "spectrum", "channel": channel,
            "hz": rounded(cp.spectrum_hz, HZ_DECIMALS),
            "received": rounded(cp.received_spectrum_db, DB_DECIMALS),
            "expected": rounded(cp.expected_spectrum_db, DB_DECIMALS),
            "tone_hz": cp.tone_hz, "x_label": "frequency, Hz", "y_label": "magnitude, dB FS"})
    return figs


def zoom_figure(zoom: EventZoom, event: Event) -> dict[str, Any]:
    """One event's zoom: received and expected samples, x in ms from the event's start.

    Parameters
    ----------
    zoom : EventZoom
    event : Event
        The zoomed event (``result.events[zoom.event_index]``).

    Returns
    -------
    dict
        Id ``zoom-<event index>``; ``x0_ms``, ``dx_ms`` (a drawing coordinate, not a
        measurement), the samples (FS) and the event's span ``span_ms`` in its colour.
    """
    t0 = event.start_s
    return {"id": f"zoom-{zoom.event_index}", "kind": "zoom", "channel": zoom.channel,
            "x0_ms": round((zoom.start_s - t0) * 1e3, 6), "dx_ms": zoom.step_s * 1e3,
            "received": rounded(zoom.received, AMPLITUDE_DECIMALS),
            "expected": rounded(zoom.expected, AMPLITUDE_DECIMALS),
            "span_ms": [0.0, round(max(event.end_s - t0, zoom.step_s) * 1e3, 6)],
            "color": event_color(event.type),
            "x_label": "ms from the event's start", "y_label": "amplitude, FS"}


def network_counts(rtp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Network event types of the RTP plot, in order of appearance: type, count, colour."""
    counts: dict[str, int] = {}
    for ev in rtp.get("network_events") or []:
        kind = str(ev.get("type", "event"))
        counts[kind] = counts.get(kind, 0) + 1
    return [{"type": k, "n": n, "color": NETWORK_COLORS.get(k, OTHER_COLOR)}
            for k, n in counts.items()]


def rtp_figure(rtp: Mapping[str, Any]) -> dict[str, Any]:
    """Network events (loss, duplicates, reordering) and jitter on the audio's time axis.

    Parameters
    ----------
    rtp : mapping
        ``result.rtp.to_dict()``: ``network_events[] {type, start_s, end_s, ...}`` and
        ``jitter {t_s[], jitter_ms[]}``.

    Returns
    -------
    dict
        Id ``rtp-plot``; the jitter series and ``spans`` as ``[start_s, end_s, kind
        index]`` with ``kinds`` and ``kind_colors``.
    """
    jit = rtp.get("jitter") or {}
    t, j = list(jit.get("t_s") or []), list(jit.get("jitter_ms") or [])
    if len(t) != len(j):
        t, j = [], []
    kinds = [c["type"] for c in network_counts(rtp)]
    spans = []
    for ev in rtp.get("network_events") or []:
        a = float(ev.get("start_s") or 0.0)
        b = float(ev.get("end_s") if ev.get("end_s") is not None else a)
        spans.append([round(a, TIME_DECIMALS), round(max(a, b), TIME_DECIMALS),
                      kinds.index(str(ev.get("type", "event")))])
    return {"id": "rtp-plot", "kind": "rtp", "t_s": rounded(t, TIME_DECIMALS),
            "jitter_ms": rounded(j, 3), "spans": spans, "kinds": kinds,
            "kind_colors": [NETWORK_COLORS.get(k, OTHER_COLOR) for k in kinds],
            "y_label": "jitter, ms"}


def quality_figure(quality: QualityResult) -> dict[str, Any]:
    """Sliding-window MOS-LQO of each metric, at each window's span on the received file.

    Parameters
    ----------
    quality : QualityResult

    Returns
    -------
    dict
        Id ``quality-plot``; window ``start_s``/``end_s``; per metric its label,
        colour, window scores (None: not computed) and whole-capture score.
    """
    w = quality.windows
    metrics = []
    for s in quality.scores:
        whole = "not computed" if s.mos_lqo is None else f"{s.mos_lqo:.2f}"
        metrics.append({
            "metric": s.metric, "color": QUALITY_COLORS.get(s.metric, OTHER_COLOR),
            "label": f"{QUALITY_LABELS.get(s.metric, s.metric)} {s.mode} (whole: {whole})",
            "whole_label": f"{QUALITY_LABELS.get(s.metric, s.metric)} whole capture",
            "values": rounded((getattr(x, s.metric) for x in w), 3), "whole": s.mos_lqo})
    return {"id": "quality-plot", "kind": "quality",
            "start_s": rounded((x.start_s for x in w), TIME_DECIMALS),
            "end_s": rounded((x.end_s for x in w), TIME_DECIMALS),
            "metrics": metrics, "y_label": "MOS-LQO"}


def script_json(doc: Any) -> str:
    r"""JSON text safe inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` are written as ``\u003c``, ``\u003e``, ``\u0026``, so no
    string in the data can close the script element (``</script``) or open a
    comment (``<!--``); ``JSON.parse`` reads them back unchanged.

    Parameters
    ----------
    doc : JSON-serialisable
        No NaN nor infinity (see :func:`rounded`).

    Returns
    -------
    str
    """
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


@functools.lru_cache(maxsize=1)
def assets() -> dict[str, str]:
    """The inlined script and style: uPlot's JS, CSS and licence, and the page's plot script.

    Returns
    -------
    dict
        ``uplot_js``, ``uplot_css``, ``uplot_license``, ``plots_js``: file texts,
        read once per process from the package.

    Raises
    ------
    RuntimeError
        If a file could end its ``<script>`` or ``<style>`` element early (or late).
    """
    base = resources.files("validator.report")
    out = {}
    for key, (folder, name) in _ASSETS.items():
        text = base.joinpath(folder).joinpath(name).read_text(encoding="utf-8")
        # "<!--" then "<script" would keep the element open past its "</script>"
        closes = ("</script", "</style", "<!--", "<script") + (
            ("*/",) if key == "uplot_license" else ())
        if any(c in text.lower() for c in closes):
            raise RuntimeError(f"{folder}/{name} cannot be inlined in the page as it is")
        out[key] = text
    return out
