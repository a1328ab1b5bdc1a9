"""What a batch run produced: one outcome per capture, and the run as a whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validator.batch.manifest import Job
from validator.verdict import EXIT_ERROR, EXIT_FAIL, EXIT_PASS

__all__ = ["STATUSES", "BatchResult", "CaptureOutcome", "ProgressInfo", "exit_code_of"]

#: Status of a capture: its verdict, ``error`` (could not be validated) or
#: ``not_run`` (the run was interrupted first).
STATUSES = ("pass", "fail", "error", "not_run")


@dataclass(frozen=True)
class CaptureOutcome:
    """One capture of a batch run.

    Attributes
    ----------
    job : Job
    status : {"pass", "fail", "error", "not_run"}
    document : dict or None
        The capture's JSON report (:func:`validator.report.to_dict`) without
        ``traces``; None unless validated.
    reports : tuple of (str, str)
        ``(kind, path)`` of the per-capture reports, kind ``json``, ``html``
        or ``xml``, path relative to the run folder.
    error : str or None
        One line: why the capture could not be validated.
    error_type : str or None
        Class name of the error (``AudioFormatError``, ``WorkerCrash``...).
    traceback : str or None
        For an unexpected exception in the worker (a bug), its traceback.
    attempts : int
        Times the job was handed to a worker (2 after a crash and a retry;
        0 for a resumed or not-run job).
    resumed : bool
        Taken from an earlier run by ``--resume``: inputs, profile and tool
        version unchanged, report still there.
    worker : str or None
        ``host:pid`` of the worker that validated it.
    peak_rss_mb : float or None
        That worker's peak resident memory after the job, MiB.
    wall_s : float
        Time the worker spent on the job (validation and reports), s.
    notes : tuple of str
        Remarks of the worker (an HTML report skipped...).
    junit : str or None
        The capture's own JUnit XML document (its ``xml`` report, as the
        worker rendered it), which the run's ``junit.xml`` embeds; None
        unless validated.
    """

    job: Job
    status: str
    document: dict[str, Any] | None = field(default=None, hash=False, repr=False)
    reports: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = field(default=None, repr=False)
    attempts: int = 0
    resumed: bool = False
    worker: str | None = None
    peak_rss_mb: float | None = None
    wall_s: float = 0.0
    notes: tuple[str, ...] = ()
    junit: str | None = field(default=None, hash=False, repr=False)

    @property
    def report_dict(self) -> dict[str, str]:
        """The reports as ``{kind: path}``."""
        return dict(self.reports)


@dataclass(frozen=True)
class ProgressInfo:
    """A progress snapshot, passed to the ``progress`` callback after each capture.

    ``done`` counts captures finished so far (validated, failed to validate
    or resumed) of ``total``; ``eta_s`` is the estimated time left, s (None
    before the first capture finishes).
    """

    done: int
    total: int
    passed: int
    failed: int
    errored: int
    resumed: int
    elapsed_s: float
    eta_s: float | None


@dataclass(frozen=True)
class BatchResult:
    """A batch run.

    Attributes
    ----------
    run_name : str
    run_dir : Path
        ``<output_dir>/<run_name>``: per-capture reports in ``captures/``,
        and ``summary.json``, ``index.html``, ``junit.xml``, ``state.json``.
    outcomes : tuple of CaptureOutcome
        In job order.
    summary : dict
        The ``summary.json`` document (see :func:`validator.batch.summarize`).
    interrupted : bool
        Stopped by Ctrl-C: the captures not done are ``not_run``.
    paths : tuple of Path
        The aggregated reports written: summary.json, index.html, junit.xml.
    """

    run_name: str
    run_dir: Path
    outcomes: tuple[CaptureOutcome, ...]
    summary: dict[str, Any] = field(hash=False, repr=False)
    interrupted: bool = False
    paths: tuple[Path, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 every capture passed, 1 one failed, 2 one could not be validated (or interrupted)."""
        return exit_code_of(self.outcomes, interrupted=self.interrupted)


def exit_code_of(outcomes: tuple[CaptureOutcome, ...] | list[CaptureOutcome], *,
                 interrupted: bool = False) -> int:
    """The exit code of a batch.

    :data:`~validator.verdict.EXIT_ERROR` (2) when a capture could not be
    validated, was not run, or there was none; else
    :data:`~validator.verdict.EXIT_FAIL` (1) when one failed; else
    :data:`~validator.verdict.EXIT_PASS` (0).
    """
    if interrupted or not outcomes or any(o.status in ("error", "not_run") for o in outcomes):
        return EXIT_ERROR
    if any(o.status == "fail" for o in outcomes):
        return EXIT_FAIL
    return EXIT_PASS
