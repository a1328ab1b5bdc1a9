"""The HTML report: structure, links, plot data and placeholders, escaping,
self-containment, the RTP block, size.

Built from a hand-made :class:`ValidationResult` (no pipeline) that carries
plot data, zooms and hostile strings; :func:`sample_result` is a plain function
so other report tests can reuse it. The plots are drawn in the browser from
the JSON embedded in the page; ``tests/test_browser.py`` checks that headless
Chromium draws every one of them.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import math
import re
import sys
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pytest

pytest.importorskip("jinja2")

from validator import cli  # noqa: E402
from validator.defaults import DEFAULT_MAX_ZOOMS  # noqa: E402
from validator.detectors.settings import DetectorSettings  # noqa: E402
from validator.errors import MissingDependencyError  # noqa: E402
from validator.pipeline import validate  # noqa: E402
from validator.report import html as html_report  # noqa: E402
from validator.report import plots  # noqa: E402
from validator.report.html import render_html, write_html  # noqa: E402
from validator.report.plots import EVENT_COLORS  # noqa: E402
from validator.result import (  # noqa: E402
    EVENT_TYPES,
    Alignment,
    ChannelMetrics,
    ChannelPlot,
    Check,
    Event,
    EventZoom,
    InputInfo,
    PlotData,
    Segment,
    Trace,
    ValidationResult,
)
from validator.rtp.link import RtpSection  # noqa: E402

HOSTILE = '<script>alert("x")</script>&"\''
GENERATED_AT = "2024-05-01T12:00:00+00:00"


class FakeRtp(RtpSection):
    """An RtpSection whose JSON document is given by hand (the tables render that document)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__(ssrc=doc.get("ssrc"), codec="", streams=(), network_events=())
        object.__setattr__(self, "doc", doc)

    def to_dict(self) -> dict[str, Any]:
        return self.doc


def fake_rtp() -> FakeRtp:
    return FakeRtp({
        "ssrc": "0x1234ABCD",
        "streams": [{"ssrc": "0x1234ABCD", "src": "127.0.0.1:5004", "dst": "127.0.0.1:6000",
                     "payload_type": 0, "codec": "PCMU", "clock_rate": 8000, "packets": 996,
                     "expected": 1000, "lost": 4, "lost_percent": 0.4, "duplicates": 0,
                     "reordered": 1, "mean_jitter_ms": 0.21, "max_jitter_ms": 1.75,
                     "payload_types": [0], "start_s": 0.0, "end_s": 20.0,
                     "note": HOSTILE}],
        "network_events": [
            {"type": "loss", "first_seq": 1064, "last_seq": 1064, "start_s": 1.28,
             "end_s": 1.30},
            {"type": "loss", "first_seq": 1075, "last_seq": 1076, "start_s": 1.50,
             "end_s": 1.54},
            {"type": "reorder", "first_seq": 1210, "last_seq": 1210, "start_s": 4.2,
             "end_s": 4.22}],
        "jitter": {"t_s": [0.02 * i for i in range(250)],
                   "jitter_ms": [0.2 + 0.1 * math.sin(i / 7) for i in range(250)]},
    })


