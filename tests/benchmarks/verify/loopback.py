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
+960)`` on the reference timeline, moved by the decoder lag measured on a clean
run of the same chain (numpy cross-correlation of that clean received file
against the reference, written here: no ``validator`` code). A loss where
the reference is digital silence cannot be heard and is not a fault. Opus
keeps erring after a loss, so each span carries a 40 ms tail.
"""

from __future__ import annotations

import csv
import os
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


def make_speech(path: Path, text: str = TEXT) -> None:
    raw = path.with_name("speech_22k.wav")
    run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(raw), text])
    run(
        [
            "sox",
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
    lag = xcorr_lag(rx[:, 0], ref[:, 0]) if clean_lag is None else clean_lag
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
        f"lag {lag} samples (numpy xcorr of the {'this' if clean_lag is None else 'the'} clean "
        "run); "
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
            notes="codec: the delay is an integer xcorr lag of the clean run (tolerance 1)",
        ),
    )


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
