"""Sensitivity benchmark: the shortest dropout found, recall and precision, false events per hour.

Run from the repository root::

    python tests/benchmarks/bench_sensitivity.py --quick            # < 2 min
    python tests/benchmarks/bench_sensitivity.py --jobs 2 --out sens.md   # full: ~10-20 min

Three parts, every fault injected with :mod:`validator.impair` (ground truth to
the sample) and every run :func:`validator.pipeline.validate` on arrays:

A. minimum detectable dropout: for each tone x sample rate x SNR cell, the
   shortest zero-fill and the shortest concealed loss (a repeated packet of
   that length) detected, with the right type and onset within +-1 ms, in at
   least 9 of 10 seeded positions; lengths from 1 sample to 20 ms;
B. recall, precision and median onset error per fault type on a seeded
   corpus (3 references x 11 fault types x 4 conditions x 3 positions);
C. false events per hour of fault-free audio: clean tones, 30 dB SNR, mu-law,
   +-100 ppm drift, and speech (espeak-ng when installed, a speech-like
   signal, and the real espeak reference in ``../shared/real``).

The tables go to stdout as markdown (and to ``--out``); progress to stderr.
``tests/benchmarks/README.md`` defines every column. Named ``bench_*.py`` so
pytest does not collect it.
"""

from __future__ import annotations

import os

# one BLAS thread per process, as the CLI does: the pool below runs one process per core
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from scipy import signal as sps  # noqa: E402

import validator  # noqa: E402
from validator.impair import (  # noqa: E402
    Fault,
    Impaired,
    add_noise,
    attenuate,
    click,
    compose,
    drift,
    fade_packet,
    mu_law_round_trip,
    near_silence,
    packet_loss,
    repeat_packet,
    zero_fill,
)
from validator.pipeline import validate  # noqa: E402
from validator.result import Event  # noqa: E402
from validator.signals import marker_length_samples, quantize, tone  # noqa: E402

try:  # python tests/benchmarks/bench_sensitivity.py
    from bench_validate import (  # type: ignore[import-not-found]
        Reference,
        md_table,
        speech_like,
        speech_reference,
        tone_reference,
    )
except ImportError:  # python -m tests.benchmarks.bench_sensitivity
    from tests.benchmarks.bench_validate import (
        Reference,
        md_table,
        speech_like,
        speech_reference,
        tone_reference,
    )

#: Seed of everything.
SEED = 20240918
#: 16-bit LSB: the received audio is quantized to 16 bits like a WAV file.
LSB = 1.0 / 32768
#: The real espeak speech reference beside the project (optional).
SHARED_SPEECH = Path(__file__).resolve().parents[3] / "shared" / "real" / \
    "speech_pcmu_loss3pct" / "reference.wav"

# --------------------------------------------------------------------------- A: settings

A_FREQS = (440.0, 857.0, 997.0, 1004.0, 3000.0)
A_RATES = (8000, 16000, 44100, 48000)
A_SNRS = (60.0, 40.0, 30.0, 20.0)
#: SNR of the frequency x rate grid, dB.
A_GRID_SNR = 30.0
#: Positions per length, and how many must be found.
A_POSITIONS, A_NEED = 10, 9
#: Onset tolerance, s.
A_TOL_S = 0.001
#: Tone length (after a chirp marker and 0.2 s gap), s; faults go 0.25 s inside it.
A_TONE_S = 1.0
A_GUARD_S = 0.25
#: Lengths tried: these sample counts and these times (ms), up to 20 ms.
A_SAMPLES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
A_MS = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)
A_KINDS = ("zero-fill", "concealed")

# --------------------------------------------------------------------------- B: settings

B_CONDITIONS = ("clean", "SNR 30 dB", "SNR 20 dB", "mu-law")
#: Conditions that count as ">= 30 dB SNR" for the targets (PCMU's own SNR is ~38 dB).
B_HIGH_SNR = ("clean", "SNR 30 dB", "mu-law")
#: Tolerance around a truth span when matching events, s.
B_TOL_S = 0.002
B_REPS_FULL = 3

# --------------------------------------------------------------------------- C: settings

C_RATES = (8000, 16000, 44100, 48000)
C_RUNS_FULL, C_SECONDS_FULL = 30, 60.0
C_RUNS_QUICK, C_SECONDS_QUICK = 2, 20.0
C_DRIFT_PPM = 100.0
ESPEAK_VOICES = ("en-us", "en", "en-gb-x-rp", "de", "fr", "es")
ESPEAK_TEXTS = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please hold the line while we connect your call to the next available agent.",
    "A packet lost on the network leaves a gap that the receiver must fill or hide.",
    "Seven ships sailed south at sunrise, and six returned before the storm.",
    "Measure the level, then check the delay, and finally listen for clicks.",
    "Our intercom in the north building has been dropping words since Tuesday.",
    "Numbers matter: twelve, forty two, nine hundred and ninety seven hertz.",
    "She sells sea shells by the sea shore, and the shells she sells are real.",
    "If the clock drifts by a hundred parts per million, a minute slips six milliseconds.",
    "Good morning, this is a test of the public address system on platform four.",
)

# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    """Progress on stderr with the time of day."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _events_text(events: Iterable[Event], limit: int = 4) -> str:
    ev = list(events)
    parts = [f"{e.type} {e.start_s:.4f}+{e.duration_s * 1000:.2f}ms {e.level_db:.1f}dB"
             for e in ev[:limit]]
    if len(ev) > limit:
        parts.append(f"+{len(ev) - limit} more")
    return "; ".join(parts) or "nothing"


def pool_map(func: Callable, tasks: Sequence, jobs: int) -> list:
    """``[func(*t) for t in tasks]``, in a process pool when ``jobs > 1``."""
    if jobs <= 1:
        return [func(*t) for t in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        return list(ex.map(func, *zip(*tasks, strict=True), chunksize=1))


# --------------------------------------------------------------------------- A: minimum dropout


@functools.lru_cache(maxsize=8)
def a_reference(freq_hz: float, fs: int) -> tuple[np.ndarray, int, int]:
    """A -10 dBFS tone after a chirp marker; returns (y, first, last) fault sample bounds."""
    y = quantize(tone(freq_hz, sample_rate_hz=fs, duration_s=A_TONE_S, marker="chirp"), 16)
    start = marker_length_samples("chirp", sample_rate_hz=fs) + round(0.2 * fs)
    guard = round(A_GUARD_S * fs)
    return y, start + guard, start + round(A_TONE_S * fs) - guard


def a_lengths(fs: int) -> list[int]:
    """Lengths tried at ``fs``, samples, ascending, up to 20 ms."""
    top = round(0.020 * fs)
    return sorted({n for n in A_SAMPLES if n <= top} | {max(1, round(ms * fs / 1000))
                                                         for ms in A_MS})


@dataclass
class ALength:
    """Outcome of one length in one A cell."""

    length: int
    hits: int = 0
    tried: int = 0
    invisible: int = 0
    residual_db: float | None = None
    first_miss: str = ""

    @property
    def passed(self) -> bool:
        return self.hits >= A_NEED

    @property
    def all_invisible(self) -> bool:
        return self.tried == 0 and self.invisible > 0


def a_one(freq_hz: float, fs: int, snr_db: float, kind: str, length: int,
          k: int) -> tuple[bool, bool, float | None, str]:
    """One position: (visible, hit, residual dB re signal, what was reported)."""
    y, lo, hi = a_reference(freq_hz, fs)
    seed = SEED + int(freq_hz) * 1000 + fs // 100 + length * 7 + k * 100003
    rng = np.random.default_rng(seed)
    s = int(rng.integers(lo, hi - length))
    if kind == "zero-fill":
        imp = zero_fill(y, fs, start_s=s / fs, duration_s=length / fs)
        want = "dropout"
    else:
        imp = repeat_packet(y, fs, start_s=s / fs, ptime_s=length / fs)
        want = "glitch"
    diff = imp.y[s:s + length] - y[s:s + length]
    sig = float(np.sqrt(np.mean(y[s - length:s + 2 * length] ** 2)))
    res_rms = float(np.sqrt(np.mean(diff**2)))
    residual = 20 * math.log10(res_rms / sig) if res_rms > 0 else None
    if float(np.max(np.abs(diff))) < LSB / 2:
        return False, False, None, ""
    rec = quantize(add_noise(imp.y, fs, snr_db=snr_db, seed=seed).y, 16)
    events = validate(rec, y, sample_rate_hz=fs, zoom_events=0).events
    t0 = s / fs
    hit = any(e.type == want and abs(e.start_s - t0) <= A_TOL_S for e in events)
    near = [e for e in events if e.end_s >= t0 - 0.05 and e.start_s <= t0 + 0.05]
    what = "" if hit else (f"seed {seed}, fault at sample {s} ({t0:.5f} s): "
                           + _events_text(near))
    return True, hit, residual, what


def a_task(freq_hz: float, fs: int, snr_db: float, kind: str) -> list[ALength]:
    """Every length of one cell and kind (stops a length at 2 misses or 9 hits)."""
    out = []
    for length in a_lengths(fs):
        r = ALength(length)
        for k in range(A_POSITIONS):
            visible, hit, residual, what = a_one(freq_hz, fs, snr_db, kind, length, k)
            if not visible:
                r.invisible += 1
                continue
            r.tried += 1
            r.hits += hit
            if residual is not None:
                r.residual_db = residual if r.residual_db is None else max(r.residual_db,
                                                                            residual)
            if not hit and not r.first_miss:
                r.first_miss = what
            if r.tried - r.hits > A_POSITIONS - A_NEED or r.hits >= A_NEED:
                break
        out.append(r)
    return out


def a_cells(quick: bool) -> list[tuple[float, int, float]]:
    """(tone Hz, rate Hz, SNR dB) cells: the frequency x rate grid at 30 dB and an SNR sweep."""
    if quick:
        return [(997.0, 48000, 30.0), (1004.0, 8000, 30.0), (997.0, 48000, 20.0)]
    grid = [(f, fs, A_GRID_SNR) for f in A_FREQS for fs in A_RATES]
    return grid + [(997.0, 48000, snr) for snr in A_SNRS if snr != A_GRID_SNR]


def _len_text(n: int | None, fs: int) -> str:
    if n is None:
        return "none <= 20 ms"
    return f"{n} smp = {n / fs * 1000:.3g} ms"


@dataclass
class ACell:
    """Summary of one A cell and kind."""

    freq_hz: float
    fs: int
    snr_db: float
    kind: str
    lengths: list[ALength]

    @property
    def shortest(self) -> int | None:
        """Shortest length found in >= 9 of 10 positions."""
        ok = [r.length for r in self.lengths if r.passed]
        return min(ok) if ok else None

    @property
    def longer_failing(self) -> list[ALength]:
        """Lengths above the shortest one that were NOT found (visible ones) or are invisible."""
        s = self.shortest
        if s is None:
            return []
        return [r for r in self.lengths if r.length > s and not r.passed]

    def cell_text(self) -> str:
        text = _len_text(self.shortest, self.fs)
        bad = self.longer_failing
        if bad:
            text += " (" + ", ".join(
                f"{'invisible' if r.all_invisible else 'missed'} at {r.length}" for r in bad) + ")"
        return text


def run_a(quick: bool, jobs: int) -> tuple[str, list[ACell]]:
    """Part A; returns markdown and the cells."""
    cells = a_cells(quick)
    tasks = [(f, fs, snr, kind) for f, fs, snr in cells for kind in A_KINDS]
    log(f"A: {len(tasks)} cell x kind scans, lengths 1 sample .. 20 ms, {A_POSITIONS} positions")
    t0 = time.perf_counter()
    results = pool_map(a_task, tasks, jobs)
    log(f"A: done in {time.perf_counter() - t0:.0f} s")
    acells = [ACell(f, fs, snr, kind, res) for (f, fs, snr, kind), res in zip(tasks, results,
                                                                               strict=True)]
    by = {(c.freq_hz, c.fs, c.snr_db, c.kind): c for c in acells}
    out = ["### A. Shortest dropout found (right type, onset +-1 ms, >= 9 of 10 positions)\n\n",
           "Zero-fill = digital zeros of that length (`dropout`); concealed = the previous "
           "packet of that length repeated (`repeat_packet`, `glitch`). -10 dBFS tone after "
           "a chirp marker, white noise added after the fault, 16-bit. `smp` = samples.\n\n"]
    grid = [c for c in cells if c[2] == A_GRID_SNR]
    freqs = sorted({c[0] for c in grid})
    rates = sorted({c[1] for c in grid})
    for kind in A_KINDS:
        out.append(f"**A1 {kind}, {A_GRID_SNR:g} dB SNR: tone x sample rate**\n\n")
        rows = []
        for f in freqs:
            row: list[object] = [f"{f:g} Hz"]
            for fs in rates:
                c = by.get((f, fs, A_GRID_SNR, kind))
                row.append(_len_text(c.shortest, fs) + (" †" if c.longer_failing else "")
                           if c else "-")
            rows.append(row)
        out.append(md_table(["tone", *[f"{fs / 1000:g} kHz" for fs in rates]], rows) + "\n")
    sweep = sorted({c for c in cells if c[0] == 997.0 and c[1] == 48000}, key=lambda c: -c[2])
    if sweep:
        out.append("**A2 SNR sweep, 997 Hz at 48 kHz**\n\n")
        rows = []
        for f, fs, snr in sweep:
            rows.append([f"{snr:g} dB", *(_len_text(by[(f, fs, snr, k)].shortest, fs)
                                          + (" †" if by[(f, fs, snr, k)].longer_failing else "")
                                          for k in A_KINDS)])
        out.append(md_table(["SNR", *A_KINDS], rows) + "\n")
    notes = []
    for c in acells:
        bad = c.longer_failing
        if c.shortest is None or bad:
            desc = ", ".join(
                f"{r.length} smp " + ("identical to the reference (period divides it)"
                                      if r.all_invisible else
                                      f"{r.hits}/{r.tried} (residual {_fmt(r.residual_db, 1)} dB"
                                      f"{'; ' + r.first_miss if r.first_miss else ''})")
                for r in (bad or c.lengths[-1:]))
            notes.append(f"- {c.freq_hz:g} Hz, {c.fs} Hz, {c.snr_db:g} dB, {c.kind}: shortest "
                         f"{_len_text(c.shortest, c.fs)}; longer lengths not found: {desc}\n")
    if notes:
        out.append("† Cells where a longer length was not found, or none was (the residual "
                   "is the repeated packet's difference from the reference, re the signal):"
                   "\n\n" + "".join(notes)
                   + "\n")
    detail = []
    for c in acells:
        s = c.shortest
        below = [r for r in c.lengths if s is None or r.length < s]
        if below and below[-1].first_miss:
            r = below[-1]
            detail.append(f"- {c.freq_hz:g} Hz, {c.fs} Hz, {c.snr_db:g} dB, {c.kind}: at "
                          f"{r.length} smp {r.hits}/{r.tried}; first miss: {r.first_miss}\n")
    if detail:
        out.append("<details><summary>Just below the shortest length: the first miss of each "
                   "cell</summary>\n\n" + "".join(detail) + "\n</details>\n")
    return "".join(out), acells


# --------------------------------------------------------------------------- B: corpus


@dataclass(frozen=True)
class BKind:
    """A fault type of the corpus.

    Attributes
    ----------
    name : str
    span_s, before_s : float
        Length of the fault, and audio before it that must be in the region too.
    detect : frozenset of str
        Event types that count as finding it (recall).
    allowed : frozenset of str
        Event types over it that are not false (precision).
    inject : callable
        ``inject(y, fs, start_s, seed) -> Impaired``; None for packet loss.
    """

    name: str
    span_s: float
    before_s: float
    detect: frozenset[str]
    allowed: frozenset[str]
    inject: Callable[[np.ndarray, int, float, int], Impaired] | None


def _zf(ms: float) -> BKind:
    return BKind(f"zero-fill {ms:g} ms", ms / 1000, 0.0, frozenset({"dropout"}),
                 frozenset({"dropout"}),
                 lambda y, fs, s, seed: zero_fill(y, fs, start_s=s, duration_s=ms / 1000))


def _clip_burst(y: np.ndarray, fs: int, s: float, seed: int) -> Impaired:
    """+16 dB for 200 ms, then clipping at full scale."""
    return compose(y, fs, [(attenuate, {"start_s": s, "duration_s": 0.2, "gain_db": 16.0}),
                           ("clip", {"limit": 1.0})])


_GLITCH = frozenset({"glitch"})
B_KINDS: tuple[BKind, ...] = (
    _zf(1), _zf(2), _zf(5), _zf(20),
    BKind("repeat 20 ms packet", 0.02, 0.02, _GLITCH, _GLITCH,
          lambda y, fs, s, seed: repeat_packet(y, fs, start_s=s, ptime_s=0.02)),
    BKind("fade 20 ms packet", 0.02, 0.02, frozenset({"glitch", "dropout"}),
          frozenset({"glitch", "dropout", "level"}),
          lambda y, fs, s, seed: fade_packet(y, fs, start_s=s, ptime_s=0.02)),
    BKind("packet loss 2 % zero-fill", 0.0, 0.0, frozenset({"dropout"}),
          frozenset({"dropout"}), None),
    BKind("dip -10 dB 100 ms", 0.1, 0.0, frozenset({"level"}), frozenset({"level"}),
          lambda y, fs, s, seed: attenuate(y, fs, start_s=s, duration_s=0.1, gain_db=-10.0)),
    BKind("clipping (+16 dB 200 ms)", 0.2, 0.0, frozenset({"clipping"}),
          frozenset({"clipping", "level", "glitch"}), _clip_burst),
    BKind("near-silence 300 ms -70 dBFS", 0.3, 0.0, frozenset({"silence", "dropout"}),
          frozenset({"silence", "dropout", "level"}),
          lambda y, fs, s, seed: near_silence(y, fs, start_s=s, duration_s=0.3, seed=seed)),
    BKind("click 0.1 full scale", 0.0, 0.0, _GLITCH, _GLITCH,
          lambda y, fs, s, seed: click(y, fs, at_s=s, amplitude=0.1 if seed % 2 else -0.1)),
)


@functools.lru_cache(maxsize=4)
def b_reference(index: int) -> Reference:
    """The three references of bench_validate (4 s): 997 Hz/48k, 1004 Hz/8k, speech-like/48k."""
    if index == 0:
        return tone_reference(997.0, 48000)
    if index == 1:
        return tone_reference(1004.0, 8000)
    return speech_reference(48000, SEED + 1)


@dataclass
class Target:
    """A truth span to score: samples [start, end), types found/allowed, whether scored."""

    start: int
    end: int
    detect: frozenset[str]
    allowed: frozenset[str]
    scored: bool = True


@dataclass
class BCase:
    """Outcome of one corpus case."""

    reference: str
    kind: str
    condition: str
    seed: int
    fs: int
    found: list[tuple[int, int, float | None, bool]] = field(default_factory=list)
    good: int = 0
    wrong_type: int = 0
    false: int = 0
    misses: list[str] = field(default_factory=list)
    bad_events: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def _in_regions(ref: Reference, start_s: float, end_s: float) -> bool:
    return any(a <= start_s and end_s <= b for a, b in ref.regions)


def _position(ref: Reference, kind: BKind, rng: np.random.Generator) -> float:
    spans = [(a + kind.before_s, b - kind.span_s) for a, b in ref.regions
             if b - kind.span_s > a + kind.before_s]
    weights = np.array([b - a for a, b in spans])
    a, b = spans[int(rng.choice(len(spans), p=weights / weights.sum()))]
    return round(float(rng.uniform(a, b)) * ref.fs) / ref.fs  # any sample, off any grid


def _targets(ref: Reference, kind: BKind, truth: Sequence[Fault]) -> list[Target]:
    fs = ref.fs
    if kind.name.startswith("clipping"):
        clips = [f for f in truth if f.kind == "clipping"]
        boost = [f for f in truth if f.kind == "level"]
        out = [Target(b.start_sample, b.end_sample, kind.detect, kind.allowed, False)
               for b in boost]
        if clips:
            out.append(Target(min(f.start_sample for f in clips),
                              max(f.end_sample for f in clips), kind.detect, kind.allowed))
        return out
    return [Target(f.start_sample, f.end_sample, kind.detect, kind.allowed,
                   _in_regions(ref, f.start_sample / fs, f.end_sample / fs)) for f in truth
            if f.is_event]


def b_case(ref_index: int, kind_index: int, condition: str, seed: int) -> BCase:
    """Inject one fault under one condition, validate and score it."""
    ref, kind = b_reference(ref_index), B_KINDS[kind_index]
    fs = ref.fs
    rng = np.random.default_rng(seed)
    y = mu_law_round_trip(ref.y, fs).y if condition == "mu-law" else ref.y
    if kind.inject is None:
        imp = packet_loss(y, fs, ptime_s=0.02, loss=0.02, plc="zero", seed=seed)
    else:
        imp = kind.inject(y, fs, _position(ref, kind, rng), seed)
    rec = imp.y
    if condition.startswith("SNR"):
        rec = add_noise(rec, fs, snr_db=float(condition.split()[1]), seed=seed + 1).y
    rec = quantize(rec, 16)
    targets = _targets(ref, kind, imp.faults)
    t0 = time.perf_counter()
    events = validate(rec, ref.y, sample_rate_hz=fs, zoom_events=0).events
    out = BCase(ref.name, kind.name, condition, seed, fs, elapsed_s=time.perf_counter() - t0)
    tol = B_TOL_S * fs

    def over(e: Event, t: Target) -> bool:
        return e.start_sample <= t.end + tol and e.end_sample >= t.start - tol

    for t in targets:
        if not t.scored:
            continue
        hits = [e for e in events if over(e, t) and e.type in t.detect]
        err = min(abs(e.start_sample - t.start) for e in hits) / fs * 1000 if hits else None
        out.found.append((t.start, t.end, err, bool(hits)))
        if not hits:
            near = [e for e in events if e.end_s >= t.start / fs - 0.05
                    and e.start_s <= t.end / fs + 0.05]
            out.misses.append(f"{ref.name} / {kind.name} / {condition} / seed {seed}: truth "
                              f"samples {t.start}..{t.end} ({t.start / fs:.5f} s, "
                              f"{(t.end - t.start) / fs * 1000:.3g} ms); reported near it: "
                              f"{_events_text(near)}")
    for e in events:
        on = [t for t in targets if over(e, t)]
        if any(t.scored and e.type in t.allowed for t in on):
            out.good += 1
        elif on and not any(t.scored for t in on):
            continue  # over an unscored truth span (outside the regions): not judged
        else:
            wrong = any(t.scored for t in on)
            out.wrong_type += wrong
            out.false += not wrong
            out.bad_events.append(
                f"{'WRONG TYPE' if wrong else 'FALSE'} {ref.name} / {kind.name} / {condition} / "
                f"seed {seed}: {e.type} {e.start_s:.5f} s +{e.duration_s * 1000:.2f} ms "
                f"{e.level_db:.1f} dB: {e.description}")
    return out


def b_cases(quick: bool) -> list[tuple[int, int, str, int]]:
    """(reference, kind, condition, seed) of the corpus."""
    cases = []
    for r in range(3):
        for k in range(len(B_KINDS)):
            if quick:
                i = r * len(B_KINDS) + k
                conds = [B_CONDITIONS[i % 4], B_CONDITIONS[(i + 2) % 4]]
                reps = 1
            else:
                conds, reps = list(B_CONDITIONS), B_REPS_FULL
            for c in conds:
                for rep in range(reps):
                    cases.append((r, k, c, SEED + 10000 * r + 100 * k + 10 * B_CONDITIONS.index(c)
                                  + rep))
    return cases


def _b_row(labels: list[str], sel: list[BCase]) -> list[object]:
    found = [f for c in sel for f in c.found]
    n_hit = sum(f[3] for f in found)
    errs = [f[2] for f in found if f[2] is not None]
    good = sum(c.good for c in sel)
    bad = sum(c.wrong_type + c.false for c in sel)
    return [*labels, len(sel), f"{n_hit}/{len(found)}",
            _fmt(n_hit / len(found), 3) if found else "-",
            _fmt(good / (good + bad), 3) if good + bad else "-",
            sum(c.wrong_type for c in sel), sum(c.false for c in sel),
            _fmt(statistics.median(errs) if errs else None), _fmt(max(errs) if errs else None)]


B_HEADER = ["fault", "condition", "cases", "found", "recall", "precision", "wrong type",
            "false", "onset med ms", "onset max ms"]


def run_b(quick: bool, jobs: int) -> tuple[str, list[BCase]]:
    """Part B; returns markdown and the cases."""
    cases = b_cases(quick)
    log(f"B: {len(cases)} corpus cases")
    t0 = time.perf_counter()
    results: list[BCase] = pool_map(b_case, cases, jobs)
    log(f"B: done in {time.perf_counter() - t0:.0f} s")
    n_targets = sum(len(c.found) for c in results)
    out = [f"### B. Recall, precision and onset error: {len(results)} cases, {n_targets} scored "
           "faults\n\n"
           "References: 997 Hz/48 kHz and 1004 Hz/8 kHz tones (chirp marker), speech-like/48 kHz"
           " (4 s each). Faults at seeded positions on any sample; noise after the fault, "
           "mu-law before it. Found: an event of a finding type within +-2 ms of the truth "
           "span. Precision: events over a fault with an allowed type / all events (events "
           "over losses outside the fault regions are not judged).\n\n"]
    rows = [_b_row([k.name, "all"], [c for c in results if c.kind == k.name]) for k in B_KINDS]
    rows.append(_b_row(["all", "all"], results))
    out.append("**B1 per fault type (conditions pooled)**\n\n" + md_table(B_HEADER, rows) + "\n")
    rows = []
    for k in B_KINDS:
        for cond in B_CONDITIONS:
            sel = [c for c in results if c.kind == k.name and c.condition == cond]
            if sel:
                rows.append(_b_row([k.name, cond], sel))
    out.append("**B2 per fault type x condition**\n\n" + md_table(B_HEADER, rows) + "\n")
    refs = list(dict.fromkeys(c.reference for c in results))
    rows = [_b_row([r, "all"], [c for c in results if c.reference == r]) for r in refs]
    out.append("**B3 per reference**\n\n" + md_table(["reference", *B_HEADER[1:]], rows) + "\n")
    misses = [m for c in results for m in c.misses]
    bad = [b for c in results for b in c.bad_events]
    if misses or bad:
        out.append(f"Misses ({len(misses)}) and wrong-type/false events ({len(bad)}):\n\n"
                   + "".join(f"- MISS {m}\n" for m in misses)
                   + "".join(f"- {b}\n" for b in bad) + "\n")
    out.append(f"validate() on arrays: {sum(c.elapsed_s for c in results):.1f} s for "
               f"{len(results)} runs.\n")
    return "".join(out), results


# --------------------------------------------------------------------------- C: false events


def _espeak() -> str | None:
    return shutil.which("espeak-ng")


@functools.lru_cache(maxsize=64)
def _espeak_sentence(text: str, voice: str, wpm: int) -> tuple[np.ndarray, int]:
    exe = _espeak()
    assert exe
    wav = subprocess.run([exe, "-v", voice, "-s", str(wpm), "--stdout", text],
                         capture_output=True, check=True, timeout=60).stdout
    y, fs = sf.read(io.BytesIO(wav), dtype="float64")
    return y, int(fs)


def espeak_speech(fs: int, duration_s: float, seed: int) -> np.ndarray:
    """espeak-ng sentences (seeded voice, speed, order) with 0.2-0.8 s pauses, -20 dBFS RMS."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * fs)
    out = np.zeros(n)
    pos = round(0.3 * fs)
    while pos < n - fs // 2:
        text = ESPEAK_TEXTS[int(rng.integers(len(ESPEAK_TEXTS)))]
        voice = ESPEAK_VOICES[int(rng.integers(len(ESPEAK_VOICES)))]
        y, sr = _espeak_sentence(text, voice, int(rng.integers(130, 200)))
        g = math.gcd(fs, sr)
        y = sps.resample_poly(y, fs // g, sr // g)
        m = min(len(y), n - pos)
        out[pos:pos + m] = y[:m]
        pos += m + round(float(rng.uniform(0.2, 0.8)) * fs)
    active = np.abs(out) > 1e-4
    out *= 10 ** (-20 / 20) / math.sqrt(2) / float(np.sqrt(np.mean(out[active] ** 2)))
    return out[:, None]


C_CONDITIONS = ("clean tones", "tones, 30 dB SNR", "tones, mu-law", "tones, +-100 ppm drift",
                "speech (espeak-ng)", "speech-like (synthetic)", "speech (espeak-ng), mu-law",
                "real espeak reference (../shared)")


def c_signal(condition: str, run: int, seconds: float) -> tuple[np.ndarray, np.ndarray, int,
                                                                  str]:
    """(received, reference, fs, label) of one fault-free run."""
    seed = SEED + 7919 * run + 31 * C_CONDITIONS.index(condition)
    rng = np.random.default_rng(seed)
    fs = C_RATES[run % len(C_RATES)]
    if "tones" in condition:
        f = round(float(rng.uniform(200.0, min(3400.0, 0.4 * fs))), 1)
        level = round(float(rng.uniform(-20.0, -6.0)), 1)
        marker = "chirp" if run % 2 == 0 else None
        ref = quantize(tone(f, sample_rate_hz=fs, duration_s=seconds, level_dbfs=level,
                            marker=marker), 16)
        label = f"{f:g} Hz {level:g} dBFS {fs} Hz {'chirp' if marker else 'no marker'}"
    elif condition.startswith("speech (espeak"):
        fs = (16000, 48000, 8000)[run % 3]
        ref = quantize(espeak_speech(fs, seconds, seed), 16)
        label = f"espeak-ng {fs} Hz seed {seed}"
    elif condition.startswith("speech-like"):
        fs = (48000, 16000)[run % 2]
        ref = quantize(speech_like(fs, seconds, seed)[0], 16)
        label = f"speech-like {fs} Hz seed {seed}"
    else:
        y, fs = sf.read(str(SHARED_SPEECH), dtype="float64", always_2d=True)
        ref = y
        label = f"{SHARED_SPEECH.parent.name}/reference.wav {'mu-law' if run % 2 else 'clean'}"
    rec = ref
    if "30 dB" in condition:
        rec = quantize(add_noise(ref, fs, snr_db=30.0, seed=seed).y, 16)
    elif "mu-law" in condition or (condition.startswith("real") and run % 2):
        rec = mu_law_round_trip(ref, fs).y
    elif "drift" in condition:
        ppm = C_DRIFT_PPM if run % 2 == 0 else -C_DRIFT_PPM
        rec = quantize(drift(ref, fs, ppm=ppm).y, 16)
        label += f" {ppm:+g} ppm"
    return rec, ref, fs, label


@dataclass
class CRun:
    """One fault-free run."""

    condition: str
    label: str
    audio_s: float
    events: list[str]
    drift_ppm: float | None
    elapsed_s: float


def c_run(condition: str, run: int, seconds: float) -> CRun:
    """Validate one fault-free run; every event is false."""
    rec, ref, fs, label = c_signal(condition, run, seconds)
    t0 = time.perf_counter()
    res = validate(rec, ref, sample_rate_hz=fs, zoom_events=0)
    def ref_peak(e: Event) -> str:
        seg = ref[max(e.start_sample - 1, 0):e.end_sample + 1]
        peak = float(np.max(np.abs(seg))) if seg.size else 0.0
        return (f"reference peak over the span {20 * math.log10(peak):.1f} dBFS "
                f"({round(peak * 32768)} LSB)" if peak > 0 else "reference all zeros there")

    return CRun(condition, label, rec.shape[0] / fs,
                [f"{e.type} {e.start_s:.4f} s +{e.duration_s * 1000:.2f} ms {e.level_db:.1f} dB:"
                 f" {e.description} [{ref_peak(e)}]" for e in res.events],
                res.alignment.drift_ppm, time.perf_counter() - t0)


def run_c(quick: bool, jobs: int) -> tuple[str, list[CRun]]:
    """Part C; returns markdown and the runs."""
    runs_n, seconds = (C_RUNS_QUICK, C_SECONDS_QUICK) if quick else (C_RUNS_FULL, C_SECONDS_FULL)
    conds = [c for c in C_CONDITIONS
             if not (c.startswith("speech (espeak") and _espeak() is None)
             and not (c.startswith("real") and not SHARED_SPEECH.exists())]
    tasks = [(c, r, seconds) for c in conds for r in range(2 if c.startswith("real") else runs_n)]
    log(f"C: {len(tasks)} fault-free runs ({runs_n} x {seconds:g} s per condition)")
    t0 = time.perf_counter()
    runs: list[CRun] = pool_map(c_run, tasks, jobs)
    log(f"C: done in {time.perf_counter() - t0:.0f} s")
    rows = []
    for c in conds:
        sel = [r for r in runs if r.condition == c]
        hours = sum(r.audio_s for r in sel) / 3600
        n = sum(len(r.events) for r in sel)
        extra = ""
        if "drift" in c:
            errs = [abs(abs(r.drift_ppm) - C_DRIFT_PPM) for r in sel if r.drift_ppm is not None]
            extra = f"max drift error {max(errs):.2f} ppm" if errs else "drift not measured"
        rows.append([c, len(sel), f"{hours:.3f}", n, f"{n / hours:.1f}",
                     f"< {1 / hours:.1f}" if n == 0 else "", extra])
    missing = []
    if _espeak() is None:
        missing.append("espeak-ng is not installed: its rows are left out "
                       "(`apt-get install espeak-ng`)")
    if not SHARED_SPEECH.exists():
        missing.append(f"{SHARED_SPEECH} is absent: its row is left out")
    out = ["### C. False events per hour of fault-free audio\n\n"
           "Tones: a seeded frequency (200-3400 Hz) and level (-20..-6 dBFS) per run, rates "
           "rotating over 8/16/44.1/48 kHz, half with a chirp marker. espeak-ng: seeded "
           "sentences, voices and speeds with pauses, -20 dBFS. Every event is false.\n\n",
           md_table(["condition", "runs", "audio h", "false events", "per hour",
                     "bound at 0", "note"], rows) + "\n"]
    for m in missing:
        out.append(f"- {m}\n")
    bad = [(r, e) for r in runs for e in r.events]
    if bad:
        out.append(f"\nFalse events ({len(bad)}):\n\n" + "".join(
            f"- {r.condition} / {r.label}: {e}\n" for r, e in bad[:60]))
        if len(bad) > 60:
            out.append(f"- ... {len(bad) - 60} more\n")
    out.append(f"\nvalidate() on arrays: {sum(r.elapsed_s for r in runs):.1f} s for "
               f"{sum(r.audio_s for r in runs) / 60:.0f} min of audio.\n")
    return "".join(out), runs


# --------------------------------------------------------------------------- targets


def targets(acells: list[ACell] | None, bres: list[BCase] | None,
            cruns: list[CRun] | None) -> str:
    """The issue's targets, each met or not, with the numbers."""
    rows = []

    def recall(sel: list[BCase]) -> tuple[int, int]:
        found = [f for c in sel for f in c.found]
        return sum(f[3] for f in found), len(found)

    if bres is not None:
        zf = [c for c in bres if c.kind.startswith(("zero-fill", "packet loss"))
              and c.condition in B_HIGH_SNR]
        h, n = recall(zf)
        rows.append(["recall, zero-filled dropouts >= 1 ms at >= 30 dB SNR (B)", ">= 0.99",
                     f"{h}/{n} = {h / max(n, 1):.3f}", "met" if n and h / n >= 0.99 else "NOT met"])
        conc = [c for c in bres if c.kind.startswith(("repeat", "fade"))]
        h, n = recall(conc)
        rows.append(["recall, concealed loss (repeat/fade 20 ms), all conditions (B)", ">= 0.95",
                     f"{h}/{n} = {h / max(n, 1):.3f}", "met" if n and h / n >= 0.95 else "NOT met"])
        errs = [f[2] for c in bres for f in c.found if f[2] is not None]
        med = statistics.median(errs) if errs else None
        rows.append(["median onset error, all found faults (B)", "<= 0.5 ms",
                     f"{_fmt(med, 3)} ms", "met" if med is not None and med <= 0.5 else "NOT met"])
    if acells is not None:
        zf = [c for c in acells if c.kind == "zero-fill" and c.snr_db >= 30]
        bad = [c for c in zf if c.shortest is None or c.shortest > round(0.001 * c.fs)]
        rows.append(["zero-fill of 1 ms found (>= 9/10) in every A cell at >= 30 dB", "all cells",
                     f"{len(zf) - len(bad)}/{len(zf)} cells",
                     "met" if not bad else "NOT met: " + ", ".join(
                         f"{c.freq_hz:g} Hz/{c.fs} Hz/{c.snr_db:g} dB" for c in bad)])
    if cruns is not None:
        hours = sum(r.audio_s for r in cruns) / 3600
        n = sum(len(r.events) for r in cruns)
        rows.append(["false events per hour, fault-free sets (C)", "0",
                     f"{n} in {hours:.2f} h", "met" if n == 0 else "NOT met"])
    return "### Targets\n\n" + md_table(["target", "limit", "measured", "result"], rows)


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="3 A cells, 60 B cases, 2 x 20 s per C condition (< 2 min)")
    p.add_argument("--only", choices=["a", "b", "c"], action="append",
                   help="run only these parts (repeatable)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="worker processes (default 1; the machine's cores at most)")
    p.add_argument("--out", type=Path, help="also write the markdown to this file")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the parts asked for and print the markdown. Returns 0."""
    args = build_parser().parse_args(argv)
    parts = set(args.only or ["a", "b", "c"])
    jobs = max(1, min(args.jobs, os.cpu_count() or 1))
    t0 = time.perf_counter()
    text = [f"## audio-stream-validator {validator.__version__} sensitivity benchmark"
            f"{' (--quick)' if args.quick else ''}\n\n"
            f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}, "
            f"{os.cpu_count()} CPUs, {jobs} job(s), {time.strftime('%Y-%m-%d %H:%M')}\n\n"]
    acells = bres = cruns = None
    if "a" in parts:
        md, acells = run_a(args.quick, jobs)
        text.append(md + "\n")
    if "b" in parts:
        md, bres = run_b(args.quick, jobs)
        text.append(md + "\n")
    if "c" in parts:
        md, cruns = run_c(args.quick, jobs)
        text.append(md + "\n")
    text.append(targets(acells, bres, cruns))
    text.append(f"\nTotal {time.perf_counter() - t0:.0f} s.\n")
    doc = "".join(text)
    print(doc)
    if args.out:
        args.out.write_text(doc, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
