"""Tie audio events to the network: the RTP section of a validation result.

An audio event on a decoded RTP stream either overlaps packets the network
lost (or that arrived too late) - ``cause = "network loss"`` - or it does not,
in which case the device or the receiver made it on its own -
``cause = "no network loss"``. Both timelines are the same: sample 0 of the
decoded audio is the first packet's RTP timestamp, and network events are
placed by RTP timestamp too (:mod:`validator.rtp.decoding`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from validator.io.audio import AudioSource
from validator.result import Event
from validator.rtp.decoding import DecodedAudio, NetworkEvent
from validator.rtp.header import TS_MODULUS
from validator.rtp.stats import StreamStats

#: Network events that take audio away.
LOSS_TYPES = ("loss", "late")
#: Slack when matching an audio event to a network event, s (fill lengths vary by a few samples).
MATCH_SLACK_S = 0.002


@dataclass(frozen=True)
class RtpSection:
    """What the report says about the RTP stream an audio file came from.

    Attributes
    ----------
    ssrc : str
        The validated stream's SSRC, ``"0x1234ABCD"``.
    codec : str
    streams : tuple of StreamStats
        Every RTP stream in the capture (the validated one first).
    network_events : tuple of NetworkEvent
        Of the validated stream, on the audio timeline.
    jitter_t_s, jitter_ms : tuple of float
        RFC 3550 interarrival jitter after each packet, against the packet's
        place on the audio timeline (s), for the report's plot.
    notes : tuple of str
    emodel : tuple of StreamRating
        The E-model rating of each stream, in the order of ``streams``
        (:mod:`validator.quality.rating`); empty when not rated.
    """

    ssrc: str
    codec: str
    streams: tuple[StreamStats, ...]
    network_events: tuple[NetworkEvent, ...]
    jitter_t_s: tuple[float, ...] = ()
    jitter_ms: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()
    emodel: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``rtp`` section: ``{ssrc, codec, streams[], network_events[], jitter}``.

        Each stream row carries its E-model fields (``StreamRating.to_dict``) when rated.
        """
        rows = [s.to_dict() for s in self.streams]
        for row, rating in zip(rows, self.emodel, strict=False):
            row.update(rating.to_dict())
        return {
            "ssrc": self.ssrc,
            "codec": self.codec,
            "streams": rows,
            "network_events": [e.to_dict() for e in self.network_events],
            "jitter": {"t_s": list(self.jitter_t_s), "jitter_ms": list(self.jitter_ms)},
            "notes": list(self.notes),
        }


