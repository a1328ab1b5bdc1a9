"""Benchmark of batch validation: throughput and memory per worker, pool against Dask.

Run from the repository root::

    python tests/benchmarks/bench_batch.py                      # 200 captures of 10 s, ~5 min
    python tests/benchmarks/bench_batch.py --captures 20        # quick look
    python tests/benchmarks/bench_batch.py --out bench_batch.md --keep

It writes a 200-capture manifest: a 997 Hz tone at 48 kHz led by a chirp
marker (:func:`validator.signals.tone`, 10 s of tone, 16-bit WAV), impaired
with :mod:`validator.impair` by a seeded mix of faults (zero-fill of 1, 5 and
20 ms, a repeated and a faded 20 ms packet, a click, a gain error, noise at
30 dB SNR, a mu-law round trip, 2 % random packet loss, near-silence, clipping,
a delay, a skip, 20 ppm of drift, and clean copies), tagged by fault, device
and codec. Then it validates the same manifest with ``run_batch`` three ways:

- ``--jobs 1``: a process pool of one worker,
- ``--jobs 2``: a process pool of two workers,
- ``--dask``: a Dask ``LocalCluster`` of two single-threaded worker processes
  (started by the run, so its start-up is in the wall time),

each writing every report the command line writes by default (per-capture
JSON, HTML and JUnit XML, then summary.json, index.html and junit.xml).

Columns: wall time of the whole run (s, pool or cluster start-up included);
throughput in captures per second and in seconds of audio per second; the
speed-up over ``--jobs 1``; the peak resident memory (RSS) of each worker
process, the largest and the smallest over the workers (MiB), sampled every
20 ms with psutil over every process below this one (a worker is a process
that reported validating a capture); and the client's own peak RSS (this
process, which holds the small outcome dicts). USS (unique set size, sampled
every 0.1 s) is the part of a worker's memory no other process shares: a
forkserver child shares the preloaded libraries with the forkserver, and RSS
counts those pages in every worker. The results of the three runs
are compared field for field (without ``generated_at``, ``elapsed_s`` and the
tool version) and the script says whether they are identical.

The machine is shared: the 1-minute load average before and after each run
is printed, since other processes on the two cores slow the runs down.
The file is named ``bench_*.py`` so pytest does not collect it.
"""

from __future__ import annotations

import argparse
import copy
import csv
import os
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from validator import __version__, impair
from validator.batch import BatchResult, load_manifest, run_batch
from validator.signals import tone, write_wav

#: (fault name, validator.impair function, arguments; positions drawn per capture).
FAULTS = ("clean", "zero_fill_1ms", "zero_fill_5ms", "zero_fill_20ms", "repeat_packet",
          "fade_packet", "click", "gain_-3dB", "noise_30dB", "mu_law", "loss_2pct",
          "near_silence", "clip", "delay_30ms", "skip_20ms", "drift_20ppm")
DEVICES = ("phoneA", "phoneB", "intercom", "bridge")
CODECS = ("pcmu", "opus", "l16", "g722")


def impaired(y: np.ndarray, fs: int, fault: str, rng: np.random.Generator) -> np.ndarray:
    """``y`` with one fault at a random place in the steady tone (0.5 s in, 0.5 s from the end)."""
    t = float(rng.uniform(1.0, len(y) / fs - 0.5))
    steps: dict[str, tuple[str, dict[str, Any]]] = {
        "zero_fill_1ms": ("zero_fill", {"start_s": t, "duration_s": 0.001}),
        "zero_fill_5ms": ("zero_fill", {"start_s": t, "duration_s": 0.005}),
        "zero_fill_20ms": ("zero_fill", {"start_s": t, "duration_s": 0.02}),
        "repeat_packet": ("repeat_packet", {"start_s": t}),
        "fade_packet": ("fade_packet", {"start_s": t}),
        "click": ("click", {"at_s": t}),
        "gain_-3dB": ("gain", {"gain_db": -3.0}),
        "noise_30dB": ("add_noise", {"snr_db": 30.0, "seed": int(rng.integers(1 << 30))}),
        "mu_law": ("mu_law_round_trip", {}),
        "loss_2pct": ("packet_loss", {"loss": 0.02, "seed": int(rng.integers(1 << 30)),
                                      "first_packet": 60}),
        "near_silence": ("near_silence", {"start_s": t, "duration_s": 0.3}),
        "clip": ("hard_clip", {"gain_db": 12.0}),
        "delay_30ms": ("delay", {"delay_s": 0.03}),
        "skip_20ms": ("skip", {"start_s": t, "duration_s": 0.02}),
        "drift_20ppm": ("drift", {"ppm": 20.0}),
    }
    if fault == "clean":
        return y
    name, kwargs = steps[fault]
    return getattr(impair, name)(y, fs, **kwargs).y


