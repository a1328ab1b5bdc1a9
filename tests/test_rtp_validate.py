"""Validate from RTP captures: audio events tied to network loss (or not).

Real GStreamer captures from ../shared/real (skipped when absent) and
synthetic captures with a fault made by the "device" (not the network).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from validator import impair
from validator.cli import main
from validator.pipeline import validate
from validator.rtp.synth import encode_packets, rtp_datagrams, write_capture
from validator.signals import tone, write_wav

FS = 8000
#: Dynamic payload types the real captures use without SDP.
DYNAMIC = {97: "L24/48000/2", 96: "OPUS/48000/2"}


def _truth(case_dir):
    return json.loads((case_dir / "truth.json").read_text())


@pytest.mark.real
@pytest.mark.parametrize("case", ["pcmu_loss2pct_fill",
                                  pytest.param("l24_48k_stereo_1ms_loss1pct_mode_none",
                                               marks=pytest.mark.slow),
                                  "speech_pcmu_loss3pct", "pcmu_ge_burst_skip"])
def test_every_dropped_packet_is_a_dropout_caused_by_network_loss(shared_real, case):
    d = shared_real / case
    truth = _truth(d)
    r = validate(d / "received.pcap", d / "reference.wav", payload_types=DYNAMIC)
    assert r.rtp is not None
    lost = sorted(s for n in r.rtp.network_events if n.type == "loss"
                  for s in range(n.first_seq, n.last_seq + 1))
    assert lost == truth["dropped_seq"]
    drops = [e for e in r.events if e.type == "dropout"]
    assert all(e.cause == "network loss" for e in r.events)
    ref = r  # the decoded timeline starts at the first RTP timestamp, as truth.json's spans
    for a, b in truth["dropped_intervals_s"]:
        hit = [e for e in drops if e.start_s <= b + 0.001 and e.end_s >= a - 0.001]
        if not hit:
            # a loss inside digital silence of the reference leaves nothing to hear
            assert any("left no audible fault" in n for n in ref.notes), (a, b)
    assert r.verdict == "fail"


@pytest.mark.real
def test_clean_capture_passes_with_rtp_section(shared_real):
    d = shared_real / "pcmu_clean"
    r = validate(d / "received.pcap", d / "reference.wav")
    assert r.verdict == "pass" and r.events == ()
    row = r.rtp.to_dict()["streams"][0]
    assert row["packets"] == 500 and row["lost"] == 0
    assert len(r.rtp.jitter_ms) > 400


def _capture(tmp_path, audio, *, drop=(), name="cap.pcap"):
    """A PCMU capture of ``audio`` (20 ms packets), without the packets in ``drop``."""
    payloads = encode_packets(audio, "PCMU/8000", samples_per_packet=160)
    dgs = rtp_datagrams(payloads, payload_type=0, ts_step=160, ptime_ns=20_000_000)
    dgs = [d for k, d in enumerate(dgs) if k not in drop]
    return write_capture(tmp_path / name, dgs)


def test_device_fault_without_network_loss_is_the_devices_own(tmp_path):
    ref = tone(1004.0, sample_rate_hz=FS, duration_s=3.0, marker="chirp")
    faulty = impair.zero_fill(ref, FS, start_s=1.5, duration_s=0.005).y  # the device's fault
    cap = _capture(tmp_path, faulty)
    r = validate(cap, ref)  # the array reference takes the stream's sample rate
    (e,) = r.events
    assert e.type == "dropout" and e.cause == "no network loss"
    assert e.start_s == pytest.approx(1.5, abs=0.001)


def test_network_loss_and_device_fault_are_told_apart(tmp_path):
    ref = tone(1004.0, sample_rate_hz=FS, duration_s=3.0, marker="chirp")
    faulty = impair.repeat_packet(ref, FS, start_s=2.2, ptime_s=0.02).y  # concealment in device
    cap = _capture(tmp_path, faulty, drop={60})  # packet 60 = 1.20-1.22 s lost on the network
    r = validate(cap, ref)
    causes = {(e.type, e.cause, round(e.start_s, 2)) for e in r.events}
    assert ("dropout", "network loss", 1.2) in causes
    assert any(c == "no network loss" and abs(t - 2.2) < 0.01 for _, c, t in causes)
    assert "RTP seq 1060 lost on the network" in [e for e in r.events
                                                 if e.cause == "network loss"][0].description


def test_cli_validates_a_capture_and_reports_the_rtp_section(tmp_path, capsys):
    ref = tone(1004.0, sample_rate_hz=FS, duration_s=2.0, marker="chirp")
    write_wav(tmp_path / "ref.wav", ref, FS)
    cap = _capture(tmp_path, ref, drop={40})
    rc = main(["validate", str(cap), "--reference", str(tmp_path / "ref.wav"),
               "--output-dir", str(tmp_path / "out"), "--no-html"])
    assert rc == 1
    doc = json.loads((tmp_path / "out" / "cap.json").read_text())
    assert doc["rtp"]["streams"][0]["lost"] == 1
    assert doc["rtp"]["network_events"][0]["first_seq"] == 1040
    assert doc["events"][0]["cause"] == "network loss"
    assert np.isclose(doc["events"][0]["start_s"], 0.8, atol=0.001)
