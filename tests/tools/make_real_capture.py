#!/usr/bin/env python3
"""Build the real capture case ``tests/data/real_pcmu_loss/`` with a real GStreamer RTP stack.

Run from anywhere (root is needed for tcpdump on ``lo``; without it the pcap is
skipped)::

    python3 tests/tools/make_real_capture.py

What it does, all on 127.0.0.1 and in about 7 s:

1. writes ``reference.wav``: a 1004 Hz tone, 8000 Hz, 16-bit mono, -10 dBFS,
   5 s, preceded by a chirp sync marker and a 0.2 s gap
   (``validator.signals.tone`` / ``write_wav``);
2. starts ``tcpdump`` on ``lo`` (proxy -> receiver traffic, ``received.pcap``);
3. starts ``udp_impair_proxy.py`` (127.0.0.1:21120 -> 127.0.0.1:21122, 2 %
   seeded random loss, seed chosen so that 3-5 packets are lost and none in
   the first 0.5 s);
4. starts the receiver, ``gst-launch-1.0 -e`` with ``udpsrc ! rtpjitterbuffer
   latency=60 do-lost=true ! rtppcmudepay ! mulawdec ! audiorate
   skip-to-first=true tolerance=10000000 ! wavenc ! filesink``, which writes
   digital zeros where a packet is missing;
5. plays the reference in real time through ``mulawenc ! rtppcmupay`` (20 ms
   packets, fixed SSRC / sequence / timestamp offsets) to the proxy;
6. stops the receiver with SIGINT (``-e`` turns it into EOS, so wavenc
   finalises the WAV header), then the proxy and tcpdump, each by its PID;
7. derives ``truth.json`` from the proxy's ground-truth CSV, checks it against
   the pcap and against the audio (received vs the G.711 mu-law round trip of
   the reference), and writes the case ``README.md``.

The case is built in a temporary folder and moved into place only when every
check passed; the script exits 1 otherwise.  ``--reference`` and ``--out`` exist
for debugging the pipeline with another reference or output folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parents[1]
sys.dont_write_bytecode = True  # leave no __pycache__ in tests/tools
sys.path.insert(0, str(TOOLS))
from udp_impair_proxy import plan_drops  # noqa: E402

CASE_DIR = ROOT / "tests" / "data" / "real_pcmu_loss"
HOST = "127.0.0.1"
PROXY_PORT = 21120
RX_PORT = 21122

SAMPLE_RATE_HZ = 8000
CLOCK_RATE = 8000
PTIME_MS = 20
SAMPLES_PER_PACKET = SAMPLE_RATE_HZ * PTIME_MS // 1000
PAYLOAD_TYPE = 0
TONE_HZ = 1004.0
TONE_S = 5.0
LEVEL_DBFS = -10.0
MARKER_GAP_S = 0.2

LOSS = 0.02
SEED = 26  # plan_drops(seed=26, loss=0.02): arrivals 64, 75, 91, 210 -> 4 losses, first at 1.28 s
MIN_LOSSES, MAX_LOSSES, NO_LOSS_BEFORE_S = 3, 5, 0.5
SSRC = 0x1004C0DE
SEQNUM_OFFSET = 1000
TIMESTAMP_OFFSET = 160000
EDGE_TOLERANCE_SAMPLES = 4

RX_CAPS = (
    f"application/x-rtp,media=audio,clock-rate={CLOCK_RATE},encoding-name=PCMU,"
    f"payload={PAYLOAD_TYPE}"
)
RX_PIPELINE = (
    f"udpsrc address={HOST} port={RX_PORT} caps={RX_CAPS} "
    "! rtpjitterbuffer latency=60 do-lost=true ! rtppcmudepay ! mulawdec "
    "! audiorate skip-to-first=true tolerance=10000000 ! wavenc ! filesink location=received.wav"
)
TX_PIPELINE = (
    "filesrc location=reference.wav ! wavparse ! audioconvert ! audioresample ! mulawenc "
    f"! rtppcmupay min-ptime={PTIME_MS * 1_000_000} max-ptime={PTIME_MS * 1_000_000} "
    f"ssrc={SSRC} seqnum-offset={SEQNUM_OFFSET} timestamp-offset={TIMESTAMP_OFFSET} "
    f"! udpsink host={HOST} port={PROXY_PORT} sync=true"
)


class BuildError(RuntimeError):
    pass


# ----------------------------------------------------------------------------- reference
def make_reference(path: Path) -> None:
    """Write the reference tone with the project's own signal generator."""
    sys.path.insert(0, str(ROOT))
    from validator.signals import tone, write_wav

    y = tone(
        [TONE_HZ],
        sample_rate_hz=SAMPLE_RATE_HZ,
        duration_s=TONE_S,
        level_dbfs=LEVEL_DBFS,
        ramp_s=0.0,
        marker="chirp",
        marker_gap_s=MARKER_GAP_S,
    )
    write_wav(path, y, SAMPLE_RATE_HZ, bit_depth=16)


