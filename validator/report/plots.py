"""Plots of the HTML report: matplotlib (Agg) figures as compact inline SVG.

Every function draws data the pipeline already decimated (``result.traces``,
``result.plots``) and returns one ``<svg>`` element as text, ready to embed in
an HTML page: no XML prolog, no metadata, text as ``<text>`` (the page's font),
path coordinates rounded to 0.1 pt, and element ids made unique per figure
so many figures can share one page. Nothing here measures anything.

matplotlib is imported on first use only (``pip install
dependencies, imported on first use); importing this module is cheap.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from validator.errors import MissingDependencyError
from validator.result import ChannelPlot, Event, EventZoom, QualityResult, Trace

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

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
#: Figure width, inches; with the fixed margins below every time axis lines up.
WIDTH_IN = 11.0
#: Left and right figure margins, inches (time axes of all figures align).
LEFT_IN = 0.75
RIGHT_IN = 0.2
#: Floor of level plots, dB (digital zeros read -120).
FLOOR_DB = -125.0

P = ParamSpec("P")
R = TypeVar("R")


def _label(text: str) -> str:
    """Legend text taken literally (a ``$`` would start matplotlib's mathtext)."""
    return text.replace("$", r"\$")


def event_color(kind: str) -> str:
    """The colour of an event type (hex)."""
    return EVENT_COLORS.get(kind, OTHER_COLOR)


def _mpl() -> Any:
    """The matplotlib module, imported on first use (pyplot is never needed nor touched)."""
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401
        from matplotlib.backends import backend_agg  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            "the HTML report needs matplotlib and jinja2: "
            "pip install jinja2 matplotlib (dependencies of audio-stream-validator)") from exc
    return matplotlib


def _styled(func: Callable[P, R]) -> Callable[P, R]:
    """Run a drawing function under this report's matplotlib style (rcParams)."""
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _mpl().rc_context(_RC):
            return func(*args, **kwargs)
    return wrapper


def _new_figure(width_in: float, height_in: float) -> Figure:
    """A Figure on an Agg canvas, outside pyplot (no global state, no GUI backend)."""
    mpl = _mpl()
    fig = mpl.figure.Figure(figsize=(width_in, height_in))
    mpl.backends.backend_agg.FigureCanvasAgg(fig)
    return fig


_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "audio-stream-validator",
    "font.size": 9.0,
    "font.family": "sans-serif",
    "axes.edgecolor": "#d0d5dd",
    "axes.linewidth": 0.8,
    "axes.labelcolor": "#344054",
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.titlecolor": "#101828",
    "axes.titlelocation": "left",
    "axes.grid": True,
    "grid.color": "#eaecf0",
    "grid.linewidth": 0.6,
    "xtick.color": "#475467",
    "ytick.color": "#475467",
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "legend.frameon": False,
    "legend.fontsize": 8.0,
    "path.simplify": True,
    "path.simplify_threshold": 0.5,
    "agg.path.chunksize": 10000,
}


def _figure(height_in: float) -> tuple[Figure, Axes]:
    fig = _new_figure(WIDTH_IN, height_in)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=LEFT_IN / WIDTH_IN, right=1 - RIGHT_IN / WIDTH_IN,
                        bottom=0.42 / height_in, top=1 - 0.32 / height_in)
    return fig, ax


_PATH_D = re.compile(r' d="([^"]*)"')
_ID = re.compile(r' id="([^"]+)"')
_REF = re.compile(r'(url\(#|xlink:href="#|href="#)([^)"]+)')


def _tenths(t: int) -> str:
    """A coordinate in tenths of a point, as short SVG number text (12 -> "1.2", 5 -> ".5")."""
    sign = "-" if t < 0 else ""
    whole, frac = divmod(abs(t), 10)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole if whole else ''}.{frac}"


def _join(nums: list[str]) -> str:
    out = nums[0]
    for n in nums[1:]:
        out += n if n.startswith("-") else " " + n
    return out


_TOKEN = re.compile(r"[A-Za-z]|-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|-?\.\d+")


