"""Class E from ``../shared/real``: captures made by real GStreamer / ffmpeg receivers.

Read in place (never copied into the repository). The truth spans follow
``shared/README.md``, "Truth spans for scoring", on the received timeline:

- GStreamer receivers with a probe (``zero-fill``): every zero-fill in
  ``receiver_output_edits`` except a leading one at position 0, and every
  truncation (``short_buffers``: a cut, one point). One departure from the
  README's letter, in its spirit ("a loss inside digital silence cannot be
  heard, so it is not a fault", said there of PLC): a zero-fill where the
  reference is silent too (peak under -70 dBFS) leaves the received audio
  equal to the reference, so it is no audio fault (one in
  ``speech_pcmu_loss3pct``, at 2.70 s; the validator reports the network
  loss from the pcap, not from the WAV);
- skip receivers: each lost span of ``dropped_intervals_s`` becomes one point,
  moved earlier by the audio skipped before it;
- decoder PLC (Opus): each lost span moved by the decoder lag (312 samples),
  dropping those inside digital silence; 40 ms tail (a stateful decoder).

``pcmu_loss2pct_audiorate_default`` is left out: audiorate's 40 ms tolerance
skipped some losses and lumped zeros at others, and the probe list does not
mark the skipped points, so its truth is incomplete.

The delay is INDEX.md's "delay ref->rx" column: 0 for the G.711 / L16 / L24
receivers (bit-exact or a mu-law round trip with ``skip-to-first``), the Opus
pre-skip (312) and the G.722 codec delay (22, measured by the corpus author).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .common import Case, Fault, Truth, merge_contiguous, read

SHARED_REAL = Path(__file__).resolve().parents[4] / "shared" / "real"
if not SHARED_REAL.exists():
    SHARED_REAL = Path("/work/shared/real")

# case: (delay samples, delay tolerance, tone Hz or None)
CASES = {
    "pcmu_clean": (0, 0.1, 1004.0),
    "pcmu_loss2pct_fill": (0, 0.1, 1004.0),
    "pcmu_ge_burst_skip": (0, 0.1, 1004.0),
    "pcma_jitter": (0, 0.1, 997.0),
    "pcma_jitter_mode_none": (0, 0.1, 997.0),
    "l24_48k_stereo_1ms_loss1pct": (0, 0.1, 997.0),
    "l24_48k_stereo_1ms_loss1pct_mode_none": (0, 0.1, 997.0),
    "l16_ffmpeg_receiver_loss": (0, 0.1, 997.0),
    "speech_pcmu_loss3pct": (0, 0.1, None),
    "opus_plc_sine": (312, 1.0, 997.0),
    "opus_plc_speech": (312, 1.0, None),
    "g722_clean": (22, 1.0, None),
    "pcmu_long_60s_loss1pct": (0, 0.1, 1004.0),
}
SILENT = 10 ** (-70 / 20)


def available() -> bool:
    return SHARED_REAL.is_dir()


def _truth(folder: Path, delay: int, tol: float, tone: float | None) -> Truth:
    t = json.loads((folder / "truth.json").read_text())
    fs = int(t["audio_sample_rate"])
    handling = t["receiver_gap_handling"]
    faults: list[Fault] = []
    ref, _ = read(folder / "reference.wav")
    rx_len = len(read(folder / "received.wav")[0])
    if handling == "skip":
        skipped = 0
        for a, b in t["dropped_intervals_s"]:
            p = int(round(a * fs)) - skipped
            faults.append(Fault("skip", p, p))
            skipped += int(round((b - a) * fs))
    elif handling == "plc":
        for a, b in t["dropped_intervals_s"]:
            r0, r1 = int(round(a * fs)), int(round(b * fs))
            if r0 + delay >= rx_len or np.max(np.abs(ref[r0:r1])) < SILENT:
                continue
            faults.append(Fault("plc", r0 + delay, r1 + delay, tail=int(0.040 * fs)))
    else:
        edits = t.get("receiver_output_edits") or {}
        for pos, frames in edits.get("zero_fills", []):
            p = int(round(pos * fs))
            if p == 0:
                continue  # leading fill before the stream started
            if np.max(np.abs(ref[max(p - delay, 0):p + int(frames) - delay]), initial=0.0) \
                    < SILENT:
                continue  # zeros where the reference is silent too (as for plc): no fault
            faults.append(Fault("receiver_fill", p, p + int(frames)))
        for pos, _removed in edits.get("short_buffers", []):
            p = int(round(pos * fs))
            faults.append(Fault("receiver_cut", p, p))
        faults = merge_contiguous(faults)
    ch = int(t["channels"])
    return Truth(
        name=f"E_real_{folder.name}",
        klass="E",
        sample_rate_hz=fs,
        channels=ch,
        how=f"shared/real/{folder.name}: {t['codec']} {handling} receiver "
        f"({t.get('receiver', '')}); "
        "truth from truth.json by the README's scoring rules",
        faults=faults,
        delay_samples=float(delay),
        delay_tol_samples=tol,
        period_samples=fs / tone if tone else None,
        drift_ppm=0.0,
        expect_fail=bool(faults),
        channel_map=list(range(ch)),
        polarity=[1] * ch,
    )


def cases() -> list[Case]:
    if not available():
        return []
    out = []
    for name, (delay, tol, tone) in CASES.items():
        folder = SHARED_REAL / name
        if (folder / "truth.json").exists():
            out.append(Case(folder, _truth(folder, delay, tol, tone)))
    return out
