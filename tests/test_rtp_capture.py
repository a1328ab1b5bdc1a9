"""Reading captures: containers, link layers, IP versions, fragments, SDP/SAP, RTCP, selection.

Every capture is synthesised (validator.rtp.synth) with a known stream, so
each test checks exact packet counts, sequence numbers and arrival times.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from validator.errors import CaptureError
from validator.rtp import (
    analyze,
    build_rtp_packet,
    is_capture_file,
    is_rtcp,
    parse_rtp_header,
    read_capture,
    select_stream,
)
from validator.rtp.synth import Datagram, encode_packets, rtp_datagrams, write_capture

FS = 48000
T0_NS = 1_000_000_000_000


def _tone(n_samples: int, channels: int = 2) -> np.ndarray:
    t = np.arange(n_samples) / FS
    return np.stack([0.5 * np.sin(2 * np.pi * (997 + 502 * c) * t) for c in range(channels)], 1)


def _l24_datagrams(n_packets: int = 200, **kw) -> list[Datagram]:
    payloads = encode_packets(_tone(48 * n_packets), "L24/48000/2", samples_per_packet=48)
    return rtp_datagrams(payloads, payload_type=97, ts_step=48, ptime_ns=1_000_000, t0_ns=T0_NS,
                         **kw)


LAYOUTS = [
    pytest.param({}, id="ethernet-pcap-ns"),
    pytest.param({"nanoseconds": False, "big_endian": True}, id="pcap-us-big-endian"),
    pytest.param({"link": "vlan"}, id="vlan-qinq"),
    pytest.param({"link": "sll"}, id="linux-cooked-v1"),
    pytest.param({"link": "sll2"}, id="linux-cooked-v2"),
    pytest.param({"link": "raw"}, id="raw-ip"),
    pytest.param({"ipv6": True}, id="ipv6"),
    pytest.param({"fragment_size": 120}, id="ipv4-fragments"),
    pytest.param({"ipv6": True, "fragment_size": 96, "link": "sll2"}, id="ipv6-fragments-sll2"),
    pytest.param({"pcapng": True}, id="pcapng"),
    pytest.param({"pcapng": True, "link": "vlan", "fragment_size": 64}, id="pcapng-vlan-frag"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_gives_the_same_stream(tmp_path: Path, layout: dict) -> None:
    path = write_capture(tmp_path / "c.pcap", _l24_datagrams(), **layout)
    cap = read_capture(path, payload_types={97: "L24/48000/2"})
    assert len(cap.streams) == 1
    s = cap.streams[0]
    assert [p.sequence for p in s.packets] == list(range(1000, 1200))
    assert s.packets[0].time_ns == T0_NS
    assert s.packets[-1].time_ns - s.packets[0].time_ns == 199 * 1_000_000  # exact, integer ns
    assert s.codec == "L24" and s.clock_rate_hz == 48000 and s.channels == 2
    st = analyze(s)
    assert (st.packets, st.lost, st.max_jitter_ms) == (200, 0, 0.0)
    assert st.min_delta_ms == pytest.approx(1.0, abs=1e-9)


def test_is_capture_file_checks_magic(tmp_path: Path) -> None:
    pcap = write_capture(tmp_path / "a.bin", _l24_datagrams(5))
    ng = write_capture(tmp_path / "b.bin", _l24_datagrams(5), pcapng=True)
    wav = tmp_path / "c.pcap"
    wav.write_bytes(b"RIFF\x00\x00\x00\x00WAVE")
    assert is_capture_file(pcap) and is_capture_file(ng)
    assert not is_capture_file(wav)
    assert not is_capture_file(tmp_path / "missing.pcap")


def test_rtp_header_fields_padding_csrc_extension_marker() -> None:
    pkt = build_rtp_packet(payload_type=97, sequence=65535, timestamp=2**32 - 1, ssrc=0xDEADBEEF,
                           payload=b"abcdef", marker=True, csrcs=(1, 2, 3),
                           extension=(0xBEDE, b"\x10\xff"), padding=5)
    h = parse_rtp_header(pkt)
    assert (h.payload_type, h.sequence, h.timestamp, h.ssrc, h.marker) == \
        (97, 65535, 2**32 - 1, 0xDEADBEEF, True)
    assert h.csrcs == (1, 2, 3)
    assert h.extension_profile == 0xBEDE and h.extension_data == b"\x10\xff\x00\x00"
    assert h.padding_length == 5 and h.payload(pkt) == b"abcdef"


def test_rtcp_is_recognised_and_left_out(tmp_path: Path) -> None:
    dg = _l24_datagrams(50)
    sr = bytes([0x80, 200, 0, 6]) + bytes(24)  # sender report
    rr = bytes([0x81, 201, 0, 7]) + bytes(28)
    assert is_rtcp(sr) and is_rtcp(rr) and not is_rtcp(dg[0].payload)
    rtcp = [Datagram(T0_NS + k * 10_000_000, "10.0.0.1", 40001, "10.0.0.2", 5005, pkt)
            for k, pkt in enumerate([sr, rr] * 5)]
    path = write_capture(tmp_path / "c.pcap", sorted(dg + rtcp, key=lambda d: d.time_ns))
    cap = read_capture(path)
    assert cap.rtcp_packets == 10
    assert [len(s.packets) for s in cap.streams] == [50]


def test_sip_sdp_names_a_dynamic_payload_type(tmp_path: Path) -> None:
    sdp = ("v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=call\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
           "m=audio 5004 RTP/AVP 97 101\r\na=rtpmap:97 L16/16000/2\r\n"
           "a=rtpmap:101 telephone-event/8000\r\n")
    invite = ("INVITE sip:bob@10.0.0.2 SIP/2.0\r\nContent-Type: application/sdp\r\n"
              f"Content-Length: {len(sdp)}\r\n\r\n{sdp}").encode()
    payloads = encode_packets(_tone(16 * 20 * 30, 2), "L16/16000/2", samples_per_packet=320)
    dg = rtp_datagrams(payloads, payload_type=97, ts_step=320, ptime_ns=20_000_000,
                       t0_ns=T0_NS)
    sip = Datagram(T0_NS - 50_000_000, "10.0.0.1", 5060, "10.0.0.2", 5060, invite)
    cap = read_capture(write_capture(tmp_path / "c.pcap", [sip] + dg))
    (s,) = cap.streams
    assert s.found_by == "sdp"
    assert (s.codec, s.clock_rate_hz, s.channels) == ("L16", 16000, 2)
    assert analyze(s).mean_jitter_ms == 0.0


def test_sap_announcement_names_the_aes67_stream(tmp_path: Path) -> None:
    sdp = (b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=AES67\r\nc=IN IP4 239.1.2.3/32\r\nt=0 0\r\n"
           b"m=audio 5004 RTP/AVP 98\r\na=rtpmap:98 L24/48000/2\r\na=ptime:1\r\n")
    sap = b"\x20\x00\x12\x34" + bytes([10, 0, 0, 1]) + b"application/sdp\x00" + sdp
    ann = Datagram(T0_NS - 1_000_000, "10.0.0.1", 9875, "239.255.255.255", 9875, sap)
    payloads = encode_packets(_tone(48 * 100), "L24/48000/2", samples_per_packet=48)
    dg = rtp_datagrams(payloads, payload_type=98, ts_step=48, ptime_ns=1_000_000, t0_ns=T0_NS,
                       dst=("239.1.2.3", 5004))
    cap = read_capture(write_capture(tmp_path / "c.pcap", [ann] + dg))
    (s,) = cap.streams
    assert s.found_by == "sdp" and s.codec == "L24" and s.channels == 2


def test_port_option_finds_rtp_the_heuristics_reject(tmp_path: Path) -> None:
    # payload type 50 is unassigned: heuristics refuse it, --port accepts it
    dg = rtp_datagrams([bytes(10)] * 20, payload_type=50, ts_step=10, ptime_ns=1_000_000)
    path = write_capture(tmp_path / "c.pcap", dg)
    assert read_capture(path).streams == []
    cap = read_capture(path, port=5004)
    assert len(cap.streams) == 1 and cap.streams[0].found_by == "port"
    assert read_capture(path, port=6000).streams == []


def test_select_stream_by_ssrc_hex_or_decimal_and_ambiguity(tmp_path: Path) -> None:
    a = _l24_datagrams(30, ssrc=0x1234ABCD)
    b = _l24_datagrams(30, ssrc=0x0000BEEF, src=("10.0.0.3", 40002))
    path = write_capture(tmp_path / "c.pcap", sorted(a + b, key=lambda d: d.time_ns))
    cap = read_capture(path, payload_types={97: "L24/48000/2"})
    assert select_stream(cap, "0x1234ABCD").ssrc == 0x1234ABCD
    assert select_stream(cap, str(0xBEEF)).ssrc == 0xBEEF
    assert select_stream(cap, 0xBEEF).ssrc == 0xBEEF
    with pytest.raises(CaptureError, match=r"0x1234ABCD.*0x0000BEEF|0x0000BEEF.*0x1234ABCD"):
        select_stream(cap)
    with pytest.raises(CaptureError, match="no RTP stream with SSRC 0x00000001"):
        select_stream(cap, "0x1")
    with pytest.raises(CaptureError, match="bad SSRC"):
        select_stream(cap, "zz")
