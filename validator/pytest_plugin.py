"""pytest plugin: the ``audio_validator`` fixture for QA suites.

Registered through the ``pytest11`` entry point, so installing the package
is enough::

    def test_intercom_keeps_the_tone(audio_validator):
        audio_validator.check("captures/intercom.wav", "reference_signals/tone.wav")

``check`` validates; when a check fails it writes the HTML report under
``--audio-report-dir`` (ini option ``audio_report_dir``; default
``reports/pytest/`` under the rootdir), names its path in the failure
message, records it as the test's ``audio_report`` property (JUnit XML from
``--junitxml`` carries it) and adds an "audio-validator" section to the
test's report. Nothing heavy is imported until a test uses the fixture.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from validator.result import ValidationResult

#: Where failure reports go when neither the option nor the ini value says.
DEFAULT_REPORT_DIR = "reports/pytest"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--audio-report-dir DIR`` and the ini value ``audio_report_dir``."""
    group = parser.getgroup("audio-validator", "audio-stream-validator")
    group.addoption("--audio-report-dir", dest="audio_report_dir", default=None, metavar="DIR",
                    help="folder for the HTML reports of failed audio checks "
                         f"(default: {DEFAULT_REPORT_DIR}/ under the rootdir)")
    parser.addini("audio_report_dir", default=DEFAULT_REPORT_DIR,
                  help="folder for the HTML reports of failed audio checks")


def report_dir(config: pytest.Config) -> Path:
    """The folder for failure reports: option, else ini value, relative to the rootdir."""
    value = config.getoption("audio_report_dir") or config.getini("audio_report_dir") \
        or DEFAULT_REPORT_DIR
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else Path(config.rootpath) / path


class AudioValidator:
    """What the ``audio_validator`` fixture gives a test.

    Attributes
    ----------
    report_dir : Path
        Where the HTML report of a failed check goes.
    results : list of ValidationResult
        Every result this test's checks produced, in order.
    """

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self._node = request.node
        self.report_dir = report_dir(request.config)
        self.results: list[ValidationResult] = []

    def check(self, received: Any, reference: Any, **kwargs: Any) -> ValidationResult:
        """Validate ``received`` against ``reference``; fail the test with a summary if it fails.

        Parameters
        ----------
        received, reference
            As for :func:`validator.validate` (paths, arrays, or a tone spec
            such as ``"sine:997"`` for the reference).
        **kwargs
            ``profile`` (a Profile or a TOML path), ``sample_rate_hz`` and any
            other keyword of :func:`validator.validate`.

        Returns
        -------
        ValidationResult
            When every check passed.

        Raises
        ------
        AssertionError
            With the verdict, the failed checks (measured, limit, unit), the
            first events and the path of the HTML report written for it.
        """
        __tracebackhide__ = True
        from validator.testing import failure_summary, report_name, run_validation, write_report

        result, profile = run_validation(received, reference, **kwargs)
        self.results.append(result)
        if result.passed:
            return result
        prefix = _safe(self._node.nodeid) + (f"-{len(self.results)}-" if len(self.results) > 1
                                             else "-")
        path = write_report(result, self.report_dir / report_name(received, prefix=prefix),
                            profile)
        summary = failure_summary(result, html_path=path)
        self._node.user_properties.append(("audio_report", str(path)))
        self._node.add_report_section("call", "audio-validator", summary + "\n")
        raise AssertionError(summary)


def _safe(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return keep.strip("._")[-100:]


@pytest.fixture
def audio_validator(request: pytest.FixtureRequest) -> AudioValidator:
    """Validate captures in a test; a failure writes the HTML report and names it.

    ``audio_validator.check(received, reference, **kwargs)`` returns the
    :class:`~validator.result.ValidationResult` when it passes and raises
    AssertionError (with a summary and the report path) when it fails.
    """
    return AudioValidator(request)
