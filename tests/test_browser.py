"""The HTML report in a real browser: headless Chromium loads it, runs its script, draws it.

Renders the report of a failing real capture (``tests/data/real_pcmu_loss``,
4 lost RTP packets), then one Chromium run takes a screenshot, dumps the DOM
after the script ran, and logs the console to stderr. Skips with a reason
when no Chromium is installed (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("jinja2")

from validator.pipeline import validate  # noqa: E402
from validator.report.html import write_html  # noqa: E402

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


def load(page: Path, tmp: Path, *, height: int = 4000) -> tuple[str, list[str], Path]:
    """Open ``page`` headless: (DOM after scripts ran, console lines, screenshot path)."""
    shot = tmp / f"{page.stem}.png"
    argv = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp / 'profile'}",
            f"--screenshot={shot}", f"--window-size=1280,{height}", "--dump-dom",
            "--enable-logging=stderr", "--v=0", page.resolve().as_uri()]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [m.group(1) for m in CONSOLE.finditer(proc.stderr)]
    return proc.stdout, console, shot


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

    assert shot.is_file()
    with Image.open(shot) as im:
        rgb = im.convert("RGB")
        assert rgb.size == (1280, 4000)
        colours = rgb.resize((128, 400)).getcolors(maxcolors=1 << 16)
        assert colours is not None and len(colours) > 50, "the screenshot looks blank"
        # the banner at the top is red for a failure
        r, g, b = rgb.getpixel((20, 20))
        assert r > 150 and g < 90 and b < 90, (r, g, b)
