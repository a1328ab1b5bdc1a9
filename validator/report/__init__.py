"""Renderers: they take a ValidationResult and only render it.

Terminal and JSON load with the package; HTML (:mod:`validator.report.html`,
jinja2; its plots are drawn in the browser by the inlined uPlot) and JUnit XML
(:mod:`validator.report.junit`) import their heavy parts only when a report is
rendered.
"""

from validator.report.html import render_html, write_html
from validator.report.json_report import render_json, to_dict, write_json
from validator.report.junit import render_junit, write_junit
from validator.report.terminal import render_terminal

__all__ = ["render_html", "render_json", "render_junit", "render_terminal", "to_dict",
           "write_html", "write_json", "write_junit"]