def sample_result(*, n_events: int = 7, rtp: Any = None, received: str = f"caps/{HOSTILE}.wav",
                  duration_s: float = 5.0, bins: int = 600, trace_points: int = 500,
                  zoom_points: int = 240, n_zooms: int | None = None,
                  verdict: str = "fail") -> ValidationResult:
    """A deterministic result with every part the HTML page shows (two channels).

    Events cycle through the event types, alternate channels and carry a cause;
    the plot data are smooth synthetic curves of the given sizes.
    """
    types = [t for t in EVENT_TYPES if t != "warp"]
    events = []
    for i in range(n_events):
        start = 0.2 + i * (duration_s - 0.4) / max(n_events, 1)
        kind = types[i % len(types)]
        desc = f"{kind} number {i}" + (f" {HOSTILE}" if i == 1 else "")
        events.append(Event(kind, i % 2, round(start, 4), round(start + 0.02, 4),
                            -120.0 if kind == "dropout" else -8.5, desc,
                            int(start * 8000), int((start + 0.02) * 8000),
                            cause=("network loss" if i % 3 == 0 else None)))
    channels = tuple(ChannelMetrics(c, -13.01, -10.0, -13.0, -0.01, 997.0 + 502 * c, 0.0,
                                    60.0, -60.0, 0.0) for c in range(2))
    checks = (Check("dropout_events", False, 2, 0, "events", "number of dropout events"),
              Check("gain_error_ch0", True, -0.01, 1.0, "dB", "received minus reference"),
              Check("drift", True, 0.5, None, "ppm", f"clock drift {HOSTILE}"))
    traces = tuple(
        Trace(c, duration_s / trace_points,
              tuple(-13.0 + 0.5 * math.sin(i / 9) for i in range(trace_points)),
              tuple(-13.0 for _ in range(trace_points)),
              tuple(-60.0 + 3 * math.sin(i / 5) for i in range(trace_points)))
        for c in range(2))
    freqs = tuple(4.0 * i for i in range(1000))
    plots = PlotData(
        channels=tuple(ChannelPlot(
            c, duration_s / bins,
            tuple(-0.3 - 0.02 * math.sin(i / 13) for i in range(bins)),
            tuple(0.3 + 0.02 * math.sin(i / 13) for i in range(bins)),
            tuple(-0.316 for _ in range(bins)), tuple(0.316 for _ in range(bins)),
            freqs, tuple(-100.0 + 90 * math.exp(-abs(f - 997.0) / 20) for f in freqs),
            tuple(-110.0 + 100 * math.exp(-abs(f - 997.0) / 20) for f in freqs),
            997.0 + 502 * c) for c in range(2)),
        zooms=tuple(EventZoom(i, e.channel, e.start_s - 0.005, 0.000125,
                              tuple(0.3 * math.sin(k / 1.3) for k in range(zoom_points)),
                              tuple(0.31 * math.sin(k / 1.3) for k in range(zoom_points)))
                    for i, e in enumerate(events[:n_zooms if n_zooms is not None else 50])))
    return ValidationResult(
        input=InputInfo(received=received, reference="refs/reference.wav", sample_rate_hz=8000,
                        channels=2, duration_s=duration_s, reference_duration_s=duration_s),
        alignment=Alignment(0.0125, 100.0, 0.98, False, "xcorr", 1.5,
                            (Segment(0, 12000, 100.0), Segment(12000, -1, 99.0)), None),
        channels=channels, events=tuple(events), checks=checks, verdict=verdict,
        notes=(f"a note {HOSTILE}",), traces=traces, truncation_s=0.0, elapsed_s=0.25,
        plots=plots, rtp=rtp)


class _Page(HTMLParser):
    """Collects ids, links, element names and attribute values of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[dict[str, str | None]] = []
        self._table: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        if tag == "table":
            self._table.append(a.get("id"))
        if tag == "tr" and self._table and self._table[-1] == "event-table" and a.get("id"):
            self.rows.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._table:
            self._table.pop()


def parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    return p


PLOT_DATA = re.compile(r'<script type="application/json" id="plot-data">(.*?)</script>', re.S)
#: The figure ids of a channel, as the page names them.
CHANNEL_FIGURES = ("overview", "level", "residual", "spectrum")


def plot_doc(page: str) -> dict[str, Any]:
    """The plot data embedded in a page (one JSON block), as the browser's JSON.parse reads it."""
    (text,) = PLOT_DATA.findall(page)
    return plots.load_plot_json(text)


def figures(page: str) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in plot_doc(page)["figures"]}


def placeholders(page: str) -> list[str]:
    """Ids of the elements that hold a plot placeholder (``.plot-area``), in page order."""
    p = parse(page)
    out, holder = [], None
    for tag, a in p.tags:
        if tag in ("figure", "article") and a.get("id"):
            holder = a["id"]
        if tag == "div" and a.get("class") == "plot-area":
            out.append(holder)
    return out


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(sample_result(), generated_at=GENERATED_AT)


@pytest.fixture(scope="module")
def rtp_page() -> str:
    return render_html(sample_result(rtp=fake_rtp()), generated_at=GENERATED_AT)


# --------------------------------------------------------------------------- structure


def test_every_event_has_a_row_in_order(page):
    result = sample_result()
    rows = parse(page).rows
    assert [r["id"] for r in rows] == [f"event-{i}" for i in range(len(result.events))]
    assert [r["data-type"] for r in rows] == [e.type for e in result.events]


