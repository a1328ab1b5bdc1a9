"""Batch validation: many captures, a local process pool or a Dask cluster, one report.

::

    from validator.batch import load_manifest, run_batch

    jobs = load_manifest("captures/batch.csv")        # received, reference, profile, ssrc, tags
    result = run_batch(jobs, output_dir="reports", workers=2)
    print(result.summary["counts"], result.run_dir / "index.html")
    raise SystemExit(result.exit_code)                 # 0 pass, 1 a capture failed, 2 an error

The command line is ``audio-validator batch MANIFEST`` (see
:mod:`validator.batch.cli`). Modules: :mod:`~validator.batch.manifest` (jobs),
:mod:`~validator.batch.worker` (one job in a worker),
:mod:`~validator.batch.runner` (pool, Dask, retries, resume, Ctrl-C),
:mod:`~validator.batch.state` (``state.json``), :mod:`~validator.batch.summary`
(every figure of the summary) and :mod:`~validator.batch.render`
(``index.html`` and ``junit.xml``, rendering only).
"""

from __future__ import annotations

from typing import Any

# Loaded on first use (PEP 562), so that registering the ``batch`` subcommand
# imports nothing heavy.
_LAZY = {
    "Job": "manifest", "jobs_from_patterns": "manifest", "load_manifest": "manifest",
    "BatchResult": "result", "CaptureOutcome": "result", "ProgressInfo": "result",
    "exit_code_of": "result", "BatchInterrupted": "runner", "run_batch": "runner",
    "capture_metrics": "summary", "summarize": "summary",
}


def __getattr__(name: str) -> Any:
    """Import the public API on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"validator.batch.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
