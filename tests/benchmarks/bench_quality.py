"""MOS against packet loss: ViSQOL v3, PESQ (and the E-model) for PCMU, G.722 and Opus.

Run from the repository root (needs the ``quality`` and ``codecs`` extras)::

    python tests/benchmarks/bench_quality.py --quick        # 0/2/10 %, 2 seeds: ~3 min
    python tests/benchmarks/bench_quality.py --jobs 2   # 0/1/2/5/10 %, 5 seeds: ~8 min, 2 cores

The reference is the shipped espeak-ng speech (``reference_signals/speech``,
14.4 s; PCMU gets it resampled to 8 kHz). Each codec encodes it in 20 ms
packets with FFmpeg's real encoder (PyAV), loses packets by a seeded pattern
(``random``: Bernoulli; ``bursty``: a 2-state Gilbert chain with 3-packet
mean bursts) and decodes it as the real receivers in ``../shared/real`` do:
PCMU and G.722 zero-fill (G.722's decoder misses the packet, so its state is
stale afterwards), Opus conceals with libopus PLC (and lags by its pre-skip).
The truth is the loss pattern, never our detectors.

Each received signal is aligned by the validator's own alignment
(:func:`validator.align.channels.align_channels`, as ``validate`` does) and
scored by :func:`validator.quality.assess_quality`: ViSQOL v3 speech mode
(16 kHz, lattice) and PESQ (P.862 narrow band for PCMU at 8 kHz, P.862.2 wide
band for G.722 and Opus). Five seeds per point, because a score depends on
where the losses fall. The E-model curve (ITU-T G.107 MOS-CQE from the same
loss pattern: its loss rate and BurstR, no delay) is drawn from
``validator.quality.emodel`` (see :func:`emodel_mos`); G.113 Appendix I rates
PCMU only of these three codecs. ``--replot JSON`` redraws the table and plot
from a ``--json`` file without the audio run.

Prints a table (mean and standard deviation over seeds, and the actual loss),
the time per 10 s of speech of each metric (warm: after the first call's JIT),
and writes the plot to ``tests/benchmarks/quality_vs_loss.png`` and the raw
results to ``--json``. Named ``bench_*.py`` so pytest does not collect it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "tools")]

from packet_codec import CODECS, burst_ratio, decode, encode, loss_pattern  # noqa: E402

SPEECH = ROOT / "reference_signals" / "speech"
LOSS_PCT = (0.0, 1.0, 2.0, 5.0, 10.0)
QUICK_LOSS_PCT = (0.0, 2.0, 10.0)
PATTERNS = ("random", "bursty")
SEEDS = 5
QUICK_SEEDS = 2
PNG = Path(__file__).resolve().parent / "quality_vs_loss.png"
METRICS = "visqol,pesq"


def reference(codec: str) -> np.ndarray:
    """The speech reference at the codec's rate, shape (n,), float64."""
    import soundfile as sf
    from scipy.signal import resample_poly

    fs = CODECS[codec][1]
    if fs == 48000:
        x, _ = sf.read(SPEECH / "speech_en_harvard_48k_16bit_mono.wav", dtype="float64")
        return x
    x, _ = sf.read(SPEECH / "speech_en_harvard_16k_16bit_mono.wav", dtype="float64")
    return x if fs == 16000 else resample_poly(x, 1, 2)


def emodel_mos(codec: str, loss_pct: float, burst_r: float) -> float | None:
    """HOOK(E-model): MOS-CQE of ITU-T G.107 for this codec and loss, None when not rated.

    Uses ``validator.quality.emodel`` (issue 12's E-model half) when it is
    installed; on a branch without it, returns None and the plot leaves the
    curve out. G.113 Appendix I gives Ie/Bpl for PCMU only of these three
    (G.722 is wideband, Opus is not listed): the others are "not rated".
    The receivers here zero-fill PCMU, so Bpl is the no-PLC value.
    """
    try:
        from validator.quality import emodel  # type: ignore[attr-defined]
    except ImportError:
        return None
    ci = emodel.codec_impairment({"pcmu": "PCMU", "g722": "G722", "opus": "opus"}[codec],
                                 plc=CODECS[codec][2] == "PLC")
    if isinstance(ci, str):
        return None
    # BurstR below 1 (loss more spread out than random) is rated as 1, as validate's E-model does
    return float(emodel.rate(ie=ci.ie, bpl=ci.bpl, ppl_pct=loss_pct,
                             burst_ratio=max(burst_r, 1.0)).mos_cqe)


