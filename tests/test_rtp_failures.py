"""Bad RTP input: a one-line CaptureError naming the file, or a correct analysis that reports
the oddity, never a traceback. Each case is run through the library and the CLI."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from validator.cli import main
from validator.errors import CaptureError
from validator.rtp import analyze, decode, read_capture, select_stream
from validator.rtp.synth import Datagram, encode_packets, rtp_datagrams, write_capture

T0 = 1_000_000_000_000


def _pcmu(n: int = 50, **kw) -> list[Datagram]:
    t = np.arange(160 * n) / 8000
    payloads = encode_packets(0.3 * np.sin(2 * np.pi * 1004 * t)[:, None], "PCMU/8000",
                              samples_per_packet=160)
    return rtp_datagrams(payloads, payload_type=0, ts_step=160, ptime_ns=20_000_000, t0_ns=T0,
                         **kw)


def _cli_error(capsys, args: list[str]) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("audio-validator: error: "), err
    return err


def test_not_a_capture(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "notes.pcap"
    bad.write_text("hello, this is text")
    with pytest.raises(CaptureError, match=r"notes\.pcap: not a pcap or pcapng"):
        read_capture(bad)
    assert "notes.pcap" in _cli_error(capsys, ["rtp", str(bad)])


def test_missing_file(tmp_path: Path, capsys) -> None:
    assert "nope.pcap" in _cli_error(capsys, ["rtp", str(tmp_path / "nope.pcap")])


def test_header_cut_short(tmp_path: Path, capsys) -> None:
    p = write_capture(tmp_path / "h.pcap", _pcmu(3))
    p.write_bytes(p.read_bytes()[:10])
    with pytest.raises(CaptureError, match=r"h\.pcap: pcap file header cut short"):
        read_capture(p)
    assert "h.pcap" in _cli_error(capsys, ["rtp", str(p)])


@pytest.mark.parametrize("pcapng", [False, True], ids=["pcap", "pcapng"])
def test_truncated_file_is_read_up_to_the_cut(tmp_path: Path, capsys, pcapng: bool) -> None:
    p = write_capture(tmp_path / "t.pcap", _pcmu(50), pcapng=pcapng)
    data = p.read_bytes()
    p.write_bytes(data[:len(data) - 100])  # cut in the middle of the last packet
    cap = read_capture(p)
    assert cap.streams[0].packets[-1].sequence == 1048  # 49 whole packets
    assert any("cut short" in n for n in cap.notes)
    assert main(["rtp", str(p)]) == 0
    assert "cut short" in capsys.readouterr().out


def test_snaplen_cut_packets_are_counted_and_decoded_partially(tmp_path: Path) -> None:
    p = write_capture(tmp_path / "s.pcap", _pcmu(20), snaplen=14 + 20 + 8 + 12 + 100)
    s = select_stream(read_capture(p))
    st = analyze(s)
    assert st.packets == 20 and st.lost == 0 and st.truncated_packets == 20
    d = decode(s)
    assert any("cut short" in n for n in d.notes)
    assert d.audio.shape[0] == 19 * 160 + 100  # each packet's 100 captured samples, in place
    assert not d.audio[100:160].any()


def test_non_rtp_udp_flood_finds_nothing_quickly(tmp_path: Path, rng: np.random.Generator
                                                 ) -> None:
    flood = [Datagram(T0 + k * 100_000, "10.0.0.9", 50000 + k % 7, "10.0.0.2", 5004 + k % 3,
                      rng.integers(0, 256, int(rng.integers(0, 300)), dtype=np.uint8).tobytes())
             for k in range(20000)]
    p = write_capture(tmp_path / "f.pcap", flood)
    t0 = time.perf_counter()
    cap = read_capture(p)
    assert time.perf_counter() - t0 < 5.0
    assert cap.streams == [] and cap.udp_datagrams == 20000
    with pytest.raises(CaptureError, match=r"f\.pcap: no RTP stream found"):
        select_stream(cap)


def test_flood_around_a_real_stream_keeps_only_the_stream(tmp_path: Path,
                                                          rng: np.random.Generator) -> None:
    flood = [Datagram(T0 + k * 1_000_000, "10.0.0.9", 50000, "10.0.0.2", 5006,
                      b"\x80" + rng.integers(0, 256, 171, dtype=np.uint8).tobytes())
             for k in range(3000)]  # even with a v2-looking first byte
    p = write_capture(tmp_path / "m.pcap", sorted(flood + _pcmu(50), key=lambda d: d.time_ns))
    cap = read_capture(p)
    assert [(s.ssrc, len(s.packets)) for s in cap.streams] == [(0x12345678, 50)]


def test_unknown_payload_type(tmp_path: Path, capsys) -> None:
    dg = rtp_datagrams([bytes(96)] * 20, payload_type=112, ts_step=48, ptime_ns=1_000_000)
    p = write_capture(tmp_path / "u.pcap", dg)
    st = analyze(read_capture(p).streams[0])
    assert st.codec is None and st.max_jitter_ms is None and st.packets == 20
    assert main(["rtp", str(p)]) == 0
    assert "--payload-type 112=" in capsys.readouterr().out
    err = _cli_error(capsys, ["rtp", str(p), "--wav", str(tmp_path / "o.wav")])
    assert "u.pcap" in err and "unknown payload type 112" in err
    assert not (tmp_path / "o.wav").exists()


def test_ssrc_collision(tmp_path: Path, capsys) -> None:
    a = _pcmu(30)
    b = _pcmu(30, src=("10.0.0.7", 41000), first_seq=7)  # another sender, same SSRC
    p = write_capture(tmp_path / "c.pcap", sorted(a + b, key=lambda d: d.time_ns))
    cap = read_capture(p)
    assert len(cap.streams) == 2 and {s.ssrc for s in cap.streams} == {0x12345678}
    assert all(analyze(s).lost == 0 for s in cap.streams)
    with pytest.raises(CaptureError, match="SSRC collision"):
        select_stream(cap, "0x12345678")
    assert main(["rtp", str(p)]) == 0
    assert "SSRC collision" in capsys.readouterr().out
    assert "c.pcap" in _cli_error(capsys, ["rtp", str(p), "--ssrc", "0x12345678", "--events"])


def test_sequence_wrap_is_no_loss(tmp_path: Path) -> None:
    p = write_capture(tmp_path / "w.pcap", _pcmu(100, first_seq=65486, first_ts=2**32 - 8000))
    s = select_stream(read_capture(p))
    st = analyze(s)
    assert (st.packets, st.expected, st.lost, st.seq_wraps) == (100, 100, 0, 1)
    d = decode(s)
    assert d.network_events == () and d.audio.shape == (16000, 1)


def test_zero_length_payload_is_a_reported_oddity(tmp_path: Path, capsys) -> None:
    dg = _pcmu(20)
    from validator.rtp.header import build_rtp_packet, parse_rtp_header

    h = parse_rtp_header(dg[10].payload)
    empty = build_rtp_packet(payload_type=0, sequence=h.sequence, timestamp=h.timestamp,
                             ssrc=h.ssrc)
    dg[10] = Datagram(dg[10].time_ns, dg[10].src, dg[10].sport, dg[10].dst, dg[10].dport, empty)
    p = write_capture(tmp_path / "z.pcap", dg)
    s = select_stream(read_capture(p))
    st = analyze(s)
    assert st.empty_payloads == 1 and st.lost == 0
    d = decode(s)
    assert d.audio.shape[0] == 20 * 160 and not d.audio[1600:1760].any()
    assert main(["rtp", str(p)]) == 0
    assert "1 empty payload" in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["--payload-type", "97=L24"], "bad payload format"),
    (["--payload-type", "300=L24/48000/2"], "PT 0..127"),
    (["--port", "70000"], "bad port"),
])
def test_bad_options_are_usage_errors(tmp_path: Path, capsys, args: list[str], needle: str
                                      ) -> None:
    p = write_capture(tmp_path / "o.pcap", _pcmu(5))
    assert needle in _cli_error(capsys, ["rtp", str(p), *args])


def test_a_folder_is_not_a_capture(tmp_path: Path, capsys) -> None:
    """``rtp DIR`` says the path is a folder, not "no such file"."""
    err = _cli_error(capsys, ["rtp", str(tmp_path)])
    assert str(tmp_path) in err and "is a folder" in err and "no such file" not in err
