"""The HTML report in a real browser: headless Chromium loads it, runs its scripts, draws it.

Renders the report of a failing real capture (``tests/data/real_pcmu_loss``,
4 lost RTP packets), then one Chromium run takes a screenshot, dumps the DOM
after the scripts ran, and logs the console to stderr. The plots are drawn by
the page's inline uPlot: every figure of the embedded plot data must be marked
``data-drawn="1"`` (uPlot created its canvas and drew). Skips with a reason
when no Chromium is installed (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytest.importorskip("jinja2")

from validator.pipeline import validate  # noqa: E402
from validator.report.html import write_html  # noqa: E402
from validator.report.plots import EVENT_COLORS  # noqa: E402

#: Headless Chromium: slow (``python -m pytest -m "not slow"`` leaves this file out).
pytestmark = pytest.mark.slow

REAL = Path(__file__).resolve().parent / "data" / "real_pcmu_loss"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: A console line as Chromium logs it with --enable-logging=stderr --v=0.
CONSOLE = re.compile(r":INFO:CONSOLE[^\]]*\] (.*)")


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium found (looked for " + ", ".join(BROWSERS) + "); "
                "install it with 'apt-get install chromium' to run the browser test")


def load(page: Path, tmp: Path, *, height: int = 4000,
         timers_ms: int = 0) -> tuple[str, list[str], Path]:
    """Open ``page`` headless: (DOM after scripts ran, console lines, screenshot path).

    ``timers_ms``: virtual time given to the page's timers before the DOM is dumped."""
    shot = tmp / f"{page.stem}.png"
    argv = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp / 'profile'}",
            f"--screenshot={shot}", f"--window-size=1280,{height}", "--dump-dom",
            "--enable-logging=stderr", "--v=0",
            *([f"--virtual-time-budget={timers_ms}"] if timers_ms else []),
            page.resolve().as_uri()]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [m.group(1) for m in CONSOLE.finditer(proc.stderr)]
    return proc.stdout, console, shot


class _Drawn(HTMLParser):
    """Ids of the elements the page's script marked drawn, and of plot placeholders left
    with their no-JS text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.drawn: list[str] = []
        self.canvases = 0
        self.fallbacks = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("data-drawn") == "1" and a.get("id"):
            self.drawn.append(str(a["id"]))
        self.canvases += tag == "canvas"
        self.fallbacks += tag == "p" and a.get("class") == "nojs"


def figure_ids(page: str) -> list[str]:
    """The ids of the figures in a page's plot data (the page as written, before scripts)."""
    m = re.search(r'<script type="application/json" id="plot-data">(.*?)</script>', page, re.S)
    assert m, "no plot data in the page"
    return [f["id"] for f in json.loads(m.group(1))["figures"]]


def test_console_errors_are_seen(tmp_path):
    """The check below is not vacuous: a page with a script error logs it."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><p>x</p><script>undefinedFunction();</script>",
                   encoding="utf-8")
    _, console, _ = load(bad, tmp_path, height=300)
    assert any("undefinedFunction" in line for line in console), console


def test_failing_capture_report_loads_and_draws(tmp_path):
    from PIL import Image

    result = validate(REAL / "received.wav", REAL / "reference.wav")
    assert result.verdict == "fail" and result.events
    page = write_html(result, tmp_path / "received.html")
    dom, console, shot = load(page, tmp_path)

    assert console == [], f"console output while loading the report: {console}"
    assert 'data-js="ready"' in dom, "the page's script did not run to its end"
    assert 'data-verdict="fail"' in dom and ">FAIL<" in dom
    for i, e in enumerate(result.events):
        assert f'id="event-{i}" data-type="{e.type}"' in dom
        assert f'id="zoom-{i}"' in dom

    # every plot drawn: one canvas each, no fallback text left
    ids = figure_ids(page.read_text(encoding="utf-8"))
    expected = {"overview-ch0", "level-ch0", "residual-ch0", "spectrum-ch0",
                *(f"zoom-{i}" for i in range(len(result.events)))}
    assert expected <= set(ids), sorted(expected - set(ids))
    seen = _Drawn()
    seen.feed(dom)
    assert sorted(seen.drawn) == sorted(ids), f"not drawn: {sorted(set(ids) - set(seen.drawn))}"
    assert seen.canvases >= len(ids) and seen.fallbacks == 0

    assert shot.is_file()
    with Image.open(shot) as im:
        rgb = im.convert("RGB")
        assert rgb.size == (1280, 4000)
        colours = rgb.resize((128, 400)).getcolors(maxcolors=1 << 16)
        assert colours is not None and len(colours) > 50, "the screenshot looks blank"
        # the banner at the top is red for a failure
        r, g, b = rgb.getpixel((20, 20))
        assert r > 150 and g < 90 and b < 90, (r, g, b)
        # the plots are on the screen: the received waveform's blue and the dropouts' red
        # shading cover many pixels below the banner (plotted on canvases, not text)
        counts = dict((c, n) for n, c in rgb.crop((0, 300, 1280, 4000)).getcolors(1 << 20))
        blue = sum(n for c, n in counts.items() if _near(c, (31, 95, 191), 40))
        red = sum(n for c, n in counts.items() if _near(c, (217, 45, 32), 60))
        assert blue > 5_000, f"{blue} received-blue pixels: the waveform is not drawn"
        assert red > 100, f"{red} dropout-red pixels: the event marks are not drawn"


def _near(c: tuple[int, int, int], ref: tuple[int, int, int], tol: int) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(c, ref, strict=True))


def test_every_hex_colour_is_well_formed():
    """The script parses the event colours as #rrggbb (rgba shading)."""
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in EVENT_COLORS.values())