# ----------------------------------------------------------------------------- G.711
def mulaw_encode(x: np.ndarray) -> np.ndarray:
    """int16 -> mu-law bytes, as GStreamer's mulawenc (Sun/CCITT code, BIAS 0x84, no zero trap)."""
    x = x.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), 32635) + 0x84
    exponent = np.floor(np.log2(mag >> 7 | 1)).astype(np.int32)  # exp_lut[(mag >> 7) & 0xFF]
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def mulaw_decode(u: np.ndarray) -> np.ndarray:
    """mu-law bytes -> int16, as GStreamer's mulawdec."""
    u = ~u.astype(np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    linear = np.array([0, 132, 396, 924, 1980, 4092, 8316, 16764])[exponent] + (
        (u & 0x0F) << (exponent + 3)
    )
    return np.where(u & 0x80, -linear, linear).astype(np.int16)


# ----------------------------------------------------------------------------- processes
def wait_for_text(path: Path, text: str, proc: subprocess.Popen, timeout_s: float) -> bool:
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen | None, timeout_s: float = 5.0) -> int | None:
    """SIGINT the process by its PID, escalate to SIGKILL after ``timeout_s``."""
    if proc is None:
        return None
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def run_stack(work: Path, tone_s: float) -> dict:
    """Run tcpdump, proxy, receiver and sender in ``work``; return what happened."""
    for port in (PROXY_PORT, RX_PORT):
        if not port_free(port):
            raise BuildError(f"UDP port {HOST}:{port} is busy")
    procs: dict[str, subprocess.Popen | None] = {"tcpdump": None, "proxy": None, "receiver": None}
    logs = {
        name: open(work / f"{name}.log", "w") for name in ("tcpdump", "proxy", "receiver", "sender")
    }
    pcap_ok = False
    try:
        tcpdump = shutil.which("tcpdump")
        if tcpdump:
            cmd = [tcpdump, "-i", "lo", "-n", "-U", "-w", "received.pcap"]
            cmd += ["-Z", "root"] if os.geteuid() == 0 else []
            cmd += [f"udp and src host {HOST} and dst host {HOST} and dst port {RX_PORT}"]
            procs["tcpdump"] = subprocess.Popen(
                cmd, cwd=work, stdout=logs["tcpdump"], stderr=logs["tcpdump"]
            )
            pcap_ok = wait_for_text(work / "tcpdump.log", "listening on", procs["tcpdump"], 5.0)
            if not pcap_ok:
                print(
                    "warning: tcpdump did not start (not root?); continuing without received.pcap",
                    file=sys.stderr,
                )
                stop(procs["tcpdump"])
                procs["tcpdump"] = None
        else:
            print("warning: tcpdump not found; continuing without received.pcap", file=sys.stderr)

        procs["proxy"] = subprocess.Popen(
            [
                sys.executable,
                str(TOOLS / "udp_impair_proxy.py"),
                "--listen",
                f"{HOST}:{PROXY_PORT}",
                "--forward",
                f"{HOST}:{RX_PORT}",
                "--loss",
                str(LOSS),
                "--seed",
                str(SEED),
                "--log",
                "proxy_truth.csv",
                "--duration",
                str(tone_s + 15),
            ],
            cwd=work,
            stdout=logs["proxy"],
            stderr=subprocess.STDOUT,
        )
        procs["receiver"] = subprocess.Popen(
            ["gst-launch-1.0", "-e", *RX_PIPELINE.split()],
            cwd=work,
            stdout=logs["receiver"],
            stderr=subprocess.STDOUT,
        )
        if not wait_for_text(work / "proxy.log", "proxy ", procs["proxy"], 5.0):
            raise BuildError("proxy did not start: " + (work / "proxy.log").read_text())
        if not wait_for_text(work / "receiver.log", "PLAYING", procs["receiver"], 5.0):
            raise BuildError("receiver did not start: " + (work / "receiver.log").read_text())
        time.sleep(0.3)

        sender = subprocess.run(
            ["gst-launch-1.0", *TX_PIPELINE.split()],
            cwd=work,
            stdout=logs["sender"],
            stderr=subprocess.STDOUT,
            timeout=tone_s + 10,
        )
        if sender.returncode != 0:
            raise BuildError("sender failed: " + (work / "sender.log").read_text())
        time.sleep(0.5)  # > jitterbuffer latency: the last packets reach wavenc
        rc = stop(procs["receiver"])
        if rc != 0:
            raise BuildError(f"receiver rc={rc}: " + (work / "receiver.log").read_text())
    finally:
        stop(procs["receiver"])
        stop(procs["proxy"])
        time.sleep(0.2)
        stop(procs["tcpdump"])
        for f in logs.values():
            f.close()
    return {"pcap": pcap_ok and (work / "received.pcap").exists()}


