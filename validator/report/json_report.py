"""JSON report: the fixed contract of a validation result.

Schema (``schema_version`` 1): ``schema_version``, ``tool {name, version}``,
``generated_at`` (UTC, ISO 8601), ``input {received, reference,
sample_rate_hz, channels, duration_s, reference_duration_s}``, ``verdict``
(``"pass" | "fail"``), ``alignment {delay_s, delay_samples,
delay_confidence, delay_ambiguous, method, drift_ppm, dtw_distance,
segments[], channel_map[], shared_clock, channels[]}``, ``channels[] {index,
rms_dbfs, peak_dbfs, reference_rms_dbfs, gain_error_db, frequency_hz,
frequency_error_hz, snr_db, thd_n_db, dc_offset, polarity_inverted,
judged_fraction, match_db}``, ``events[] {type, channel, start_s, end_s,
duration_s, level_db, description, start_sample, end_sample, cause}``,
``checks[] {name, passed, measured, limit, unit, description}``,
``notes[]``, ``truncation_s``, ``elapsed_s``, ``traces[]`` (decimated level
traces for plots), for RTP input ``rtp {streams[], network_events[]}``, and,
when quality scores were asked for (``--quality``), ``quality {visqol {mos_lqo,
mode, sample_rate_hz, reason, scored_s}, pesq {mos_lqo, mode, sample_rate_hz,
reason, scored_s}, windows[] {start_s, end_s, reference_start_s,
reference_end_s, visqol, pesq, not_computed {metric: reason}}, window_s, hop_s,
covered_fraction, elapsed_s}``: only the metrics asked for appear; ``mos_lqo``
(MOS-LQO, 1..5) is null when the score could not be computed, and ``reason``
then says why; window times are seconds on the received timeline
(``reference_*`` on the reference's). ``quality`` was added within version 1.
``alignment.channel_map``, ``.shared_clock``, ``.channels`` (each channel's
own alignment) and ``channels[].judged_fraction``, ``.match_db`` were added
within version 1: a reader that does not know them keeps working. So were the
E-model fields of each ``rtp.streams[]`` row (:meth:`validator.quality.rating.
StreamRating.to_dict`): ``rated``, ``not_rated_reason``, ``r_factor``,
``mos_cqe``, ``burst_ratio``, ``network_loss_pct``, ``effective_loss_pct``,
``late_packets``, ``jitter_buffer {type, size_ms, mean_wait_ms}`` and
``emodel {codec, ie, bpl, plc, source, one_way_delay_ms, delay_source,
packet_ms, ta_ms, ...}`` (null where not rated), and the ``mos_cqe`` check.
Times are seconds on the received file's timeline. The renderer computes
nothing: it only lays out the result.

``events[].level_db`` has one meaning per event ``type`` (the unit differs,
so compare it only between events of one type):

=========== ===============================================================
type        level_db
=========== ===============================================================
dropout     received level relative to the expected level over the span,
            dB (negative); -120.0 for digital zeros and for audio the
            receiver skipped (a zero-length event at the splice)
glitch      residual (received minus expected) level relative to the
            expected signal over the span, dB; 0.0 for audio the receiver
            inserted (a splice)
level       median level change over the span, dB (negative: a dip)
clipping    0.0: the run sits at full scale; not a measured peak
silence     received level, dBFS (AES17): the only absolute level
warp        largest time offset against the cross-correlation alignment,
            dB re 1 ms (``20 log10(ms)``, -60 at 1 us)
=========== ===============================================================
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from validator import __version__
from validator.io.atomic import write_text_atomic
from validator.result import QualityResult, ValidationResult

SCHEMA_VERSION = 1
TOOL_NAME = "audio-stream-validator"
#: The keys of each event, in order (``duration_s`` is a property of :class:`Event`).
EVENT_KEYS = ("type", "channel", "start_s", "end_s", "duration_s", "level_db", "description",
              "start_sample", "end_sample", "cause")


def _clean(x: Any) -> Any:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def to_dict(result: ValidationResult, *, generated_at: str | None = None,
            include_traces: bool = True) -> dict[str, Any]:
    """The JSON document of a result, as plain Python objects.

    Parameters
    ----------
    result : ValidationResult
    generated_at : str, optional
        Timestamp to record (default: now, UTC).
    include_traces : bool
        Include the decimated level traces.

    Returns
    -------
    dict
    """
    # (attributes, not asdict(), which deep-copies: the events are flat, and there may be
    # thousands)
    events = [{k: getattr(e, k) for k in EVENT_KEYS} for e in result.events]
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "generated_at": generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": asdict(result.input),
        "verdict": result.verdict,
        "alignment": asdict(result.alignment),
        "channels": [asdict(c) for c in result.channels],
        "events": events,
        "checks": [asdict(c) for c in result.checks],
        "notes": list(result.notes),
        "truncation_s": result.truncation_s,
        "elapsed_s": result.elapsed_s,
    }
    if result.rtp is not None:
        doc["rtp"] = result.rtp.to_dict()
    if result.quality is not None:
        doc["quality"] = quality_dict(result.quality)
    if include_traces:
        # (asdict() would copy each of the traces' thousands of values; they are plain floats,
        # and _clean() makes the lists)
        doc["traces"] = [{f.name: getattr(t, f.name) for f in fields(t)} for t in result.traces]
    return _clean(doc)


def quality_dict(q: QualityResult) -> dict[str, Any]:
    """The ``quality`` section: the metrics asked for, their windows, coverage and time."""
    names = [s.metric for s in q.scores]
    out: dict[str, Any] = {s.metric: {"mos_lqo": s.mos_lqo, "mode": s.mode,
                                      "sample_rate_hz": s.sample_rate_hz, "reason": s.reason,
                                      "scored_s": s.scored_s} for s in q.scores}
    out["windows"] = [{"start_s": w.start_s, "end_s": w.end_s,
                       "reference_start_s": w.reference_start_s,
                       "reference_end_s": w.reference_end_s,
                       **{n: getattr(w, n) for n in names},
                       "not_computed": dict(w.not_computed)} for w in q.windows]
    out.update(window_s=q.window_s, hop_s=q.hop_s, covered_fraction=q.covered_fraction,
               elapsed_s=q.elapsed_s)
    return out


def render_json(result: ValidationResult, **kwargs: Any) -> str:
    """The JSON report as text: indented, one line per event, trace or check, trailing newline.

    The items of the top-level lists of objects (``events``, ``checks``,
    ``channels``, ``traces``) are written one per line by the json module's C
    encoder, which does not indent: an hour with 1800 events would spend
    seconds in the indenting pure-Python encoder, and a line per event
    reads (and greps) better than a dozen.
    """
    return json_text(to_dict(result, **kwargs))


def json_text(doc: dict[str, Any]) -> str:
    """A JSON report document as :func:`render_json` lays it out (a batch's capture reports).

    Parameters
    ----------
    doc : dict
        :func:`to_dict`'s document (or a part of it); no NaN nor infinity.

    Returns
    -------
    str
        Indented text, the items of top-level lists of objects one per line, trailing
        newline.
    """
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            body = "[\n" + ",\n".join("    " + json.dumps(v, allow_nan=False)
                                       for v in value) + "\n  ]"
        else:
            body = json.dumps(value, indent=2, allow_nan=False).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def write_json(result: ValidationResult, path: str | os.PathLike[str]) -> Path:
    """Write the JSON report atomically; returns the path."""
    return write_text_atomic(path, render_json(result))
