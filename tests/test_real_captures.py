"""Real RTP captures (../shared/real): what real stacks did, checked against their truth.json.

Each case is one run of a real sender and receiver (GStreamer or ffmpeg) with
a seeded UDP impairment proxy in between; ``truth.json`` says which packets
were lost and what the receiver wrote in their place. Truth intervals are on
the *reference* timeline; events are on the *received* timeline, which can
sit a few samples off (receiver timing), hence the 2 ms tolerance.

Each test prints its figures (recall, false events); run with ``-s`` to see them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from validator.pipeline import validate
from validator.result import Event, ValidationResult

pytestmark = pytest.mark.real

#: Allowed misplacement between a truth interval and an event, s.
TOL_S = 0.002
#: Reference spans quieter than this (AES17 dBFS) carry no audio a loss could remove.
SILENT_DBFS = -60.0


@cache
def _validate(case_dir: str) -> ValidationResult:
    d = Path(case_dir)
    return validate(d / "received.wav", d / "reference.wav")


@cache
def _truth(case_dir: str) -> dict[str, Any]:
    return json.loads((Path(case_dir) / "truth.json").read_text(encoding="utf-8"))


Case = Callable[[str], tuple[ValidationResult, dict[str, Any], Path]]


@pytest.fixture(scope="session")
def case(shared_real: Path) -> Case:
    """``case(name) -> (result, truth, folder)``; each capture is validated once per session."""

    def _case(name: str) -> tuple[ValidationResult, dict[str, Any], Path]:
        d = shared_real / name
        if not (d / "truth.json").is_file():
            pytest.skip(f"real capture {name!r} not found in {shared_real}")
        return _validate(str(d)), _truth(str(d)), d

    return _case


def overlaps(a0: float, a1: float, b0: float, b1: float, tol: float = TOL_S) -> bool:
    """True when [a0, a1] and [b0, b1] overlap or come within ``tol`` (zero-length spans too)."""
    return a0 < b1 + tol and b0 < a1 + tol


def hit(interval: Sequence[float], events: Sequence[Event], tol: float = TOL_S) -> bool:
    return any(overlaps(interval[0], interval[1], e.start_s, e.end_s, tol) for e in events)


def false_events(events: Sequence[Event], truth: Sequence[Sequence[float]],
                 tol: float = TOL_S) -> list[Event]:
    return [e for e in events
            if not any(overlaps(a, b, e.start_s, e.end_s, tol) for a, b in truth)]


def figures(name: str, result: ValidationResult, truth_n: int, hits: int,
            n_false: int, extra: str = "") -> None:
    recall = hits / truth_n if truth_n else float("nan")
    counts: dict[str, int] = {}
    for e in result.events:
        counts[e.type] = counts.get(e.type, 0) + 1
    print(f"\n[real] {name}: verdict {result.verdict}, events {counts or 'none'}, "
          f"recall {hits}/{truth_n} = {recall:.3f}, false events {n_false}"
          f"{', ' + extra if extra else ''}")


def dbfs(x: np.ndarray) -> float:
    """AES17 level of a block (a full-scale sine reads 0 dBFS)."""
    return float(10 * np.log10(max(2 * float(np.mean(np.square(x))), 1e-30)))


# --------------------------------------------------------------------------- clean runs


@pytest.mark.parametrize("name", ["pcmu_clean", "g722_clean"])
def test_clean_capture_passes(case, name):
    result, truth, _ = case(name)
    assert truth["dropped_intervals_s"] == []
    figures(name, result, 0, 0, len(result.events),
            "gain " + ", ".join(f"{c.gain_error_db:+.3f} dB" for c in result.channels))
    assert result.events == ()
    assert result.verdict == "pass", [c for c in result.checks if not c.passed]
    for ch in result.channels:
        assert ch.gain_error_db is not None
        assert abs(ch.gain_error_db) < 0.1


# --------------------------------------------------------------------------- zero-fill receivers


def test_pcmu_loss2pct_fill_every_lost_packet_is_a_zero_dropout(case):
    name = "pcmu_loss2pct_fill"
    result, truth, _ = case(name)
    missing = truth["all_missing_in_output_intervals_s"]
    dropouts = [e for e in result.events if e.type == "dropout"]
    hits = sum(hit(iv, dropouts) for iv in missing)
    false = false_events(dropouts, missing)
    figures(name, result, len(missing), hits, len(false_events(result.events, missing)))
    assert len(missing) == 14
    assert [iv for iv in missing if not hit(iv, dropouts)] == []
    assert false == []
    assert [e.type for e in result.events] == ["dropout"] * len(result.events)
    for e in result.events:
        assert "digital zeros" in e.description, e.description
    assert result.verdict == "fail"


@pytest.mark.slow
def test_l24_stereo_1ms_zero_fills_sample_exact(case):
    name = "l24_48k_stereo_1ms_loss1pct_mode_none"
    result, truth, _ = case(name)
    fs = result.input.sample_rate_hz
    fills = truth["receiver_output_edits"]["zero_fills"]
    want = np.array([[round(pos * fs), round(pos * fs) + n] for pos, n in fills])
    assert len(fills) == 48
    worst = 0
    hits = 0
    n_false = 0
    for ch in (0, 1):
        got = sorted((e.start_sample, e.end_sample) for e in result.events
                     if e.channel == ch and e.type == "dropout")
        assert len(got) == 48, f"channel {ch}: {len(got)} dropouts"
        err = np.abs(np.array(got) - want)
        worst = max(worst, int(err.max()))
        hits += int(np.sum(err.max(axis=1) <= 1))
        n_false += len(false_events([e for e in result.events if e.channel == ch],
                                    truth["all_missing_in_output_intervals_s"]))
    figures(name, result, 96, hits, n_false, f"worst edge error {worst} samples, "
            f"f = {result.channels[0].frequency_hz} / {result.channels[1].frequency_hz} Hz")
    assert worst <= 1
    assert result.channels[0].frequency_hz == pytest.approx(997.0, abs=0.01)
    assert result.channels[1].frequency_hz == pytest.approx(1499.0, abs=0.01)


def test_speech_pcmu_loss3pct_losses_in_speech_are_found(case):
    """Speech pauses decode to zeros too: only losses where the reference is audible count."""
    name = "speech_pcmu_loss3pct"
    result, truth, d = case(name)
    ref, fs = sf.read(d / "reference.wav", dtype="float64", always_2d=True)
    missing = truth["all_missing_in_output_intervals_s"]
    audible = [iv for iv in missing
               if dbfs(ref[round(iv[0] * fs):round(iv[1] * fs), 0]) >= SILENT_DBFS]
    dropouts = [e for e in result.events if e.type == "dropout"]
    hits = sum(hit(iv, dropouts) for iv in audible)
    false = false_events(result.events, missing)
    figures(name, result, len(audible), hits, len(false),
            f"{len(missing) - len(audible)} of {len(missing)} losses fell on digital silence")
    assert len(audible) >= 10, "the data set changed: most losses should fall on speech"
    assert [iv for iv in audible if not hit(iv, dropouts)] == []
    assert false == [], [(e.type, e.start_s, e.end_s) for e in false]


# --------------------------------------------------------------------------- skip receiver


def test_pcmu_ge_burst_skip_splices_at_both_bursts(case):
    """The receiver skipped the lost packets: a splice (dropout) where each burst was."""
    name = "pcmu_ge_burst_skip"
    result, truth, _ = case(name)
    # received time of each burst: its reference time minus the audio skipped before it
    expected, skipped = [], 0.0
    for a, b in truth["all_missing_in_output_intervals_s"]:
        expected.append(a - skipped)
        skipped += b - a
    assert expected == pytest.approx([4.08, 9.56], abs=1e-9)
    found = [any(e.type == "dropout" and abs(e.start_s - t) <= TOL_S for e in result.events)
             for t in expected]
    others = [e for e in result.events if not any(abs(e.start_s - t) <= TOL_S for t in expected)]
    figures(name, result, len(expected), sum(found), len(others),
            "splices at " + ", ".join(f"{e.start_s:.4f} s" for e in result.events))
    assert all(found), [(e.type, e.start_s) for e in result.events]
    assert others == []
    assert [e.type for e in result.events] == ["dropout"] * len(result.events)


# --------------------------------------------------------------------------- PLC receiver


@pytest.mark.slow
def test_opus_plc_sine_concealed_losses_are_found(case):
    name = "opus_plc_sine"
    result, truth, d = case(name)
    fs = result.input.sample_rate_hz
    lag = 312  # Opus pre-skip: the receiver lags the reference by 312 samples
    dropped = [(a + lag / fs, b + lag / fs) for a, b in truth["dropped_intervals_s"]]
    hits = [hit(iv, result.events) for iv in dropped]
    false = false_events(result.events, dropped)

    # The ~15 dB quiet concealments, found from the audio itself.
    ref, _ = sf.read(d / "reference.wav", dtype="float64", always_2d=True)
    rec, _ = sf.read(d / "received.wav", dtype="float64", always_2d=True)
    quiet = []
    for a, b in truth["dropped_intervals_s"]:
        i, j = round(a * fs), min(round(b * fs), ref.shape[0], rec.shape[0] - lag)
        if j - i < fs // 1000:
            continue  # the last packet lies past the end of the capture
        drop_db = dbfs(rec[i + lag:j + lag, 0]) - dbfs(ref[i:j, 0])
        if drop_db < -10.0:
            quiet.append((a + lag / fs, b + lag / fs, drop_db))
    quiet_found = [any(e.type in ("dropout", "level")
                       and overlaps(a, b, e.start_s, e.end_s) for e in result.events)
                   for a, b, _ in quiet]
    figures(name, result, len(dropped), sum(hits), len(false),
            f"delay {result.alignment.delay_samples} samples, quiet losses "
            + ", ".join(f"{a:.4f} s ({db:.1f} dB)" for a, _, db in quiet)
            + f" found {sum(quiet_found)}/{len(quiet)}")

    assert sum(hits) >= 0.9 * len(dropped), f"recall {sum(hits)}/{len(dropped)}"
    assert len(quiet) == 2 and all(-20.0 < db < -10.0 for *_, db in quiet), quiet
    assert all(quiet_found)
    assert result.alignment.delay_samples == pytest.approx(lag, abs=1.0)
