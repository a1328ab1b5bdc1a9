#!/usr/bin/env python3
"""Score ``validate()`` on the independent verification corpus (issue 9).

The corpus (``tests/benchmarks/verify``) is built by sox, ffmpeg, espeak-ng,
GStreamer and numpy, with truth from how each case was made, never from the
validator. It is cached under ``--cache`` (default ``/tmp/verify_corpus``).

    PYTHONPATH=. python tests/benchmarks/bench_verify.py [--jobs 2] [--classes ABCDEF] \
        [--json out.json]

Prints one row per case, then per class: verdicts right, recall, false
events, onset / duration error, delay error (samples and tone periods),
drift error and channel map / polarity, against issue 9's targets.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from dataclasses import asdict
from multiprocessing import Pool
from pathlib import Path

# ``verify`` is imported as a top-level package from this folder, so that ``validator``
# comes from PYTHONPATH (e.g. PYTHONPATH=/work/main scores main's comparator).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from verify import corpus, loopback, score  # noqa: E402
from verify.common import DEFAULT_CACHE, Case  # noqa: E402


def _run(case: Case) -> score.CaseScore:
    from validator import validate

    t0 = time.perf_counter()
    try:
        result = validate(str(case.received), str(case.reference))
        s = score.score(case, result)
    except Exception as exc:  # a crash is a result too
        s = score.failed(case, f"{type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
    s.seconds = time.perf_counter() - t0
    return s


def score_all(cases: list[Case], jobs: int) -> list[score.CaseScore]:
    """Each case validated and scored, in order, by ``jobs`` worker processes."""
    if jobs <= 1:
        return [_run(c) for c in cases]
    with Pool(jobs) as pool:
        return pool.map(_run, cases, chunksize=1)


def _f(v, fmt="{:.2f}") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return fmt.format(v)


def case_table(scores: list[score.CaseScore]) -> str:
    lines = [
        "| case | verdict | ok | found | false | other | onset med ms | delay truth | reported "
        "| conf | "
        "err smp | err periods | drift err ppm | map | pol | s |",
        "|" + "---|" * 16,
    ]
    for s in scores:
        rep = "ambiguous" if s.delay_ambiguous else _f(s.delay_reported)
        onset = _f(sorted(s.onset_ms)[len(s.onset_ms) // 2]) if s.onset_ms else "-"
        lines.append(
            f"| {s.name} | {s.verdict} | {_f(s.verdict_right, '{}')} | {s.found}/{s.faults} | "
            f"{s.false_events} | "
            f"{s.other_events} | {onset} | {_f(s.delay_truth)} | {rep} | "
            f"{_f(s.delay_confidence)} | "
            f"{_f(s.delay_error)} | {_f(s.delay_error_periods)} | {_f(s.drift_error)} | "
            f"{_f(s.map_right, '{}')} | {_f(s.polarity_right, '{}')} | {s.seconds:.1f} |"
        )
    return "\n".join(lines)


def class_table(rows: dict) -> str:
    lines = [
        "| class | cases | verdicts right | recall | worst case | cases >= 0.95 | false ev | "
        "other ev | "
        "onset ms med / p95 | |dur err| ms med / p95 | delay ok (ambig.) | delay err max smp / "
        "periods | "
        "drift err max ppm (none / made) | map | polarity | s |",
        "|" + "---|" * 16,
    ]
    for k, r in rows.items():
        lines.append(
            f"| {k} | {r['cases']} | {r['verdicts_right']}/{r['verdicts_scored']} | "
            f"{_f(r['recall'])} ({r['found']}/{r['faults']}) | {_f(r['worst_case_recall'])} | "
            f"{r['cases_recall_ge_095']}/{r['cases_with_faults']} | {r['false_events']} | "
            f"{r['other_events']} | "
            f"{_f(r['onset_ms_median'])} / {_f(r['onset_ms_p95'])} | "
            f"{_f(r['duration_ms_median'])} / {_f(r['duration_ms_p95'])} | "
            f"{r['delay_ok']}/{r['delay_scored']} ({r['delay_ambiguous']}) | "
            f"{_f(r['delay_err_max_samples'])} / {_f(r['delay_err_max_periods'])} | "
            f"{_f(r['drift_err_max_ppm_no_drift'])} / {_f(r['drift_err_max_ppm_drift'])} | "
            f"{r['map_right']}/{r['map_scored']} | "
            f"{r['polarity_right']}/{r['polarity_scored']} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines)


#: Concealment-error bins of class D's recall, dB re the lossless decode (upper edges).
CONCEAL_BINS = ((-6.0, "< -6 dB"), (-3.0, "-6 to -3 dB"), (math.inf, ">= -3 dB"))


def concealment_note(cases: list[Case], scores: list[score.CaseScore]) -> str:
    """Class D's recall by how far each concealment departs from the lossless decode."""
    clean = next((c for c in cases if c.truth.name == "D_speech_opus_clean"), None)
    if clean is None:
        return ""
    by_name = {s.name: s for s in scores}
    counts = {label: [0, 0] for _, label in CONCEAL_BINS}
    missed_lines = []
    for case in cases:
        if case.truth.klass != "D" or case is clean or case.truth.name not in by_name:
            continue
        missed = {tuple(m) for m in by_name[case.truth.name].missed}
        for f, (start, err_db, level_db) in zip(
            case.truth.faults, loopback.concealment_errors_db(case, clean), strict=True
        ):
            label = next(lab for edge, lab in CONCEAL_BINS if err_db < edge)
            hit = (f.start, f.end) not in missed
            counts[label][0] += hit
            counts[label][1] += 1
            if not hit:
                missed_lines.append(
                    f"- {case.truth.name} at {start / case.truth.sample_rate_hz:.3f} s: "
                    f"concealment error {err_db:+.1f} dB, lossless decode {level_db:.1f} dBFS"
                )
    lines = [
        "\n## Class D by concealment error (lossy minus lossless decode, re the lossless "
        "decode)\n",
        "| concealment error | found |",
        "|---|---|",
    ]
    lines += [f"| {label} | {counts[label][0]}/{counts[label][1]} |" for _, label in CONCEAL_BINS]
    if missed_lines:
        lines += ["", "missed:", *missed_lines]
    return "\n".join(lines)