def test_every_internal_link_resolves_and_ids_are_unique(page, rtp_page):
    for text in (page, rtp_page):
        p = parse(text)
        assert len(p.ids) == len(set(p.ids)), "duplicate element ids"
        ids = set(p.ids)
        for href in p.hrefs:
            assert href.startswith("#"), f"link leaves the page: {href!r}"
            assert href[1:] in ids, f"{href!r} has no target"


def test_each_zoom_link_points_at_its_zoomed_plot(page):
    p = parse(page)
    zoom_links = [h for h in p.hrefs if h.startswith("#zoom-")]
    n = len(sample_result().events)
    assert zoom_links == [f"#zoom-{i}" for i in range(n)]
    zooms = {a["id"]: a for t, a in p.tags if t == "article" and "zoom" in (a.get("class") or "")}
    assert set(zooms) == {f"zoom-{i}" for i in range(n)}
    # each zoom holds its plot's placeholder, and the page carries its samples
    figs = figures(page)
    result = sample_result()
    for i in range(n):
        block = page.split(f'id="zoom-{i}"', 1)[1].split("</article>", 1)[0]
        assert '<div class="plot-area">' in block and "needs JavaScript" in block
        assert f'href="#event-{i}"' in block, "a zoom links back to its table row"
        fig, zoom = figs[f"zoom-{i}"], result.plots.zooms[i]
        assert fig["kind"] == "zoom" and fig["channel"] == zoom.channel
        assert fig["received"] == pytest.approx(zoom.received, abs=5e-5)
        assert fig["expected"] == pytest.approx(zoom.expected, abs=5e-5)
        # x in ms from the event's start; the event's 20 ms shaded in its type's colour
        assert fig["x0_ms"] == pytest.approx(-5.0, abs=1e-6)
        assert fig["dx_ms"] == pytest.approx(0.125, abs=1e-9)
        assert fig["span_ms"] == pytest.approx([0.0, 20.0], abs=1e-6)
        assert fig["color"] == EVENT_COLORS[result.events[i].type]


@pytest.mark.slow
def test_max_zooms_limits_the_zoomed_plots(tmp_path):
    result = sample_result(n_events=7)
    page = render_html(result, max_zooms=3)
    p = parse(page)
    assert [h for h in p.hrefs if h.startswith("#zoom-")] == ["#zoom-0", "#zoom-1", "#zoom-2"]
    assert len(p.rows) == 7, "every event keeps its row"
    assert "The first 3 of 7 events are shown" in page
    assert [f for f in figures(page) if f.startswith("zoom-")] == ["zoom-0", "zoom-1", "zoom-2"]
    assert "#zoom-" not in render_html(result, max_zooms=0)


def test_banner_verdict_counts_and_failed_checks(page):
    p = parse(page)
    (banner,) = [a for t, a in p.tags if t == "header" and "banner" in (a.get("class") or "")]
    assert "fail" in (banner["class"] or "").split()
    assert 'data-verdict="fail"' in page
    for kind in ("dropout", "glitch", "level", "clipping", "silence"):
        assert re.search(rf"\d+ × {kind}<", page), kind
    assert "<b>dropout_events</b> 2 (limit 0 events)" in page
    passing = render_html(sample_result(n_events=0, verdict="pass"))
    assert 'class="banner pass"' in passing and "No events" in passing


def test_checks_metrics_alignment_and_inputs_are_shown(page):
    for text in ("gain_error_ch0", "not judged", "drift", "xcorr", "+1.50 ppm", "12.500 ms",
                 "refs/reference.wav", "8000 Hz", "-13.01", "1499.000", "60.0", "-60.0",
                 "end of file", "network loss"):
        assert text in page, text


