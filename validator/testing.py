"""Assertions for QA test suites: whether the stream survived.

:func:`assert_stream_ok` validates and raises :class:`AssertionError` with a
short, readable summary when the verdict is "fail"::

    from validator.testing import assert_stream_ok

    def test_phone_keeps_the_tone():
        assert_stream_ok("captures/phone.wav", "reference.wav", html_dir="reports")

The pytest plugin (:mod:`validator.pytest_plugin`, fixture ``audio_validator``)
builds on :func:`failure_summary` and writes the HTML report of a failure
beside the test results.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validator.result import ValidationResult

if TYPE_CHECKING:  # pragma: no cover
    from validator.verdict import Profile

#: Events listed in a failure message.
SUMMARY_EVENTS = 5


def _num(x: float | int | None) -> str:
    """A measured value or limit in a failure summary (``-`` for none, ``nan`` for NaN)."""
    from validator.report.numbers import format_number  # the report package loads numpy

    return format_number(x, nan="nan")


def failure_summary(result: ValidationResult, *, html_path: str | os.PathLike[str] | None = None,
                    max_events: int = SUMMARY_EVENTS) -> str:
    """A compact, readable account of a result for an assertion message.

    Parameters
    ----------
    result : ValidationResult
    html_path : str or Path, optional
        The HTML report written for it, named on the last line.
    max_events : int
        Events listed (the first ones).

    Returns
    -------
    str
        Several lines: verdict and event counts, the inputs, every failed
        check with measured value, limit and unit, the first events with
        their times, and the report path.
    """
    r = result
    counts = Counter(e.type for e in r.events)
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items())) or "no events"
    lines = [f"audio stream {r.verdict.upper()}: {summary}",
             f"  received  {r.input.received}",
             f"  reference {r.input.reference}"]
    failed = [k for k in r.checks if not k.passed]
    if failed:
        lines.append("  failed checks:")
        for k in failed:
            limit = "-" if k.limit is None else _num(k.limit)
            line = f"    {k.name}: measured {_num(k.measured)}, limit {limit} {k.unit}"
            lines.append(line.rstrip())
    if r.events:
        shown = r.events[:max_events]
        more = f", first {len(shown)}" if len(r.events) > len(shown) else ""
        lines.append(f"  events ({len(r.events)}{more}):")
        for e in shown:
            lines.append(f"    {e.start_s:9.4f} s  {e.duration_s * 1000:7.2f} ms  ch{e.channel}  "
                         f"{e.type:<8s} {e.level_db:7.1f} dB  {e.description}")
    if html_path is not None:
        lines.append(f"  HTML report: {html_path}")
    return "\n".join(lines)


def report_name(received: Any, *, prefix: str = "") -> str:
    """A file name for a received input's HTML report: ``<prefix><stem>.html``.

    Arrays (no file name) are called ``received``; unsafe characters become ``_``.
    """
    stem = Path(str(received)).stem if isinstance(received, str | os.PathLike) else "received"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{prefix}{stem}").strip("._") or "received"
    return f"{name[:150]}.html"


def assert_stream_ok(received: Any, reference: Any, *, profile: Any = None,
                     sample_rate_hz: int | None = None,
                     html_dir: str | os.PathLike[str] | None = None,
                     **kwargs: Any) -> ValidationResult:
    """Validate and raise AssertionError with a readable summary unless the verdict is pass.

    Parameters
    ----------
    received : str, path or np.ndarray, shape=(n_samples,) or (n_samples, n_channels)
        The audio that came out of the device or network (arrays: float in [-1, 1)).
    reference : str, path or np.ndarray
        The signal that went in, or a tone spec such as ``"sine:997"``.
    profile : Profile, str or path, optional
        Limits and detector settings, or the path of a TOML profile; the
        default profile when omitted.
    sample_rate_hz : int, optional
        Sample rate of array inputs, Hz.
    html_dir : str or path, optional
        When given, the HTML report is written there (pass or fail) as
        ``<received stem>.html`` and its path is named in the failure message.
    **kwargs
        Passed to :func:`validator.pipeline.validate` (``max_delay_s``, ``dtw``, ...).

    Returns
    -------
    ValidationResult
        The result, when every check passed.

    Raises
    ------
    AssertionError
        When a check failed; the message gives the verdict, the failed checks
        (measured, limit, unit), the first 5 events with their times and, with
        ``html_dir``, the report's path.
    ValidatorError
        When the inputs cannot be validated at all (a missing file, mismatched rates).
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    result, profile = run_validation(received, reference, profile=profile,
                                     sample_rate_hz=sample_rate_hz, **kwargs)
    html_path = None
    if html_dir is not None:
        html_path = write_report(result, Path(html_dir) / report_name(received), profile)
    if not result.passed:
        raise AssertionError(failure_summary(result, html_path=html_path))
    return result


def run_validation(received: Any, reference: Any, *, profile: Any = None,
                   sample_rate_hz: int | None = None,
                   **kwargs: Any) -> tuple[ValidationResult, Profile]:
    """:func:`validator.pipeline.validate` with ``profile`` also accepted as a TOML path.

    Returns
    -------
    result : ValidationResult
    profile : Profile
        The profile used (the default one when ``profile`` was None).
    """
    from validator.pipeline import validate
    from validator.verdict import Profile, load_profile

    if profile is None:
        profile = Profile()
    elif not isinstance(profile, Profile):
        profile = load_profile(profile)
    result = validate(received, reference, profile=profile, sample_rate_hz=sample_rate_hz,
                      **kwargs)
    return result, profile


def write_report(result: ValidationResult, path: str | os.PathLike[str],
                 profile: Profile | None = None) -> Path:
    """Write the HTML report of ``result`` (silence threshold from ``profile``); its path."""
    from validator.report.html import write_html
    from validator.verdict import Profile

    threshold = (profile or Profile()).detectors.silence_threshold_dbfs
    return write_html(result, path, silence_threshold_dbfs=threshold)
