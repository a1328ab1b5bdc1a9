"""The CLI's report files: JSON, HTML and JUnit XML in --output-dir, their options, and
what happens without the ``html`` extra."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from validator.cli import main
from validator.verdict import EXIT_ERROR, EXIT_FAIL, EXIT_PASS

REAL = Path(__file__).resolve().parent / "data" / "real_pcmu_loss"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def base(*extra: str) -> list[str]:
    return ["validate", str(REAL / "received.wav"), "-r", str(REAL / "reference.wav"), *extra]


def test_output_dir_gets_json_html_and_xml_named_after_the_input(tmp_path, capsys):
    pytest.importorskip("jinja2")
    rc, out, err = run(base("--output-dir", str(tmp_path / "out")), capsys)
    assert rc == EXIT_FAIL and err == ""
    names = ["received.json", "received.html", "received.xml"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)
    # the terminal summary ends with the report paths, JSON first
    tail = out.rstrip("\n").splitlines()[-3:]
    assert tail == [f"  report: {tmp_path / 'out' / n}" for n in names]
    assert json.loads((tmp_path / "out" / "received.json").read_text())["verdict"] == "fail"
    page = (tmp_path / "out" / "received.html").read_text(encoding="utf-8")
    assert 'data-verdict="fail"' in page and page.count('data-type="dropout"') == 4
    root = ET.parse(tmp_path / "out" / "received.xml").getroot()
    assert root.find("testsuite").get("failures") == "1"


@pytest.mark.slow
def test_explicit_paths_replace_the_defaults(tmp_path, capsys):
    pytest.importorskip("jinja2")
    html, xml = tmp_path / "a" / "page.html", tmp_path / "b" / "ci.xml"
    rc, out, _ = run(base("--output-dir", str(tmp_path / "out"), "--html", str(html),
                          "--junit", str(xml), "--no-json"), capsys)
    assert rc == EXIT_FAIL
    assert html.is_file() and xml.is_file()
    assert not (tmp_path / "out").exists()
    assert f"report: {html}" in out and f"report: {xml}" in out


@pytest.mark.parametrize(("flag", "missing"), [("--no-html", ".html"), ("--no-junit", ".xml"),
                                              ("--no-json", ".json")])
@pytest.mark.slow
def test_no_flags_skip_one_format(tmp_path, capsys, flag, missing):
    pytest.importorskip("jinja2")
    rc, out, _ = run(base("--output-dir", str(tmp_path), flag), capsys)
    assert rc == EXIT_FAIL
    suffixes = sorted(p.suffix for p in tmp_path.iterdir())
    assert suffixes == sorted({".json", ".html", ".xml"} - {missing})
    assert f"received{missing}" not in out


def test_max_zooms_reaches_the_page(tmp_path, capsys):
    pytest.importorskip("jinja2")
    rc, _, _ = run(base("--output-dir", str(tmp_path), "--max-zooms", "2", "--no-json",
                        "--no-junit"), capsys)
    assert rc == EXIT_FAIL
    page = (tmp_path / "received.html").read_text(encoding="utf-8")
    assert page.count('class="zoom-link"') == 2
    assert page.count('data-type="dropout"') == 4


def test_without_jinja2_the_default_run_notes_and_goes_on(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)  # as if jinja2 were not installed
    rc, out, err = run(base("--output-dir", str(tmp_path)), capsys)
    assert rc == EXIT_FAIL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["received.json", "received.xml"]
    assert "HTML report skipped" in err and "pip install jinja2 " in err
    assert "matplotlib" not in err, "the page draws its plots in the browser"
    assert err.count("\n") == 1


def test_without_jinja2_an_explicit_html_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)
    rc, _, err = run(base("--output-dir", str(tmp_path), "--html", str(tmp_path / "x.html")),
                     capsys)
    assert rc == EXIT_ERROR
    assert err.startswith("audio-validator: error:") and "jinja2" in err
    assert err.count("\n") == 1


@pytest.mark.slow
def test_passing_input_writes_a_green_page(tmp_path, capsys):
    pytest.importorskip("jinja2")
    rc, _, _ = run(["validate", str(REAL / "reference.wav"), "-r", str(REAL / "reference.wav"),
                    "--output-dir", str(tmp_path)], capsys)
    assert rc == EXIT_PASS
    page = (tmp_path / "reference.html").read_text(encoding="utf-8")
    assert 'class="banner pass"' in page and 'id="event-0"' not in page