def test_every_plot_has_its_data_and_placeholder_per_channel(page):
    """Each channel's four figures: a placeholder with a no-JS fallback, and its data."""
    result = sample_result()
    figs = figures(page)
    for ch in (0, 1):
        for kind in CHANNEL_FIGURES:
            block = page.split(f'id="{kind}-ch{ch}"', 1)[1].split("</figure>", 1)[0]
            assert '<div class="plot-area">' in block, f"{kind} ch{ch}"
            assert "This plot needs JavaScript" in block
            assert figs[f"{kind}-ch{ch}"]["kind"] == kind
            assert figs[f"{kind}-ch{ch}"]["channel"] == ch
        cp, tr = result.plots.channels[ch], result.traces[ch]
        ov = figs[f"overview-ch{ch}"]
        assert ov["dx"] == pytest.approx(cp.envelope_hop_s) and ov["x0"] == pytest.approx(
            cp.envelope_hop_s / 2)
        for key in ("received_min", "received_max", "expected_min", "expected_max"):
            assert ov[key] == pytest.approx(getattr(cp, key), abs=5e-5), key
        lv = figs[f"level-ch{ch}"]
        assert lv["dx"] == pytest.approx(tr.hop_s)
        assert lv["received"] == pytest.approx(tr.received_dbfs, abs=5e-3)
        assert lv["expected"] == pytest.approx(tr.expected_dbfs, abs=5e-3)
        assert lv["threshold_dbfs"] == -60.0
        assert lv["threshold_label"] == "silence threshold -60 dBFS"
        assert figs[f"residual-ch{ch}"]["residual"] == pytest.approx(tr.residual_db, abs=5e-3)
        sp = figs[f"spectrum-ch{ch}"]
        assert sp["hz"] == pytest.approx(cp.spectrum_hz, abs=0.05)
        assert sp["received"] == pytest.approx(cp.received_spectrum_db, abs=5e-3)
        assert sp["tone_hz"] == cp.tone_hz
    assert "silence threshold -60 dBFS" in page


def test_figures_and_placeholders_match_one_to_one(page, rtp_page):
    """Every figure in the data has exactly one placeholder, and every placeholder a figure."""
    for text in (page, rtp_page):
        held = placeholders(text)
        assert len(held) == len(set(held))
        assert sorted(held) == sorted(figures(text))
    assert "rtp-plot" in figures(rtp_page) and "rtp-plot" not in figures(page)


def test_the_page_inlines_uplot_its_licence_and_the_plot_script(page):
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert [attrs for attrs, _ in scripts] == [' type="application/json" id="plot-data"', "",
                                              "", ""]
    assets = plots.assets()
    assert assets["uplot_js"] in scripts[1][1] and "(v1.6.32)" in scripts[1][1]
    assert "Copyright (c) 2022 Leon Sorokin" in scripts[1][1]
    assert "Permission is hereby granted" in scripts[1][1]
    assert assets["plots_js"] in scripts[2][1]
    assert assets["uplot_css"] in page.split("</style>", 1)[0]


def test_plot_numbers_are_rounded_and_json_safe():
    """NaN is a gap (null), -inf sits on the floor, and nothing JSON cannot carry reaches
    the page (JSON.parse rejects NaN)."""
    r = sample_result(trace_points=4)
    bad = (float("nan"), float("-inf"), -130.0, -12.345678)
    trace = Trace(0, 1.25, bad, bad, bad)
    page = render_html(ValidationResult(**{**r.__dict__, "traces": (trace,)}))
    assert "NaN" not in PLOT_DATA.findall(page)[0]
    lv = figures(page)["level-ch0"]
    assert lv["received"] == [None, -125.0, -125.0, -12.35]
    assert plots.rounded([0.123456, None, float("inf"), 1e300], 4) == \
        {"decimals": 4, "ints": [1235, None, None, None]}


@pytest.mark.parametrize("decimals", [1, 2, 3, 4, 5])
def test_plot_numbers_travel_as_whole_numbers_and_read_back_as_the_same_doubles(decimals):
    """An array in the page is whole multiples of 10**-decimals; divided back (as the page's
    script and load_plot_json do) they are the doubles np.round gives, bit for bit, over
    values of every size the plots hold (amplitudes, dB, times of an hour, Hz)."""
    rng = np.random.default_rng(decimals)
    v = np.concatenate([rng.uniform(-1, 1, 3000), rng.uniform(-125, 10, 3000),
                        rng.uniform(0, 3600, 3000), rng.uniform(0, 24000, 3000)])
    got = plots.load_plot_json(plots.script_json({"a": plots.rounded(v, decimals)}))["a"]
    assert got == np.round(v, decimals).tolist()


def test_event_colours_are_consistent(page):
    """A type's chip, table row, timeline legend and plot shading share one colour."""
    doc = plot_doc(page)
    assert dict(zip(doc["types"], doc["type_colors"], strict=True)) == \
        {t: EVENT_COLORS[t] for t in doc["types"]}
    result = sample_result()
    assert [[e[0], e[1], doc["types"][e[2]], e[3]] for e in doc["events"]] == \
        [[e.start_s, e.end_s, e.type, e.channel] for e in result.events]
    for kind, color in EVENT_COLORS.items():
        if kind == "warp":
            continue
        assert f'style="--c: {color}">' in page, kind
        assert color in page.split('id="timeline"', 1)[1].split("</section>", 1)[0]


