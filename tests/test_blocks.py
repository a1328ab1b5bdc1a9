"""Long captures block by block (validator.detectors.blocks): the same answers as whole.

A capture longer than SINGLE_BLOCK_MAX_S is analysed in blocks so that memory
stays flat. Here the blocks are made short (8 s, with 1 s margins) so that a
40 s numpy-made tone meets every case a soak capture does: a fill inside a
block, a fill across a block boundary, a level step and a near-silence that
run across boundaries, and the sums (level, SNR, coverage) over many blocks.
The truth is where the faults were written; the whole-capture analysis of the
same file is the second reference.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from validator.detectors import blocks
from validator.pipeline import validate

FS = 16000
F0 = 997.0
ROOT = Path(__file__).resolve().parents[1]


def _capture() -> tuple[np.ndarray, np.ndarray, dict[str, list[tuple[float, float]]]]:
    n = 40 * FS
    t = np.arange(n) / FS
    ref = 0.3 * np.sin(2 * np.pi * F0 * t)
    rec = ref.copy()
    truth: dict[str, list[tuple[float, float]]] = {"dropout": [], "level": [], "silence": []}
    for a, b in ((3.3, 3.32), (7.99, 8.02), (15.995, 16.015)):  # 8.0 and 16.0 are boundaries
        rec[round(a * FS):round(b * FS)] = 0.0
        truth["dropout"].append((a, b))
    rec[round(20.5 * FS):round(29.5 * FS)] *= 10 ** (-6 / 20)   # across 24.0
    truth["level"].append((20.5, 29.5))
    rec[round(31.0 * FS):round(33.5 * FS)] *= 1e-4              # -80 dB, across 32.0
    truth["silence"].append((31.0, 33.5))
    noise = np.random.default_rng(0).normal(scale=1e-4, size=n)  # -77 dBFS
    return ref + noise, rec + noise, truth


@pytest.fixture(scope="module")
def results():
    ref, rec, truth = _capture()
    whole = validate(rec, ref, sample_rate_hz=FS)
    mp = pytest.MonkeyPatch()
    mp.setattr(blocks, "BLOCK_S", 8.0)
    mp.setattr(blocks, "MARGIN_S", 1.0)
    mp.setattr(blocks, "SINGLE_BLOCK_MAX_S", 10.0)
    ran_in: list[str] = []
    analyse_block = blocks._analyse_block

    def recorded(*args, **kwargs):
        ran_in.append(threading.current_thread().name)
        return analyse_block(*args, **kwargs)

    mp.setattr(blocks, "_analyse_block", recorded)
    try:
        assert len(blocks.plan_blocks(len(rec), FS, 16)) == 5
        split = validate(rec, ref, sample_rate_hz=FS, threads=1)
        assert ran_in == ["MainThread"] * 5
        ran_in.clear()
        threaded = validate(rec, ref, sample_rate_hz=FS, threads=3)
        assert len(ran_in) == 5 and all(n.startswith("validator-block") for n in ran_in)
    finally:
        mp.undo()
    return whole, split, truth, threaded


def test_plan_tiles_the_capture_on_frame_edges():
    plan = blocks.plan_blocks(FS * 200 + 7, FS, 16, block_s=60.0, margin_s=1.0,
                              single_max_s=90.0)
    assert [b.core_start for b in plan] == [0, 60 * FS, 120 * FS]
    assert plan[-1].core_stop == FS * 200 + 7  # the last 20 s join the block before
    for a, b in zip(plan[:-1], plan[1:], strict=True):
        assert a.core_stop == b.core_start and a.stop == a.core_stop + FS
        assert b.start == b.core_start - FS and b.start % 16 == 0
    assert blocks.plan_blocks(FS * 90, FS, 16) == [blocks.Block(0, FS * 90, 0, FS * 90)]


def _spans(result, kind):
    return [(e.start_s, e.end_s) for e in result.events if e.type == kind]


@pytest.mark.parametrize("kind", ["dropout", "level", "silence"])
def test_every_fault_is_found_once_at_its_place_across_boundaries(results, kind):
    whole, split, truth, _ = results
    got = _spans(split, kind)
    assert len(got) == len(truth[kind]), split.events
    for (a, b), (s, e) in zip(truth[kind], got, strict=True):
        assert abs(s - a) <= 0.002 and abs(e - b) <= 0.002, (kind, (a, b), (s, e))
    # and where the whole-capture analysis puts it
    for (s0, e0), (s, e) in zip(_spans(whole, kind), got, strict=True):
        assert abs(s - s0) <= 0.001 and abs(e - e0) <= 0.001


def test_no_other_events(results):
    _, split, truth, _ = results
    assert {e.type for e in split.events} <= set(truth), split.events
    assert split.verdict == "fail"


def test_sums_over_blocks_give_the_whole_capture_figures(results):
    whole, split, _, _ = results
    a, b = whole.channels[0], split.channels[0]
    assert b.rms_dbfs == pytest.approx(a.rms_dbfs, abs=0.002)
    assert b.peak_dbfs == pytest.approx(a.peak_dbfs, abs=1e-3)
    assert b.reference_rms_dbfs == pytest.approx(a.reference_rms_dbfs, abs=0.002)
    assert b.frequency_hz == pytest.approx(a.frequency_hz, abs=0.01)
    assert b.snr_db == pytest.approx(a.snr_db, abs=1.0)
    assert b.judged_fraction == pytest.approx(a.judged_fraction, abs=0.01)
    assert b.match_db == pytest.approx(a.match_db, abs=0.5)
    assert split.traces[0].received_dbfs == pytest.approx(whole.traces[0].received_dbfs,
                                                          abs=0.01)
    pa, pb = whole.plots.channels[0], split.plots.channels[0]
    assert pb.received_min == pa.received_min and pb.received_max == pa.received_max


def test_blocks_in_threads_give_the_same_result(results):
    """Blocks analysed three at a time give the one-thread result exactly: every event, every
    figure, every trace point (the blocks are independent and merged in order)."""
    from validator.report.json_report import to_dict

    _, split, _, threaded = results
    a, b = to_dict(split), to_dict(threaded)
    for doc in (a, b):
        doc.pop("elapsed_s"), doc.pop("generated_at", None)
    assert a == b
    assert split.plots.channels[0].received_min == threaded.plots.channels[0].received_min


def test_speech_in_blocks_matches_the_whole_analysis(monkeypatch):
    """A 150 s speech capture (the shipped espeak-ng reference, looped) delayed by 123.4 ms with
    fills at written places: its correlation-tracked alignment and events are the same in
    60 s blocks as analysed whole. The fill at 61 s falls where the reference is digital
    silence: nothing to judge there, in either analysis."""
    path = ROOT / "reference_signals" / "speech" / "speech_en_harvard_16k_16bit_mono.wav"
    y, fs = sf.read(path, always_2d=True)
    ref = np.tile(y[:, 0], 40)[:150 * fs]
    lag = int(0.1234 * fs)
    rec = np.concatenate([np.zeros(lag), ref])[:len(ref)].copy()
    fills = [(20.0, 20.02), (59.99, 60.01), (61.0, 61.02), (119.985, 120.005)]
    for a, b in fills:
        rec[int(a * fs):int(b * fs)] = 0.0
    split = validate(rec, ref, sample_rate_hz=fs)
    monkeypatch.setattr(blocks, "SINGLE_BLOCK_MAX_S", 1e9)
    whole = validate(rec, ref, sample_rate_hz=fs)
    got = [(round(e.start_s, 4), round(e.end_s, 4), e.type) for e in split.events]
    assert got == [(round(e.start_s, 4), round(e.end_s, 4), e.type) for e in whole.events]
    assert got == [(a, b, "dropout") for a, b in fills if a != 61.0]
    assert split.alignment.delay_samples == pytest.approx(lag, abs=0.1)
    assert split.channels[0].judged_fraction == pytest.approx(whole.channels[0].judged_fraction,
                                                              abs=0.005)
