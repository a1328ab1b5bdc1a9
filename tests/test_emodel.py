"""The E-model (ITU-T G.107) on RTP streams: reference points, loss inputs, not-rated paths.

Hand-computed values use the G.107 (06/2015) formulas with Table 3
defaults; loss patterns and arrival series are built so that the expected
counts are known exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from validator.cli import main
from validator.quality.emodel import (
    EModelInput,
    codec_impairment,
    delay_impairment,
    effective_equipment_impairment,
    mos_cqe,
    rate,
)
from validator.quality.loss import (
    JitterBuffer,
    JitterBufferSpecError,
    gilbert_fit,
    late_packets,
    parse_jitter_buffer,
)
from validator.quality.rating import (
    ASSUMED_ONE_WAY_DELAY_MS,
    EModelSettings,
    rate_capture,
    rate_stream,
)
from validator.rtp import read_capture, select_stream
from validator.rtp.rtcp import build_rtcp_rr, build_rtcp_sr, parse_rtcp, round_trip_times
from validator.rtp.synth import Datagram, rtp_datagrams, write_capture
from validator.verdict import Limits, Profile, judge

#: R with every G.107 Table 3 default (the Recommendation prints 93.2).
R_DEFAULT = rate().r


# --------------------------------------------------------------------------- G.107 formulas


def test_g107_reference_point_all_defaults():
    r = rate()
    assert r.r == pytest.approx(93.2, abs=0.05)
    assert r.mos_cqe == pytest.approx(4.41, abs=0.005)
    assert r.ro == pytest.approx(94.77, abs=0.005)
    assert r.is_ == pytest.approx(1.41, abs=0.005)
    assert r.id_ == pytest.approx(0.15, abs=0.005)
    assert r.ie_eff == 0.0 and r.idd == 0.0 and r.idte == 0.0


def test_mos_cqe_mapping_annex_b():
    assert mos_cqe(-10.0) == 1.0
    assert mos_cqe(0.0) == pytest.approx(1.0, abs=1e-12)
    assert mos_cqe(100.0) == pytest.approx(4.5, abs=1e-12)
    assert mos_cqe(150.0) == 4.5
    # 1 + 0.035*50 + 50*(50-60)*(100-50)*7e-6 = 1 + 1.75 - 0.175
    assert mos_cqe(50.0) == pytest.approx(2.575, abs=1e-12)
    rs = np.linspace(0, 100, 201)
    assert min(mos_cqe(float(x)) for x in rs) == 1.0  # the polynomial dips to 0.99 near R 3
    assert mos_cqe(3.0) == 1.0
    assert np.all(np.diff([mos_cqe(float(x)) for x in rs if x >= 6.6]) > 0)


def test_random_loss_hand_computed():
    # G.711 without PLC: Ie 0, Bpl 4.3; Ppl 2 %, random: Ie,eff = 95*2/(2 + 4.3)
    ie_eff = 95 * 2 / 6.3
    assert effective_equipment_impairment(0.0, 4.3, 2.0, 1.0) == pytest.approx(ie_eff, rel=1e-12)
    r = rate(ie=0.0, bpl=4.3, ppl_pct=2.0)
    assert r.ie_eff == pytest.approx(30.1587, abs=1e-4)
    assert r.r == pytest.approx(R_DEFAULT - ie_eff, abs=1e-9)
    assert r.r == pytest.approx(63.05, abs=0.01)
    # with the G.711 Appendix I PLC: Bpl 25.1
    assert rate(bpl=25.1, ppl_pct=2.0).ie_eff == pytest.approx(95 * 2 / 27.1, abs=1e-9)


def test_bursty_loss_hand_computed():
    # Ppl 2 %, BurstR 2: Ie,eff = 95*2/(2/2 + 4.3) = 35.849; burstier is worse
    r = rate(ppl_pct=2.0, burst_ratio=2.0)
    assert r.ie_eff == pytest.approx(190 / 5.3, abs=1e-9)
    assert r.r == pytest.approx(R_DEFAULT - 190 / 5.3, abs=1e-9)
    assert r.r < rate(ppl_pct=2.0).r
    # G.729A (Ie 11, Bpl 19.0), Ppl 5 %, BurstR 1.5
    want = 11 + (95 - 11) * 5 / (5 / 1.5 + 19.0)
    assert effective_equipment_impairment(11.0, 19.0, 5.0, 1.5) == pytest.approx(want)


def test_delay_impairment_idd():
    assert delay_impairment(100.0) == 0.0
    assert delay_impairment(0.0) == 0.0
    # Ta = 200 ms: X = 1, Idd = 25 [2^(1/6) - 3 (1 + 3^-6)^(1/6) + 2]
    want = 25 * (2 ** (1 / 6) - 3 * (1 + 3.0 ** -6) ** (1 / 6) + 2)
    assert delay_impairment(200.0) == pytest.approx(want, abs=1e-12)
    assert want == pytest.approx(3.044, abs=0.001)
    # longer delay, lower R
    rs = [rate(ta_ms=ta, t_ms=ta, tr_ms=2 * ta).r for ta in (0, 50, 150, 300, 500)]
    assert all(a > b for a, b in zip(rs, rs[1:], strict=False))


def test_rate_accepts_a_parameter_set():
    p = EModelInput(ie=11.0, bpl=19.0)
    assert rate(p).r == pytest.approx(R_DEFAULT - 11.0, abs=1e-9)
    assert rate(p, ppl_pct=1.0).ie_eff > 11.0


# --------------------------------------------------------------------------- G.113 table


def test_g711_values_from_g113_appendix_i():
    plain = codec_impairment("PCMU")
    concealed = codec_impairment("PCMA", plc=True)
    assert not isinstance(plain, str) and not isinstance(concealed, str)
    assert (plain.ie, plain.bpl, plain.plc) == (0.0, 4.3, False)
    assert (concealed.ie, concealed.bpl, concealed.plc) == (0.0, 25.1, True)
    assert "G.113 Appendix I" in plain.source


@pytest.mark.parametrize(("codec", "words"), [
    ("L16", "linear PCM"), ("L24", "linear PCM"), ("opus", "Opus"), ("G722", "wideband"),
    (None, "unknown"), ("iLBC", "iLBC"), ("telephone-event", "DTMF")])
def test_codecs_without_g113_values_are_not_rated(codec, words):
    reason = codec_impairment(codec)
    assert isinstance(reason, str) and words in reason


# --------------------------------------------------------------------------- Gilbert fit


def test_gilbert_no_loss_is_burst_ratio_one():
    fit = gilbert_fit([False] * 100)
    assert (fit.burst_ratio, fit.lost, fit.loss_pct, fit.bursts) == (1.0, 0, 0.0, 0)
    assert gilbert_fit([]).burst_ratio == 1.0


def test_gilbert_single_burst_known_counts():
    fit = gilbert_fit([False] * 50 + [True] * 4 + [False] * 46)
    # n00 = 49 + 45, n01 = 1, n11 = 3, n10 = 1
    assert fit.p == pytest.approx(1 / 95) and fit.q == pytest.approx(1 / 4)
    assert fit.burst_ratio == pytest.approx(1 / (1 / 95 + 1 / 4))
    assert (fit.bursts, fit.mean_burst_packets, fit.loss_pct) == (1, 4.0, 4.0)


def test_gilbert_alternating_loss_is_smoother_than_random():
    fit = gilbert_fit([False, True] * 50)
    assert (fit.p, fit.q, fit.burst_ratio) == (1.0, 1.0, 0.5)


def test_gilbert_trailing_loss_uses_the_burst_length():
    fit = gilbert_fit([False] * 9 + [True])
    assert fit.q is None and fit.p == pytest.approx(1 / 9)
    assert fit.burst_ratio == pytest.approx(1 / (1 / 9 + 1))


def test_gilbert_recovers_a_markov_chain(rng):
    p, q = 0.02, 0.4
    state, seq = False, []
    for u in rng.random(200_000):
        state = (u < p) if not state else (u >= q)
        seq.append(state)
    fit = gilbert_fit(seq)
    assert fit.p == pytest.approx(p, abs=0.002)
    assert fit.q == pytest.approx(q, abs=0.02)
    assert fit.burst_ratio == pytest.approx(1 / (p + q), abs=0.1)
    # independent loss at the same rate: BurstR near 1
    iid = gilbert_fit(list(rng.random(200_000) < 0.05))
    assert iid.burst_ratio == pytest.approx(1.0, abs=0.03)


# --------------------------------------------------------------------------- jitter buffer


def test_fixed_buffer_counts_late_packets():
    rtp = [20.0 * k for k in range(8)]
    transit = [10, 12, 75, 69, 71, 10, 200, 70]  # deadline: 10 + 60 = 70 ms of transit
    res = late_packets([r + n for r, n in zip(rtp, transit, strict=True)], rtp,
                       buffer=JitterBuffer("fixed", 60))
    assert res.late == (False, False, True, False, True, False, True, False)
    assert res.late_count == 3
    waits = [70 - n for n in transit if n <= 70]
    assert res.mean_wait_ms == pytest.approx(sum(waits) / len(waits))


def test_fixed_buffer_zero_depth_keeps_only_the_fastest():
    res = late_packets([0.0, 20.5, 40.0], [0.0, 20.0, 40.0], buffer=JitterBuffer("fixed", 0))
    assert res.late == (False, True, False)


def test_adaptive_buffer_shrinks_on_a_steady_path_then_drops_a_spike():
    n = 6000
    rtp = [20.0 * k for k in range(n + 2)]
    transit = [10.0] * n + [10.0 + 45.0, 10.0 + 15.0]
    arrival = [r + t for r, t in zip(rtp, transit, strict=True)]
    adaptive = late_packets(arrival, rtp, buffer=JitterBuffer("adaptive", 60), packet_ms=20)
    fixed = late_packets(arrival, rtp, buffer=JitterBuffer("fixed", 60))
    # after 6000 steady packets the margin is one packet time (20 ms): +45 is late, +15 is not
    assert adaptive.late[-2:] == (True, False)
    assert adaptive.late_count == 1
    assert fixed.late_count == 0
    assert adaptive.final_delay_ms == pytest.approx(20.0, abs=0.5)


def test_adaptive_buffer_grows_with_jitter(rng):
    n = 5000
    rtp = [20.0 * k for k in range(n)]
    transit = [10.0, *(10 + np.abs(rng.normal(0, 25, n - 1)))]  # the first is the fastest
    arrival = [r + t for r, t in zip(rtp, transit, strict=True)]
    small = late_packets(arrival, rtp, buffer=JitterBuffer("adaptive", 20))
    fixed = late_packets(arrival, rtp, buffer=JitterBuffer("fixed", 20))
    assert small.final_delay_ms > 60  # learnt a deeper buffer than the 20 ms it started with
    assert small.late_count < fixed.late_count / 3
    assert small.mean_wait_ms > fixed.mean_wait_ms  # its fewer losses cost delay


@pytest.mark.parametrize(("text", "want"), [
    ("fixed:60", JitterBuffer("fixed", 60)), ("60", JitterBuffer("fixed", 60)),
    ("adaptive", JitterBuffer("adaptive", 60)), ("ADAPTIVE:40", JitterBuffer("adaptive", 40)),
    ("fixed", JitterBuffer("fixed", 60)), (" fixed:0 ", JitterBuffer("fixed", 0))])
def test_parse_jitter_buffer(text, want):
    assert parse_jitter_buffer(text) == want


@pytest.mark.parametrize("text", ["", "x", "fixed:-1", "adaptive:nan", "fixed:inf", "1e9",
                                  "elastic:60", "fixed:60:1"])
def test_parse_jitter_buffer_refuses(text):
    with pytest.raises(JitterBufferSpecError, match="bad jitter buffer"):
        parse_jitter_buffer(text)


# --------------------------------------------------------------------------- streams


def _pcmu_capture(path: Path, *, drop: Collection[int] = (),
                  late_ms: dict[int, float] | None = None, n: int = 250, pt: int = 0,
                  extra: list[Datagram] | None = None) -> Path:
    """A 20 ms PCMU stream (seq 1000...) with packets ``drop``ped and some delayed by ms."""
    dg = rtp_datagrams([bytes([0xFF]) * 160] * n, payload_type=pt, ts_step=160,
                       ptime_ns=20_000_000)
    late_ms = late_ms or {}
    out = [replace(d, time_ns=d.time_ns + int(late_ms.get(k, 0) * 1e6))
           for k, d in enumerate(dg) if k not in drop]
    out += extra or []
    out.sort(key=lambda d: d.time_ns)
    return write_capture(path, out)


def test_stream_rating_equals_the_formula_by_hand(tmp_path):
    drop = {20, 21, 22, 100, 180}
    path = _pcmu_capture(tmp_path / "loss.pcap", drop=drop, late_ms={50: 100.0})
    rating = rate_stream(select_stream(read_capture(path)))
    assert rating.rated and rating.codec == "PCMU"
    assert (rating.expected_packets, rating.network_lost, rating.late_packets) == (250, 5, 1)
    assert rating.network_loss_pct == pytest.approx(2.0)
    assert rating.effective_loss_pct == pytest.approx(2.4)
    pattern = [k in drop or k == 50 for k in range(250)]
    fit = gilbert_fit(pattern)
    assert rating.burst_ratio == pytest.approx(fit.burst_ratio)
    assert rating.packet_ms == pytest.approx(20.0)
    assert rating.buffer_wait_ms == pytest.approx(60.0, abs=1e-6)  # no jitter: every wait 60 ms
    assert rating.delay_source == "assumed"
    assert rating.one_way_delay_ms == ASSUMED_ONE_WAY_DELAY_MS
    ta = ASSUMED_ONE_WAY_DELAY_MS + 60.0 + 20.0
    assert rating.ta_ms == pytest.approx(ta, abs=1e-6)
    want = rate(ie=0.0, bpl=4.3, ppl_pct=2.4, burst_ratio=max(fit.burst_ratio, 1.0), ta_ms=ta,
                t_ms=ta, tr_ms=2 * ta)
    assert rating.r_factor == pytest.approx(want.r, abs=1e-6)
    assert rating.mos_cqe == pytest.approx(want.mos_cqe, abs=1e-6)


def test_more_loss_scores_lower_and_bursts_score_lower(tmp_path):
    def mos(name, drop, **kw):
        r = rate_stream(select_stream(read_capture(_pcmu_capture(tmp_path / name, drop=drop))),
                        EModelSettings(**kw))
        return r.mos_cqe

    clean = mos("clean.pcap", set())
    spread = mos("spread.pcap", {10, 50, 90, 130, 170})
    burst = mos("burst.pcap", {100, 101, 102, 103, 104})
    more = mos("more.pcap", {10, 30, 50, 70, 90, 110, 130, 150, 170, 190})
    assert clean > spread > more
    assert spread > burst  # same 2 % loss, in one burst
    assert mos("plc.pcap", {10, 50, 90, 130, 170}, plc=True) > spread
    assert mos("far.pcap", set(), one_way_delay_ms=300.0) < clean


def test_settings_delay_given_and_adaptive_buffer_reported(tmp_path):
    path = _pcmu_capture(tmp_path / "s.pcap")
    rating = rate_stream(select_stream(read_capture(path)),
                         EModelSettings(jitter_buffer=JitterBuffer("adaptive", 40),
                                        one_way_delay_ms=25.0))
    row = rating.to_dict()
    assert row["jitter_buffer"]["type"] == "adaptive" and row["jitter_buffer"]["size_ms"] == 40
    assert row["emodel"]["delay_source"] == "given"
    assert row["emodel"]["one_way_delay_ms"] == 25.0
    assert row["late_packets"] == 0 and row["effective_loss_pct"] == 0.0


def test_unknown_payload_and_l16_are_not_rated_with_the_same_fields(tmp_path):
    path = _pcmu_capture(tmp_path / "dyn.pcap", pt=96, drop={7})
    unknown = rate_stream(select_stream(read_capture(path)))
    assert not unknown.rated and "unknown" in (unknown.not_rated_reason or "")
    assert unknown.r_factor is None and unknown.mos_cqe is None
    assert unknown.network_lost == 1 and unknown.effective_loss_pct is None
    l16 = rate_stream(select_stream(read_capture(path, payload_types={96: "L16/8000/1"})))
    assert not l16.rated and "linear PCM" in (l16.not_rated_reason or "")
    assert l16.effective_loss_pct == pytest.approx(100 / 250)  # measured all the same
    rated = rate_stream(select_stream(read_capture(_pcmu_capture(tmp_path / "u.pcap"))))
    for r in (unknown, l16):
        d = r.to_dict()
        assert set(d) == set(rated.to_dict())
        assert set(d["emodel"]) == set(rated.to_dict()["emodel"])
        assert d["rated"] is False and d["r_factor"] is None and d["mos_cqe"] is None
        json.dumps(d, allow_nan=False)
        assert r.summary().startswith("E-model: not rated: ")


def test_rtcp_round_trip_sets_the_one_way_delay(tmp_path):
    ssrc = 0x12345678
    ntp = 3_900_000_000.25
    sr = build_rtcp_sr(ssrc, ntp)
    senders, _ = parse_rtcp(sr)
    (_, mid), = senders
    # the receiver answers 0.2 s after the SR reached it; the report arrives 1.3 s after the SR
    rr = build_rtcp_rr(0xBEEF, ssrc, mid, int(0.2 * 65536))
    t0 = 1_000_000_000_000
    rtcp = [Datagram(t0 + 1_000_000_000, "10.0.0.1", 40001, "10.0.0.2", 5005, sr),
            Datagram(t0 + 1_300_000_000, "10.0.0.2", 5005, "10.0.0.1", 40001, rr)]
    path = _pcmu_capture(tmp_path / "rtcp.pcap", extra=rtcp)
    rtt = round_trip_times(path)
    assert rtt == {ssrc: pytest.approx(100.0, abs=0.05)}
    capture = read_capture(path)
    assert capture.rtcp_packets == 2
    (rating,) = rate_capture(capture)
    assert rating.delay_source == "rtcp"
    assert rating.one_way_delay_ms == pytest.approx(50.0, abs=0.05)
    given = rate_capture(capture, settings=EModelSettings(one_way_delay_ms=5.0))[0]
    assert given.delay_source == "given" and given.one_way_delay_ms == 5.0


def test_parse_rtcp_skips_garbage():
    assert parse_rtcp(b"\x80\xc8\x00\x06" + b"\x00" * 5) == ([], [])
    assert parse_rtcp(b"") == ([], [])


# --------------------------------------------------------------------------- CLI and verdict


def test_rtp_json_carries_the_emodel_fields(tmp_path, capsys):
    path = _pcmu_capture(tmp_path / "c.pcap", drop={3, 4})
    assert main(["rtp", str(path), "--json", "--jitter-buffer", "adaptive:40",
                 "--one-way-delay-ms", "30", "--plc"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["streams"]
    for key in ("rated", "not_rated_reason", "r_factor", "mos_cqe", "burst_ratio",
                "effective_loss_pct", "network_loss_pct", "jitter_buffer", "emodel"):
        assert key in row
    assert row["rated"] is True and 1 <= row["mos_cqe"] <= 4.5
    assert row["jitter_buffer"] == {"type": "adaptive", "size_ms": 40.0,
                                    "mean_wait_ms": row["jitter_buffer"]["mean_wait_ms"]}
    assert row["emodel"]["bpl"] == 25.1 and row["emodel"]["plc"] is True
    assert row["emodel"]["one_way_delay_ms"] == 30.0
    assert row["ssrc"] == "0x12345678" and row["lost"] == 2  # the old fields are still there


def test_rtp_table_shows_the_rating(tmp_path, capsys):
    path = _pcmu_capture(tmp_path / "c.pcap")
    assert main(["rtp", str(path)]) == 0
    out = capsys.readouterr().out
    assert "E-model: R 91" in out and "MOS-CQE 4.3" in out


@pytest.mark.parametrize("argv", [["--jitter-buffer", "elastic"], ["--jitter-buffer", "-5"],
                                  ["--one-way-delay-ms", "-1"], ["--one-way-delay-ms", "nan"]])
def test_bad_emodel_options_exit_2_with_one_line(tmp_path, capsys, argv):
    path = _pcmu_capture(tmp_path / "c.pcap")
    assert main(["rtp", str(path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


class _Section:
    def __init__(self, ratings):
        self.emodel = tuple(ratings)
        self.ssrc = "0x12345678"


def _with_limit(limit):
    return Profile(limits=Limits(min_mos_cqe=limit))


def test_min_mos_cqe_not_judged_by_default(make_result):
    checks, _ = judge(make_result(), Profile())
    assert "mos_cqe" not in {c.name for c in checks}


def test_min_mos_cqe_fails_closed_without_a_capture(make_result):
    checks, verdict = judge(make_result(), _with_limit(4.0))
    (check,) = [c for c in checks if c.name == "mos_cqe"]
    assert not check.passed and check.measured is None and verdict == "fail"
    assert "not an RTP capture" in check.description


def test_min_mos_cqe_fails_closed_on_a_stream_not_rated(make_result, tmp_path):
    path = _pcmu_capture(tmp_path / "dyn.pcap", pt=96)
    rating = rate_stream(select_stream(read_capture(path, payload_types={96: "L16/8000/1"})))
    result = replace(make_result(), rtp=_Section([rating]))
    (check,) = [c for c in judge(result, _with_limit(1.0))[0] if c.name == "mos_cqe"]
    assert not check.passed and "not rated" in check.description
    assert "linear PCM" in check.description


def test_min_mos_cqe_judges_a_rated_stream(make_result, tmp_path):
    rating = rate_stream(select_stream(read_capture(_pcmu_capture(tmp_path / "c.pcap",
                                                                  drop={5}))))
    result = replace(make_result(), rtp=_Section([rating]))
    (low,) = [c for c in judge(result, _with_limit(1.0))[0] if c.name == "mos_cqe"]
    (high,) = [c for c in judge(result, _with_limit(4.49))[0] if c.name == "mos_cqe"]
    assert low.passed and not high.passed
    assert low.measured == pytest.approx(rating.mos_cqe, abs=1e-3) and low.unit == "MOS"


def test_validate_capture_reports_the_rating(tmp_path):
    from validator import signals
    from validator.pipeline import validate
    from validator.report.json_report import to_dict
    from validator.report.terminal import render_terminal
    from validator.rtp.synth import encode_packets

    y = signals.tone(1004.0, sample_rate_hz=8000, duration_s=2.0, marker="chirp")
    ref = signals.write_wav(tmp_path / "ref.wav", y, 8000)
    payloads = encode_packets(y.reshape(-1, 1), "PCMU/8000", samples_per_packet=160)
    dg = [d for k, d in enumerate(rtp_datagrams(payloads, payload_type=0, ts_step=160,
                                                 ptime_ns=20_000_000)) if k != 40]
    cap = write_capture(tmp_path / "rx.pcap", dg)
    result = validate(cap, ref, profile=_with_limit(4.0),
                      emodel=EModelSettings(jitter_buffer=JitterBuffer("fixed", 40)))
    (row,) = to_dict(result)["rtp"]["streams"]
    assert row["rated"] and row["jitter_buffer"]["size_ms"] == 40.0
    assert row["network_loss_pct"] == pytest.approx(100 / len(payloads), abs=1e-3)
    (check,) = [c for c in result.checks if c.name == "mos_cqe"]
    assert check.measured == pytest.approx(row["mos_cqe"], abs=1e-3)
    assert not check.passed  # 0.9 % loss without PLC: MOS-CQE well under 4
    assert "E-model: R" in render_terminal(result)


# --------------------------------------------------------------------------- real captures

G711_CASES = ("pcmu_clean", "pcmu_loss2pct_fill", "pcmu_ge_burst_skip",
              "speech_pcmu_loss3pct", "pcma_jitter", "pcma_jitter_mode_none",
              "pcmu_loss2pct_audiorate_default", "pcmu_long_60s_loss1pct")


@pytest.mark.real
def test_every_real_g711_capture_is_rated_and_scores_fall_with_loss(shared_real):
    found = {}
    for case in sorted(p.parent.name for p in shared_real.glob("*/received.pcap")):
        capture = read_capture(shared_real / case / "received.pcap")
        for stream, rating in zip(capture.streams, rate_capture(capture), strict=True):
            if stream.codec in ("PCMU", "PCMA"):
                assert rating.rated, (case, rating.not_rated_reason)
                truth = json.loads((shared_real / case / "truth.json").read_text())
                assert rating.network_lost == len(truth.get("dropped_seq", [])), case
                found[case] = rating
            else:
                assert not rating.rated and rating.not_rated_reason, case
    missing = set(G711_CASES) - set(found)
    if missing:
        pytest.skip(f"real captures missing: {sorted(missing)}")
    for a in found.values():
        for b in found.values():
            if a.effective_loss_pct < b.effective_loss_pct:
                assert a.mos_cqe > b.mos_cqe
    assert found["pcmu_clean"].mos_cqe > 4.3
    assert found["pcmu_loss2pct_fill"].mos_cqe < 3.0


@pytest.mark.real
@pytest.mark.parametrize("case", G711_CASES)
def test_real_g711_capture_scores_lower_with_more_loss(shared_real, case):
    path = shared_real / case / "received.pcap"
    if not path.is_file():
        pytest.skip(f"real capture {case!r} not found in {shared_real}")
    stream = select_stream(read_capture(path))
    base = rate_stream(stream)
    sparser = replace(stream, packets=tuple(p for k, p in enumerate(stream.packets)
                                            if k % 25 != 7))
    worse = rate_stream(sparser)
    assert worse.network_lost > base.network_lost
    assert worse.mos_cqe < base.mos_cqe and worse.r_factor < base.r_factor
    assert math.isfinite(worse.r_factor)


def test_g729_has_native_concealment_values():
    for plc in (False, True):
        imp = codec_impairment("G729", plc=plc)
        assert not isinstance(imp, str)
        assert (imp.ie, imp.bpl) == (11.0, 19.0)


@pytest.mark.parametrize("command", ["rtp", "validate"])
def test_cli_emodel_defaults_equal_library_defaults(command):
    from validator.cli import build_parser
    from validator.quality.emodel_cli import emodel_settings
    from validator.quality.loss import DEFAULT_JITTER_BUFFER_MS

    argv = [command, "x.pcap"] + (["--reference", "sine:997"] if command == "validate" else [])
    # no E-model option: None, which every consumer takes for the library's defaults
    assert emodel_settings(build_parser().parse_args(argv)) is None
    default_buffer = ["--jitter-buffer", f"fixed:{DEFAULT_JITTER_BUFFER_MS:g}"]
    assert emodel_settings(build_parser().parse_args(argv + default_buffer)) == EModelSettings()