def run_point(task: tuple[str, str, float, int]) -> dict:
    """Encode, lose, decode, align and score one (codec, pattern, loss, seed) case."""
    from validator.align.channels import align_channels
    from validator.io.audio import ArraySource
    from validator.quality import assess_quality

    codec, kind, pct, seed = task
    x = reference(codec)
    fs = CODECS[codec][1]
    enc = encode(codec, x)
    lost = loss_pattern(len(enc.packets), pct, kind, np.random.default_rng(seed))
    y = decode(enc, lost)
    ref, rec = ArraySource(x, fs, name="reference"), ArraySource(y, fs, name="received")
    t0 = time.perf_counter()
    aligns = align_channels(ref, rec, max_delay_s=1.0, mapping=(0,))
    t1 = time.perf_counter()
    q = assess_quality(rec, aligns, METRICS, windows=False)
    actual = 100.0 * float(lost.mean())
    br = burst_ratio(lost)
    return {"codec": codec, "pattern": kind, "loss_pct": pct, "seed": seed,
            "actual_loss_pct": round(actual, 3), "burst_ratio": round(br, 3),
            "delay_samples": aligns.models[0].offsets[0],
            "visqol": q.visqol.mos_lqo if q.visqol else None,
            "pesq": q.pesq.mos_lqo if q.pesq else None,
            "pesq_mode": q.pesq.mode if q.pesq else None,
            "reasons": [s.reason for s in q.scores if s.reason],
            "emodel": emodel_mos(codec, actual, br),
            "align_s": round(t1 - t0, 3), "score_s": q.elapsed_s}


def _warm() -> None:
    """Worker initializer: one BLAS thread, and ViSQOL's JIT paid before the clock runs."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from validator.quality import score_aligned

    x = reference("g722")[:16000 * 3]
    score_aligned(x, x, 16000, METRICS)


def timing(repeat: int = 3) -> dict[str, float]:
    """Warm seconds per 10 s of speech: ViSQOL speech, PESQ-WB, PESQ-NB, our alignment."""
    from validator.align.channels import align_channels
    from validator.io.audio import ArraySource
    from validator.quality import score_aligned

    _warm()
    x = reference("g722")
    y = decode(encode("g722", x), loss_pattern(800, 2.0, "random", np.random.default_rng(1)))
    per10 = 10.0 / (len(x) / 16000)
    out = {}
    for label, spec, fs, xx, yy in (("visqol speech 16 kHz", "visqol", 16000, x, y),
                                    ("pesq wb 16 kHz", "pesq:wb", 16000, x, y),
                                    ("pesq nb 8 kHz", "pesq:nb", 16000, x, y)):
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            score_aligned(xx, yy[:len(xx)], fs, spec)
            ts.append(time.perf_counter() - t)
        out[label] = min(ts) * per10
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        align_channels(ArraySource(x, 16000), ArraySource(y, 16000), max_delay_s=1.0,
                       mapping=(0,))
        ts.append(time.perf_counter() - t)
    out["alignment (ours)"] = min(ts) * per10
    return out


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and standard deviation over seeds per (codec, pattern, loss)."""
    keys = sorted({(r["codec"], r["pattern"], r["loss_pct"]) for r in rows},
                  key=lambda k: (list(CODECS).index(k[0]), PATTERNS.index(k[1]), k[2]))
    out = []
    for c, k, p in keys:
        g = [r for r in rows if (r["codec"], r["pattern"], r["loss_pct"]) == (c, k, p)]
        d = {"codec": c, "pattern": k, "loss_pct": p, "n": len(g),
             "actual_loss_pct": float(np.mean([r["actual_loss_pct"] for r in g]))}
        for m in ("visqol", "pesq", "emodel"):
            v = [r[m] for r in g if r[m] is not None]
            d[m] = float(np.mean(v)) if v else None
            d[m + "_sd"] = float(np.std(v)) if len(v) > 1 else 0.0 if v else None
            d[m + "_n"] = len(v)
        out.append(d)
    return out


def table(summary: list[dict]) -> str:
    lines = ["| codec | loss | nominal % | actual % | ViSQOL v3 | PESQ | E-model MOS-CQE |",
             "|---|---|---|---|---|---|---|"]

    def f(d: dict, m: str) -> str:
        if d[m] is None:
            return "-"
        return f"{d[m]:.2f} ± {d[m + '_sd']:.2f}" if d["n"] > 1 else f"{d[m]:.2f}"

    for d in summary:
        lines.append(f"| {d['codec']} | {d['pattern']} | {d['loss_pct']:g} | "
                     f"{d['actual_loss_pct']:.1f} | {f(d, 'visqol')} | {f(d, 'pesq')} | "
                     f"{f(d, 'emodel')} |")
    return "\n".join(lines)