def compact_path(d: str) -> str:
    """Shorter SVG path data: coordinates to 0.1 pt, line-tos relative to the last point.

    Paths of only ``M``, ``L`` and ``z`` (lines, fills, bars) become
    ``M x y l dx dy dx dy ... z``, computed from coordinates rounded first, so
    the rounding does not accumulate; consecutive steps in the same direction
    merge into one (lossless at that resolution). Other paths (curves) are only
    rounded.
    """
    tokens = _TOKEN.findall(d)
    if any(t.isalpha() and t not in "MLz" for t in tokens):
        return " ".join(t if t.isalpha() else _tenths(round(float(t) * 10)) for t in tokens)
    out: list[str] = []
    cur = start = (0, 0)
    deltas: list[tuple[int, int]] = []

    def flush() -> None:
        if deltas:
            out.append("l" + _join([_tenths(v) for d in deltas for v in d]))
            deltas.clear()

    i = 0
    cmd = ""
    while i < len(tokens):
        tok = tokens[i]
        if tok.isalpha():
            cmd = tok
            i += 1
            if cmd == "z":
                flush()
                out.append("z")
                cur = start
            continue
        x, y = round(float(tokens[i]) * 10), round(float(tokens[i + 1]) * 10)
        i += 2
        if cmd == "M":
            flush()
            out.append("M" + _join([_tenths(x), _tenths(y)]))
            start = cur = (x, y)
            cmd = "L"  # further pairs after M are line-tos
        else:
            dx, dy = x - cur[0], y - cur[1]
            if deltas and dx * deltas[-1][1] == dy * deltas[-1][0] \
                    and dx * deltas[-1][0] + dy * deltas[-1][1] >= 0:
                deltas[-1] = (deltas[-1][0] + dx, deltas[-1][1] + dy)  # same direction: merge
            elif dx or dy:
                deltas.append((dx, dy))
            cur = (x, y)
    flush()
    return "".join(out)


def _compact_path(m: re.Match[str]) -> str:
    return f' d="{compact_path(m.group(1))}"'


def to_svg(fig: Figure) -> str:
    """One figure as a compact inline ``<svg>`` element (prolog and metadata removed).

    Parameters
    ----------
    fig : matplotlib.figure.Figure

    Returns
    -------
    str
        ``<svg ...>...</svg>`` whose ids are unique on the page.
    """
    buf = io.StringIO()
    with _mpl().rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None},
                    facecolor="white")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = _PATH_D.sub(_compact_path, svg)
    referenced = {m.group(2) for m in _REF.finditer(svg)}
    # ids unique on the page, the same for the same figure (no global counter)
    prefix = "f" + hashlib.sha1(svg.encode("utf-8"), usedforsecurity=False).hexdigest()[:10] + "-"

    def fix_id(m: re.Match[str]) -> str:
        return f' id="{prefix}{m.group(1)}"' if m.group(1) in referenced else ""

    svg = _ID.sub(fix_id, svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)
    svg = re.sub(r">\s+<", "><", svg)
    svg = svg.replace("<svg ", '<svg class="plot" role="img" preserveAspectRatio="xMinYMin meet" ',
                      1)
    return svg.strip()




_PREFIX = re.compile(r"(?<=[\"#])f[0-9a-f]{10}-")


def with_id_prefix(svg: str, prefix: str) -> str:
    """The same SVG with its ids (and references to them) renamed to start with ``prefix``.

    :func:`to_svg` names ids after the figure's content; a page that shows the
    same figure twice gives each copy its own prefix so every id stays unique.
    """
    return _PREFIX.sub(prefix, svg)


def _time_axis(ax: Axes, duration_s: float) -> None:
    ax.set_xlim(0.0, max(duration_s, 1e-3))
    ax.set_xlabel("time on the received file, s", labelpad=2)
    ax.margins(x=0)


def _shade_events(ax: Axes, events: Sequence[Event], *, alpha: float = 0.22,
                  marks: bool = True) -> None:
    """Events as coloured spans, plus a tick at the top so short ones stay visible."""
    by_type: dict[str, list[Event]] = {t: [] for t in EVENT_COLORS}  # legend in type order
    for e in events:
        by_type.setdefault(e.type, []).append(e)
    by_type = {t: evs for t, evs in by_type.items() if evs}
    trans = ax.get_xaxis_transform()
    for kind, evs in by_type.items():
        color = event_color(kind)
        ax.broken_barh([(e.start_s, max(e.end_s - e.start_s, 0.0)) for e in evs], (0, 1),
                       transform=trans, facecolors=color, alpha=alpha, linewidth=0, zorder=0.5)
        # a hairline at each start: an event shorter than a pixel still shows
        ax.vlines([e.start_s for e in evs], 0, 1, transform=trans, colors=color,
                  linewidth=0.7, alpha=0.45 if marks else 0.25, zorder=0.6)
        if marks:
            ax.scatter([e.start_s for e in evs], [0.985] * len(evs), transform=trans,
                       marker="v", s=22, color=color, linewidths=0, zorder=4, clip_on=False,
                       label=_label(f"{kind} ({len(evs)})"))