# --------------------------------------------------------------------------- safety


def test_user_strings_are_escaped(page):
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page
    assert page.count("<script") == 4, "the plot data, uPlot, the plot script, the table script"
    # the hostile name is in the title, banner, inputs, descriptions and notes, escaped
    assert page.count("&lt;script&gt;") >= 5


def test_strings_in_the_plot_data_cannot_end_the_script():
    """An event type (or network event type) reaches the JSON; ``</script>`` and ``<!--``
    in it are written as \\u003c... and read back unchanged."""
    hostile = '</script><!--<script>alert(1)</script>&'
    r = sample_result(n_events=3, rtp=FakeRtp({"streams": [], "network_events": [
        {"type": hostile, "first_seq": 1, "last_seq": 1, "start_s": 1.0, "end_s": 1.1}]}))
    events = (Event(hostile, 0, 1.0, 1.1, -3.0, "x", 8000, 8800), *r.events[1:])
    page = render_html(ValidationResult(**{**r.__dict__, "events": events}))
    (block,) = PLOT_DATA.findall(page)
    assert "<" not in block and ">" not in block and "&" not in block
    doc = json.loads(block)
    assert hostile in doc["types"]
    assert figures(page)["rtp-plot"]["kinds"] == [hostile]
    assert "<script>alert" not in page and "<!--" not in page  # escaped everywhere
    assert plots.script_json({"a": "</script>"}) == '{"a":"\\u003c/script\\u003e"}'


#: http(s) URLs the page may contain: namespace names (never fetched), and uPlot's own
#: banner comment naming its source.
ALLOWED_URLS = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml",
                "https://github.com/leeoniya/uPlot")


def test_page_is_self_contained(page, rtp_page):
    for text in (page, rtp_page):
        for m in re.finditer(r"https?://[^\s\"'()<>]*", text):
            assert m.group(0).rstrip("/") in ALLOWED_URLS, \
                f"a URL in the page: {text[m.start() - 40:m.end() + 20]!r}"
        p = parse(text)
        for tag, a in p.tags:
            assert tag not in ("link", "img", "iframe", "object", "embed"), tag
            assert "src" not in a, f"<{tag} src=...>"
            assert not (a.get("href") or "#").strip().lower().startswith(("http", "//"))
        assert "@import" not in text and "url(http" not in text and "url(//" not in text
        for api in ("fetch(", "XMLHttpRequest", "WebSocket", "importScripts", "sendBeacon"):
            assert api not in text, api


