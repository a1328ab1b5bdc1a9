"""Decoding: every codec, samples placed by RTP timestamp, lost packets as zero gaps in place.

Synthetic streams are exact (G.711 through the same tables, PCM bit-exact);
the real GStreamer captures in ../shared/real are checked against their
truth.json (skipped when ../shared is absent; G.722 and Opus need PyAV, the
extra ``codecs``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from validator.errors import CaptureError, MissingDependencyError
from validator.impair import a_law_round_trip, mu_law_round_trip
from validator.rtp import decode, read_capture, select_stream
from validator.rtp.synth import Datagram, encode_packets, rtp_datagrams, write_capture

T0 = 1_000_000_000_000


def _tone(fs: int, n: int, channels: int = 1, level: float = 0.5) -> np.ndarray:
    t = np.arange(n) / fs
    return np.stack([level * np.sin(2 * np.pi * (997 + 502 * c) * t) for c in range(channels)],
                    1)


def _stream(tmp_path: Path, y: np.ndarray, fmt: str, pt: int, spp: int, ptime_ns: int, *,
            drop: set[int] = frozenset(), order: list[int] | None = None, **kw):
    payloads = encode_packets(y, fmt, samples_per_packet=spp)
    dg = rtp_datagrams(payloads, payload_type=pt, ts_step=kw.pop("ts_step", spp),
                       ptime_ns=ptime_ns, t0_ns=T0, **kw)
    dg = [d for k, d in enumerate(dg) if k not in drop]
    if order is not None:
        dg = [dg[i] for i in order]
    path = write_capture(tmp_path / "s.pcap", dg)
    return select_stream(read_capture(path, payload_types={pt: fmt} if pt >= 96 else None))


@pytest.mark.parametrize("codec, pt, round_trip", [("PCMU", 0, mu_law_round_trip),
                                                   ("PCMA", 8, a_law_round_trip)])
def test_g711_decodes_like_the_reference_tables(tmp_path: Path, codec, pt, round_trip) -> None:
    y = _tone(8000, 8000)
    d = decode(_stream(tmp_path, y, f"{codec}/8000", pt, 160, 20_000_000))
    assert d.sample_rate_hz == 8000 and d.codec == codec
    np.testing.assert_array_equal(d.audio, round_trip(y, 8000).y)
    assert d.network_events == ()


@pytest.mark.parametrize("fmt, spp, ptime_ns", [
    ("L16/48000/2", 48, 1_000_000),  # AES67 1 ms
    ("L24/48000/2", 6, 125_000),  # AES67 low latency 125 us
    ("L24/48000/6", 48, 1_000_000),  # 5.1
    ("L16/44100/1", 441, 10_000_000),
])
def test_linear_pcm_is_bit_exact_any_channels_and_ptime(tmp_path: Path, fmt, spp,
                                                        ptime_ns) -> None:
    enc, rate, ch = fmt.split("/")
    bits = 16 if enc == "L16" else 24
    y = np.round(_tone(int(rate), int(rate) // 2, int(ch)) * 2 ** (bits - 1)) / 2 ** (bits - 1)
    d = decode(_stream(tmp_path, y, fmt, 97, spp, ptime_ns))
    assert d.audio.shape == y.shape and d.audio.dtype == np.float64
    np.testing.assert_array_equal(d.audio, y)


def test_lost_packets_are_zero_gaps_at_their_place(tmp_path: Path) -> None:
    y = np.round(_tone(48000, 48000, 2) * 2**23) / 2**23
    drop = {16, 281, 282, 283, 999}
    d = decode(_stream(tmp_path, y, "L24/48000/2", 97, 48, 1_000_000, drop=drop))
    assert d.audio.shape == (48000 - 48, 2)  # the last packet never came: timeline ends early
    losses = d.events_of("loss")
    assert [(e.first_seq, e.last_seq, e.packets) for e in losses] == \
        [(1016, 1016, 1), (1281, 1283, 3)]
    assert [(e.start_sample, e.end_sample) for e in losses] == [(768, 816), (13488, 13632)]
    assert (losses[0].start_s, losses[0].end_s) == (768 / 48000, 816 / 48000)  # 16-17 ms
    want = y[:48000 - 48].copy()
    for a, b in d.lost_spans_samples:
        want[a:b] = 0.0
    np.testing.assert_array_equal(d.audio, want)


def test_reordered_and_duplicated_packets_land_by_timestamp(tmp_path: Path) -> None:
    y = np.round(_tone(8000, 1600) * 2**15) / 2**15
    order = [0, 1, 3, 2, 4, 5, 5, 6, 7, 8, 9]  # 2/3 swapped, 5 twice
    d = decode(_stream(tmp_path, y, "L16/8000/1", 97, 160, 20_000_000, order=order))
    np.testing.assert_array_equal(d.audio, y)
    assert [(e.type, e.first_seq) for e in d.network_events] == \
        [("reorder", 1002), ("duplicate", 1005)]
    assert d.stats.duplicates == 1 and d.stats.reordered == 1


def test_timestamp_jump_is_reported_and_left_silent(tmp_path: Path) -> None:
    y = np.round(_tone(8000, 1600) * 2**15) / 2**15
    payloads = encode_packets(y, "L16/8000/1", samples_per_packet=160)
    dg = rtp_datagrams(payloads, payload_type=97, ts_step=160, ptime_ns=20_000_000, t0_ns=T0)
    from validator.rtp.header import build_rtp_packet, parse_rtp_header

    fixed = []
    for k, d in enumerate(dg):  # from packet 5 on, timestamps are 400 samples (50 ms) later
        h = parse_rtp_header(d.payload)
        ts = h.timestamp + (400 if k >= 5 else 0)
        fixed.append(Datagram(d.time_ns, d.src, d.sport, d.dst, d.dport,
                              build_rtp_packet(payload_type=97, sequence=h.sequence, timestamp=ts,
                                               ssrc=h.ssrc, payload=h.payload(d.payload))))
    cap = read_capture(write_capture(tmp_path / "j.pcap", fixed), payload_types={97: "L16/8000"})
    d = decode(select_stream(cap))
    (jump,) = d.network_events
    assert jump.type == "ts_jump" and (jump.start_sample, jump.end_sample) == (800, 1200)
    np.testing.assert_array_equal(d.audio[:800], y[:800])
    assert not d.audio[800:1200].any()
    np.testing.assert_array_equal(d.audio[1200:], y[800:])


def test_ssrc_change_mid_stream_is_an_event(tmp_path: Path) -> None:
    y = np.round(_tone(8000, 1600) * 2**15) / 2**15
    payloads = encode_packets(y, "PCMU/8000", samples_per_packet=160)
    a = rtp_datagrams(payloads[:5], payload_type=0, ts_step=160, ptime_ns=20_000_000, t0_ns=T0,
                      ssrc=0x11111111)
    b = rtp_datagrams(payloads[5:], payload_type=0, ts_step=160, ptime_ns=20_000_000,
                      t0_ns=T0 + 100_000_000, ssrc=0x22222222, first_seq=40000,
                      first_ts=123456)
    cap = read_capture(write_capture(tmp_path / "s.pcap", a + b))
    assert len(cap.streams) == 2  # tshark-style: one row per SSRC
    s = select_stream(cap)  # ... but one flow whose SSRC changed: joined
    d = decode(s)
    (change,) = d.network_events
    assert change.type == "ssrc_change" and change.start_sample == change.end_sample == 800
    assert d.audio.shape[0] == 1600 and d.stats.ssrc_changes == 1
    assert d.stats.packets == 10 and d.stats.lost == 0


def test_jitter_buffer_turns_late_packets_into_late_events(tmp_path: Path) -> None:
    y = np.round(_tone(8000, 1600) * 2**15) / 2**15
    payloads = encode_packets(y, "PCMU/8000", samples_per_packet=160)
    dg = rtp_datagrams(payloads, payload_type=0, ts_step=160, ptime_ns=20_000_000, t0_ns=T0,
                       jitter_ns=[0, 0, 0, 45_000_000, 0, 0, 0, 0, 0, 0])
    dg.sort(key=lambda x: x.time_ns)
    s = select_stream(read_capture(write_capture(tmp_path / "l.pcap", dg)))
    assert decode(s).events_of("late") == ()
    d = decode(s, jitter_buffer_ms=30)
    (late,) = d.events_of("late")
    assert late.first_seq == 1003 and (late.start_sample, late.end_sample) == (480, 640)
    assert not d.audio[480:640].any() and d.events_of("loss") == ()


def test_unknown_payload_type_names_the_fix(tmp_path: Path) -> None:
    dg = rtp_datagrams([bytes(96)] * 10, payload_type=111, ts_step=48, ptime_ns=1_000_000)
    s = read_capture(write_capture(tmp_path / "u.pcap", dg)).streams[0]
    with pytest.raises(CaptureError, match=r"u\.pcap.*unknown payload type 111.*--payload-type"):
        decode(s)


def test_opus_without_pyav_names_the_extra(tmp_path: Path, monkeypatch) -> None:
    dg = rtp_datagrams([b"\xf8\xff\xfe"] * 10, payload_type=96, ts_step=960, ptime_ns=20_000_000)
    cap = read_capture(write_capture(tmp_path / "o.pcap", dg), payload_types={96: "opus/48000/2"})
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(MissingDependencyError, match=r"\[codecs\]"):
        decode(cap.streams[0])


# --------------------------------------------------------------------------- real captures

def _real(shared_real: Path, name: str, port: int, pts: dict | None = None):
    d = shared_real / name
    if not (d / "received.pcap").is_file():
        pytest.skip(f"{d} not found")
    cap = read_capture(d / "received.pcap", port=port, payload_types=pts)
    return decode(select_stream(cap)), json.loads((d / "truth.json").read_text()), d


def _lost_seqs(decoded) -> list[int]:
    return [(e.first_seq + k) & 0xFFFF for e in decoded.events_of("loss") for k in
            range(e.packets)]


@pytest.mark.real
@pytest.mark.parametrize("name, port", [("pcmu_loss2pct_fill", 21022),
                                        ("pcmu_ge_burst_skip", 21032),
                                        ("speech_pcmu_loss3pct", 21072)])
def test_real_pcmu_losses_match_truth(shared_real: Path, name: str, port: int) -> None:
    d, truth, _ = _real(shared_real, name, port)
    assert _lost_seqs(d) == truth["dropped_seq"]
    got = [[round(e.start_s, 6), round(e.end_s, 6)] for e in d.events_of("loss")]
    np.testing.assert_allclose(got, truth["dropped_intervals_s"], atol=1 / 8000, rtol=0)


@pytest.mark.real
def test_real_l24_is_bit_exact_outside_the_losses(shared_real: Path) -> None:
    d, truth, folder = _real(shared_real, "l24_48k_stereo_1ms_loss1pct_mode_none", 21142,
                             {97: "L24/48000/2"})
    assert _lost_seqs(d) == truth["dropped_seq"]
    ref, fs = sf.read(folder / "reference.wav", always_2d=True)
    want = ref.copy()
    for a, b in d.lost_spans_samples:
        want[a:b] = 0.0
    assert fs == d.sample_rate_hz
    np.testing.assert_array_equal(d.audio, want)
    # the receiver zero-filled exactly the same samples
    rx, _ = sf.read(folder / "received.wav", always_2d=True)
    np.testing.assert_array_equal(d.audio, rx[:len(d.audio)])


@pytest.mark.real
def test_real_g722_decodes_like_the_gstreamer_receiver(shared_real: Path) -> None:
    pytest.importorskip("av", reason="G.722 needs PyAV (pip install '.[codecs]')")
    d, truth, folder = _real(shared_real, "g722_clean", 21102)
    rx, fs = sf.read(folder / "received.wav", always_2d=True)
    assert d.sample_rate_hz == fs == 16000 and d.network_events == ()
    n = min(len(rx), len(d.audio))
    assert np.max(np.abs(d.audio[:n] - rx[:n])) < 2 / 32768  # same libavcodec decoder


@pytest.mark.real
def test_real_opus_losses_and_timeline(shared_real: Path) -> None:
    pytest.importorskip("av", reason="Opus needs PyAV (pip install '.[codecs]')")
    d, truth, folder = _real(shared_real, "opus_plc_sine", 21082, {96: "opus/48000/2"})
    # the proxy's last drop was the stream's last packet: nothing after it shows the loss
    assert _lost_seqs(d) == truth["dropped_seq"][:-1]
    assert d.sample_rate_hz == 48000 and d.audio.shape[1] == truth["channels"]
    got = [[round(e.start_s, 6), round(e.end_s, 6)] for e in d.events_of("loss")]
    np.testing.assert_allclose(got, truth["dropped_intervals_s"][:-1], atol=1 / 48000, rtol=0)
    # the audio: a steady sine, so only the waveform is checked (any lag within one period)
    ref, _ = sf.read(folder / "reference.wav", always_2d=True)
    a, b = int(2.7 * 48000), int(3.3 * 48000)  # no loss from 2.64 to 3.35 s
    r = ref[a:b, 0]
    x = d.audio[a - 400:b + 400, 0]
    err = min(np.sqrt(np.mean((x[k:k + len(r)] - r) ** 2)) for k in range(800))
    assert err < 0.02 * np.sqrt(np.mean(r ** 2))