def _legend(ax: Axes, **kw: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=8, borderaxespad=0.2,
                  handlelength=1.4, columnspacing=1.2, **kw)


@_styled
def overview_svg(cp: ChannelPlot, events: Sequence[Event], duration_s: float) -> str:
    """Received waveform envelope over the whole capture, expected behind it, events shaded.

    Parameters
    ----------
    cp : ChannelPlot
        Envelope bins (min/max per bin, full-scale units).
    events : sequence of Event
        This channel's events.
    duration_s : float
        Length of the received file, s (the time axis).

    Returns
    -------
    str
        An inline ``<svg>``.
    """
    import numpy as np

    fig, ax = _figure(2.5)
    n = len(cp.received_min)
    t = (np.arange(n) + 0.5) * cp.envelope_hop_s  # bin centres
    if len(cp.expected_min) == n and n:
        ax.fill_between(t, cp.expected_min, cp.expected_max, color=EXPECTED_COLOR,
                        alpha=0.6, linewidth=0, label="expected", zorder=1)
    if n:
        ax.fill_between(t, cp.received_min, cp.received_max, color=RECEIVED_COLOR, alpha=0.75,
                        linewidth=0, label="received", zorder=2)
    _shade_events(ax, events)
    _time_axis(ax, duration_s)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("amplitude, FS")
    _legend(ax)
    return to_svg(fig)


@_styled
def level_svg(trace: Trace, events: Sequence[Event], duration_s: float, *,
              silence_threshold_dbfs: float) -> str:
    """Received and expected level over time (dBFS) with the silence threshold drawn.

    Parameters
    ----------
    trace : Trace
        10 ms (or coarser) levels of one channel.
    events : sequence of Event
        This channel's events, shaded.
    duration_s : float
        Length of the received file, s.
    silence_threshold_dbfs : float
        Drawn as a dashed line.

    Returns
    -------
    str
    """
    import numpy as np

    fig, ax = _figure(2.3)
    t = np.arange(len(trace.received_dbfs)) * trace.hop_s
    if len(trace.expected_dbfs) == len(t):
        ax.step(t, np.maximum(trace.expected_dbfs, FLOOR_DB), where="post",
                color=EXPECTED_COLOR, linewidth=1.6, label="expected", zorder=2)
    ax.step(t, np.maximum(trace.received_dbfs, FLOOR_DB), where="post", color=RECEIVED_COLOR,
            linewidth=0.9, label="received", zorder=3)
    ax.axhline(silence_threshold_dbfs, color=THRESHOLD_COLOR, linewidth=0.9, linestyle=(0, (4, 3)),
               label=f"silence threshold {silence_threshold_dbfs:g} dBFS", zorder=1)
    _shade_events(ax, events, marks=False)
    _time_axis(ax, duration_s)
    ax.set_ylim(_db_floor(trace.received_dbfs, trace.expected_dbfs,
                          below=silence_threshold_dbfs - 10), 6.0)
    ax.set_ylabel("level, dBFS")
    _legend(ax)
    return to_svg(fig)


def _db_floor(*series: Sequence[float], below: float) -> float:
    """Bottom of a dB axis: the lowest point shown, never above ``below`` nor under the floor."""
    low = min((min(s) for s in series if len(s)), default=below)
    low = low if low == low else below  # NaN
    return max(min(low - 5.0, below), FLOOR_DB)


@_styled
def residual_svg(trace: Trace, events: Sequence[Event], duration_s: float) -> str:
    """Residual (received minus expected) level over time, dB re full scale.

    Parameters
    ----------
    trace : Trace
    events : sequence of Event
        This channel's events, shaded.
    duration_s : float

    Returns
    -------
    str
    """
    import numpy as np

    fig, ax = _figure(2.1)
    t = np.arange(len(trace.residual_db)) * trace.hop_s
    ax.step(t, np.maximum(trace.residual_db, FLOOR_DB), where="post", color=RESIDUAL_COLOR,
            linewidth=0.9, label="residual", zorder=3)
    _shade_events(ax, events, marks=False)
    _time_axis(ax, duration_s)
    top = max((max(trace.residual_db) if len(trace.residual_db) else 0.0), -60.0)
    ax.set_ylim(_db_floor(trace.residual_db, below=-80.0), top + 8.0)
    ax.set_ylabel("residual, dB FS")
    return to_svg(fig)


