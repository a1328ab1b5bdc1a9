"""Render RTP stream statistics: a text table and the JSON document. Rendering only.

Every figure comes from :class:`~validator.rtp.stats.StreamStats` or
:class:`~validator.rtp.decoding.DecodedAudio`; nothing is computed here.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import Any

from validator import __version__
from validator.rtp.capture import Capture
from validator.rtp.decoding import DecodedAudio
from validator.rtp.header import format_ssrc
from validator.rtp.stats import StreamStats

__all__ = ["JSON_SCHEMA", "JSON_SCHEMA_VERSION", "events_text", "streams_document",
           "streams_table"]

JSON_SCHEMA = "audio-validator/rtp-streams"
JSON_SCHEMA_VERSION = 1


def _f(v: float | None, fmt: str = "{:.3f}") -> str:
    return "-" if v is None else fmt.format(v)


def streams_table(stats: Sequence[StreamStats], *, capture: Capture | None = None,
                  ratings: Sequence[Any] = (),
                  collisions: Mapping[int, int] | None = None) -> str:
    """A fixed-width table, one row per stream (times in s, deltas and jitter in ms).

    Parameters
    ----------
    stats : sequence of StreamStats
    capture : Capture, optional
        Adds a heading line (file, frames, RTCP) and the capture's notes.
    ratings : sequence of StreamRating, optional
        E-model ratings in the order of ``stats``: one line under each row.
    collisions : mapping of int to int, optional
        SSRC -> streams using it (:func:`validator.rtp.stats.ssrc_collisions`),
        each listed as a note.

    Returns
    -------
    str
        Ends with a newline.
    """
    lines = []
    if capture is not None:
        lines.append(f"{capture.path}: {capture.frames} frames, {capture.udp_datagrams} UDP, "
                     f"{len(stats)} RTP stream(s), {capture.rtcp_packets} RTCP packet(s) "
                     "left out")
    head = (f"{'SSRC':<10} {'Source':>21} {'Destination':>21} {'Payload':>16} {'Pkts':>6} "
            f"{'Exp':>6} {'Lost':>6} {'Dup':>4} {'Reo':>4} {'Delta ms min/mean/max':>23} "
            f"{'Jitter ms mean/max':>18} {'Drift ppm':>9} {'Start s':>10} {'End s':>10}")
    lines.append(head)
    lines.append("-" * len(head))
    for k, s in enumerate(stats):
        payload = f"{s.codec or '?'}"
        if s.clock_rate_hz:
            payload += f"/{s.clock_rate_hz}"
        payload += f" pt{s.payload_type}"
        delta = f"{_f(s.min_delta_ms)}/{_f(s.mean_delta_ms)}/{_f(s.max_delta_ms)}"
        jit = f"{_f(s.mean_jitter_ms)}/{_f(s.max_jitter_ms)}"
        lines.append(
            f"{format_ssrc(s.ssrc):<10} {s.src:>21} {s.dst:>21} {payload:>16} {s.packets:>6} "
            f"{s.expected:>6} {s.lost:>6} {s.duplicates:>4} {s.reordered:>4} {delta:>23} "
            f"{jit:>18} {_f(s.clock_drift_ppm, '{:.1f}'):>9} {s.start_s:>10.3f} "
            f"{s.end_s:>10.3f}")
        odd = _stream_notes(s)
        if odd:
            lines.append(f"{'':<10} note: {'; '.join(odd)}")
        if k < len(ratings):
            lines.append(f"{'':<10} {ratings[k].summary()}")
    for x, count in (collisions or {}).items():
        lines.append(f"note: SSRC {format_ssrc(x)} is used by {count} streams (SSRC collision "
                     "or the same stream captured on several legs)")
    if capture is not None:
        lines += [f"note: {n}" for n in capture.notes]
    if not stats:
        lines.append("(no RTP stream found; give --port if the RTP is on a port that nothing "
                     "in the capture announces)")
    return "\n".join(lines) + "\n"


def _stream_notes(s: StreamStats) -> list[str]:
    """What the table row of a stream cannot show: wraps, duplicates, unknown PT, oddities."""
    odd = []
    if s.seq_wraps:
        odd.append(f"{s.seq_wraps} sequence wrap(s)")
    if s.duplicates:
        odd.append(f"lost counts {s.duplicates} duplicate(s) against the losses (tshark's "
                   f"rule); {s.missing} sequence number(s) actually missing")
    if s.clock_rate_hz is None:
        odd.append(f"payload type {s.payload_type} unknown: jitter needs --payload-type "
                   f"{s.payload_type}=ENC/RATE[/CH]")
    if s.empty_payloads:
        odd.append(f"{s.empty_payloads} empty payload(s)")
    if s.truncated_packets:
        odd.append(f"{s.truncated_packets} packet(s) cut by the snap length")
    if s.ssrc_changes:
        odd.append(f"{s.ssrc_changes} SSRC change(s)")
    if s.event_packets:
        odd.append(f"{s.event_packets} telephone-event packet(s)")
    if s.comfort_noise_packets:
        odd.append(f"{s.comfort_noise_packets} comfort-noise packet(s)")
    return odd


def events_text(decoded: DecodedAudio, *, max_events: int = 50) -> str:
    """One line per network event of a decoded stream (times on the decoded timeline)."""
    counts: dict[str, int] = {}
    for e in decoded.network_events:
        counts[e.type] = counts.get(e.type, 0) + e.packets if e.type == "loss" else \
            counts.get(e.type, 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
    lines = [f"decoded {format_ssrc(decoded.ssrc)}: {decoded.codec}, "
             f"{decoded.frames} samples x {decoded.channels} ch at "
             f"{decoded.sample_rate_hz} Hz "
             f"({decoded.duration_s:.3f} s); network events: {summary}"]
    for e in decoded.network_events[:max_events]:
        seqs = str(e.first_seq) if e.first_seq == e.last_seq else f"{e.first_seq}-{e.last_seq}"
        lines.append(f"  {e.type:<11} seq {seqs:<13} {e.start_s:10.4f} - {e.end_s:10.4f} s  "
                     f"{e.detail}")
    if len(decoded.network_events) > max_events:
        lines.append(f"  ... {len(decoded.network_events) - max_events} more")
    lines += [f"  note: {n}" for n in decoded.notes]
    return "\n".join(lines) + "\n"


def streams_document(capture: Capture, stats: Sequence[StreamStats], *,
                     decoded: DecodedAudio | None = None,
                     ratings: Sequence[Any] = ()) -> dict[str, object]:
    """The JSON document: ``{"streams": [row, ...], ...}`` with schema and tool version.

    Parameters
    ----------
    capture : Capture
    stats : sequence of StreamStats
        One per stream (:meth:`StreamStats.to_dict` rows).
    decoded : DecodedAudio, optional
        Adds ``"decoded"`` with the chosen stream's network events.
    ratings : sequence of StreamRating, optional
        E-model ratings in the order of ``stats``; each row gets their fields
        (``rated``, ``r_factor``, ``mos_cqe``, ``burst_ratio``,
        ``effective_loss_pct``, ``jitter_buffer``, ``emodel`` {inputs}...),
        added within schema version 1.

    Returns
    -------
    dict
    """
    doc: dict[str, object] = {
        "schema": JSON_SCHEMA,
        "schema_version": JSON_SCHEMA_VERSION,
        "tool_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "capture": capture.path,
        "frames": capture.frames,
        "udp_datagrams": capture.udp_datagrams,
        "rtcp_packets": capture.rtcp_packets,
        "notes": list(capture.notes),
        "streams": [s.to_dict() | (ratings[k].to_dict() if k < len(ratings) else {})
                    for k, s in enumerate(stats)],
    }
    if decoded is not None:
        doc["decoded"] = {
            "ssrc": format_ssrc(decoded.ssrc), "codec": decoded.codec,
            "sample_rate_hz": decoded.sample_rate_hz, "channels": int(decoded.channels),
            "samples": int(decoded.frames), "first_timestamp": decoded.first_timestamp,
            "notes": list(decoded.notes),
            "network_events": [e.to_dict() for e in decoded.network_events],
        }
    return doc