def dither_note(runs: int, jobs: int) -> str:
    """Class F rebuilt ``runs`` times with fresh sox dither: false events and verdicts per case.

    The cached corpus is one take (``sox -R``); the detectors' false-alarm
    rate on clean codec speech is measured over several, since a codec's
    output, and a borderline decision on it, moves with the dither.
    """
    import tempfile

    from verify import codecs

    per: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="verify_f_dither_") as tmp:
        for k in range(runs):
            scores = score_all(codecs.build_f(Path(tmp) / str(k), repeatable=False), jobs)
            for s in scores:
                row = per.setdefault(s.name, [0, 0, 0])
                row[0] += s.false_events + s.other_events
                row[1] += s.verdict_right is False
                row[2] += 1
    lines = [f"\n## Class F over {runs} fresh dither takes\n",
             "| case | takes | false events | wrong verdicts |", "|---|---|---|---|"]
    lines += [f"| {name} | {t} | {fe} | {wv} |" for name, (fe, wv, t) in per.items()]
    total = [sum(v[i] for v in per.values()) for i in range(3)]
    lines.append(f"| total | {total[2]} | {total[0]} | {total[1]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="corpus folder (default %(default)s)"
    )
    p.add_argument("--classes", default=corpus.CLASSES, help="subset of ABCDEF (default all)")
    p.add_argument("--only", help="comma-separated case names (substring match)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the cached corpus")
    p.add_argument("--json", type=Path, help="also write every case score and the class rows here")
    p.add_argument("--f-dither", type=int, default=0, metavar="N",
                   help="also build class F N more times with fresh sox dither and score each")
    args = p.parse_args(argv)

    import validator

    print(f"verify: validator from {Path(validator.__file__).parent}", file=sys.stderr)
    t0 = time.perf_counter()
    cases = corpus.build(args.cache, args.classes.upper(), rebuild=args.rebuild)
    if args.only:
        keys = args.only.split(",")
        cases = [c for c in cases if any(k in c.truth.name for k in keys)]
    t_build = time.perf_counter() - t0
    print(
        f"verify: {len(cases)} cases (built/loaded in {t_build:.1f} s), scoring with "
        f"{args.jobs} job(s)",
        file=sys.stderr,
    )
    scores = score_all(cases, args.jobs)
    rows = score.summarise(scores)
    wall = time.perf_counter() - t0
    print("## Verification corpus: per case\n")
    print(case_table(scores))
    print("\n## Verification corpus: per class\n")
    print(class_table(rows))
    print(
        f"\nwall time {wall:.0f} s ({args.jobs} job(s)); targets (issue 9): verdicts all "
        "right, recall >= 0.99 "
        "and every case >= 0.95, 0 false events, delay error <= 0.1 sample or ambiguous, drift "
        "error <= 0.1 ppm "
        "where there is none, real receivers (E) recall >= 0.95 and 0 false events"
    )
    print(concealment_note(cases, scores))
    if args.f_dither:
        print(dither_note(args.f_dither, args.jobs))
    for s in scores:
        if s.error:
            print(f"error: {s.name}: {s.error}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "cases": [asdict(s) for s in scores],
                    "classes": rows,
                    "wall_s": wall,
                    "jobs": args.jobs,
                },
                indent=1,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