def plot(summary: list[dict], path: Path, *, note: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.2))
    axes = fig.subplots(1, 3, sharey=True)
    colors = {"visqol": "#1f5fbf", "pesq": "#d92d20", "emodel": "#0e9384"}
    labels = {"visqol": "ViSQOL v3 (speech)", "pesq": "PESQ", "emodel": "E-model MOS-CQE"}
    for ax, codec in zip(axes, CODECS, strict=True):
        for kind, style in (("random", "-"), ("bursty", "--")):
            g = [d for d in summary if d["codec"] == codec and d["pattern"] == kind]
            zero = [d for d in summary if d["codec"] == codec and d["loss_pct"] == 0]
            g = sorted({id(d): d for d in zero + g}.values(), key=lambda d: d["loss_pct"])
            for m in ("visqol", "pesq", "emodel"):
                pts = [(d["loss_pct"], d[m], d[m + "_sd"]) for d in g if d[m] is not None]
                if not pts:
                    continue
                xs, ys, es = zip(*pts, strict=True)
                ax.errorbar(xs, ys, yerr=es, color=colors[m], linestyle=style, marker="o",
                            markersize=3, capsize=2, linewidth=1.2,
                            label=f"{labels[m]}, {kind}")
        name, fs, how = CODECS[codec]
        pesq_mode = "P.862 nb" if fs == 8000 else "P.862.2 wb"
        ax.set_title(f"{codec.upper()} ({fs // 1000} kHz, {how}); PESQ {pesq_mode}",
                     fontsize=9.5, loc="left")
        ax.set_xlabel("packet loss, % (20 ms packets)")
        ax.grid(True, color="#eaecf0")
        ax.set_ylim(1.0, 4.8)
    axes[0].set_ylabel("MOS (LQO; E-model: CQE)")
    handles, labs = axes[0].get_legend_handles_labels()
    fig.legend(handles, labs, loc="lower center", ncols=6, fontsize=7.5, frameon=False)
    fig.suptitle("Speech quality against packet loss: espeak-ng speech, 5 seeds per point "
                 "(mean ± sd); " + note, fontsize=9)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.84, bottom=0.27, wspace=0.08)
    fig.savefig(path, dpi=110)


def _emodel_note(rows: list[dict]) -> str:
    if any(r["emodel"] is not None for r in rows):
        return "E-model (G.107, G.113 Ie/Bpl): PCMU only"
    return "E-model curve: not on this branch (HOOK(E-model) in bench_quality.py)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="0/2/10 %% loss, 2 seeds")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--png", type=Path, default=PNG)
    ap.add_argument("--json", type=Path, help="write every case's result here")
    ap.add_argument("--replot", type=Path, metavar="JSON",
                    help="no audio run: redraw the table and plot from a --json file, with the "
                         "E-model recomputed from each case's loss rate and BurstR")
    args = ap.parse_args(argv)
    if args.replot:
        rows = json.loads(args.replot.read_text())["rows"]
        for r in rows:
            r["emodel"] = emodel_mos(r["codec"], r["actual_loss_pct"], r["burst_ratio"])
        summary = summarise(rows)
        print(table(summary))
        plot(summary, args.png, note=_emodel_note(rows))
        print(f"\nplot: {args.png}")
        return 0
    losses = QUICK_LOSS_PCT if args.quick else LOSS_PCT
    seeds = QUICK_SEEDS if args.quick else SEEDS
    tasks = [(c, k, p, s) for c in CODECS for k in PATTERNS for p in losses if p > 0
             for s in range(seeds)] + [(c, "random", 0.0, 0) for c in CODECS]
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, initializer=_warm) as pool:
        rows = list(pool.map(run_point, tasks))
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()
    summary = summarise(rows)
    print(table(summary))
    bad = [r for r in rows if r["reasons"]]
    print(f"\n{len(rows)} cases in {wall:.0f} s on {args.jobs} workers "
          f"(load average {load0[0]:.1f} -> {load1[0]:.1f}); {len(bad)} with a score not "
          "computed" + (": " + "; ".join(sorted({x for r in bad for x in r["reasons"]}))
                        if bad else ""))
    for c in CODECS:
        d = [round(r["delay_samples"]) for r in rows if r["codec"] == c]
        counts = {v: d.count(v) for v in sorted(set(d))}
        print(f"  {c}: first-segment delay found by our alignment, samples (cases): {counts}")
    print("\nseconds per 10 s of speech (warm, best of 3, one core):")
    for k, v in timing().items():
        print(f"  {k:<22s} {v:6.2f} s")
    plot(summary, args.png, note=_emodel_note(rows))
    print(f"\nplot: {args.png.relative_to(ROOT) if args.png.is_relative_to(ROOT) else args.png}")
    if args.json:
        args.json.write_text(json.dumps({"python": platform.python_version(), "rows": rows,
                                         "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