@_styled
def spectrum_svg(cp: ChannelPlot) -> str:
    """Received and expected spectra with the tone and its harmonics marked.

    Parameters
    ----------
    cp : ChannelPlot

    Returns
    -------
    str
    """
    fig, ax = _figure(2.6)
    f = cp.spectrum_hz
    if f:
        ax.plot(f, cp.expected_spectrum_db, color=EXPECTED_COLOR, linewidth=1.6,
                label="expected", zorder=2)
        ax.plot(f, cp.received_spectrum_db, color=RECEIVED_COLOR, linewidth=0.9,
                label="received", zorder=3)
        nyquist = f[-1]
        lo = max(next((x for x in f if x > 0), 1.0), 20.0)
        ax.set_xscale("log")
        ax.set_xlim(lo, nyquist)
        ticks = [t for t in (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
                 if lo <= t <= nyquist]
        ax.set_xticks(ticks, [f"{t // 1000}k" if t >= 1000 else str(t) for t in ticks])
        ax.minorticks_off()
        if cp.tone_hz:
            trans = ax.get_xaxis_transform()
            for k in range(1, 11):
                fk = k * cp.tone_hz
                if fk >= 0.995 * nyquist:
                    break
                ax.axvline(fk, color="#12b76a" if k == 1 else "#a6a6a6", linewidth=0.8,
                           linestyle="-" if k == 1 else (0, (2, 2)), zorder=1)
                ax.text(fk, 1.01, f"{cp.tone_hz:g} Hz" if k == 1 else f"H{k}",
                        transform=trans, ha="center", va="bottom", fontsize=7.5,
                        color="#027a48" if k == 1 else "#667085")
        low = min(min(cp.received_spectrum_db, default=-150.0),
                  min(cp.expected_spectrum_db, default=-150.0))
        ax.set_ylim(max(low - 5.0, -180.0), 10.0)
    ax.set_xlabel("frequency, Hz", labelpad=2)
    ax.set_ylabel("magnitude, dB FS")
    ax.legend(loc="upper right")
    fig.subplots_adjust(top=1 - 0.45 / 2.6)
    return to_svg(fig)


@_styled
def zoom_svgs(zooms: Sequence[EventZoom], events: Sequence[Event]) -> list[str]:
    """Reference (expected) and received samples around each event, one small SVG each.

    One figure is reused for all zooms (drawing 50 is then quick).

    Parameters
    ----------
    zooms : sequence of EventZoom
    events : sequence of Event
        ``result.events`` (``zoom.event_index`` indexes it).

    Returns
    -------
    list of str
        One inline ``<svg>`` per zoom, in order.
    """
    import numpy as np

    if not zooms:
        return []
    height = 2.2
    fig = _new_figure(5.4, height)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.13, right=0.98, bottom=0.42 / height, top=1 - 0.12 / height)
    (exp_line,) = ax.plot([], [], color=EXPECTED_COLOR, linewidth=1.8, label="expected",
                          zorder=2)
    (rec_line,) = ax.plot([], [], color=RECEIVED_COLOR, linewidth=0.9, label="received",
                          zorder=3)
    ax.set_xlabel("ms from the event's start", labelpad=2)
    ax.set_ylabel("amplitude, FS")
    out = []
    for z in zooms:
        e = events[z.event_index] if 0 <= z.event_index < len(events) else None
        t0 = e.start_s if e is not None else z.start_s
        # x in ms from the event's start (a drawing coordinate, not a measurement)
        t = (z.start_s - t0 + np.arange(len(z.received)) * z.step_s) * 1e3
        rec_line.set_data(t, z.received)
        exp_line.set_data(t[:len(z.expected)], z.expected[:len(t)])
        span = None
        if e is not None:
            span = ax.axvspan(0.0, max(e.end_s - t0, z.step_s) * 1e3, color=event_color(e.type),
                              alpha=0.18, linewidth=0, zorder=0.5)
        if len(t):
            ax.set_xlim(t[0], t[-1] if len(t) > 1 else t[0] + z.step_s * 1e3)
        peak = max(max(map(abs, z.received), default=0.0),
                   max(map(abs, z.expected), default=0.0), 1e-3)
        ax.set_ylim(-1.15 * peak, 1.15 * peak)
        ax.ticklabel_format(axis="x", useOffset=False)
        out.append(to_svg(fig))
        if span is not None:
            span.remove()
    return out


