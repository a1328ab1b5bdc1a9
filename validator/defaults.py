"""Defaults shared by the library, the command lines and the batch runner: one home each.

:func:`validator.pipeline.validate`, ``audio-validator validate``,
:func:`validator.batch.run_batch`, ``audio-validator batch`` and
:func:`validator.report.html.render_html` take their defaults from here, and
tests keep them equal (``tests/test_cli.py``, ``tests/test_batch.py``,
``tests/test_html.py``). The exit codes live beside the verdict
(:data:`validator.verdict.EXIT_PASS`, ``EXIT_FAIL``, ``EXIT_ERROR``).
"""

from __future__ import annotations

__all__ = ["DEFAULT_JITTER_BUFFER_MS", "DEFAULT_MAX_DELAY_S", "DEFAULT_MAX_ZOOMS",
           "DEFAULT_OUTPUT_DIR", "THREADS_ENV", "default_threads"]

import os

#: Largest delay between reference and received searched, s (``max_delay_s``, ``--max-delay``).
DEFAULT_MAX_DELAY_S = 10.0
#: Events with a zoomed plot in the HTML report, at most (``zoom_events``, ``max_zooms``,
#: ``--max-zooms``).
DEFAULT_MAX_ZOOMS = 50
#: Folder the reports go to (``--output-dir``; a batch run makes its run folder inside it).
DEFAULT_OUTPUT_DIR = "reports"
#: Size of the modelled fixed jitter buffer by default, ms (also the adaptive one's start;
#: :class:`validator.quality.loss.JitterBuffer`, ``--jitter-buffer``).
DEFAULT_JITTER_BUFFER_MS = 60.0

#: Environment variable: threads that analyse a long capture's blocks at once (``threads``).
THREADS_ENV = "AUDIO_VALIDATOR_THREADS"
#: Threads by default at most: two blocks in flight keep the peak memory under 200 MB.
MAX_DEFAULT_THREADS = 2


def default_threads() -> int:
    """Threads that analyse a long capture's blocks at once, when the caller does not say.

    :data:`THREADS_ENV` when it holds a whole number >= 1 (a batch runner's
    workers set 1: they run captures side by side already); else the CPUs
    this process may use, at most :data:`MAX_DEFAULT_THREADS`.
    """
    text = os.environ.get(THREADS_ENV, "").strip()
    if text.isdigit() and int(text) >= 1:
        return int(text)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_THREADS))
