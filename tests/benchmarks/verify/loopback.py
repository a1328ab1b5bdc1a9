"""Class D: espeak-ng speech through Opus over a real loopback RTP link with seeded loss.

Chain (all on 127.0.0.1, every process ended by its PID):

- ``espeak-ng -v en-us -w speech.wav TEXT``; ``sox speech.wav -r 48000 -b 16
  reference.wav rate -v gain -n -3 pad 0.3 0.4`` (peak -3 dBFS);
- sender: ``gst-launch-1.0 filesrc ! wavparse ! audioconvert ! opusenc
  frame-size=20 ! rtpopuspay pt=96 ! udpsink sync=true`` (real time);
- ``tests/tools/udp_impair_proxy.py --loss P --seed S --log proxy.csv``;
- receiver: ``gst-launch-1.0 -e udpsrc ! rtpjitterbuffer do-lost=true !
  rtpopusdepay ! opusdec plc=true ! audiorate skip-to-first=true ! wavenc``
  (the decoder conceals each lost packet), stopped by SIGINT (EOS) 1.5 s
  after the sender finished.

Truth: the proxy log's dropped packets, each ``[rtp_ts - first_rtp_ts,
+960)`` on the reference timeline, moved by the run's own lag (numpy
cross-correlation of the received file against the reference, written here:
no ``validator`` code; the receiver's start moves it by a few ms from run to
run). A loss where
the reference is digital silence cannot be heard and is not a fault. Opus
keeps erring after a loss, so each span carries a 40 ms tail.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .common import Case, Fault, Truth, fresh_folder, have, merge_contiguous, read, run, save_case

ROOT = Path(__file__).resolve().parents[3]
PROXY = ROOT / "tests" / "tools" / "udp_impair_proxy.py"
TEXT = (
    "The quick brown fox jumps over the lazy dog. Please call Stella and ask her to bring "
    "these things with her from the store."
)
OPUS_CAPS = "application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=96"
PACKET = 960  # 20 ms at 48 kHz
TAIL = int(0.040 * 48000)
SILENT = 10 ** (-70 / 20)  # a lost span whose reference peak is below -70 dBFS is not a fault


def tools_present() -> list[str]:
    return [t for t in ("espeak-ng", "sox", "gst-launch-1.0") if not have(t)]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_speech(path: Path, text: str = TEXT, *, repeatable: bool = True) -> None:
    """espeak-ng speech at 48 kHz, 16 bit (sox; ``repeatable``: the same dither every build)."""
    raw = path.with_name("speech_22k.wav")
    run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw), text])
    run(
        [
            "sox",
            *(["-R"] if repeatable else []),
            str(raw),
            "-r",
            "48000",
            "-b",
            "16",
            str(path),
            "rate",
            "-v",
            "gain",
            "-n",
            "-3",
            "pad",
            "0.3",
            "0.4",
        ]
    )
    raw.unlink()


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 5.0) -> None:
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
            proc.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


def opus_loopback(
    reference: Path, received: Path, log: Path, *, loss: float, seed: int
) -> list[dict]:
    """Send ``reference`` as Opus RTP through the seeded proxy; return the proxy log rows."""
    p_port, r_port = _free_port(), _free_port()
    procs: list[subprocess.Popen] = []
    try:
        with open(log.with_suffix(".rx.log"), "w") as rx_log:
            rx = subprocess.Popen(
                [
                    "gst-launch-1.0",
                    "-e",
                    "udpsrc",
                    "address=127.0.0.1",
                    f"port={r_port}",
                    f"caps={OPUS_CAPS}",
                    "!",
                    "rtpjitterbuffer",
                    "latency=100",
                    "do-lost=true",
                    "!",
                    "rtpopusdepay",
                    "!",
                    "opusdec",
                    "plc=true",
                    "!",
                    "audio/x-raw,channels=1",
                    "!",
                    "audiorate",
                    "skip-to-first=true",
                    "!",
                    "wavenc",
                    "!",
                    "filesink",
                    f"location={received}",
                ],
                stdout=rx_log,
                stderr=subprocess.STDOUT,
            )
            procs.append(rx)
            proxy = subprocess.Popen(
                [
                    sys.executable,
                    str(PROXY),
                    "--listen",
                    f"127.0.0.1:{p_port}",
                    "--forward",
                    f"127.0.0.1:{r_port}",
                    "--loss",
                    str(loss),
                    "--seed",
                    str(seed),
                    "--log",
                    str(log),
                    "--duration",
                    "60",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(proxy)
            time.sleep(0.8)
            run(
                [
                    "gst-launch-1.0",
                    "filesrc",
                    f"location={reference}",
                    "!",
                    "wavparse",
                    "!",
                    "audioconvert",
                    "!",
                    "opusenc",
                    "frame-size=20",
                    "!",
                    "rtpopuspay",
                    "pt=96",
                    "!",
                    "udpsink",
                    "host=127.0.0.1",
                    f"port={p_port}",
                    "sync=true",
                ],
                timeout=60,
            )
            time.sleep(1.5)
            _stop(rx, signal.SIGINT, 10.0)
            _stop(proxy, signal.SIGINT)
    finally:
        for p in procs:
            _stop(p)
    with open(log, newline="") as f:
        return list(csv.DictReader(f))


def xcorr_lag(received: np.ndarray, reference: np.ndarray, max_lag: int = 4800) -> int:
    """Integer lag (received later by it) at the cross-correlation peak, by FFT (numpy only)."""
    n = len(received) + len(reference)
    nfft = 1 << int(np.ceil(np.log2(n)))
    c = np.fft.irfft(np.fft.rfft(received, nfft) * np.conj(np.fft.rfft(reference, nfft)), nfft)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    vals = np.r_[c[: max_lag + 1], c[-max_lag:]]
    return int(lags[np.argmax(vals)])


def speech_opus(
    folder: Path, *, name: str, loss: float, seed: int, clean_lag: int | None = None
) -> Case:
    """D: one Opus loopback run; ``loss`` 0 is the clean control that also measures the lag."""
    ref_path = folder / "reference.wav"
    make_speech(ref_path)
    rows = opus_loopback(
        ref_path, folder / "received.wav", folder / "proxy.csv", loss=loss, seed=seed
    )
    ref, fs = read(ref_path)
    rx, _ = read(folder / "received.wav")
    # the lag of this run itself: a receiver's start (jitter buffer, audiorate skip-to-first)
    # moves it from run to run by a few ms (a 10 % loss run lagged 192 samples, its clean
    # control 312); the 90 % of packets that arrive dominate the correlation
    lag = xcorr_lag(rx[:, 0], ref[:, 0])
    first_ts = int(rows[0]["rtp_ts"])
    faults, silent = [], 0
    for row in rows:
        if row["action"] != "dropped":
            continue
        r0 = (int(row["rtp_ts"]) - first_ts) % 2**32
        if r0 >= len(ref) or r0 + lag >= len(rx):
            continue  # the last packets: nothing after them reached the receiver
        if np.max(np.abs(ref[r0 : r0 + PACKET])) < SILENT:
            silent += 1
            continue
        faults.append(Fault("plc", r0 + lag, r0 + lag + PACKET, tail=TAIL))
    faults = merge_contiguous(faults)
    dropped = sum(r["action"] == "dropped" for r in rows)
    how = (
        f"espeak-ng en-us speech, sox rate -v 48 kHz; Opus 20 ms RTP over 127.0.0.1 through "
        f"udp_impair_proxy --loss {loss} --seed {seed} ({dropped} dropped of {len(rows)}); "
        "opusdec plc=true. Truth: proxy log rtp_ts of each drop (contiguous ones merged) + "
        "decoder "
        f"lag {lag} samples (numpy xcorr of this run"
        f"{'' if clean_lag is None else f'; the clean run lagged {clean_lag}'}); "
        f"{silent} losses in digital silence are not faults"
    )
    return save_case(
        folder,
        Truth(
            name=name,
            klass="D",
            sample_rate_hz=fs,
            channels=1,
            how=how,
            faults=faults,
            delay_samples=float(lag),
            delay_tol_samples=1.0,
            period_samples=None,
            drift_ppm=0.0,
            expect_fail=bool(faults),
            channel_map=[0],
            polarity=[1],
            notes="codec: the delay is an integer xcorr lag of this run (tolerance 1)",
        ),
    )


def concealment_errors_db(case: Case, clean: Case) -> list[tuple[int, float, float]]:
    """How far each lost packet's concealment lies from what the decoder would have decoded.

    The clean control run sends the same Opus packets (the encoder is
    deterministic on the same file) and loses none, so its received file is
    the lossless decode. For each fault of ``case`` (a lossy run), the
    concealment error is the lossy received minus the clean received over the
    fault's packets, each run aligned by its own lag, in dB re the clean
    decode's power there: about 0 dB or more where the concealment departs
    from the speech, -10 dB where it continues a vowel almost exactly. Only
    decoder output and numpy go into it, no ``validator`` code.

    Returns
    -------
    list of (int, float, float)
        Per fault: its first received sample, the concealment error (dB) and
        the clean decode's level there (dBFS power, full scale 0 dB).
    """
    rx, _ = read(case.received)
    rc, _ = read(clean.received)
    lag, lag_c = int(case.truth.delay_samples), int(clean.truth.delay_samples)
    out = []
    for f in case.truth.faults:
        a0 = f.start - lag + lag_c  # the same reference samples in the clean run
        n = min(f.end - f.start, len(rc) - a0, len(rx) - f.start)
        y, c = rx[f.start:f.start + n, 0], rc[a0:a0 + n, 0]
        pc = float(np.dot(c, c))
        err = float(np.dot(y - c, y - c))
        out.append((f.start, 10 * math.log10(max(err, 1e-30) / max(pc, 1e-30)),
                    10 * math.log10(max(pc / max(n, 1), 1e-30))))
    return out


def build_d(cache: Path) -> list[Case]:
    """Clean run first (it measures the lag), then the lossy runs."""
    from .common import load_case

    out = []
    clean = load_case(cache / "D_speech_opus_clean")
    if clean is None:
        clean = speech_opus(
            fresh_folder(cache / "D_speech_opus_clean"),
            name="D_speech_opus_clean",
            loss=0.0,
            seed=1,
        )
    out.append(clean)
    lag = int(clean.truth.delay_samples)
    for name, loss, seed in (
        ("D_speech_opus_loss5pct", 0.05, 17),
        ("D_speech_opus_loss10pct", 0.10, 23),
    ):
        case = load_case(cache / name)
        if case is None:
            case = speech_opus(
                fresh_folder(cache / name), name=name, loss=loss, seed=seed, clean_lag=lag
            )
        out.append(case)
    return out


# ------------------------------------------------------------- fresh class E
SHARED_PROXY = Path(
    "/work/shared/tools/udp_impair_proxy.py"
)  # has --jitter (the project's has not)
PCMA_CAPS = "application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMA,payload=8"
GAP_FLAG = 0x800  # GST_BUFFER_FLAG_GAP
_TRACE = re.compile(
    r"do_push_buffer_pre:<(\w+):src>.*?size (\d+), offset (\w+), .*?flags (0x[0-9a-f]+)"
)


G711_TOL = 0.03  # a G.711 step near -10 dBFS peak is <= 1/64; a slipped sample of 1 kHz moves ~0.25


def parse_audiorate_trace(trace: Path, bytes_per_frame: int = 2) -> dict:
    """Edits audiorate made, from the GStreamer ``log`` tracer (``GST_DEBUG=GST_BUFFER:7``).

    Every decoded buffer (``dec:src``) is followed, in the same streaming
    thread, by audiorate's pushes (``rate:src``) for it. A ``rate:src`` buffer
    with the GAP flag is a zero-fill; a data buffer shorter than its decoded
    buffer had its start truncated (a cut); a decoded buffer with no data push
    was dropped whole (a cut of all of it). Positions are frames into the
    output file (audiorate's offset minus its first offset).
    """
    fills, cuts, dropped = [], [], 0
    off0 = None
    pending = None  # size of the decoded buffer awaiting its push
    out_pos = 0
    for line in trace.read_text(errors="replace").splitlines():
        m = _TRACE.search(line)
        if not m:
            continue
        pad, size, offset, flags = m[1], int(m[2]), m[3], int(m[4], 16)
        if pad == "dec":
            if pending is not None:
                dropped += 1
                cuts.append([out_pos, pending // bytes_per_frame])
            pending = size
        elif pad == "rate":
            off = int(offset)
            if off0 is None:
                off0 = off
            pos = off - off0
            frames = size // bytes_per_frame
            if flags & GAP_FLAG:
                fills.append([pos, frames])
            else:
                if pending is not None and size < pending:
                    cuts.append([pos, (pending - size) // bytes_per_frame])
                pending = None
            out_pos = pos + frames
    return {"zero_fills": fills, "cuts": cuts, "whole_buffers_dropped": dropped}


def _segments_off_reference(
    rx: np.ndarray, ref: np.ndarray, edits: dict, search: int = 1200
) -> int:
    """Pieces of ``rx`` between the edits that equal no single shift of ``ref`` (G.711 steps apart).

    0 means the edit list explains the file: between two edits the received
    audio is the reference at one constant offset.
    """
    cuts = [p for p, _ in edits["cuts"]]
    fills = [q for p, n in edits["zero_fills"] for q in (p, p + n)]
    pts = sorted({0, len(rx), *cuts, *fills})
    bad = 0
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        a, b = a + 4, b - 4
        if b - a < 32 or not np.any(rx[a:b]):
            continue
        seg = rx[a:b]
        ok = any(
            np.max(np.abs(seg - ref[a - k : b - k])) < G711_TOL
            for k in range(-search, search + 1)
            if a - k >= 0 and b - k <= len(ref)
        )
        bad += not ok
    return bad


def _popen_log(cmd: list[str], log: Path, env: dict | None = None, stderr: Path | None = None):
    out = open(log, "w")
    err = open(stderr, "w") if stderr else subprocess.STDOUT
    try:
        return subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
    finally:
        out.close()
        if stderr:
            err.close()


def gst_jitter_capture(
    folder: Path, *, name: str, jitter_ms: float, seed: int, seconds: float = 8.0
) -> Case:
    """E: PCMA 997 Hz through the shared proxy (20 ms +- ``jitter_ms``), default-mode jitter buffer.

    Receiver: ``rtpjitterbuffer latency=40 do-lost=true`` (default
    ``mode=slave``) ``! rtppcmadepay ! alawdec ! audiorate tolerance=10 ms
    skip-to-first=true ! wavenc``. Truth: the zero-fills and cuts audiorate
    made, read from GStreamer's own ``log`` tracer (every buffer push), checked
    here against the written file (each fill is digital zero).
    """
    ref_path = folder / "reference.wav"
    run(
        [
            "sox",
            "-R",  # repeatable: the same dither every build
            "-n",
            "-r",
            "8000",
            "-b",
            "16",
            str(ref_path),
            "synth",
            str(seconds),
            "sine",
            "997",
            "gain",
            "-10",
        ]
    )
    p_port, r_port = _free_port(), _free_port()
    env = dict(os.environ, GST_TRACERS="log", GST_DEBUG="GST_BUFFER:7", GST_DEBUG_NO_COLOR="1")
    procs: list[subprocess.Popen] = []
    try:
        rx = _popen_log(
            [
                "gst-launch-1.0",
                "-e",
                "udpsrc",
                "address=127.0.0.1",
                f"port={r_port}",
                f"caps={PCMA_CAPS}",
                "!",
                "rtpjitterbuffer",
                "latency=40",
                "do-lost=true",
                "!",
                "rtppcmadepay",
                "!",
                "alawdec",
                "name=dec",
                "!",
                "audiorate",
                "name=rate",
                "tolerance=10000000",
                "skip-to-first=true",
                "!",
                "wavenc",
                "!",
                "filesink",
                f"location={folder / 'received.wav'}",
            ],
            folder / "receiver.log",
            env=env,
            stderr=folder / "receiver.trace",
        )
        procs.append(rx)
        proxy = subprocess.Popen(
            [
                sys.executable,
                str(SHARED_PROXY),
                "--listen",
                f"127.0.0.1:{p_port}",
                "--forward",
                f"127.0.0.1:{r_port}",
                "--delay",
                "20",
                "--jitter",
                str(jitter_ms),
                "--seed",
                str(seed),
                "--log",
                str(folder / "proxy.csv"),
                "--duration",
                "60",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proxy)
        time.sleep(0.8)
        run(
            [
                "gst-launch-1.0",
                "filesrc",
                f"location={ref_path}",
                "!",
                "wavparse",
                "!",
                "audioconvert",
                "!",
                "alawenc",
                "!",
                "rtppcmapay",
                "min-ptime=20000000",
                "max-ptime=20000000",
                "!",
                "udpsink",
                "host=127.0.0.1",
                f"port={p_port}",
                "sync=true",
            ],
            timeout=60,
        )
        time.sleep(1.5)
        _stop(rx, signal.SIGINT, 10.0)
        _stop(proxy, signal.SIGINT)
    finally:
        for p in procs:
            _stop(p)
    edits = parse_audiorate_trace(folder / "receiver.trace")
    (folder / "receiver.trace").unlink()  # large; the edits are kept in truth.json
    rx_audio, fs = read(folder / "received.wav")
    expected, _ = read(ref_path)
    faults = []
    nonzero_fills = 0
    for pos, frames in edits["zero_fills"]:
        if np.any(rx_audio[pos : pos + frames] != 0):
            nonzero_fills += 1
        if pos > 0:
            faults.append(Fault("receiver_fill", pos, pos + frames))
    for pos, _frames in edits["cuts"]:
        faults.append(Fault("receiver_cut", pos, pos))
    faults = merge_contiguous(faults)
    unmatched = _segments_off_reference(rx_audio[:, 0], expected[:, 0], edits)
    # delay: the file starts with reference sample 0 when its first packet is the A-law of it
    head = 160
    delay = 0.0 if np.max(np.abs(rx_audio[:head, 0] - expected[:head, 0])) < G711_TOL else None
    rows = list(csv.DictReader(open(folder / "proxy.csv", newline="")))
    reordered = sum(
        1 for a, b in zip(rows[:-1], rows[1:], strict=True) if int(b["seq"]) < int(a["seq"])
    )
    how = (
        "GStreamer PCMA 20 ms, 997 Hz; shared udp_impair_proxy --delay 20 --jitter "
        f"{jitter_ms} --seed {seed} "
        f"({len(rows)} packets, {reordered} reordered, none dropped); rtpjitterbuffer default "
        "mode, latency 40 ms; "
        "audiorate tolerance 10 ms. Truth from the GStreamer log tracer: "
        f"{len(edits['zero_fills'])} zero-fills, "
        f"{len(edits['cuts'])} cuts ({edits['whole_buffers_dropped']} whole buffers); fills "
        "not all-zero in the "
        f"file: {nonzero_fills}; pieces between edits that are not the reference at one offset: "
        f"{unmatched}; delay "
        + (
            "0 (the first packet is reference sample 0, within G.711 steps)"
            if delay == 0
            else "unknown"
        )
    )
    return save_case(
        folder,
        Truth(
            name=name,
            klass="E",
            sample_rate_hz=fs,
            channels=1,
            how=how,
            faults=faults,
            delay_samples=delay,
            period_samples=fs / 997.0,
            drift_ppm=0.0,
            expect_fail=bool(faults),
            channel_map=[0],
            polarity=[1],
            notes=json.dumps(edits),
        ),
    )


def ffmpeg_skip_capture(
    folder: Path, *, name: str, loss: float, seed: int, seconds: float = 8.0
) -> Case:
    """E: PCMU 1004 Hz through the project's seeded-loss proxy to ffmpeg's RTP receiver (it skips).

    Truth: each dropped packet (proxy log) is one point on the received
    timeline, moved earlier by the audio skipped before it; checked here
    against the written file (the mu-law round trip of the reference with the
    dropped packets cut out) and against ffmpeg's ``RTP: missed N packets``.
    """
    ref_path = folder / "reference.wav"
    run(
        [
            "sox",
            "-R",  # repeatable: the same dither every build
            "-n",
            "-r",
            "8000",
            "-b",
            "16",
            str(ref_path),
            "synth",
            str(seconds),
            "sine",
            "1004",
            "gain",
            "-10",
        ]
    )
    p_port, r_port = _free_port(), _free_port()
    sdp = folder / "stream.sdp"
    sdp.write_text(
        f"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=verify\nc=IN IP4 127.0.0.1\nt=0 0\n"
        f"m=audio {r_port} RTP/AVP 0\na=rtpmap:0 PCMU/8000\n"
    )
    procs: list[subprocess.Popen] = []
    try:
        rx = _popen_log(
            [
                "ffmpeg",
                "-nostdin",
                "-hide_banner",
                "-protocol_whitelist",
                "file,udp,rtp",
                "-i",
                str(sdp),
                "-c:a",
                "pcm_s16le",
                "-y",
                str(folder / "received.wav"),
            ],
            folder / "receiver.log",
        )
        procs.append(rx)
        proxy = subprocess.Popen(
            [
                sys.executable,
                str(PROXY),
                "--listen",
                f"127.0.0.1:{p_port}",
                "--forward",
                f"127.0.0.1:{r_port}",
                "--loss",
                str(loss),
                "--seed",
                str(seed),
                "--log",
                str(folder / "proxy.csv"),
                "--duration",
                "60",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proxy)
        time.sleep(1.0)
        run(
            [
                "gst-launch-1.0",
                "filesrc",
                f"location={ref_path}",
                "!",
                "wavparse",
                "!",
                "audioconvert",
                "!",
                "mulawenc",
                "!",
                "rtppcmupay",
                "min-ptime=20000000",
                "max-ptime=20000000",
                "!",
                "udpsink",
                "host=127.0.0.1",
                f"port={p_port}",
                "sync=true",
            ],
            timeout=60,
        )
        time.sleep(2.0)
        _stop(rx, signal.SIGINT, 10.0)
        _stop(proxy, signal.SIGINT)
    finally:
        for p in procs:
            _stop(p)
    rows = list(csv.DictReader(open(folder / "proxy.csv", newline="")))
    ts0 = int(rows[0]["rtp_ts"])
    first_fwd = next(int(r["rtp_ts"]) for r in rows if r["action"] == "forwarded")
    faults, skipped = [], 0
    keep = []
    for r in sorted(rows, key=lambda r: int(r["index"])):
        t = (int(r["rtp_ts"]) - ts0) % 2**32
        if t < (first_fwd - ts0) % 2**32:
            continue
        if r["action"] == "dropped":
            p = t - (first_fwd - ts0) - skipped
            if faults and faults[-1].start == p:
                pass  # a burst: one point
            else:
                faults.append(Fault("skip", p, p))
            skipped += 160
        else:
            keep.append(t)
    rx_audio, fs = read(folder / "received.wav")
    expected, _ = read(ref_path)
    built = np.concatenate([expected[t : t + 160] for t in keep])
    n = min(len(built), len(rx_audio))
    max_err = float(np.max(np.abs(built[:n] - rx_audio[:n]))) if n else math.nan
    missed = sum(
        int(m)
        for m in re.findall(r"RTP: missed (\d+) packets", (folder / "receiver.log").read_text())
    )
    dropped = sum(r["action"] == "dropped" for r in rows)
    how = (
        f"GStreamer PCMU 20 ms 1004 Hz -> udp_impair_proxy --loss {loss} --seed {seed} "
        f"({dropped} dropped) -> "
        f"ffmpeg RTP receiver (SDP), which skips; ffmpeg logged 'RTP: missed' {missed} "
        "packets. Truth: proxy "
        "log, one point per lost run; received vs the reference with the drops cut out: max "
        "|diff| "
        f"{max_err:.2g} over {n} samples (received {len(rx_audio)}, expected {len(built)})"
    )
    return save_case(
        folder,
        Truth(
            name=name,
            klass="E",
            sample_rate_hz=fs,
            channels=1,
            how=how,
            faults=faults,
            delay_samples=0.0 if max_err < G711_TOL else None,
            period_samples=fs / 1004.0,
            drift_ppm=0.0,
            expect_fail=bool(faults),
            channel_map=[0],
            polarity=[1],
        ),
    )


FRESH_E = (
    ("E_gst_no_jitter_default_mode", gst_jitter_capture, dict(jitter_ms=0.0, seed=2)),
    ("E_gst_jitter25ms_default_mode", gst_jitter_capture, dict(jitter_ms=25.0, seed=3)),
    ("E_gst_jitter40ms_default_mode", gst_jitter_capture, dict(jitter_ms=40.0, seed=5)),
    ("E_ffmpeg_skip_loss3pct", ffmpeg_skip_capture, dict(loss=0.03, seed=7)),
)


def build_fresh_e(cache: Path, rebuild: bool = False) -> list[Case]:
    from .common import load_case

    out = []
    for name, builder, kwargs in FRESH_E:
        case = None if rebuild else load_case(cache / name)
        if case is None:
            case = builder(fresh_folder(cache / name), name=name, **kwargs)
        out.append(case)
    return out
