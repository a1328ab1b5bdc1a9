"""The streamed capture path: chunked reading into packet tables, decoding into a temporary WAV.

Truth comes from the capture itself, never from the code under test:

* packets: the per-datagram reader :func:`validator.rtp.pcap.read_udp` and
  :func:`validator.rtp.header.parse_rtp_header`, one datagram at a time;
* audio: each received packet's payload decoded on its own
  (:func:`validator.codecs.decode_samples`) and placed at its RTP timestamp,
  the first arrival of each sequence number winning;
* network events: the sequence numbers this test dropped, duplicated and
  sent out of order.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from validator.codecs import decode_samples
from validator.errors import CaptureError
from validator.rtp import decode, read_capture, select_stream
from validator.rtp import pcap as pcap_mod
from validator.rtp.header import RtpHeaderError, parse_rtp_header
from validator.rtp.pcap import read_udp
from validator.rtp.synth import encode_packets, rtp_datagrams, write_capture

REAL = Path(__file__).resolve().parents[2] / "shared" / "real"
SPP = 48  # samples per 1 ms packet at 48 kHz
T0_NS = 1_700_000_000_000_000_000


def _lossy_aes67(tmp_path: Path, rng: np.random.Generator, **write: object
                 ) -> tuple[Path, np.ndarray, dict[str, list[int]]]:
    """L24/48000/2, 1 ms packets, with drops, duplicates and a reordered pair; the truth."""
    n = 400
    audio = rng.uniform(-0.9, 0.9, size=(n * SPP, 2))
    payloads = encode_packets(audio, "L24/48000/2", samples_per_packet=SPP)
    dgs = rtp_datagrams(payloads, payload_type=97, first_seq=65500, first_ts=2**32 - 5000,
                        ts_step=SPP, ptime_ns=1_000_000, t0_ns=T0_NS)
    seqs = [(65500 + k) % 65536 for k in range(n)]
    dropped = {30, 31, 32, 100, 250}
    dups = [50, 300]
    swap = 200  # 200 and 201 arrive in the other order
    sent = [k for k in range(n) if k not in dropped]
    i = sent.index(swap)
    sent[i], sent[i + 1] = sent[i + 1], sent[i]
    for k in dups:
        sent.insert(sent.index(k) + 3, k)
    out = [replace(dgs[k], time_ns=T0_NS + j * 1_000_000) for j, k in enumerate(sent)]
    path = write_capture(tmp_path / "lossy.pcap", out, **write)  # type: ignore[arg-type]
    truth = audio.copy()
    for k in dropped:
        truth[k * SPP:(k + 1) * SPP] = 0.0
    events = {"loss": [seqs[k] for k in sorted(dropped)], "duplicate": [seqs[k] for k in dups],
              "reorder": [seqs[swap]]}
    return path, np.clip(np.round(truth * 2**23) / 2**23, -1, 1 - 2**-23), events


def _packets_one_by_one(path: Path) -> list[tuple[object, ...]]:
    """Every well-formed RTP packet of the capture, from the per-datagram reader."""
    out = []
    for d in read_udp(path).datagrams:
        try:
            h = parse_rtp_header(d.payload)
        except RtpHeaderError:
            continue
        if 200 <= d.payload[1] <= 204:
            continue
        out.append((d.frame, d.time_ns, d.src, d.sport, d.dst, d.dport, h.sequence, h.timestamp,
                    h.ssrc, h.payload_type, h.marker, h.payload(d.payload), d.truncated))
    return out


def _packets_from_tables(path: Path) -> list[tuple[object, ...]]:
    cap = read_capture(path, port=5004)
    rows = [(p.frame, p.time_ns, s.src, s.sport, s.dst, s.dport, p.sequence, p.timestamp, p.ssrc,
             p.payload_type, p.marker, p.payload, p.truncated)
            for s in cap.streams for p in s.packets]
    return sorted(rows, key=lambda r: r[0])  # type: ignore[arg-type, return-value]


@pytest.mark.parametrize("layout", [
    {}, {"link": "vlan"}, {"link": "sll"}, {"link": "sll2"}, {"link": "raw"},
    {"ipv6": True}, {"fragment_size": 128}, {"pcapng": True}, {"snaplen": 200},
    {"nanoseconds": False, "big_endian": True},
])
def test_chunked_table_reader_equals_the_per_datagram_reader(tmp_path, rng, monkeypatch,
                                                              layout):
    path, _audio, _events = _lossy_aes67(tmp_path, rng, **layout)
    want = _packets_one_by_one(path)
    assert len(want) > 390
    for chunk in (None, 1000, 4096):  # records cut across chunk boundaries, many times
        monkeypatch.setattr(pcap_mod, "CHUNK_BYTES", chunk or 16 * 1024 * 1024)
        assert _packets_from_tables(path) == want, chunk


def test_streamed_decode_is_sample_exact_with_loss_duplicates_and_reordering(tmp_path, rng):
    path, truth, events = _lossy_aes67(tmp_path, rng)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    d = decode(select_stream(read_capture(path, payload_types={97: "L24/48000/2"})))
    try:
        np.testing.assert_array_equal(d.audio, truth)
        assert (d.frames, d.channels, d.sample_rate_hz) == (truth.shape[0], 2, 48000)
        got = {k: [s for e in d.events_of(k) for s in range(e.first_seq, e.first_seq + e.packets)]
               for k in events}
        assert got == events
        loss = d.events_of("loss")
        assert [(e.start_sample, e.end_sample) for e in loss] == [
            (30 * SPP, 33 * SPP), (100 * SPP, 101 * SPP), (250 * SPP, 251 * SPP)]
        assert Path(d.path).exists()
    finally:
        d.close()
    assert not Path(d.path).exists()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # the input is never written


def _placed_truth(path: Path, fmt: str, channels: int) -> tuple[np.ndarray, list[int]]:
    """Each first-arriving packet's payload decoded alone and placed at its RTP timestamp."""
    rows = _packets_one_by_one(path)
    seqs = np.array([r[6] for r in rows])
    ext = seqs + 65536 * np.cumsum(np.concatenate([[0], np.diff(seqs) < -30000]))
    ts = np.array([r[7] for r in rows], dtype=np.int64)
    origin = ts[int(np.argmin(ext))]
    pieces, seen = {}, set()
    for r, e, t in zip(rows, ext.tolist(), ts.tolist(), strict=True):
        if e in seen:
            continue
        seen.add(e)
        y = decode_samples(fmt, bytes(r[11]), channels)  # type: ignore[arg-type]
        pieces[(t - origin) % 2**32] = y
    total = max(o + y.shape[0] for o, y in pieces.items())
    audio = np.zeros((total, channels))
    for o, y in pieces.items():
        audio[o:o + y.shape[0]] = y
    missing = sorted(set(range(int(ext.min()), int(ext.max()) + 1)) - seen)
    return np.clip(audio, -1.0, np.nextafter(1.0, 0.0)), [m & 0xFFFF for m in missing]


