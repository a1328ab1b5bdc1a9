"""``validate --port`` (and ``validate(..., port=)``): the UDP port that carries the RTP.

For a capture without SDP, ``--port N`` reads every UDP datagram to or from
port N as RTP and ignores all other traffic, as Wireshark's "Decode As" does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from validator.cli import main
from validator.errors import CaptureError
from validator.pipeline import validate
from validator.rtp.synth import encode_packets, rtp_datagrams, write_capture
from validator.verdict import EXIT_ERROR, EXIT_PASS

FS = 8000
T0 = 1_000_000_000_000


def _two_streams(tmp_path: Path, marker_tone) -> tuple[Path, Path]:
    """The reference as PCMU to port 21012, and another PCMA stream to port 30000."""
    import soundfile as sf

    y = marker_tone(FS, 2.0)
    ref = tmp_path / "reference.wav"
    sf.write(str(ref), y, FS, subtype="PCM_16")
    ours = rtp_datagrams(encode_packets(y, "PCMU/8000", samples_per_packet=160), payload_type=0,
                         ssrc=0x1111AAAA, ts_step=160, ptime_ns=20_000_000, t0_ns=T0,
                         dst=("10.0.0.2", 21012))
    noise = 0.1 * np.random.default_rng(5).standard_normal((y.shape[0], 1))
    other = rtp_datagrams(encode_packets(noise, "PCMA/8000", samples_per_packet=160),
                          payload_type=8, ssrc=0x2222BBBB, ts_step=160, ptime_ns=20_000_000,
                          t0_ns=T0 + 5_000_000, src=("10.0.0.7", 40002),
                          dst=("10.0.0.2", 30000))
    cap = write_capture(tmp_path / "two.pcap",
                        sorted([*ours, *other], key=lambda d: d.time_ns))
    return cap, ref


def test_port_picks_the_stream_on_that_port(tmp_path: Path, marker_tone) -> None:
    cap, ref = _two_streams(tmp_path, marker_tone)
    with pytest.raises(CaptureError, match="2 audio RTP streams"):
        validate(cap, ref)
    result = validate(cap, ref, port=21012)
    assert result.verdict == "pass", [c for c in result.checks if not c.passed]
    assert result.rtp is not None and result.rtp.ssrc == "0x1111AAAA"
    assert [s.ssrc for s in result.rtp.streams] == [0x1111AAAA]  # the other port is ignored


def test_validate_port_option(tmp_path: Path, marker_tone, capsys) -> None:
    cap, ref = _two_streams(tmp_path, marker_tone)
    argv = ["validate", str(cap), "-r", str(ref), "--output-dir", str(tmp_path / "out"),
            "--quiet"]
    assert main(argv) == EXIT_ERROR
    assert "--ssrc" in capsys.readouterr().err
    assert main([*argv, "--port", "21012"]) == EXIT_PASS
    assert capsys.readouterr().out == "PASS\n"


@pytest.mark.real
def test_port_of_a_real_capture(shared_real: Path, tmp_path: Path, capsys) -> None:
    """pcmu_clean: RTP on udp.port 21012 (its tshark table); any other port finds nothing."""
    d = shared_real / "pcmu_clean"
    table = (d / "tshark_streams.txt").read_text(encoding="utf-8")
    port = int(table.split("udp.port==", 1)[1].split(",", 1)[0])
    argv = ["validate", str(d / "received.pcap"), "-r", str(d / "reference.wav"), "--quiet",
            "--output-dir", str(tmp_path / "out")]
    assert main([*argv, "--port", str(port)]) == EXIT_PASS
    assert capsys.readouterr().out == "PASS\n"
    assert main([*argv, "--port", str(port + 1)]) == EXIT_ERROR
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "received.pcap: no RTP stream found" in err
    assert "--port" in err
    assert out == ""


def test_port_out_of_range_in_the_api(tmp_path: Path, marker_tone) -> None:
    cap, ref = _two_streams(tmp_path, marker_tone)
    with pytest.raises(CaptureError, match=r"two\.pcap: bad port 70000"):
        validate(cap, ref, port=70000)


def test_cli_and_api_agree_on_no_port_by_default() -> None:
    import inspect

    from validator.cli import build_parser

    args = build_parser().parse_args(["validate", "x.pcap", "-r", "y.wav"])
    assert args.port is None
    assert inspect.signature(validate).parameters["port"].default is None