def build(root: Path, n: int, duration_s: float, fs: int, seed: int) -> tuple[Path, float]:
    """Write the reference, ``n`` captures and ``batch.csv``; returns (manifest, audio seconds)."""
    rng = np.random.default_rng(seed)
    ref = tone(997, sample_rate_hz=fs, duration_s=duration_s, marker="chirp")
    write_wav(root / "reference.wav", ref, fs)
    (root / "captures").mkdir()
    rows, audio_s = [], 0.0
    for i in range(n):
        fault = FAULTS[i % len(FAULTS)]
        y = impaired(ref, fs, fault, rng)
        name = f"captures/{i:03d}_{fault}.wav"
        write_wav(root / name, y, fs)
        audio_s += len(y) / fs
        rows.append((name, "reference.wav", fault, DEVICES[i % len(DEVICES)],
                     CODECS[(i // len(DEVICES)) % len(CODECS)]))
    with open(root / "batch.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["received", "reference", "fault", "device", "codec"])
        w.writerows(rows)
    return root / "batch.csv", audio_s


class RssSampler:
    """Peak RSS and USS of this process and of every process below it.

    RSS is sampled every ``interval_s``; USS (the memory only that process
    holds: what one more worker costs) needs /proc/PID/smaps and is sampled
    every ``uss_every`` samples.
    """

    def __init__(self, interval_s: float = 0.02, uss_every: int = 5) -> None:
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()
        self.interval_s = interval_s
        self.uss_every = uss_every
        self.peak: dict[int, int] = {}
        self.peak_uss: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                procs = [self.me, *self.me.children(recursive=True)]
            except self.psutil.Error:
                procs = [self.me]
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    uss = p.memory_full_info().uss if n % self.uss_every == 0 else 0
                except self.psutil.Error:
                    continue
                self.peak[p.pid] = max(self.peak.get(p.pid, 0), rss)
                self.peak_uss[p.pid] = max(self.peak_uss.get(p.pid, 0), uss)
            n += 1
            self._stop.wait(self.interval_s)


def stable(result: BatchResult) -> dict[str, Any]:
    out = {}
    for o in result.outcomes:
        doc = copy.deepcopy(o.document) if o.document else None
        if doc:
            for key in ("generated_at", "elapsed_s"):
                doc.pop(key)
            doc["tool"].pop("version")
        out[o.job.name] = (o.status, o.error, doc)
    return out


def run(mode: str, manifest: Path, out: Path, workers: int, html: bool) -> dict[str, Any]:
    jobs = load_manifest(manifest)
    load_before = os.getloadavg()[0]
    scheduler = "local" if mode == "dask" else None
    n_workers = 1 if mode == "jobs1" else workers
    with RssSampler() as sampler:
        t0 = time.perf_counter()
        result = run_batch(jobs, output_dir=out, run_name=mode, workers=n_workers,
                           scheduler=scheduler, html=html)
        wall_s = time.perf_counter() - t0
    load_after = os.getloadavg()[0]
    worker_pids = {int(o.worker.rsplit(":", 1)[1]) for o in result.outcomes if o.worker}
    rss = [sampler.peak[p] / 2**20 for p in worker_pids if p in sampler.peak]
    uss = [sampler.peak_uss[p] / 2**20 for p in worker_pids if p in sampler.peak_uss]
    t = result.summary["throughput"]
    # the worker's own ru_maxrss after its 10th capture and after its last: growth over a run
    by_worker: dict[str, list[float]] = {}
    for o in sorted(result.outcomes, key=lambda o: o.job.index):
        if o.worker and o.peak_rss_mb is not None:
            by_worker.setdefault(o.worker, []).append(o.peak_rss_mb)
    growth = [(v[min(9, len(v) - 1)], v[-1]) for v in by_worker.values()]
    return {"mode": mode, "workers": n_workers, "wall_s": wall_s,
            "captures_per_s": len(jobs) / wall_s, "audio_s_per_s": t["audio_s"] / wall_s,
            "worker_rss_max": max(rss) if rss else float("nan"),
            "worker_rss_min": min(rss) if rss else float("nan"),
            "worker_uss_max": max(uss) if uss else float("nan"),
            "client_rss": sampler.peak.get(os.getpid(), 0) / 2**20,
            "maxrss_10th": max(g[0] for g in growth), "maxrss_last": max(g[1] for g in growth),
            "per_worker": max(len(v) for v in by_worker.values()),
            "worker_s": t["mean_capture_s"],
            "validate_s": sum(o.document["elapsed_s"] for o in result.outcomes if o.document)
            / max(sum(1 for o in result.outcomes if o.document), 1),
            "n_workers_seen": len(worker_pids), "counts": result.summary["counts"],
            "load": (load_before, load_after), "result": result}


def single_capture_rss(manifest: Path, out: Path) -> float:
    """Peak RSS (MiB) of one cold ``audio-validator validate`` of the first capture."""
    import subprocess

    job = load_manifest(manifest)[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-m", "validator", "validate", job.received, "--reference",
                    job.reference, "--output-dir", str(out), "--quiet", "--no-progress"],
                   check=False, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--captures", type=int, default=200)
    ap.add_argument("--duration", type=float, default=10.0, help="tone seconds per capture")
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--modes", default="jobs1,jobs2,dask")
    ap.add_argument("--no-html", action="store_true", help="skip the per-capture HTML")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", help="also write the table (markdown) to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        t0 = time.perf_counter()
        manifest, audio_s = build(tmp, args.captures, args.duration, args.rate, args.seed)
        print(f"wrote {args.captures} captures ({audio_s:.0f} s of audio) in "
              f"{time.perf_counter() - t0:.1f} s under {tmp}", file=sys.stderr)
        cold = single_capture_rss(manifest, tmp / "single")
        rows = []
        for mode in args.modes.split(","):
            r = run(mode, manifest, tmp / "reports", args.workers, not args.no_html)
            print(f"{mode}: {r['wall_s']:.1f} s, {r['counts']}, load {r['load'][0]:.2f} -> "
                  f"{r['load'][1]:.2f}", file=sys.stderr)
            rows.append(r)
        base = next((r for r in rows if r["mode"] == "jobs1"), None)
        ref = stable(rows[0]["result"])
        identical = all(stable(r["result"]) == ref for r in rows[1:])
        label = {"jobs1": "process pool, --jobs 1", "jobs2": f"process pool, --jobs {args.workers}",
                 "dask": f"Dask LocalCluster, {args.workers} workers"}
        lines = [
            f"{args.captures} captures x {args.duration:g} s tone (+0.25 s marker) at "
            f"{args.rate} Hz, 16-bit mono; {audio_s:.0f} s of audio; per-capture JSON"
            f"{'' if args.no_html else ', HTML'} and JUnit reports. "
            f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} cores, audio-stream-validator {__version__}.",
            "",
            "| run | wall s | captures/s | s of audio/s | speed-up | peak RSS per worker MiB "
            "(max / min) | peak USS per worker MiB | client peak RSS MiB | "
            "load avg before -> after |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            speed = f"{base['wall_s'] / r['wall_s']:.2f}x" if base else "-"
            lines.append(
                f"| {label.get(r['mode'], r['mode'])} | {r['wall_s']:.1f} | "
                f"{r['captures_per_s']:.2f} | {r['audio_s_per_s']:.1f} | {speed} | "
                f"{r['worker_rss_max']:.0f} / {r['worker_rss_min']:.0f} | "
                f"{r['worker_uss_max']:.0f} | {r['client_rss']:.0f} | "
                f"{r['load'][0]:.2f} -> {r['load'][1]:.2f} |")
        c = rows[0]["counts"]
        lines += ["", "Worker memory over the run (its own peak RSS, ru_maxrss, after its 10th "
                      "capture and after its last; the largest over the workers):", ""]
        lines += [f"- {label.get(r['mode'], r['mode'])}: {r['maxrss_10th']:.0f} MiB after the "
                  f"10th, {r['maxrss_last']:.0f} MiB after the last ({r['per_worker']} captures "
                  f"per worker at most); {r['worker_s']:.3f} s per capture in a worker, of which "
                  f"{r['validate_s']:.3f} s validating" for r in rows]
        lines += ["", f"One cold `audio-validator validate` of one of these captures (the "
                      f"single-capture budget): peak RSS {cold:.0f} MiB."]
        lines += ["", f"Verdicts: {c['pass']} pass, {c['fail']} fail, {c['error']} error. "
                      f"Results of the runs identical field for field (volatile fields aside): "
                      f"{'yes' if identical else 'NO'}."]
        text = "\n".join(lines) + "\n"
        print(text)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
        return 0 if identical else 1
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
