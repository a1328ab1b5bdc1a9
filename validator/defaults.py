"""Defaults shared by the library, the command lines and the batch runner: one home each.

:func:`validator.pipeline.validate`, ``audio-validator validate``,
:func:`validator.batch.run_batch`, ``audio-validator batch`` and
:func:`validator.report.html.render_html` take their defaults from here, and
tests keep them equal (``tests/test_cli.py``, ``tests/test_batch.py``,
``tests/test_html.py``). The exit codes live beside the verdict
(:data:`validator.verdict.EXIT_PASS`, ``EXIT_FAIL``, ``EXIT_ERROR``).
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_DELAY_S", "DEFAULT_MAX_ZOOMS", "DEFAULT_OUTPUT_DIR"]

#: Largest delay between reference and received searched, s (``max_delay_s``, ``--max-delay``).
DEFAULT_MAX_DELAY_S = 10.0
#: Events with a zoomed plot in the HTML report, at most (``zoom_events``, ``max_zooms``,
#: ``--max-zooms``).
DEFAULT_MAX_ZOOMS = 50
#: Folder the reports go to (``--output-dir``; a batch run makes its run folder inside it).
DEFAULT_OUTPUT_DIR = "reports"
