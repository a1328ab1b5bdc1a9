"""Our stream statistics equal tshark's ``-z rtp,streams``: packets and lost exactly, jitter
within 0.01 ms, on every public capture in ../shared/captures and every real received.pcap.

Two layers: the stored ``*.tshark.txt`` / ``tshark_streams.txt`` (TShark 4.0.17, no tshark
needed), and a live run of the tshark on this machine (skipped when it is absent; .ci/run
installs it). Where tshark prints jitter -1 (a dynamic payload type without SDP), the
live comparison prepends a SAP/SDP announcement so that both sides know the clock rate.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

from validator.rtp import analyze, read_capture

SHARED = Path(__file__).resolve().parents[2] / "shared"
JITTER_ATOL_MS = 0.01
#: tshark prints 3 decimals: half a unit of the last digit on top of the tolerance.
PRINT_MS = 0.0005

_spec = importlib.util.spec_from_file_location(
    "rtp_vs_tshark", Path(__file__).resolve().parent / "tools" / "rtp_vs_tshark.py")
assert _spec and _spec.loader
tools = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("rtp_vs_tshark", tools)
_spec.loader.exec_module(tools)


@pytest.fixture(scope="module")
def shared_captures() -> Path:
    """``../shared/captures``: public RTP captures; skips when the folder is absent."""
    d = SHARED / "captures"
    if not d.is_dir():
        pytest.skip(f"public captures not found at {d} (../shared is only in the team checkout "
                    "and CI, not in a user's clone)")
    return d


def _capture_names() -> list[str]:
    d = SHARED / "captures"
    return sorted(p.name for p in d.glob("*") if p.suffix in (".pcap", ".cap")) if d.is_dir() \
        else ["(none)"]


def _real_names() -> list[str]:
    d = SHARED / "real"
    return sorted(p.name for p in d.glob("*/") if (p / "received.pcap").is_file()) \
        if d.is_dir() else ["(none)"]


def _check(ours: dict, rows: list, *, jitter: bool = True) -> None:
    assert set(ours) == {r.key for r in rows}, "streams differ from tshark's"
    for r in rows:
        o = ours[r.key]
        assert (o.packets, o.lost) == (r.packets, r.lost), r.key
        if r.min_jitter_ms == -1:  # tshark: no clock rate
            assert o.max_jitter_ms is None and o.mean_jitter_ms is None
        elif jitter:
            assert o.max_jitter_ms == pytest.approx(r.max_jitter_ms, abs=JITTER_ATOL_MS, rel=0)
            assert o.mean_jitter_ms == pytest.approx(r.mean_jitter_ms, abs=JITTER_ATOL_MS, rel=0)
            assert o.max_jitter_ms == pytest.approx(r.max_jitter_ms, abs=PRINT_MS, rel=0)
            assert o.mean_jitter_ms == pytest.approx(r.mean_jitter_ms, abs=PRINT_MS, rel=0)
        assert o.max_delta_ms == pytest.approx(r.max_delta_ms, abs=PRINT_MS + 1e-6, rel=0)
        assert o.min_delta_ms == pytest.approx(r.min_delta_ms, abs=PRINT_MS + 1e-6, rel=0)
        assert o.start_s == pytest.approx(r.start_s, abs=1e-6, rel=0)


@pytest.mark.real
@pytest.mark.parametrize("name", _capture_names())
def test_public_capture_equals_stored_tshark(shared_captures: Path, name: str) -> None:
    path = shared_captures / name
    rows = tools.parse_tshark_streams(path.with_suffix(".tshark.txt").read_text())
    assert rows
    ours = {s.key: analyze(s) for s in read_capture(path).streams}
    _check(ours, rows)


@pytest.mark.real
@pytest.mark.parametrize("name", _real_names())
def test_real_capture_equals_stored_tshark(shared_real: Path, name: str) -> None:
    d = shared_real / name
    text = (d / "tshark_streams.txt").read_text()
    port = int(re.search(r"udp\.port==(\d+)", text).group(1))
    received = tools.parse_tshark_streams(text.split("\n\n")[0])  # first table: received.pcap
    ours = {s.key: analyze(s) for s in read_capture(d / "received.pcap", port=port).streams}
    _check(ours, received)
    dynamic = tools.stored_rtpmap(text)
    if dynamic:  # the stored SAP table: jitter at the announced clock rate
        pt, fmt = dynamic
        sap = tools.parse_tshark_streams(text.split("_sap_received.pcap")[1])
        known = {s.key: analyze(s) for s in
                 read_capture(d / "received.pcap", port=port, payload_types={pt: fmt}).streams}
        (row,) = sap
        o = known[row.key]
        assert (o.packets, o.lost) == (row.packets, row.lost)
        assert o.max_jitter_ms == pytest.approx(row.max_jitter_ms, abs=JITTER_ATOL_MS, rel=0)
        assert o.mean_jitter_ms == pytest.approx(row.mean_jitter_ms, abs=JITTER_ATOL_MS, rel=0)


@pytest.fixture(scope="module")
def tshark() -> str:
    exe = shutil.which("tshark")
    if exe is None:
        pytest.skip("tshark not installed (apt-get install tshark; .ci/run does it)")
    return exe


@pytest.mark.real
@pytest.mark.slow
def test_live_tshark_agrees_on_every_capture(shared_captures: Path, tshark: str,
                                             tmp_path: Path) -> None:
    cases = tools.cases(SHARED)
    assert len(cases) >= 6
    lines = []
    for case in cases:
        rows = tools.compare(case, tmp_path)
        assert rows, case.name
        for r in rows:
            t, o = r["tshark"], r["ours"]
            assert t is not None and o is not None, (case.name, r["key"])
            assert (o.packets, o.lost) == (t.packets, t.lost), (case.name, r["key"])
            if t.min_jitter_ms != -1:
                assert o.max_jitter_ms == pytest.approx(t.max_jitter_ms, abs=JITTER_ATOL_MS)
                assert o.mean_jitter_ms == pytest.approx(t.mean_jitter_ms, abs=JITTER_ATOL_MS)
            else:
                pytest.fail(f"{case.name}: tshark has no clock rate even with SAP")
            lines.append(f"{case.name:<45} 0x{o.ssrc:08X} {o.packets:>6}/{t.packets:<6} "
                         f"{o.lost:>4}/{t.lost:<4} {o.max_jitter_ms:8.3f}/{t.max_jitter_ms:<8.3f}"
                         f" {o.mean_jitter_ms:7.3f}/{t.mean_jitter_ms:<7.3f}")
    print("\n" + "\n".join(lines))