@pytest.mark.skipif(not REAL.is_dir(), reason="the shared real captures are not here")
@pytest.mark.parametrize("case, fmt, channels, types", [
    ("l24_48k_stereo_1ms_loss1pct", "L24", 2, {97: "L24/48000/2"}),
    ("pcmu_long_60s_loss1pct", "PCMU", 1, None),
    ("pcmu_loss2pct_fill", "PCMU", 1, None),
    ("speech_pcmu_loss3pct", "PCMU", 1, None),
])
def test_streamed_decode_of_real_captures_equals_per_packet_placement(case, fmt, channels,
                                                                      types):
    path = REAL / case / "received.pcap"
    truth, missing = _placed_truth(path, fmt, channels)
    with decode(select_stream(read_capture(path, payload_types=types))) as d:
        np.testing.assert_array_equal(d.audio, truth)
        lost = [(e.first_seq + k) & 0xFFFF for e in d.events_of("loss") for k in range(e.packets)]
        assert lost == missing


def test_validate_from_pcap_deletes_its_decoded_wav(tmp_path, rng, monkeypatch):
    from validator import validate

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path, truth, _events = _lossy_aes67(tmp_path, rng)
    ref = tmp_path / "ref.wav"
    import soundfile as sf

    sf.write(ref, truth, 48000, subtype="PCM_24")
    result = validate(str(path), str(ref), payload_types={97: "L24/48000/2"})
    assert result.rtp is not None
    assert not list(tmp_path.glob("validator-rtp-*"))


def test_a_capture_changed_after_reading_is_refused(tmp_path, rng):
    path, _truth, _events = _lossy_aes67(tmp_path, rng)
    stream = select_stream(read_capture(path, payload_types={97: "L24/48000/2"}))
    with open(path, "ab") as fh:
        fh.write(b"\0" * 16)
    os.utime(path, ns=(1, 1))
    with pytest.raises(CaptureError, match="changed since it was read"):
        decode(stream)


def test_no_room_for_the_decoded_wav_is_one_line_exit_2(tmp_path, rng, monkeypatch, capsys):
    import tempfile

    import soundfile as sf

    from validator.cli import main
    from validator.errors import OutputError

    path, truth, _events = _lossy_aes67(tmp_path, rng)
    ref = tmp_path / "ref.wav"
    sf.write(ref, truth, 48000, subtype="PCM_24")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such folder"))
    with pytest.raises(OutputError, match="TMPDIR"):
        decode(select_stream(read_capture(path, payload_types={97: "L24/48000/2"})))
    code = main(["validate", str(path), "--reference", str(ref), "--payload-type",
                 "97=L24/48000/2", "--output-dir", str(tmp_path / "out"), "--no-html",
                 "--no-junit"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "TMPDIR" in err[0] and "Traceback" not in err[0]