def test_vendored_files_ship_as_package_data():
    """A clean ``pip install .`` carries uPlot, its licence and the plot script: each file
    matches a package-data glob of pyproject.toml."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    globs = tomllib.loads((root / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["validator"]
    files = ["report/vendor/uPlot.iife.min.js", "report/vendor/uPlot.min.css",
             "report/vendor/LICENSE.uPlot", "report/vendor/README.md",
             "report/static/plots.js", "report/templates/_plots.html.j2",
             "report/templates/_plot_area.html.j2"]
    for f in files:
        assert (root / "validator" / f).is_file(), f
        assert any(fnmatch.fnmatch(f, g) for g in globs), f"{f} is not package data"


# --------------------------------------------------------------------------- RTP


def test_rtp_section_only_when_result_has_rtp(page, rtp_page):
    assert 'id="rtp"' not in page and 'href="#rtp"' not in page
    assert 'id="rtp"' in rtp_page and 'href="#rtp"' in rtp_page
    block = rtp_page.split('id="rtp"', 1)[1].split("</section>", 1)[0]
    for text in ("0x1234ABCD", "127.0.0.1:5004", "PCMU", "1064", "1075", "reorder",
                 "Jitter mean ms", "1.75", 'id="rtp-plot"', '<div class="plot-area">',
                 "loss (2)", "reorder (1)"):
        assert text in block, text
    assert "&lt;script&gt;" in block and "<script>" not in block
    # network events and jitter on the audio's time axis (the timeline plots share it)
    fig = figures(rtp_page)["rtp-plot"]
    assert fig["kinds"] == ["loss", "reorder"]
    assert fig["spans"] == [[1.28, 1.3, 0], [1.5, 1.54, 0], [4.2, 4.22, 1]]
    assert fig["kind_colors"] == [plots.NETWORK_COLORS["loss"], plots.NETWORK_COLORS["reorder"]]
    assert len(fig["t_s"]) == len(fig["jitter_ms"]) == 250
    assert plot_doc(rtp_page)["time_label"] == "time on the received file, s"


def test_rtp_section_tolerates_missing_parts():
    page = render_html(sample_result(rtp=FakeRtp({"streams": [], "network_events": []})))
    block = page.split('id="rtp"', 1)[1].split("</section>", 1)[0]
    assert "No RTP streams." in block and "No network events" in block


# --------------------------------------------------------------------------- API


def test_write_html_is_atomic_and_returns_the_path(tmp_path):
    path = write_html(sample_result(), tmp_path / "a" / "r.html")
    assert path == tmp_path / "a" / "r.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in path.parent.iterdir()) == ["r.html"]


@pytest.mark.slow
def test_render_is_deterministic():
    a = render_html(sample_result(), generated_at=GENERATED_AT)
    b = render_html(sample_result(), generated_at=GENERATED_AT)
    assert a == b


def test_missing_jinja2_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(MissingDependencyError, match="pip install jinja2 ") as err:
        render_html(sample_result())
    assert "matplotlib" not in str(err.value)


def test_defaults_agree_with_cli_and_pipeline():
    assert inspect.signature(render_html).parameters["max_zooms"].default == DEFAULT_MAX_ZOOMS
    assert cli.build_parser().parse_args(["validate", "r.wav", "-r", "sine:997"]).max_zooms == \
        DEFAULT_MAX_ZOOMS
    assert inspect.signature(validate).parameters["zoom_events"].default == DEFAULT_MAX_ZOOMS
    assert html_report.DEFAULT_SILENCE_THRESHOLD_DBFS == \
        DetectorSettings().silence_threshold_dbfs


def test_plot_without_data_renders():
    r = sample_result()
    bare = ValidationResult(input=r.input, alignment=r.alignment, channels=r.channels,
                            events=r.events, checks=r.checks, verdict="fail")
    page = render_html(bare)
    assert "No plot data for channel 0" in page and "No spectrum for channel 1" in page
    assert "#zoom-" not in page
    assert figures(page) == {} and placeholders(page) == []


# --------------------------------------------------------------------------- size


@pytest.mark.slow
def test_hour_long_report_with_1800_events_stays_small():
    """Data as the pipeline decimates an hour: 3000 envelope bins, 4000 trace points,
    50 zooms of 2400 points (the longest a zoom gets), 1800 events, two channels: the
    page stays under 5 MB (issue 11), holds exactly the 50 zooms asked for, and its
    size follows the number of plotted points and events, not the duration (ten hours
    of the same decimated data: the same size within 2 %)."""
    kw = {"n_events": 1800, "bins": 3000, "trace_points": 4000, "zoom_points": 2400}
    page = render_html(sample_result(duration_s=3600.0, **kw))
    size = len(page.encode("utf-8"))
    assert size < 5_000_000, f"{size / 1e6:.2f} MB"
    assert len(re.findall(r'id="zoom-\d+"', page)) == DEFAULT_MAX_ZOOMS
    assert len(plot_doc(page)["events"]) == 1800
    ten_hours = len(render_html(sample_result(duration_s=36000.0, **kw)).encode("utf-8"))
    assert ten_hours == pytest.approx(size, rel=0.02)


def test_odd_strings_in_plot_labels_are_taken_literally():
    rtp = FakeRtp({"streams": [], "network_events": [
        {"type": "odd$type$<x>", "first_seq": 1, "last_seq": 1, "start_s": 1.0, "end_s": 1.1}]})
    page = render_html(sample_result(rtp=rtp))
    assert "odd$type$&lt;x&gt; (1)" in page  # the plot's legend, escaped by the template
    assert "odd$type$&lt;x&gt;" in page.split('id="rtp-events"', 1)[1]


@pytest.mark.slow
def test_plotting_and_templates_load_lazily():
    import subprocess

    code = ("import sys, validator.report, validator.report.plots, validator.testing; "
            "print(sorted(m for m in ('matplotlib', 'jinja2', 'markupsafe') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
