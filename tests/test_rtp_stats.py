"""Stream statistics on synthetic streams with known loss, duplicates, order, jitter and drift.

Tolerances are physical: jitter to 1 ns (it is computed from integer-ns
arrival times), drift to 0.5 ppm.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from validator.rtp import analyze, build_rtp_packet, read_capture
from validator.rtp.synth import Datagram, write_capture

T0 = 1_000_000_000_000
PTIME_NS = 20_000_000
CONTRACT = {"ssrc", "src", "dst", "payload_type", "codec", "clock_rate", "packets", "expected",
            "lost", "duplicates", "reordered", "min_delta_ms", "mean_delta_ms", "max_delta_ms",
            "mean_jitter_ms", "max_jitter_ms", "start_s", "end_s"}


def _capture(tmp_path: Path, items: list[tuple[int, int, int]], *, pt: int = 0,
             marker: set[int] = frozenset(), payload_len: int = 160,
             pts: dict[int, int] | None = None, **read_kw):
    """items: (seq, timestamp, arrival_ns) in arrival order; one PCMU-like stream."""
    dg = []
    for seq, ts, t in items:
        pkt = build_rtp_packet(payload_type=(pts or {}).get(seq, pt), sequence=seq, timestamp=ts,
                               ssrc=0xCAFE0001, payload=bytes(payload_len), marker=seq in marker)
        dg.append(Datagram(t, "10.0.0.1", 40000, "10.0.0.2", 5004, pkt))
    return read_capture(write_capture(tmp_path / "s.pcap", dg), **read_kw)


def _regular(n: int, first_seq: int = 1000, first_ts: int = 8000) -> list[tuple[int, int, int]]:
    return [((first_seq + k) % 65536, (first_ts + 160 * k) % 2**32, T0 + k * PTIME_NS)
            for k in range(n)]


def test_loss_duplicate_and_reorder_are_counted_apart(tmp_path: Path) -> None:
    items = [x for x in _regular(100) if x[0] not in (1010, 1011, 1050)]
    dup = next(x for x in items if x[0] == 1020)
    items.insert(items.index(dup) + 1, (dup[0], dup[1], dup[2] + 1_000_000))
    i30 = next(i for i, x in enumerate(items) if x[0] == 1030)
    items[i30], items[i30 + 1] = items[i30 + 1], items[i30]
    st = analyze(_capture(tmp_path, items).streams[0])
    assert st.packets == 98
    assert st.expected == 100
    assert st.lost == 2  # tshark: expected - received, duplicates included
    assert st.missing == 3
    assert st.duplicates == 1
    assert st.reordered == 1
    assert st.problems


def test_duplicates_make_lost_negative_like_tshark(tmp_path: Path) -> None:
    items = []
    for x in _regular(20):
        items += [x, (x[0], x[1], x[2] + 10_000)]
    st = analyze(_capture(tmp_path, items).streams[0])
    assert (st.packets, st.expected, st.lost, st.duplicates, st.missing) == (40, 20, -20, 20, 0)


def test_sequence_wrap_65535_to_0_counts_a_cycle(tmp_path: Path) -> None:
    st = analyze(_capture(tmp_path, _regular(100, first_seq=65500,
                                             first_ts=2**32 - 800)).streams[0])
    assert st.seq_wraps == 1
    assert (st.packets, st.expected, st.lost, st.missing) == (100, 100, 0, 0)
    assert st.first_seq == 65500 and st.last_seq == 63
    assert st.max_jitter_ms == 0.0  # timestamp wrap 2**32 -> 0 does not disturb the jitter


def test_jitter_is_rfc3550_at_the_clock_rate(rng: np.random.Generator, tmp_path: Path) -> None:
    n = 300
    offsets = rng.integers(0, 3_000_000, n)  # up to 3 ms of queueing, ns
    items = [(1000 + k, 8000 + 160 * k, T0 + k * PTIME_NS + int(offsets[k])) for k in range(n)]
    st = analyze(_capture(tmp_path, items).streams[0])
    # direct RFC 3550 A.8 in ms (the first packet has the marker bit: not in min/mean/max)
    j, js = 0.0, []
    for k in range(1, n):
        d = (items[k][2] - items[k - 1][2]) / 1e6 - (items[k][1] - items[k - 1][1]) / 8.0
        j += (abs(d) - j) / 16
        js.append(j)
    assert st.max_jitter_ms == pytest.approx(max(js), abs=1e-6, rel=0)
    assert st.mean_jitter_ms == pytest.approx(np.mean(js), abs=1e-6, rel=0)
    assert st.last_jitter_ms == pytest.approx(js[-1], abs=1e-6, rel=0)
    deltas = np.diff([x[2] for x in items]) / 1e6
    assert st.max_delta_ms == pytest.approx(deltas.max(), abs=1e-6, rel=0)
    assert st.min_delta_ms == pytest.approx(deltas.min(), abs=1e-6, rel=0)


def test_marker_and_comfort_noise_packets_are_left_out_of_deltas(tmp_path: Path) -> None:
    items = _regular(50)
    # packet 1020 arrives 15 ms late but carries the marker bit (talkspurt start)
    items[20] = (items[20][0], items[20][1], items[20][2] + 15_000_000)
    st = analyze(_capture(tmp_path, items, marker={1000, 1020}).streams[0])
    assert st.max_delta_ms == pytest.approx(20.0, abs=1e-9)  # its 35 ms delta is skipped
    assert st.min_delta_ms == pytest.approx(5.0, abs=1e-9)  # the next packet's is not
    assert st.marker_packets == 2
    cn = analyze(_capture(tmp_path, _regular(30), pts={1010: 13}).streams[0])
    assert cn.comfort_noise_packets == 1 and cn.payload_type == 0


def test_clock_drift_from_least_squares(tmp_path: Path) -> None:
    n = 500  # 10 s at 20 ms; the sender's clock is 100 ppm slow against the capture clock
    items = [(1000 + k, 8000 + 160 * k, T0 + round(k * PTIME_NS * (1 + 100e-6)))
             for k in range(n)]
    st = analyze(_capture(tmp_path, items).streams[0])
    assert st.clock_drift_ppm == pytest.approx(100.0, abs=0.5)


def test_unknown_clock_rate_gives_null_jitter_and_json_contract(tmp_path: Path) -> None:
    cap = _capture(tmp_path, _regular(30), pt=99)
    st = analyze(cap.streams[0])
    row = st.to_dict()
    assert CONTRACT <= set(row)
    assert row["ssrc"] == "0xCAFE0001" and row["src"] == "10.0.0.1:40000"
    assert row["mean_jitter_ms"] is None and row["max_jitter_ms"] is None
    assert row["clock_rate"] is None and row["codec"] is None
    json.dumps(row)
    known = analyze(_capture(tmp_path, _regular(30), pt=99,
                             payload_types={99: "PCMU/8000"}).streams[0])
    assert known.to_dict()["max_jitter_ms"] == 0.0 and known.clock_rate_hz == 8000


def test_ssrc_collisions_counts_streams_sharing_an_ssrc(tmp_path: Path) -> None:
    from dataclasses import replace

    from validator.rtp.stats import ssrc_collisions

    base = analyze(_capture(tmp_path, _regular(10)).streams[0])
    stats = [replace(base, ssrc=s) for s in (7, 0x12345678, 7, 3, 7, 0x12345678)]
    assert ssrc_collisions(stats) == {7: 3, 0x12345678: 2}
    assert list(ssrc_collisions(stats)) == [7, 0x12345678]  # in SSRC order
    assert ssrc_collisions(stats[:2]) == {}


@pytest.mark.parametrize("seq, ref, delta", [(1001, 1000, 1), (1000, 1001, -1), (0, 65535, 1),
                                             (65535, 0, -1), (32767, 0, 32767),
                                             (32768, 0, -32768), (4465, 70000, 1)])
def test_seq_delta_is_signed_16_bit_arithmetic(seq: int, ref: int, delta: int) -> None:
    from validator.rtp.header import seq_delta

    assert seq_delta(seq, ref) == delta


def test_ts_delta_is_signed_32_bit_arithmetic() -> None:
    from validator.rtp.header import ts_delta

    assert ts_delta(160, 2**32 - 160) == 320
    assert ts_delta(2**32 - 160, 160) == -320
    assert ts_delta(2**31 - 1, 0) == 2**31 - 1 and ts_delta(2**31, 0) == -(2**31)
