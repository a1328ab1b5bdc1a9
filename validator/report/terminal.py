"""Terminal summary: verdict, alignment, channels, checks and the first events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from validator.result import ValidationResult


def _fmt(x: object, spec: str = ".2f") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return format(x, spec)
    return str(x)


def render_terminal(result: ValidationResult, *, max_events: int = 20,
                    report_paths: Sequence[Path] = ()) -> str:
    """Plain-text summary for a terminal.

    Parameters
    ----------
    result : ValidationResult
    max_events : int
        Events listed before "... and N more".
    report_paths : sequence of Path
        Reports written, listed last.

    Returns
    -------
    str
    """
    r = result
    lines = []
    counts = Counter(e.type for e in r.events)
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items())) or "no events"
    lines.append(f"{r.verdict.upper()}: {summary}")
    i = r.input
    lines.append(f"  received  {i.received}  ({i.sample_rate_hz} Hz, {i.channels} ch, "
                 f"{i.duration_s:.3f} s)")
    lines.append(f"  reference {i.reference}  ({i.reference_duration_s:.3f} s)")
    a = r.alignment
    delay = ("ambiguous (steady tone, no onset or marker)" if a.delay_s is None
             else f"{a.delay_s * 1000:.3f} ms ({a.delay_samples:.2f} samples)")
    lines.append(f"  delay {delay}, confidence {a.delay_confidence:.2f} [{a.method}], "
                 f"drift {a.drift_ppm:+.2f} ppm, {len(a.segments)} segment(s)")
    if r.rtp is not None and r.rtp.emodel:
        lines.append(f"  RTP {r.rtp.ssrc} {r.rtp.emodel[0].summary()}")
    lines.append("")
    lines.append("  ch  level dBFS  peak dBFS  gain dB  freq Hz      SNR dB  THD+N dB")
    for c in r.channels:
        lines.append(f"  {c.index:<3d} {_fmt(c.rms_dbfs):>10s} {_fmt(c.peak_dbfs):>10s} "
                     f"{_fmt(c.gain_error_db):>8s}  {_fmt(c.frequency_hz, '.3f'):<12s}"
                     f"{_fmt(c.snr_db, '.1f'):>6s} {_fmt(c.thd_n_db, '.1f'):>9s}")
    if r.quality is not None:
        lines.append("")
        lines.extend(_quality_lines(r))
    lines.append("")
    lines.append("  check                 measured      limit  unit    result")
    for k in r.checks:
        lines.append(f"  {k.name:<20s} {_fmt(k.measured, '.3f'):>10s} {_fmt(k.limit, 'g'):>10s}"
                     f"  {k.unit:<7s} {'ok' if k.passed else 'FAIL'}")
    if r.events:
        lines.append("")
        lines.append("  time s      dur ms  ch  type      dB      description")
        for e in r.events[:max_events]:
            lines.append(f"  {e.start_s:9.4f} {e.duration_s * 1000:8.2f}  {e.channel:<3d} "
                         f"{e.type:<8s} {e.level_db:7.1f}  {e.description}")
        if len(r.events) > max_events:
            lines.append(f"  ... and {len(r.events) - max_events} more (see the JSON report)")
    for note in r.notes:
        lines.append(f"  note: {note}")
    for p in report_paths:
        lines.append(f"  report: {p}")
    return "\n".join(lines) + "\n"


def _quality_lines(r: ValidationResult) -> list[str]:
    """Whole-capture MOS-LQO per metric, and the worst window of each."""
    q = r.quality
    assert q is not None
    out = []
    for s in q.scores:
        label = {"visqol": "ViSQOL v3", "pesq": "PESQ"}.get(s.metric, s.metric)
        head = f"  {label} {s.mode} ({s.sample_rate_hz // 1000} kHz)"
        if s.mos_lqo is None:
            out.append(f"{head:<28s} MOS-LQO not computed: {s.reason}")
            continue
        scored = [(getattr(w, s.metric), w) for w in q.windows
                  if getattr(w, s.metric) is not None]
        worst = ""
        if len(scored) > 1:
            v, w = min(scored, key=lambda vw: vw[0])
            worst = f"  (worst {q.window_s:g} s window {v:.2f} at {w.start_s:.1f}-{w.end_s:.1f} s)"
        out.append(f"{head:<28s} MOS-LQO {s.mos_lqo:.2f}{worst}")
    if q.covered_fraction < 0.999:
        out.append(f"  quality: {100 * (1 - q.covered_fraction):.1f} % of the reference is "
                   "missing from the received audio and was scored as silence")
    return out