def test_every_kind_of_plot_draws_without_errors(tmp_path):
    """Two channels, RTP (jitter and network events), quality windows with a gap, and
    hostile strings in the data: every figure is drawn and the console stays silent."""
    from test_html import HOSTILE, FakeRtp, fake_rtp, sample_result

    from validator.result import QualityResult, QualityScore, QualityWindow, ValidationResult

    windows = tuple(QualityWindow(2.0 * i, 2.0 * i + 4.0, 2.0 * i, 2.0 * i + 4.0,
                                  visqol=None if i == 1 else 4.1 - 0.1 * i, pesq=3.9,
                                  not_computed=(("visqol", "too quiet"),) if i == 1 else ())
                    for i in range(3))
    quality = QualityResult(visqol=QualityScore("visqol", "speech", 16000, 4.05),
                            pesq=QualityScore("pesq", "wb", 16000, None, reason=HOSTILE),
                            windows=windows, window_s=4.0, hop_s=2.0)
    doc = fake_rtp().to_dict()
    doc["network_events"].append({"type": HOSTILE, "first_seq": 9, "last_seq": 9,
                                  "start_s": 3.0, "end_s": 3.0})
    r = sample_result(rtp=FakeRtp(doc))
    result = ValidationResult(**{**r.__dict__, "quality": quality})
    page = write_html(result, tmp_path / "all.html")
    dom, console, shot = load(page, tmp_path, height=3000)
    assert console == [], f"console output while loading the report: {console}"
    ids = figure_ids(page.read_text(encoding="utf-8"))
    assert {"rtp-plot", "quality-plot", "spectrum-ch1", "zoom-6"} <= set(ids)
    seen = _Drawn()
    seen.feed(dom)
    assert sorted(seen.drawn) == sorted(ids), f"not drawn: {sorted(set(ids) - set(seen.drawn))}"
    assert seen.fallbacks == 0


#: Appended to a copy of the page: zooms the first timeline plot to 1..2 s, then reads every
#: chart's x range; then resets it as a double-click does (its whole data range), reads again.
PROBE = """<script>
setTimeout(function () {
  var plots = window.reportPlots, first = plots[0].u, out = {};
  function read(key) {
    out[key] = {};
    plots.forEach(function (p) { out[key][p.id] = [p.u.scales.x.min, p.u.scales.x.max]; });
  }
  first.setScale("x", {min: 1, max: 2});
  setTimeout(function () {
    read("zoomed");
    var xs = first.data[0];
    first.setScale("x", {min: xs[0], max: xs[xs.length - 1]});
    setTimeout(function () {
      read("reset");
      document.body.setAttribute("data-probe", JSON.stringify(out));
    }, 50);
  }, 50);
}, 0);
</script>"""


def test_zooming_one_timeline_plot_zooms_the_others(tmp_path):
    """Drag-zoom on one timeline plot (its x scale set to 1..2 s) moves every plot on the
    shared time axis, and not the zooms or spectra; the reset shows the whole capture."""
    from test_html import fake_rtp, sample_result

    page = write_html(sample_result(rtp=fake_rtp()), tmp_path / "zoom.html")
    text = page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>")
    page.write_text(text, encoding="utf-8")
    dom, console, _ = load(page, tmp_path, height=1200, timers_ms=2000)
    assert console == [], console
    m = re.search(r'data-probe="([^"]*)"', dom)
    assert m, "the probe did not run"
    import html

    probe = json.loads(html.unescape(m.group(1)))
    timeline = [i for i in probe["zoomed"] if i.split("-")[0] in
                ("overview", "level", "residual", "rtp")]
    assert len(timeline) == 7
    for i in timeline:
        assert probe["zoomed"][i] == [1, 2], i
        assert probe["reset"][i] == [0, 5.0], i
    for i in probe["zoomed"]:
        if i not in timeline:
            assert probe["zoomed"][i] != [1, 2], f"{i} is not on the time axis"