def jitter_series(decoded: DecodedAudio, packets: Sequence[Any], *,
                  max_points: int = 4000) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """RFC 3550 interarrival jitter after each packet (A.8), on the audio timeline.

    Parameters
    ----------
    decoded : DecodedAudio
        Gives the clock rate and the first RTP timestamp (audio sample 0).
    packets : sequence of RtpPacket
        The stream's packets in arrival order.
    max_points : int
        The series is decimated (peak kept) to at most this many points.

    Returns
    -------
    t_s, jitter_ms : tuple of float
        Time of each packet on the audio timeline (s) and the jitter (ms).
    """
    clock = decoded.clock_rate_hz
    if clock <= 0 or len(packets) < 2:
        return (), ()
    from validator.rtp.table import PacketTable

    table = packets if isinstance(packets, PacketTable) else PacketTable.from_packets(packets)
    n = len(table) - 1  # points: packets 1.. against their predecessors
    step = max(1, -(-n // max_points))
    block = step * max(1, (1 << 18) // step)  # whole decimation groups per block
    t_out: list[float] = []
    j_out: list[float] = []
    state = [0.0]
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        ts = _ts_from(table.timestamp[lo:hi + 1], decoded.first_timestamp)
        arrival = table.time_ns[lo:hi + 1] * 1e-9
        d = np.abs((arrival[1:] - arrival[:-1]) - (ts[1:] - ts[:-1]) / clock)
        jit = _jitter_ms(d, state)
        t = ts[1:] / clock
        for g in range(0, hi - lo, step):  # the peak of each group of ``step`` points
            k = g + int(np.argmax(jit[g:g + step]))
            t_out.append(float(t[k]))
            j_out.append(float(jit[k]))
    return tuple(round(v, 5) for v in t_out), tuple(round(v, 4) for v in j_out)


def _ts_from(timestamps: np.ndarray, ts0: int) -> np.ndarray:
    """RTP timestamps relative to ``ts0``, in -2**31..2**31-1 ticks (``ts_delta``), int64."""
    half = TS_MODULUS // 2
    return (timestamps.astype(np.int64) - ts0 + half) % TS_MODULUS - half


def _jitter_ms(abs_d_s: np.ndarray, state: list[float]) -> np.ndarray:
    """RFC 3550 A.8 ``J += (|D| - J) / 16`` after each packet, in ms, continuing ``state[0]``."""
    j = state[0]
    vals = []
    for x in abs_d_s.tolist():
        j += (x - j) / 16.0
        vals.append(j * 1000.0)
    state[0] = j
    return np.asarray(vals, dtype=np.float64)


def link_causes(events: Sequence[Event], network_events: Sequence[NetworkEvent]) -> list[Event]:
    """Give every audio event its cause from the network events it overlaps.

    Parameters
    ----------
    events : sequence of Event
        Audio events on the decoded stream's timeline.
    network_events : sequence of NetworkEvent
        The stream's network events (same timeline).

    Returns
    -------
    list of Event
        The same events with ``cause`` set: ``"network loss"`` (the
        description names the RTP sequence numbers) or ``"no network loss"``.
    """
    losses = [n for n in network_events if n.type in LOSS_TYPES]
    out = []
    for e in events:
        hit = [n for n in losses
               if n.start_s - MATCH_SLACK_S <= e.end_s and n.end_s + MATCH_SLACK_S >= e.start_s]
        if hit:
            seqs = ", ".join(f"{n.first_seq}" if n.first_seq == n.last_seq
                             else f"{n.first_seq}-{n.last_seq}" for n in hit)
            kinds = "late" if all(n.type == "late" for n in hit) else "lost"
            out.append(replace(e, cause="network loss",
                               description=f"{e.description}; RTP seq {seqs} {kinds} on the "
                                           "network"))
        else:
            out.append(replace(e, cause="no network loss"))
    return out


def network_notes(network_events: Sequence[NetworkEvent], events: Sequence[Event]) -> list[str]:
    """Lost packets that left no audio event (e.g. lost during silence), as notes."""
    notes = []
    for n in network_events:
        if n.type not in LOSS_TYPES:
            continue
        if not any(n.start_s - MATCH_SLACK_S <= e.end_s and n.end_s + MATCH_SLACK_S >= e.start_s
                   for e in events):
            notes.append(f"RTP seq {n.first_seq}-{n.last_seq} {n.type} at {n.start_s:.3f} s "
                         "left no audible fault (the reference is silent or quiet there)")
    return notes


def decode_capture(path: str | os.PathLike[str], ssrc: str | int | None,
                    payload_types: dict[int, str] | None, *,
                    port: int | None = None) -> tuple[AudioSource, Any, Any]:
    """Decode a capture's RTP stream onto its RTP-timestamp timeline.

    Parameters
    ----------
    path : str or Path
        A pcap/pcapng capture.
    ssrc : str or int, optional
        The stream to decode, when the capture holds several.
    payload_types : dict, optional
        ``{97: "L24/48000/2"}`` for dynamic payload types no SDP describes.
    port : int, optional
        The UDP port that carries the RTP (see :func:`validator.rtp.read_capture`).

    Returns
    -------
    source : AudioSource
        The decoded audio (lost packets zero-filled), read in blocks from the
        decoded stream's temporary WAV; close it, then ``decoded.close()``
        deletes the WAV.
    decoded : DecodedAudio
    capture : Capture

    Raises
    ------
    CaptureError
        No usable RTP audio stream, or several and no ``ssrc``; ``port`` out of range.
    """
    from validator.rtp import decode, read_capture, select_stream

    capture = read_capture(path, port=port, payload_types=payload_types)
    stream = select_stream(capture, ssrc)
    decoded = decode(stream)
    return decoded.source(name=str(path)), decoded, capture



def rtp_section(decoded: DecodedAudio, capture: Any, *, emodel: Any = None) -> RtpSection:
    """The report's RTP section for the validated stream (all streams listed).

    ``emodel`` (a :class:`validator.quality.rating.EModelSettings`, defaults
    when None) sets how every stream is rated with the E-model.
    """
    from validator.quality.rating import rate_capture
    from validator.rtp import analyze
    from validator.rtp.header import format_ssrc

    chosen = [s for s in capture.streams if s.ssrc == decoded.ssrc]
    others = [s for s in capture.streams if s.ssrc != decoded.ssrc]
    stream_stats = (decoded.stats, *(analyze(s) for s in others))
    packets = chosen[0].packets if chosen else ()
    t_s, jit = jitter_series(decoded, packets)
    ratings = rate_capture(capture, [*chosen[:1], *others], emodel) if chosen else ()
    return RtpSection(format_ssrc(decoded.ssrc), decoded.codec, stream_stats,
                      tuple(decoded.network_events), t_s, jit, tuple(decoded.notes), ratings)
