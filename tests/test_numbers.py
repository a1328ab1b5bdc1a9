"""The one number formatter of the renderers (HTML cells, JUnit messages, test summaries)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from validator.report.html import fmt_num
from validator.report.numbers import format_number


@pytest.mark.parametrize("x, text", [
    (None, "-"), (True, "True"), (4, "4"), (0.5, "0.5"), (-37.2404, "-37.24"),
    (1.0, "1"), (-0.0001, "0"), (1e-9, "0"), (math.nan, "-"), (math.inf, "inf"),
    (-math.inf, "-inf"), (np.float64(2.25), "2.25"), (np.int64(3), "3"),
])
def test_format_number_table_cells(x, text: str) -> None:
    assert format_number(x) == text
    assert fmt_num(x) == text


def test_format_number_decimals_and_placeholders() -> None:
    assert format_number(1.23456789, decimals=6) == "1.234568"
    assert format_number(2.5, decimals=0) == "2"
    assert format_number(None, none="none") == "none"
    assert format_number(math.nan, nan="nan") == "nan"


def test_junit_and_failure_summary_use_it() -> None:
    from validator.report.junit import _num
    from validator.testing import _num as summary_num

    assert [_num(x) for x in (None, True, 7, math.nan, -0.0000001, 0.1234567)] == \
        ["none", "1", "7", "nan", "0", "0.123457"]
    assert [summary_num(x) for x in (None, 7, math.nan, 0.12345)] == ["-", "7", "nan", "0.123"]