# ----------------------------------------------------------------------------- truth
def read_proxy_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [
            dict(r, index=int(r["index"]), seq=int(r["seq"]), rtp_ts=int(r["rtp_ts"]))
            for r in csv.DictReader(f)
        ]


def pcap_rtp_seqs(path: Path, port: int) -> list[int]:
    """RTP sequence numbers of UDP/IPv4 datagrams to ``port`` in a classic pcap (Ethernet/SLL)."""
    data = path.read_bytes()
    magic = data[:4]
    endian = {
        b"\xd4\xc3\xb2\xa1": "<",
        b"\xa1\xb2\xc3\xd4": ">",
        b"\x4d\x3c\xb2\xa1": "<",
        b"\xa1\xb2\x3c\x4d": ">",
    }.get(magic)
    if endian is None:
        raise BuildError(f"{path}: not a classic pcap file (magic {magic!r})")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    l2_len = {1: 14, 113: 16, 276: 20}.get(linktype)
    if l2_len is None:
        raise BuildError(f"{path}: unsupported link type {linktype}")
    seqs, pos = [], 24
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[pos + 8 : pos + 12])[0]
        pkt = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ip = pkt[l2_len:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = ip[(ip[0] & 0x0F) * 4 :]
        if len(udp) >= 20 and struct.unpack("!H", udp[2:4])[0] == port and udp[8] >> 6 == 2:
            seqs.append(struct.unpack("!H", udp[10:12])[0])
    return seqs


def merge_intervals(starts: list[int], length: int) -> list[list[int]]:
    spans: list[list[int]] = []
    for s in sorted(starts):
        if spans and spans[-1][1] == s:
            spans[-1][1] = s + length
        else:
            spans.append([s, s + length])
    return spans


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def analyse_audio(
    ref: np.ndarray, rx: np.ndarray, *, min_fill: int = 16, max_lag: int = 400
) -> dict:
    """Split ``rx`` at its zero runs; find each piece's delay against the mu-law round trip.

    ``delay_samples`` d of a segment means ``rx[n] == roundtrip(ref)[n - d]`` for n in the segment
    (positive: the received audio lags the reference).  A zero run of at least ``min_fill``
    samples is a zero-fill unless the round trip is silent there too (the gap after the marker).
    """
    rt = mulaw_decode(mulaw_encode(ref)).astype(np.int32)
    rx = rx.astype(np.int32)
    pad = np.zeros(max_lag, np.int32)
    rt_pad = np.concatenate([pad, rt, pad, np.zeros(max(0, len(rx) - len(rt)), np.int32)])

    zero_runs = [(s, e) for s, e in runs(rx == 0) if e - s >= min_fill]
    bounds = [0] + [x for s, e in zero_runs for x in (s, e)] + [len(rx)]
    segments = []
    for s, e in zip(bounds[::2], bounds[1::2], strict=True):
        if e - s < 32:
            continue
        best = max(
            range(-max_lag, max_lag + 1),
            key=lambda d: int(
                np.count_nonzero(rx[s:e] == rt_pad[max_lag + s - d : max_lag + e - d])
            ),
        )
        diff = rx[s:e] - rt_pad[max_lag + s - best : max_lag + e - best]
        segments.append(
            {
                "start": s,
                "end": e,
                "delay_samples": best,
                "mismatched_samples": int(np.count_nonzero(diff)),
                "max_abs_diff": int(np.max(np.abs(diff))),
            }
        )

    def delay_at(n: int, before: bool) -> int:
        pick = [g for g in segments if (g["end"] <= n if before else g["start"] >= n)]
        return (pick[-1] if before else pick[0])["delay_samples"] if pick else 0

    fills = []
    for s, e in zero_runs:
        d_before, d_after = delay_at(s, True), delay_at(e, False)
        ref_s, ref_e = s - d_before, e - d_after
        if not np.any(rt[max(ref_s, 0) : max(ref_e, 0)]):
            continue  # silence in the reference as well (marker gap)
        fills.append({"start": s, "length": e - s, "ref_start": ref_s, "ref_end": ref_e})
    return {"roundtrip": rt, "segments": segments, "fills": fills}


def build_truth(work: Path, pcap: bool, ref: np.ndarray, ref_sr: int) -> tuple[dict, list[str]]:
    """Return (truth, problems) for the case in ``work``."""
    problems: list[str] = []
    rows = read_proxy_csv(work / "proxy_truth.csv")
    if not rows:
        raise BuildError("the proxy saw no packets")
    ssrc = {r["ssrc"] for r in rows}
    if ssrc != {f"0x{SSRC:08X}"}:
        problems.append(f"unexpected SSRC(s) {sorted(ssrc)}")
    seq0, ts0 = rows[0]["seq"], rows[0]["rtp_ts"]
    dropped = [r for r in rows if r["action"] == "dropped"]
    forwarded = [r for r in rows if r["action"] == "forwarded"]
    planned = plan_drops(len(rows), seed=SEED, loss=LOSS)
    if [r["index"] for r in dropped] != planned:
        problems.append(f"proxy dropped arrivals {[r['index'] for r in dropped]}, plan {planned}")
    if [(r["seq"] - seq0) & 0xFFFF for r in rows] != list(range(len(rows))):
        problems.append("the proxy saw packets out of order or missing")
    rel = [((r["rtp_ts"] - ts0) & 0xFFFFFFFF) for r in dropped]
    if (
        not MIN_LOSSES <= len(dropped) <= MAX_LOSSES
        or min(rel, default=0) < NO_LOSS_BEFORE_S * CLOCK_RATE
    ):
        problems.append(
            f"seed {SEED} gave losses at {rel} (want {MIN_LOSSES}-{MAX_LOSSES}, none before "
            f"{NO_LOSS_BEFORE_S} s)"
        )
    intervals = merge_intervals(rel, SAMPLES_PER_PACKET)  # RTP clock == audio rate for PCMU

    if pcap:
        seqs = pcap_rtp_seqs(work / "received.pcap", RX_PORT)
        if seqs != [r["seq"] for r in forwarded]:
            problems.append(
                f"received.pcap holds {len(seqs)} RTP packets that differ from the "
                f"{len(forwarded)} forwarded"
            )

    rx, rx_sr = sf.read(work / "received.wav", dtype="int16")
    info = sf.info(str(work / "received.wav"))
    if rx_sr != ref_sr or info.channels != 1 or info.subtype != "PCM_16":
        problems.append(f"received.wav is {rx_sr} Hz, {info.channels} ch, {info.subtype}")
    audio = analyse_audio(ref, rx)
    for g in audio["segments"]:
        if g["mismatched_samples"]:
            problems.append(f"segment {g} differs from the mu-law round trip")
    fills = audio["fills"]
    if len(fills) != len(intervals):
        problems.append(f"{len(fills)} zero fills in received.wav, {len(intervals)} dropped spans")
    for f, (s, e) in zip(fills, intervals, strict=False):
        if (
            abs(f["ref_start"] - s) > EDGE_TOLERANCE_SAMPLES
            or abs(f["ref_end"] - e) > EDGE_TOLERANCE_SAMPLES
        ):
            problems.append(f"fill {f} is not at the dropped span [{s}, {e}]")

    truth = {
        "codec": "PCMU",
        "payload_type": PAYLOAD_TYPE,
        "clock_rate": CLOCK_RATE,
        "audio_sample_rate": SAMPLE_RATE_HZ,
        "ptime_ms": float(PTIME_MS),
        "channels": 1,
        "ssrc": f"0x{SSRC:08X}",
        "first_seq": seq0,
        "first_rtp_ts": ts0,
        "packets_sent": len(rows),
        "packets_dropped": len(dropped),
        "packets_forwarded": len(forwarded),
        "dropped_seq": [r["seq"] for r in dropped],
        "dropped_intervals_s": [[s / CLOCK_RATE, e / CLOCK_RATE] for s, e in intervals],
        "receiver_gap_handling": "zero-fill",
        "receiver": "gstreamer",
        "reference_frames": len(ref),
        "received_frames": len(rx),
        "zero_fill_spans_samples": [[f["start"], f["length"]] for f in fills],
        "received_delay_samples": [
            [g["start"], g["end"], g["delay_samples"]] for g in audio["segments"]
        ],
        "proxy": {
            "loss": LOSS,
            "seed": SEED,
            "listen": f"{HOST}:{PROXY_PORT}",
            "forward": f"{HOST}:{RX_PORT}",
        },
        "sender_pipeline": TX_PIPELINE,
        "receiver_pipeline": RX_PIPELINE,
        "notes": (
            "dropped_intervals_s: [(rtp_ts - first_rtp_ts) / clock_rate, + 20 ms] on the "
            "reference timeline (reference sample 0 = first RTP timestamp), merged where "
            "contiguous. zero_fill_spans_samples: [start, length] of each run of digital zeros in "
            "received.wav that is not silence in the reference, measured against the G.711 mu-law "
            "round trip of reference.wav; a fill edge is uncertain by a sample or two where the "
            "round trip itself decodes to 0. received_delay_samples: [start, end, d] per piece of "
            "received.wav between fills: received[n] == mulaw_roundtrip(reference)[n - d] exactly "
            "(positive d: received lags). audiorate sizes each fill from jitterbuffer PTS, so a "
            "fill may be a few samples shorter or longer than 160 and shift the audio after it."
        ),
    }
    return truth, problems


def write_case_readme(path: Path, truth: dict, pcap: bool) -> None:
    rows = "\n".join(
        f"| {seq} | {s:.2f} - {e:.2f} s | {fill[0]} | {fill[1]} |"
        for seq, (s, e), fill in zip(
            truth["dropped_seq"],
            truth["dropped_intervals_s"],
            truth["zero_fill_spans_samples"],
            strict=False,
        )
    )
    files = (
        "`reference.wav`, `received.wav`, " + ("`received.pcap`, " if pcap else "") + "`truth.json`"
    )
    path.write_text(f"""# real_pcmu_loss: a real GStreamer PCMU stream with seeded packet loss

A real RTP sender and receiver (GStreamer 1.22 `gst-launch-1.0`) ran over 127.0.0.1 with our seeded
UDP impairment proxy between them. Files: {files}.

- `reference.wav`: the exact file fed to the sender: a chirp sync marker, {MARKER_GAP_S} s gap,
  then a {TONE_HZ:g} Hz tone, {TONE_S:g} s, {LEVEL_DBFS:g} dBFS, {SAMPLE_RATE_HZ} Hz 16-bit mono
  (`validator.signals.tone` / `write_wav`).
- `received.wav`: what the receiver wrote; the receiver writes digital zeros for each lost packet.
- `received.pcap`: tcpdump on `lo` of the proxy -> receiver datagrams (port {RX_PORT}); the dropped
  packets are absent from it.
- `truth.json`: ground truth from the proxy's per-packet log, checked against the pcap and the
  audio.

## How it was made

```
python3 tests/tools/make_real_capture.py
```

run from the project root as root (tcpdump needs it; without it the pcap is skipped). About 7 s.
It plays the reference in real time:

    sender:   gst-launch-1.0 {truth["sender_pipeline"]}
    proxy:    tests/tools/udp_impair_proxy.py --listen {HOST}:{PROXY_PORT} \\
                  --forward {HOST}:{RX_PORT} --loss {LOSS} --seed {SEED}
    receiver: gst-launch-1.0 -e {truth["receiver_pipeline"]}

The receiver is stopped with SIGINT (`-e` makes that an EOS, so the WAV header is final).
`audiorate tolerance=10000000` (10 ms) makes each lost 20 ms packet a run of zeros at its own
position; the default 40 ms tolerance would not (see ../shared/README.md).

## Truth

{truth["packets_sent"]} packets sent, {truth["packets_dropped"]} dropped by the proxy (seed {SEED}):

| dropped seq | reference time | zero fill start (received sample) | fill length (samples) |
|---|---|---|---|
{rows}

received.wav equals the G.711 mu-law round trip of reference.wav exactly outside the fills, with
the delays listed in `received_delay_samples`. A fill edge is uncertain by a sample or two where the
round trip itself decodes to 0. The fill lengths come from the receiver's timing (audiorate sizes a
fill from jitterbuffer PTS), so a rebuild can give a fill one or two samples shorter than 160, and
every later sample then sits that much earlier: the checks allow {EDGE_TOLERANCE_SAMPLES} samples.
""")


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Build tests/data/real_pcmu_loss with a real GStreamer RTP stack."
    )
    ap.add_argument("--out", type=Path, default=CASE_DIR, help=f"case folder (default {CASE_DIR})")
    ap.add_argument(
        "--reference",
        type=Path,
        help="use this WAV instead of generating the reference (debugging)",
    )
    args = ap.parse_args(argv)
    for tool in ("gst-launch-1.0",):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found", file=sys.stderr)
            return 2
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="real_pcmu_loss.") as tmp:
        work = Path(tmp)
        if args.reference:
            shutil.copyfile(args.reference, work / "reference.wav")
        else:
            make_reference(work / "reference.wav")
        ref, ref_sr = sf.read(work / "reference.wav", dtype="int16")
        if ref_sr != SAMPLE_RATE_HZ or ref.ndim != 1:
            print(
                f"error: reference must be {SAMPLE_RATE_HZ} Hz mono, got {ref_sr} Hz {ref.shape}",
                file=sys.stderr,
            )
            return 2
        n_packets = -(-len(ref) // SAMPLES_PER_PACKET)
        planned = plan_drops(n_packets, seed=SEED, loss=LOSS)
        print(
            f"reference: {len(ref)} frames, {n_packets} packets; "
            f"seed {SEED} will drop arrivals {planned}"
        )
        try:
            outcome = run_stack(work, len(ref) / ref_sr)
            truth, problems = build_truth(work, outcome["pcap"], ref, ref_sr)
        except (BuildError, subprocess.TimeoutExpired) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        (work / "truth.json").write_text(
            "{\n"
            + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in truth.items())
            + "\n}\n"
        )
        write_case_readme(work / "README.md", truth, outcome["pcap"])
        print(
            json.dumps(
                {
                    k: truth[k]
                    for k in (
                        "dropped_seq",
                        "dropped_intervals_s",
                        "zero_fill_spans_samples",
                        "received_delay_samples",
                        "reference_frames",
                        "received_frames",
                    )
                }
            )
        )
        if problems:
            print("checks failed, case not written:\n- " + "\n- ".join(problems), file=sys.stderr)
            print(f"(work files kept in {args.out}.failed)", file=sys.stderr)
            shutil.rmtree(f"{args.out}.failed", ignore_errors=True)
            shutil.copytree(work, f"{args.out}.failed")
            return 1
        args.out.mkdir(parents=True, exist_ok=True)
        keep = ["reference.wav", "received.wav", "truth.json", "README.md"] + (
            ["received.pcap"] if outcome["pcap"] else []
        )
        for old in args.out.iterdir():
            if old.is_file() and old.name not in keep:
                old.unlink()
        for name in keep:
            shutil.copyfile(work / name, args.out / name)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({size / 1024:.0f} KiB) in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
