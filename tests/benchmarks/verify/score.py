"""Match a validation result to a case's truth, and summarise per class.

Matching (all on the received timeline, in samples):

- a fault with span ``[start, end]`` (a point for skips and cuts) is *found*
  when an event of an accepted type (``dropout`` or ``glitch``; also ``level``
  for a concealed or repeated packet), on the fault's channel (any channel when the
  fault is on all of them), overlaps ``[start - 2 ms, end + tail + 2 ms]``
  and lasts no longer than the fault plus its decoder tail plus 5 ms. One
  long event over many faults finds none of them;
- an event that overlaps no fault window is a *false event*; an event that
  overlaps one but is too long or of another type is *oversized/other*
  (neither a hit nor false);
- onset error: ``|event start - fault start|`` of the found event starting
  closest to the fault; duration error: that event's length minus the fault's;
- delay error: reported ``delay_samples`` minus the truth; an ``ambiguous``
  delay (``delay_ambiguous`` or ``None``) is not an error, it is counted apart;
- drift error: reported ``drift_ppm`` minus the truth;
- channel map: the result's ``channel_map`` (on the result, its alignment or a
  check of that name) when it has one, else the identity it implies;
  polarity from ``channels[i].polarity_inverted``. Only channels whose truth
  is known are compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .common import Case, Fault

TOL_S = 0.002
LONGER_S = 0.005
ACCEPT = {"plc": {"dropout", "glitch", "level"}, "repeat": {"dropout", "glitch", "level"}}
DEFAULT_ACCEPT = {"dropout", "glitch"}


@dataclass
class CaseScore:
    name: str
    klass: str
    faults: int = 0
    found: int = 0
    false_events: int = 0
    other_events: int = 0
    onset_ms: list[float] = field(default_factory=list)
    duration_ms: list[float] = field(default_factory=list)
    verdict: str = ""
    verdict_right: bool | None = None
    delay_truth: float | None = None
    delay_reported: float | None = None
    delay_ambiguous: bool = False
    delay_confidence: float | None = None
    delay_error: float | None = None
    delay_ok: bool | None = None
    delay_error_periods: float | None = None
    drift_truth: float | None = None
    drift_reported: float | None = None
    drift_error: float | None = None
    map_right: bool | None = None
    polarity_right: bool | None = None
    missed: list[list[int]] = field(default_factory=list)
    false_spans: list[list] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def recall(self) -> float | None:
        return self.found / self.faults if self.faults else None


def _event_span(ev, fs: int) -> tuple[int, int]:
    s, e = int(getattr(ev, "start_sample", 0) or 0), int(getattr(ev, "end_sample", 0) or 0)
    if e <= s:
        s, e = int(round(ev.start_s * fs)), int(round(ev.end_s * fs))
    return s, max(e, s)


def _window(f: Fault, tol: int) -> tuple[int, int]:
    return f.start - tol, f.end + f.tail + tol


def reported_channel_map(result, n: int) -> list[int] | None:
    for obj in (result, getattr(result, "alignment", None)):
        m = getattr(obj, "channel_map", None)
        if m is not None:
            return [None if v is None else int(v) for v in m]
    for chk in getattr(result, "checks", ()):
        if chk.name == "channel_map" and isinstance(getattr(chk, "measured", None), (list, tuple)):
            return [int(v) for v in chk.measured]
    return list(range(n))  # no map reported: the identity is implied


def score(case: Case, result) -> CaseScore:
    t = case.truth
    fs = t.sample_rate_hz
    tol, longer = int(round(TOL_S * fs)), int(round(LONGER_S * fs))
    s = CaseScore(t.name, t.klass, faults=len(t.faults), verdict=result.verdict)
    events = [(ev, *_event_span(ev, fs)) for ev in result.events]
    used_windows = [_window(f, tol) for f in t.faults]
    for f in t.faults:
        lo, hi = _window(f, tol)
        types = ACCEPT.get(f.kind, DEFAULT_ACCEPT)
        best = None
        for ev, a, b in events:
            if ev.type not in types or b < lo or a > hi:
                continue
            if f.channel is not None and ev.channel not in (f.channel, -1):
                continue
            if (b - a) > (f.end - f.start) + f.tail + longer:
                continue
            if best is None or abs(a - f.start) < abs(best[0] - f.start):
                best = (a, b)
        if best:
            s.found += 1
            s.onset_ms.append(1000.0 * abs(best[0] - f.start) / fs)
            s.duration_ms.append(1000.0 * ((best[1] - best[0]) - (f.end - f.start)) / fs)
        else:
            s.missed.append([f.start, f.end])
    for ev, a, b in events:
        if any(not (b < lo or a > hi) for lo, hi in used_windows):
            found_here = False
            for f, (lo, hi) in zip(t.faults, used_windows, strict=True):
                if b < lo or a > hi:
                    continue
                types = ACCEPT.get(f.kind, DEFAULT_ACCEPT)
                if ev.type in types and (b - a) <= (f.end - f.start) + f.tail + longer:
                    found_here = True
            if not found_here:
                s.other_events += 1
        else:
            s.false_events += 1
            s.false_spans.append([ev.type, ev.channel, a, b, round(float(ev.level_db), 1)])
    if t.expect_fail is not None:
        s.verdict_right = (result.verdict != "pass") == t.expect_fail
    al = result.alignment
    s.delay_truth, s.delay_confidence = t.delay_samples, float(al.delay_confidence)
    s.delay_reported = None if al.delay_samples is None else float(al.delay_samples)
    s.delay_ambiguous = bool(al.delay_ambiguous) or al.delay_samples is None
    if t.delay_samples is not None:
        if s.delay_ambiguous:
            s.delay_ok = True
        else:
            s.delay_error = s.delay_reported - t.delay_samples
            s.delay_ok = abs(s.delay_error) <= t.delay_tol_samples
            if t.period_samples:
                s.delay_error_periods = s.delay_error / t.period_samples
    s.drift_truth, s.drift_reported = t.drift_ppm, float(al.drift_ppm)
    if t.drift_ppm is not None:
        s.drift_error = s.drift_reported - t.drift_ppm
    if t.channel_map is not None:
        m = reported_channel_map(result, t.channels)
        s.map_right = all(
            tv is None or (i < len(m) and m[i] == tv) for i, tv in enumerate(t.channel_map)
        )
    if t.polarity is not None:
        rep = [(-1 if c.polarity_inverted else 1) for c in result.channels]
        s.polarity_right = all(
            i < len(rep) and rep[i] == p
            for i, p in enumerate(t.polarity)
            if t.channel_map is None or t.channel_map[i] is not None
        )
    return s


def failed(case: Case, message: str) -> CaseScore:
    """A case whose validation raised: every fault missed, the verdict wrong."""
    t = case.truth
    return CaseScore(
        t.name,
        t.klass,
        faults=len(t.faults),
        verdict="error",
        error=message,
        verdict_right=None if t.expect_fail is None else False,
        missed=[[f.start, f.end] for f in t.faults],
    )


def _q(v: list[float], q: float) -> float:
    return float(np.percentile(v, q)) if v else math.nan


def summarise(scores: list[CaseScore]) -> dict:
    """Per-class and total figures (the table's rows)."""
    rows = {}
    classes = sorted({s.klass for s in scores})
    for k in [*classes, "total"]:
        ss = [s for s in scores if k == "total" or s.klass == k]
        faults = sum(s.faults for s in ss)
        found = sum(s.found for s in ss)
        onset = [v for s in ss for v in s.onset_ms]
        dur = [abs(v) for s in ss for v in s.duration_ms]
        vr = [s.verdict_right for s in ss if s.verdict_right is not None]
        d_err = [abs(s.delay_error) for s in ss if s.delay_error is not None]
        d_per = [abs(s.delay_error_periods) for s in ss if s.delay_error_periods is not None]
        d_ok = [s.delay_ok for s in ss if s.delay_ok is not None]
        drift0 = [
            abs(s.drift_error) for s in ss if s.drift_error is not None and s.drift_truth == 0
        ]
        drift1 = [abs(s.drift_error) for s in ss if s.drift_error is not None and s.drift_truth]
        maps = [s.map_right for s in ss if s.map_right is not None]
        pols = [s.polarity_right for s in ss if s.polarity_right is not None]
        recalls = [s.recall for s in ss if s.recall is not None]
        rows[k] = dict(
            cases=len(ss),
            errors=sum(s.error is not None for s in ss),
            verdicts_right=sum(vr),
            verdicts_scored=len(vr),
            faults=faults,
            found=found,
            recall=found / faults if faults else None,
            worst_case_recall=min(recalls) if recalls else None,
            cases_recall_ge_095=sum(r >= 0.95 for r in recalls),
            cases_with_faults=len(recalls),
            false_events=sum(s.false_events for s in ss),
            other_events=sum(s.other_events for s in ss),
            onset_ms_median=_q(onset, 50),
            onset_ms_p95=_q(onset, 95),
            duration_ms_median=_q(dur, 50),
            duration_ms_p95=_q(dur, 95),
            delay_ok=sum(d_ok),
            delay_scored=len(d_ok),
            delay_ambiguous=sum(s.delay_ambiguous for s in ss if s.delay_truth is not None),
            delay_err_max_samples=max(d_err) if d_err else None,
            delay_err_max_periods=max(d_per) if d_per else None,
            drift_err_max_ppm_no_drift=max(drift0) if drift0 else None,
            drift_err_max_ppm_drift=max(drift1) if drift1 else None,
            map_right=sum(maps),
            map_scored=len(maps),
            polarity_right=sum(pols),
            polarity_scored=len(pols),
            seconds=sum(s.seconds for s in ss),
        )
    return rows
