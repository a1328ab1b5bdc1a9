"""Renderers: they take a ValidationResult and only render it."""

from validator.report.json_report import render_json, to_dict, write_json
from validator.report.terminal import render_terminal

__all__ = ["render_json", "render_terminal", "to_dict", "write_json"]
