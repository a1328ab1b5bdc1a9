"""The ``rtp`` and ``listen`` subcommands: JSON contract, WAV output, live capture, defaults."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from validator.cli import build_parser, main
from validator.rtp import build_rtp_packet, read_capture
from validator.rtp.cli import DEFAULT_LISTEN_PORT
from validator.rtp.listen import DEFAULT_RCVBUF_BYTES, listen
from validator.rtp.synth import encode_packets, rtp_datagrams, write_capture

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = {"ssrc", "src", "dst", "payload_type", "codec", "clock_rate", "packets", "expected",
            "lost", "duplicates", "reordered", "min_delta_ms", "mean_delta_ms", "max_delta_ms",
            "mean_jitter_ms", "max_jitter_ms", "start_s", "end_s"}


def free_udp_ports(n: int) -> list[int]:
    """``n`` bindable UDP ports in 22000-22999 (other test runs may share the machine)."""
    import random

    out: list[int] = []
    for port in random.SystemRandom().sample(range(22000, 23000), 1000):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        out.append(port)
        if len(out) == n:
            break
    return out


@pytest.fixture
def l24_capture(tmp_path: Path) -> tuple[Path, np.ndarray]:
    t = np.arange(48000) / 48000
    y = np.round(np.stack([0.5 * np.sin(2 * np.pi * 997 * t),
                           0.5 * np.sin(2 * np.pi * 1499 * t)], 1) * 2**23) / 2**23
    dg = rtp_datagrams(encode_packets(y, "L24/48000/2", samples_per_packet=48), payload_type=97,
                       ts_step=48, ptime_ns=1_000_000, ssrc=0x6AB0D18B)
    dg = [d for k, d in enumerate(dg) if k != 500]
    return write_capture(tmp_path / "aes67.pcap", dg), y


def test_rtp_json_contract(l24_capture, capsys) -> None:
    path, _ = l24_capture
    assert main(["rtp", str(path), "--json", "--payload-type", "97=L24/48000/2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1 and doc["tool_version"]
    (row,) = doc["streams"]
    assert CONTRACT <= set(row)
    assert row["ssrc"] == "0x6AB0D18B" and row["codec"] == "L24" and row["clock_rate"] == 48000
    assert (row["packets"], row["expected"], row["lost"]) == (999, 1000, 1)
    assert row["src"] == "10.0.0.1:40000" and row["dst"] == "10.0.0.2:5004"


def test_rtp_json_jitter_null_without_clock(l24_capture, capsys) -> None:
    path, _ = l24_capture
    assert main(["rtp", str(path), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["streams"]
    assert row["mean_jitter_ms"] is None and row["max_jitter_ms"] is None


def test_rtp_wav_is_written_atomically_with_the_gap(l24_capture, tmp_path: Path,
                                                    capsys) -> None:
    path, y = l24_capture
    out = tmp_path / "out" / "decoded.wav"
    assert main(["rtp", str(path), "--payload-type", "97=L24/48000/2", "--ssrc", "0x6AB0D18B",
                 "--wav", str(out)]) == 0
    text = capsys.readouterr().out
    assert "loss        seq 1500" in text
    a, fs = sf.read(out, always_2d=True)
    assert fs == 48000 and a.shape == y.shape
    want = y.copy()
    want[24000:24048] = 0.0
    np.testing.assert_array_equal(a, want)
    assert [p.name for p in out.parent.iterdir()] == ["decoded.wav"]  # no temp file left


def test_rtp_events_json(l24_capture, capsys) -> None:
    path, _ = l24_capture
    assert main(["rtp", str(path), "--json", "--events", "--payload-type",
                 "97=L24/48000/2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (loss,) = doc["decoded"]["network_events"]
    assert loss["type"] == "loss" and loss["first_seq"] == 1500
    assert (loss["start_s"], loss["end_s"]) == (0.5, 0.501)


def test_listen_defaults_match_the_library() -> None:
    args = build_parser().parse_args(["listen"])
    sig = inspect.signature(listen)
    assert args.port == DEFAULT_LISTEN_PORT == 5004
    assert args.bind == sig.parameters["bind"].default
    assert sig.parameters["rcvbuf_bytes"].default == DEFAULT_RCVBUF_BYTES == 4 * 1024 * 1024


def _send_pcmu(port: int, n: int, *, drop: set[int] = frozenset(), gap_s: float = 0.002
               ) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for k in range(n):
        if k not in drop:
            s.sendto(build_rtp_packet(payload_type=0, sequence=100 + k, timestamp=160 * k,
                                      ssrc=0xABCDEF01, payload=b"\xff" * 160),
                     ("127.0.0.1", port))
        time.sleep(gap_s)
    s.close()


def test_listen_library_writes_a_pcap_tshark_style(tmp_path: Path) -> None:
    pcap = tmp_path / "live.pcap"
    ready = threading.Event()
    box = {}
    (port,) = free_udp_ports(1)
    th = threading.Thread(target=lambda: box.update(r=listen(
        port, pcap_path=pcap, duration_s=10, idle_timeout_s=0.5, on_ready=ready.set)))
    th.start()
    assert ready.wait(5)
    _send_pcmu(port, 200, drop={50, 51, 120})
    th.join(15)
    r = box["r"]
    assert (r.packets, r.stopped_by, r.kernel_drops in (0, None)) == (197, "idle", True)
    assert r.rcvbuf_bytes >= 1 << 20 or r.rcvbuf_bytes > 0
    cap = read_capture(pcap, port=port)
    (s,) = cap.streams
    assert len(s.packets) == 197 and s.codec == "PCMU"
    assert all(b.time_ns >= a.time_ns for a, b in zip(s.packets, s.packets[1:], strict=False))


@pytest.mark.slow
def test_listen_cli_prints_the_table_and_tolerates_reference(tmp_path: Path) -> None:
    pcap = tmp_path / "cli.pcap"
    ref = tmp_path / "ref.wav"
    sf.write(ref, np.zeros((8000, 1)), 8000)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    (port,) = free_udp_ports(1)
    proc = subprocess.Popen([sys.executable, "-m", "validator", "listen", "--port", str(port),
                             "--idle-timeout", "0.5", "--duration", "15", "--pcap", str(pcap),
                             "--reference", str(ref)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        line = proc.stderr.readline()
        assert f"listening on 127.0.0.1:{port}" in line
        _send_pcmu(port, 100, drop={10})
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert "0xABCDEF01" in out and "received 99 datagrams" in err
    row = next(x for x in out.splitlines() if x.startswith("0xABCDEF01"))
    assert row.split()[5:8] == ["99", "100", "1"]
    # the capture is validated when listening stops: the reference is silent, so nothing can
    # be judged and the verdict fails closed (exit 1), with no traceback
    assert "Traceback" not in err, err
    assert proc.returncode == 1, (out, err)
    assert "FAIL" in out
