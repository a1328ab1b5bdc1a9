"""Benchmark of the validator: detection accuracy on injected faults, speed and memory.

Run from the repository root::

    python tests/benchmarks/bench_validate.py                 # full corpus, 10/600/3600 s
    python tests/benchmarks/bench_validate.py --quick         # ~36 cases, 10/60 s
    python tests/benchmarks/bench_validate.py --sizes 10,600 --out bench.md

Part A injects faults with ground truth (:mod:`validator.impair`) into three
references and runs :func:`validator.pipeline.validate` on the arrays. Part B
writes long 48 kHz 16-bit WAV files in blocks and times the command line from
a cold process against ``ffmpeg silencedetect`` on the same file. See
``tests/benchmarks/README.md`` for the definitions of every column.

The file is named ``bench_*.py`` so pytest does not collect it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal as sps

import validator
from validator.impair import (
    Fault,
    add_noise,
    fade_packet,
    mu_law_round_trip,
    repeat_packet,
    zero_fill,
)
from validator.pipeline import validate
from validator.result import Event
from validator.signals import marker_length_samples, quantize, sync_marker, tone

#: Tolerance (s) around a truth span when matching events to it.
TOL_S = 0.002
#: Level of the test tones, AES17 dBFS.
TONE_DBFS = -10.0
#: Duration of the tone (marker excluded) and of the speech-like reference, s.
REF_DURATION_S = 4.0
#: Gap of digital silence between the chirp marker and the tone, s (tone() default).
MARKER_GAP_S = 0.2
#: Fade at the tone's start and end, s (tone() default).
RAMP_S = 0.005
#: Faults start no earlier than this, s.
EARLIEST_FAULT_S = 0.5
#: Faults end at least this long before the end of the tone or phrase, s.
END_GUARD_S = 0.25
#: Packet time of the concealment faults, s.
PTIME_S = 0.02
#: Seed of the whole corpus.
SEED = 20240917
#: Duration of each no-fault run in the full benchmark, s (4 s with --quick).
CLEAN_DURATION_S = 60.0
#: Sample rate of the speed benchmark, Hz.
SPEED_FS = 48000
#: Tone of the speed benchmark, Hz.
SPEED_TONE_HZ = 997
#: Where the 20 ms zero-fills of the speed benchmark go, as fractions of the tone.
SPEED_DROPOUT_FRACTIONS = (0.15, 0.4, 0.65, 0.9)
#: Length of the speed benchmark's zero-fills, s.
SPEED_DROPOUT_S = 0.02
#: Block length used to write the long WAV files, samples.
WRITE_BLOCK = 1 << 20
#: Longest a single timed subprocess may run, s.
SUBPROCESS_TIMEOUT_S = 3600.0

# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class Reference:
    """A reference signal of the accuracy corpus.

    Attributes
    ----------
    name : str
        Short label for the tables.
    fs : int
        Sample rate, Hz.
    y : np.ndarray, shape=(n_samples, 1), float64
        The reference, quantized to 16 bits.
    regions : tuple of (float, float)
        Spans (s) in which a fault (including the packet before a concealed
        one and a guard) may be placed: inside the steady tone, or inside a
        phrase of the speech-like signal.
    """

    name: str
    fs: int
    y: np.ndarray
    regions: tuple[tuple[float, float], ...]


def tone_reference(freq_hz: float, fs: int, duration_s: float = REF_DURATION_S) -> Reference:
    """A -10 dBFS tone after a chirp marker, with the region where faults may go.

    Parameters
    ----------
    freq_hz : float
        Tone frequency, Hz.
    fs : int
        Sample rate, Hz.
    duration_s : float
        Duration of the tone, marker and gap excluded, s.

    Returns
    -------
    Reference
        ``regions`` is the tone from ``max(0.5 s, tone start + 0.25 s)`` to
        0.25 s before its end: away from the marker, the gap and the fades.
    """
    y = tone(freq_hz, sample_rate_hz=fs, duration_s=duration_s, level_dbfs=TONE_DBFS,
             ramp_s=RAMP_S, marker="chirp", marker_gap_s=MARKER_GAP_S)
    tone_start = marker_length_samples("chirp", sample_rate_hz=fs) / fs + MARKER_GAP_S
    lo = max(EARLIEST_FAULT_S, tone_start + END_GUARD_S)
    hi = tone_start + duration_s - END_GUARD_S
    name = f"tone {freq_hz:g} Hz @ {fs // 1000} k"
    return Reference(name, fs, quantize(y, 16), ((lo, hi),))


def speech_like(fs: int, duration_s: float, seed: int) -> tuple[np.ndarray, list[tuple[float,
                                                                                         float]]]:
    """Band-limited noise under a 4 Hz syllable envelope, in phrases with pauses.

    Parameters
    ----------
    fs : int
        Sample rate, Hz.
    duration_s : float
        Total duration, s.
    seed : int
        Seed for ``np.random.default_rng``.

    Returns
    -------
    y : np.ndarray, shape=(n_samples, 1), float64
        Noise band-passed to 100-7000 Hz (4th-order Butterworth, capped below
        Nyquist), times ``0.25 + 0.75 * sin(pi * 4 Hz * t + phi) ** 2`` inside
        phrases of 0.8-1.6 s, separated by pauses of 0.2-0.5 s of digital
        silence (10 ms raised-cosine phrase edges). It starts with 0.3 s of
        silence; its RMS over the phrases is -20 dBFS.
    phrases : list of (float, float)
        Phrase spans, s.
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * fs))
    t = np.arange(n) / fs
    gate = np.zeros(n)
    phrases = []
    pos = 0.3
    edge = int(round(0.01 * fs))
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(edge) / edge)
    while pos < duration_s - 0.5:
        length = min(float(rng.uniform(0.8, 1.6)), duration_s - 0.1 - pos)
        a, b = int(round(pos * fs)), int(round((pos + length) * fs))
        gate[a:b] = 1.0
        gate[a:a + edge] = ramp
        gate[b - edge:b] = ramp[::-1]
        phrases.append((pos, pos + length))
        pos += length + float(rng.uniform(0.2, 0.5))
    env = gate * (0.25 + 0.75 * np.sin(np.pi * 4.0 * t + rng.uniform(0, np.pi)) ** 2)
    sos = sps.butter(4, [100.0, min(7000.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    y = sps.sosfilt(sos, rng.standard_normal(n)) * env
    active = gate > 0.5
    y *= 10 ** (-20 / 20) / np.sqrt(np.mean(y[active] ** 2))
    return y[:, None], phrases


def speech_reference(fs: int, seed: int, duration_s: float = REF_DURATION_S) -> Reference:
    """The speech-like reference (see :func:`speech_like`) quantized to 16 bits.

    Parameters
    ----------
    fs : int
        Sample rate, Hz.
    seed : int
        Seed of the noise and the phrase layout.
    duration_s : float
        Duration, s.

    Returns
    -------
    Reference
        ``regions``: each phrase shrunk by 0.1 s at both ends and cut to start
        no earlier than 0.5 s.
    """
    y, phrases = speech_like(fs, duration_s, seed)
    regions = tuple((max(a + 0.1, EARLIEST_FAULT_S), b - 0.1) for a, b in phrases
                    if b - 0.1 - max(a + 0.1, EARLIEST_FAULT_S) > 0.1)
    return Reference(f"speech-like @ {fs // 1000} k", fs, quantize(y, 16), regions)


def build_references(duration_s: float = REF_DURATION_S) -> list[Reference]:
    """The three references of the accuracy corpus.

    Parameters
    ----------
    duration_s : float
        Duration of each, s (the tones get their marker and gap on top).

    Returns
    -------
    list of Reference
        997 Hz at 48 kHz, 1004 Hz at 8 kHz, speech-like at 48 kHz.
    """
    return [tone_reference(997.0, 48000, duration_s), tone_reference(1004.0, 8000, duration_s),
            speech_reference(48000, SEED + 1, duration_s)]


# --------------------------------------------------------------------------- faults, conditions


@dataclass(frozen=True)
class FaultKind:
    """One kind of injected fault.

    Attributes
    ----------
    name : str
        Label for the tables.
    duration_s : float
        Length of the affected span, s.
    needs_previous : bool
        True for packet concealment, which copies the packet before the span.
    match_types : frozenset of str
        Event types that count as detecting it.
    inject : callable
        ``inject(y, fs, start_s) -> Impaired``.
    """

    name: str
    duration_s: float
    needs_previous: bool
    match_types: frozenset[str]
    inject: Callable


_DROPOUT = frozenset({"dropout"})
_CONCEALMENT = frozenset({"glitch", "dropout", "level"})


def _zero_fill_kind(ms: float) -> FaultKind:
    """A zero-fill fault kind of ``ms`` milliseconds."""
    return FaultKind(f"zero-fill {ms:g} ms", ms / 1000, False, _DROPOUT,
                     lambda y, fs, s: zero_fill(y, fs, start_s=s, duration_s=ms / 1000))


FAULT_KINDS: tuple[FaultKind, ...] = (
    _zero_fill_kind(1), _zero_fill_kind(2), _zero_fill_kind(5), _zero_fill_kind(20),
    FaultKind("repeat_packet 20 ms", PTIME_S, True, _CONCEALMENT,
              lambda y, fs, s: repeat_packet(y, fs, start_s=s, ptime_s=PTIME_S)),
    FaultKind("fade_packet 20 ms", PTIME_S, True, _CONCEALMENT,
              lambda y, fs, s: fade_packet(y, fs, start_s=s, ptime_s=PTIME_S)),
)
CONDITIONS: tuple[str, ...] = ("clean", "SNR 30 dB", "SNR 20 dB", "mu-law")


def apply_condition(y: np.ndarray, fs: int, condition: str, seed: int, *,
                    stage: str) -> np.ndarray:
    """Apply the part of a channel condition that belongs before or after the fault.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, 1)
        Audio.
    fs : int
        Sample rate, Hz.
    condition : str
        One of :data:`CONDITIONS`.
    seed : int
        Noise seed.
    stage : {"before", "after"}
        ``"before"`` the fault: the codec (PCMU encode/decode; the receiver
        conceals lost packets in the decoded audio). ``"after"``: the noise
        (added on the way out of the device).

    Returns
    -------
    np.ndarray
        New audio (or ``y`` itself when this stage does nothing).
    """
    if stage == "before" and condition == "mu-law":
        return mu_law_round_trip(y, fs).y
    if stage == "after" and condition.startswith("SNR"):
        snr = float(condition.split()[1])
        return add_noise(y, fs, snr_db=snr, seed=seed).y
    return y


def fault_position(ref: Reference, kind: FaultKind, rng: np.random.Generator) -> float:
    """A random fault start (s, on a whole millisecond) inside one of the reference's regions.

    Parameters
    ----------
    ref : Reference
        Where faults may go.
    kind : FaultKind
        The fault, for its length and whether it needs a previous packet.
    rng : np.random.Generator
        Source of randomness.

    Returns
    -------
    float
        Start time, s.
    """
    before = kind.duration_s if kind.needs_previous else 0.0
    spans = [(a + before, b - kind.duration_s) for a, b in ref.regions
             if b - kind.duration_s > a + before]
    weights = np.array([b - a for a, b in spans])
    a, b = spans[int(rng.choice(len(spans), p=weights / weights.sum()))]
    return round(float(rng.uniform(a, b)), 3)


# --------------------------------------------------------------------------- scoring


def overlaps(event: Event, fault: Fault, tol_s: float = TOL_S) -> bool:
    """Whether an event overlaps a truth span widened by ``tol_s`` on both sides.

    Parameters
    ----------
    event : Event
        A reported event.
    fault : Fault
        A ground-truth fault.
    tol_s : float
        Tolerance, s.

    Returns
    -------
    bool
    """
    return event.start_s <= fault.end_s + tol_s and event.end_s >= fault.start_s - tol_s


@dataclass
class CaseResult:
    """Outcome of one validation in the accuracy corpus.

    Attributes
    ----------
    reference, fault, condition : str
        Labels; ``fault`` is ``"none"`` for a no-fault run.
    audio_s : float
        Duration of the received audio, s.
    detected : bool or None
        Whether an event of a matching type overlapped the truth (None: no fault).
    onset_error_ms : float or None
        Smallest ``|event.start_s - truth.start_s|`` over the matching events, ms.
    false_events : list of Event
        Events overlapping no truth span.
    wrong_type : list of Event
        Events overlapping the truth span but of a type that does not count.
    elapsed_s : float
        Wall time of :func:`validate`, s.
    truth_s : tuple of float or None
        Start and end of the injected fault, s.
    """

    reference: str
    fault: str
    condition: str
    audio_s: float
    detected: bool | None = None
    onset_error_ms: float | None = None
    false_events: list[Event] = field(default_factory=list)
    wrong_type: list[Event] = field(default_factory=list)
    elapsed_s: float = 0.0
    truth_s: tuple[float, float] | None = None


def score(events: Sequence[Event], truth: Sequence[Fault], match_types: frozenset[str],
          result: CaseResult) -> CaseResult:
    """Fill in detection, onset error and false events of one case.

    Parameters
    ----------
    events : sequence of Event
        What the validator reported.
    truth : sequence of Fault
        Injected event faults (empty for a no-fault run).
    match_types : frozenset of str
        Event types that count as detecting the fault.
    result : CaseResult
        Filled in place.

    Returns
    -------
    CaseResult
        ``result``.
    """
    for f in truth:
        result.truth_s = (f.start_s, f.end_s)
        near = [e for e in events if overlaps(e, f)]
        hits = [e for e in near if e.type in match_types]
        result.detected = bool(hits)
        result.wrong_type += [e for e in near if e.type not in match_types]
        if hits:
            result.onset_error_ms = min(abs(e.start_s - f.start_s) for e in hits) * 1000
    result.false_events = [e for e in events if not any(overlaps(e, f) for f in truth)]
    return result


def run_case(ref: Reference, kind: FaultKind | None, condition: str, seed: int) -> CaseResult:
    """Inject one fault (or none) under one condition, validate and score.

    Parameters
    ----------
    ref : Reference
        The reference; also what the validator compares against.
    kind : FaultKind or None
        The fault; None for a no-fault run.
    condition : str
        One of :data:`CONDITIONS`.
    seed : int
        Seed of the fault position and of the noise.

    Returns
    -------
    CaseResult
    """
    rng = np.random.default_rng(seed)
    y = apply_condition(ref.y, ref.fs, condition, seed, stage="before")
    truth: tuple[Fault, ...] = ()
    if kind is not None:
        imp = kind.inject(y, ref.fs, fault_position(ref, kind, rng))
        y, truth = imp.y, imp.events
    y = quantize(apply_condition(y, ref.fs, condition, seed, stage="after"), 16)
    t0 = time.perf_counter()
    res = validate(y, ref.y, sample_rate_hz=ref.fs)
    out = CaseResult(ref.name, kind.name if kind else "none", condition, y.shape[0] / ref.fs,
                     elapsed_s=time.perf_counter() - t0)
    return score(res.events, truth, kind.match_types if kind else frozenset(), out)


def accuracy_cases(quick: bool) -> list[tuple[int, int, str, int]]:
    """The corpus as (reference index, fault index, condition, seed) tuples.

    Parameters
    ----------
    quick : bool
        36 cases (each reference x fault under two of the four conditions,
        rotating so every condition is covered) instead of 144 (every
        reference x fault x condition, twice, at different positions).

    Returns
    -------
    list of tuple
    """
    cases = []
    n_ref, n_fault, n_cond = 3, len(FAULT_KINDS), len(CONDITIONS)
    for r in range(n_ref):
        for k in range(n_fault):
            if quick:
                i = r * n_fault + k
                conds = [i % n_cond, (i + 2) % n_cond]
                reps = 1
            else:
                conds, reps = list(range(n_cond)), 2
            for c in conds:
                for rep in range(reps):
                    seed = SEED + 1000 * r + 100 * k + 10 * c + rep
                    cases.append((r, k, CONDITIONS[c], seed))
    return cases


# --------------------------------------------------------------------------- tables


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table with right-aligned numeric columns.

    Parameters
    ----------
    header : sequence of str
        Column titles.
    rows : sequence of sequence
        Cells; converted with ``str``.

    Returns
    -------
    str
        The table, one line per row, ending in a newline.
    """
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]
    numeric = [all(re.fullmatch(r"[-+0-9.%/ n/a]*", r[i]) for r in cells) if cells else False
               for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2))
                         for w, num in zip(widths, numeric, strict=True)) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in cells)]) + "\n"


def _fmt(x: float | None, digits: int = 1) -> str:
    """A number with ``digits`` decimals, or ``-`` for None."""
    return "-" if x is None else f"{x:.{digits}f}"


def accuracy_tables(results: list[CaseResult], clean: list[CaseResult]) -> str:
    """The markdown of part A.

    Parameters
    ----------
    results : list of CaseResult
        Fault cases.
    clean : list of CaseResult
        No-fault runs.

    Returns
    -------
    str
    """
    out = []
    rows = []
    for kind in FAULT_KINDS:
        for cond in CONDITIONS:
            sel = [r for r in results if r.fault == kind.name and r.condition == cond]
            if not sel:
                continue
            rows.append(_accuracy_row([kind.name, cond], sel))
    out.append("### A1. Detection per fault type x condition (all references pooled)\n")
    out.append(md_table(["fault", "condition", "n", "recall", "false ev", "wrong type",
                         "onset med ms", "onset max ms"], rows))
    rows = []
    refs = list(dict.fromkeys(r.reference for r in results))
    for ref in refs:
        for kind in FAULT_KINDS:
            sel = [r for r in results if r.reference == ref and r.fault == kind.name]
            rows.append(_accuracy_row([ref, kind.name], sel))
    out.append("\n### A2. Detection per reference x fault type (conditions pooled)\n")
    out.append(md_table(["reference", "fault", "n", "recall", "false ev", "wrong type",
                         "onset med ms", "onset max ms"], rows))
    rows = []
    for r in clean:
        rows.append([r.reference, r.condition, f"{r.audio_s:.1f}", len(r.false_events),
                     _event_summary(r.false_events)])
    out.append("\n### A3. No-fault runs\n")
    out.append(md_table(["reference", "condition", "audio s", "false ev", "events"], rows))
    clean_h = sum(r.audio_s for r in clean) / 3600
    n_clean = sum(len(r.false_events) for r in clean)
    fault_h = sum(r.audio_s for r in results) / 3600
    n_fault = sum(len(r.false_events) for r in results)
    n_det = sum(bool(r.detected) for r in results)
    out.append(
        f"\nClean audio: {n_clean} false events in {clean_h:.4f} h = "
        f"**{n_clean / clean_h:.1f} false events per hour**"
        + (f" (0 events: < {1 / clean_h:.1f}/h at one event)" if n_clean == 0 else "") + ".  \n"
        f"Fault cases: {n_det}/{len(results)} detected "
        f"({100 * n_det / max(len(results), 1):.1f} %); {n_fault} false events in "
        f"{fault_h:.4f} h of faulted audio = {n_fault / max(fault_h, 1e-12):.1f}/h.  \n"
        f"validate() on arrays: {sum(r.elapsed_s for r in results + clean):.1f} s for "
        f"{len(results) + len(clean)} runs.\n")
    misses = [r for r in results if not r.detected]
    falses = [(r, e) for r in results for e in r.false_events]
    if misses or falses:
        out.append("\nMisses and false events in fault cases:\n")
        for r in misses:
            other = "; ".join(f"{e.type} {e.start_s:.4f}-{e.end_s:.4f} s {e.level_db:.1f} dB"
                              for e in r.wrong_type)
            at = f" at {r.truth_s[0]:.4f}-{r.truth_s[1]:.4f} s" if r.truth_s else ""
            out.append(f"- MISS {r.reference} / {r.fault} / {r.condition}{at}"
                       + (f" (only: {other})" if other else "") + "\n")
        for r, e in falses:
            at = f" (fault at {r.truth_s[0]:.4f} s)" if r.truth_s else ""
            out.append(f"- FALSE {r.reference} / {r.fault} / {r.condition}{at}: {e.type} "
                       f"{e.start_s:.4f}-{e.end_s:.4f} s {e.level_db:.1f} dB: "
                       f"{e.description}\n")
    return "".join(out)


def _accuracy_row(labels: list[str], sel: list[CaseResult]) -> list[object]:
    """One table row: counts, recall and onset statistics of a group of cases."""
    errs = [r.onset_error_ms for r in sel if r.onset_error_ms is not None]
    n_det = sum(bool(r.detected) for r in sel)
    return [*labels, len(sel), f"{n_det}/{len(sel)}", sum(len(r.false_events) for r in sel),
            sum(len(r.wrong_type) for r in sel),
            _fmt(statistics.median(errs) if errs else None, 2),
            _fmt(max(errs) if errs else None, 2)]


def _event_summary(events: Sequence[Event], limit: int = 3) -> str:
    """The first few events as ``type@start_s``."""
    parts = [f"{e.type}@{e.start_s:.3f}" for e in events[:limit]]
    if len(events) > limit:
        parts.append(f"+{len(events) - limit}")
    return " ".join(parts) or "-"


def run_accuracy(quick: bool, log: Callable[[str], None]) -> str:
    """Part A: run the corpus and the no-fault runs.

    Parameters
    ----------
    quick : bool
        Small corpus, and 4 s no-fault runs instead of 60 s.
    log : callable
        Progress messages.

    Returns
    -------
    str
        Markdown.
    """
    refs = build_references()
    cases = accuracy_cases(quick)
    log(f"A: {len(cases)} fault cases")
    results = [run_case(refs[r], FAULT_KINDS[k], cond, seed) for r, k, cond, seed in cases]
    clean_refs = refs if quick else build_references(CLEAN_DURATION_S)
    log(f"A: {len(clean_refs) * len(CONDITIONS)} no-fault runs of "
        f"{clean_refs[0].y.shape[0] / clean_refs[0].fs:.1f} s")
    clean = [run_case(ref, None, cond, SEED + 7 + i)
             for ref in clean_refs for i, cond in enumerate(CONDITIONS)]
    return accuracy_tables(results, clean)


# --------------------------------------------------------------------------- speed: files


def write_speed_pair(folder: Path, duration_s: float) -> tuple[Path, Path, list[tuple[int, int]]]:
    """Write a reference and a received WAV (48 kHz, mono, 16-bit) in blocks.

    The reference is a -10 dBFS chirp marker, 0.2 s of silence and a 997 Hz
    -10 dBFS tone of ``duration_s`` with 5 ms raised-cosine fades. The
    received file is the same samples with 20 ms of zeros at the fractions
    :data:`SPEED_DROPOUT_FRACTIONS` of the tone. Only one block of
    :data:`WRITE_BLOCK` samples is in memory at a time.

    Parameters
    ----------
    folder : Path
        Where to write ``ref_<d>s.wav`` and ``rec_<d>s.wav``.
    duration_s : float
        Tone duration, s.

    Returns
    -------
    ref_path, rec_path : Path
    dropouts : list of (int, int)
        Zeroed sample spans ``[start, end)``.
    """
    fs, f = SPEED_FS, SPEED_TONE_HZ
    amp = 10 ** (TONE_DBFS / 20)
    marker = sync_marker("chirp", sample_rate_hz=fs, level_dbfs=TONE_DBFS)
    tone_start = marker.size + int(round(MARKER_GAP_S * fs))
    n_tone = int(round(duration_s * fs))
    n_total = tone_start + n_tone
    n_ramp = int(round(RAMP_S * fs))
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_ramp) / n_ramp)
    d_len = int(round(SPEED_DROPOUT_S * fs))
    drops = [(tone_start + int(round(q * n_tone)), tone_start + int(round(q * n_tone)) + d_len)
             for q in SPEED_DROPOUT_FRACTIONS]
    tag = f"{duration_s:g}s"
    ref_path, rec_path = folder / f"ref_{tag}.wav", folder / f"rec_{tag}.wav"
    kw = {"samplerate": fs, "channels": 1, "subtype": "PCM_16", "format": "WAV"}
    with sf.SoundFile(ref_path, "w", **kw) as ref_f, sf.SoundFile(rec_path, "w", **kw) as rec_f:
        for a in range(0, n_total, WRITE_BLOCK):
            b = min(a + WRITE_BLOCK, n_total)
            idx = np.arange(a, b, dtype=np.int64)
            k = idx - tone_start
            # exact phase for an integer frequency: (k * f) mod fs
            y = amp * np.sin(2 * np.pi * ((k * f) % fs) / fs)
            y[k < 0] = 0.0
            head = (k >= 0) & (k < n_ramp)
            y[head] *= ramp[k[head]]
            tail = (k >= n_tone - n_ramp) & (k < n_tone)
            y[tail] *= ramp[n_tone - 1 - k[tail]]
            m = idx < marker.size
            y[m] = marker[idx[m]]
            codes = np.clip(np.round(y * 32768), -32768, 32767).astype(np.int16)
            ref_f.write(codes)
            for s, e in drops:
                if s < b and e > a:
                    codes[max(s - a, 0):min(e - a, b - a)] = 0
            rec_f.write(codes)
    return ref_path, rec_path, drops


# --------------------------------------------------------------------------- speed: runs


@dataclass
class Measured:
    """Wall time and peak memory of one subprocess.

    Attributes
    ----------
    wall_s : float
        Wall time, s.
    rss_mb : float or None
        Peak resident set size, MB (10**6 bytes); None if unknown.
    returncode : int
        Exit code (-9 on timeout).
    stdout, stderr : str
        Captured output (stderr without the lines of ``/usr/bin/time``).
    how : str
        ``"time -v"`` or ``"psutil"``.
    """

    wall_s: float
    rss_mb: float | None
    returncode: int
    stdout: str
    stderr: str
    how: str


_TIME_RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")


def run_measured(cmd: Sequence[str], timeout_s: float = SUBPROCESS_TIMEOUT_S) -> Measured:
    """Run a command from a cold process and measure its wall time and peak RSS.

    Parameters
    ----------
    cmd : sequence of str
        The command.
    timeout_s : float
        Kill it after this long.

    Returns
    -------
    Measured
        With ``/usr/bin/time -v`` when present (the kernel's maxrss of the
        child, exact); else by polling ``psutil`` every 10 ms over the child
        and its descendants (may miss short peaks).
    """
    time_bin = "/usr/bin/time"
    if os.access(time_bin, os.X_OK):
        t0 = time.perf_counter()
        try:
            p = subprocess.run([time_bin, "-v", *cmd], capture_output=True, text=True,
                               timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            return Measured(time.perf_counter() - t0, None, -9, str(exc.stdout or ""),
                            str(exc.stderr or ""), "time -v")
        wall = time.perf_counter() - t0
        m = _TIME_RSS.search(p.stderr)
        rss = int(m.group(1)) * 1024 / 1e6 if m else None
        err = p.stderr.split("\tCommand being timed:")[0]
        return Measured(wall, rss, p.returncode, p.stdout, err, "time -v")
    return _run_psutil(cmd, timeout_s)


def _run_psutil(cmd: Sequence[str], timeout_s: float) -> Measured:
    """Fallback of :func:`run_measured`: poll the RSS of the child tree with psutil."""
    import psutil

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(list(cmd), stdout=out, stderr=err, text=True)
        proc = psutil.Process(p.pid)
        peak = 0
        while p.poll() is None:
            try:
                procs = [proc, *proc.children(recursive=True)]
                peak = max(peak, sum(q.memory_info().rss for q in procs))
            except psutil.Error:
                pass
            if time.perf_counter() - t0 > timeout_s:
                p.kill()
                break
            time.sleep(0.01)
        rc = p.wait()
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return Measured(wall, peak / 1e6 if peak else None, rc, out.read(), err.read(), "psutil")


def check_report(report: Path, drops: list[tuple[int, int]], fs: int) -> str:
    """Compare the events of a JSON report with the injected dropouts.

    Parameters
    ----------
    report : Path
        The CLI's JSON report.
    drops : list of (int, int)
        Injected zero-fill spans, samples.
    fs : int
        Sample rate, Hz.

    Returns
    -------
    str
        ``"yes"`` when there is one dropout event per injected span (within
        +-2 ms) and no other event, else what differs.
    """
    if not report.exists():
        return "no report"
    events = json.loads(report.read_text())["events"]
    tol = TOL_S * fs
    found = 0
    matched = set()
    for s, e in drops:
        hit = [i for i, ev in enumerate(events) if ev["type"] == "dropout"
               and ev["start_sample"] <= e + tol and ev["end_sample"] >= s - tol]
        found += bool(hit)
        matched.update(hit)
    extra = [ev for i, ev in enumerate(events) if i not in matched]
    if found == len(drops) and not extra:
        return "yes"
    text = f"no: {found}/{len(drops)} found"
    if extra:
        text += f", {len(extra)} other: " + ", ".join(
            f"{ev['type']}@{ev['start_s']:.3f}" for ev in extra[:4])
    return text


def ffmpeg_silences(stderr: str) -> int:
    """Number of ``silence_end`` lines in ffmpeg silencedetect output.

    Parameters
    ----------
    stderr : str
        ffmpeg's log.

    Returns
    -------
    int
    """
    return len(re.findall(r"silence_end:", stderr))


def best_of(cmd: Sequence[str], repeat: int) -> Measured:
    """Run a command ``repeat`` times with :func:`run_measured`; keep the fastest run.

    Parameters
    ----------
    cmd : sequence of str
        The command.
    repeat : int
        Number of runs (>= 1).

    Returns
    -------
    Measured
        The run with the smallest wall time, with ``rss_mb`` the largest peak
        seen over all runs (memory does not depend on the machine's load).
    """
    runs = [run_measured(cmd) for _ in range(max(repeat, 1))]
    best = min(runs, key=lambda m: m.wall_s)
    peaks = [m.rss_mb for m in runs if m.rss_mb is not None]
    best.rss_mb = max(peaks) if peaks else None
    return best


def run_speed(sizes: Sequence[float], keep: bool, log: Callable[[str], None], *,
              repeat: int = 1) -> str:
    """Part B: time the CLI and ffmpeg silencedetect on long files.

    Parameters
    ----------
    sizes : sequence of float
        Tone durations, s.
    keep : bool
        Keep the temporary folder (its path is logged).
    log : callable
        Progress messages.
    repeat : int, keyword-only
        Runs per command; the fastest counts (other jobs on the machine only
        ever slow a run down).

    Returns
    -------
    str
        Markdown.
    """
    tmp = Path(tempfile.mkdtemp(prefix="bench_validate_"))
    ffmpeg = shutil.which("ffmpeg")
    rows, notes = [], []
    # untimed warm-up: byte-compile and page in the modules the CLI imports
    subprocess.run([sys.executable, "-c", "import validator.pipeline, validator.cli, "
                    "validator.report.json_report, validator.report.terminal"], check=False)
    try:
        for d in sizes:
            t0 = time.perf_counter()
            ref, rec, drops = write_speed_pair(tmp, d)
            gen_s = time.perf_counter() - t0
            gen_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
            log(f"B: {d:g} s: wrote {rec.stat().st_size / 1e6:.0f} MB x 2 in {gen_s:.1f} s "
                f"(bench process peak RSS so far {gen_rss:.0f} MB)")
            out_dir = tmp / f"out_{d:g}"
            out_dir.mkdir()
            load = os.getloadavg()[0]
            ours = best_of([sys.executable, "-m", "validator", "validate", str(rec),
                                 "--reference", str(ref), "--output-dir", str(out_dir),
                                 "--no-progress"], repeat)
            log(f"B: {d:g} s: ours {ours.wall_s:.1f} s, rc {ours.returncode}")
            if ours.returncode not in (0, 1):
                notes.append(f"{d:g} s: CLI exit {ours.returncode}: "
                             f"{ours.stderr.strip()[-300:]}")
            found = check_report(out_dir / f"{rec.stem}.json", drops, SPEED_FS)
            ff: Measured | None = None
            if ffmpeg:
                ff = best_of([ffmpeg, "-nostdin", "-hide_banner", "-i", str(rec), "-af",
                              "silencedetect=n=-60dB:d=0.001", "-f", "null", "-"], repeat)
                log(f"B: {d:g} s: ffmpeg {ff.wall_s:.1f} s, rc {ff.returncode}")
            ratio = (f"{ours.wall_s / ff.wall_s:.1f}" if ff and ff.wall_s > 0 else "n/a")
            rows.append([f"{d:g}", _fmt(ours.wall_s, 2), _fmt(ours.rss_mb, 0),
                         _fmt(ff.wall_s, 2) if ff else "n/a",
                         _fmt(ff.rss_mb, 0) if ff else "n/a", ratio,
                         str(ffmpeg_silences(ff.stderr)) if ff else "n/a", found,
                         f"{load:.2f}"])
            if not keep:  # free the disk before the next size
                ref.unlink()
                rec.unlink()
    finally:
        if keep:
            log(f"B: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    how = "/usr/bin/time -v" if os.access("/usr/bin/time", os.X_OK) else "psutil polling"
    text = ("### B. Speed and peak memory, 48 kHz mono 16-bit WAV, "
            f"{len(SPEED_DROPOUT_FRACTIONS)} x 20 ms zero-fills (RSS by {how}, "
            f"best of {repeat} run{'s' if repeat > 1 else ''})\n\n")
    text += md_table(["duration s", "ours wall s", "ours RSS MB", "ffmpeg wall s",
                      "ffmpeg RSS MB", "ratio ours/ffmpeg", "ffmpeg silences",
                      "ours found exactly the dropouts", "load avg"], rows)
    text += ("\nffmpeg silences counts every silence >= 1 ms below -60 dB, including the "
             "0.2 s gap after the marker (so injected + 1 is right). load avg: 1-minute load "
             f"average before the size's first run ({os.cpu_count()} CPUs); other jobs on the "
             "machine slow the runs down.\n")
    for n in notes:
        text += f"\n- {n}"
    return text


# --------------------------------------------------------------------------- main


def parse_sizes(text: str) -> list[float]:
    """Parse ``"10,600,3600"`` into durations in seconds.

    Parameters
    ----------
    text : str
        Comma-separated positive numbers.

    Returns
    -------
    list of float

    Raises
    ------
    argparse.ArgumentTypeError
        Not a list of positive numbers.
    """
    try:
        sizes = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of seconds: {text!r}") from None
    if not sizes or any(not math.isfinite(s) or s <= 1.0 for s in sizes):
        raise argparse.ArgumentTypeError(f"durations must be > 1 s: {text!r}")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    """The command line of the benchmark.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="36 fault cases, 4 s no-fault runs, sizes 10,60 unless --sizes")
    p.add_argument("--sizes", type=parse_sizes, default=None,
                   help="comma-separated durations for part B, s (default 10,600,3600)")
    p.add_argument("--out", type=Path, help="also write the tables to this markdown file")
    p.add_argument("--only", choices=["accuracy", "speed"], help="run one part only")
    p.add_argument("--keep", action="store_true", help="keep part B's temporary folder")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="part B: run each command N times and keep the fastest (default 1)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) the markdown tables.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name.

    Returns
    -------
    int
        0.
    """
    args = build_parser().parse_args(argv)
    sizes = args.sizes or ([10.0, 60.0] if args.quick else [10.0, 600.0, 3600.0])

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    parts = [f"## audio-stream-validator {validator.__version__} benchmark"
             f"{' (--quick)' if args.quick else ''}\n\n"
             f"Python {platform.python_version()}, numpy {np.__version__}, "
             f"{platform.machine()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}\n"]
    if args.only != "speed":
        parts.append(run_accuracy(args.quick, log))
    if args.only != "accuracy":
        parts.append(run_speed(sizes, args.keep, log, repeat=args.repeat))
    text = "\n".join(parts)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