@_styled
def rtp_svg(rtp: Mapping[str, Any], duration_s: float) -> str:
    """Network events (loss, duplicates, reordering) and jitter on the audio's time axis.

    Parameters
    ----------
    rtp : mapping
        ``result.rtp.to_dict()``: ``network_events[] {type, start_s, end_s, ...}`` and
        ``jitter {t_s[], jitter_ms[]}``.
    duration_s : float
        Length of the received file, s (the same time axis as the audio plots).

    Returns
    -------
    str
    """
    fig, ax = _figure(2.4)
    jit = rtp.get("jitter") or {}
    t, j = list(jit.get("t_s") or []), list(jit.get("jitter_ms") or [])
    if t and len(t) == len(j):
        ax.plot(t, j, color="#344054", linewidth=1.0, label="jitter", zorder=3)
        ax.set_ylim(0.0, max(max(j) * 1.25, 1.0))
    else:
        ax.set_ylim(0.0, 1.0)
    trans = ax.get_xaxis_transform()
    by_type: dict[str, list[tuple[float, float]]] = {}
    for ev in rtp.get("network_events") or []:
        a = float(ev.get("start_s") or 0.0)
        b = float(ev.get("end_s") if ev.get("end_s") is not None else a)
        by_type.setdefault(str(ev.get("type", "event")), []).append((a, max(b - a, 0.0)))
    for kind, spans in by_type.items():
        color = NETWORK_COLORS.get(kind, OTHER_COLOR)
        ax.broken_barh(spans, (0, 1), transform=trans, facecolors=color, alpha=0.25,
                       linewidth=0, zorder=0.5)
        ax.scatter([a for a, _ in spans], [0.985] * len(spans), transform=trans, marker="v",
                   s=22, color=color, linewidths=0, zorder=4, clip_on=False,
                   label=_label(f"{kind} ({len(spans)})"))
    _time_axis(ax, duration_s)
    ax.set_ylabel("jitter, ms")
    _legend(ax)
    return to_svg(fig)


@_styled
def quality_svg(quality: QualityResult, events: Sequence[Event], duration_s: float) -> str:
    """Sliding-window MOS-LQO of each metric on the received timeline, events shaded.

    Each window's score sits at the window's centre, with a horizontal bar over
    the span it covers; windows with no score (``not_computed``) leave a gap.

    Parameters
    ----------
    quality : QualityResult
        Window spans (received timeline, s) and scores, from the pipeline.
    events : sequence of Event
        Every channel's events, shaded.
    duration_s : float
        Length of the received file, s (the shared time axis).

    Returns
    -------
    str
    """
    fig, ax = _figure(2.4)
    labels = {"visqol": "ViSQOL v3", "pesq": "PESQ"}
    for s in quality.scores:
        color = QUALITY_COLORS.get(s.metric, OTHER_COLOR)
        pts = [((w.start_s + w.end_s) / 2, (w.end_s - w.start_s) / 2, getattr(w, s.metric))
               for w in quality.windows]
        xs = [c if v is not None else float("nan") for c, _, v in pts]
        ys = [v if v is not None else float("nan") for _, _, v in pts]
        half = [h for _, h, _ in pts]
        whole = "not computed" if s.mos_lqo is None else f"{s.mos_lqo:.2f}"
        ax.errorbar(xs, ys, xerr=half, color=color, marker="o", markersize=3.5, linewidth=1.1,
                    elinewidth=0.8, capsize=0, alpha=0.9, zorder=3,
                    label=_label(f"{labels.get(s.metric, s.metric)} {s.mode} (whole: {whole})"))
        if s.mos_lqo is not None:
            ax.axhline(s.mos_lqo, color=color, linewidth=0.8, linestyle=(0, (4, 3)), alpha=0.7,
                       zorder=2)
    _shade_events(ax, events)
    _time_axis(ax, duration_s)
    ax.set_ylim(1.0, 5.0)
    ax.set_ylabel("MOS-LQO")
    _legend(ax)
    return to_svg(fig)
