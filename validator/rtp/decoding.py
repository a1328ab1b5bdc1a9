"""Decode an RTP stream to audio on its RTP-timestamp timeline: :func:`decode`.

Samples are placed by RTP timestamp, never by arrival order (RFC 3550 5.1:
the timestamp is the sampling instant of the first octet), so a lost packet
leaves a zero-filled gap of exactly its length at exactly its place and the
timeline never shifts. Sample 0 is the RTP timestamp of the stream's first
packet (the lowest extended sequence number), as ``truth.json``'s
``dropped_intervals_s`` in the team's real captures.

Codecs: PCMU/PCMA (ITU-T G.711) and L8/L16/L24 (RFC 3551 4.5.10-11,
RFC 3190: big-endian, interleaved, any channel count and packet time) through
:func:`validator.codecs.decode_samples`, G.722 (16 kHz audio on an
8 kHz RTP clock, RFC 3551 4.5.2) and Opus (RFC 7587, always a 48 kHz clock)
through PyAV (the optional extra ``codecs``).

What the network did is reported as :class:`NetworkEvent` on the decoded
timeline: ``loss`` (sequence numbers never received, merged when
contiguous), ``duplicate``, ``reorder`` (arrived after a later packet but
placed right), ``late`` (beyond a jitter buffer, when one is simulated),
``ts_jump`` (consecutive sequence numbers whose timestamps do not follow) and
``ssrc_change``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from validator.codecs.pcm import decode_samples
from validator.codecs.sizes import SAMPLE_BYTES, full_scale
from validator.errors import CaptureError, MissingDependencyError
from validator.rtp.capture import RtpPacket, RtpStream
from validator.rtp.header import format_ssrc
from validator.rtp.payload import PayloadFormat
from validator.rtp.stats import StreamStats, analyze, extend_sequence, extend_timestamps

__all__ = ["EVENT_TYPES", "DecodedAudio", "NetworkEvent", "decode"]

#: The kinds of :class:`NetworkEvent`.
EVENT_TYPES = ("loss", "duplicate", "reorder", "late", "ts_jump", "ssrc_change")
#: Longest decoded timeline accepted, s (a guard against absurd timestamp jumps).
MAX_TIMELINE_S = 24 * 3600.0
#: A timeline longer than this many times the audio the packets carry (and longer than
#: LOSS_ALLOWANCE_S) is refused: sequence numbers or timestamps that leap by tens of
#: thousands of packets describe a corrupt stream, not a loss to zero-fill.
MAX_TIMELINE_PER_AUDIO = 1000
#: Zero-filled timeline always accepted whatever the audio present, s.
LOSS_ALLOWANCE_S = 600.0


@dataclass(frozen=True)
class NetworkEvent:
    """Something the network did to the stream, placed on the decoded timeline.

    Attributes
    ----------
    type : str
        One of :data:`EVENT_TYPES`.
    first_seq, last_seq : int
        RTP sequence numbers (16-bit, as on the wire) of the first and last
        packet concerned; for ``loss`` the first and last missing ones.
    start_s, end_s : float
        Span on the decoded audio timeline, s from the first packet's RTP
        timestamp (``start_sample / sample_rate_hz``). For a loss: where the
        zero-filled gap is; for a duplicate, reorder or late packet: where
        that packet's audio belongs; for a ts_jump: the gap (or, for a
        backwards jump, an empty span at the jump).
    start_sample, end_sample : int
        The same span in samples, end exclusive.
    packets : int
        Packets concerned (e.g. the number of packets lost).
    detail : str
        A short human explanation.
    """

    type: str
    first_seq: int
    last_seq: int
    start_s: float
    end_s: float
    start_sample: int = 0
    end_sample: int = 0
    packets: int = 1
    detail: str = ""

    @property
    def duration_s(self) -> float:
        """``end_s - start_s``."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict."""
        return {"type": self.type, "first_seq": self.first_seq, "last_seq": self.last_seq,
                "start_s": self.start_s, "end_s": self.end_s,
                "start_sample": self.start_sample, "end_sample": self.end_sample,
                "packets": self.packets, "detail": self.detail}


@dataclass(frozen=True, eq=False)
class DecodedAudio:
    """A decoded RTP stream.

    Attributes
    ----------
    audio : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Sample 0 is the first packet's RTP timestamp; gaps are digital zeros.
    sample_rate_hz : int
        Audio sample rate (16000 for G.722, whose RTP clock is 8000).
    network_events : tuple of NetworkEvent
        In timeline order.
    stats : StreamStats
        :func:`validator.rtp.analyze` of the same stream.
    codec : str
        Encoding name.
    ssrc : int
    first_timestamp : int
        RTP timestamp of sample 0.
    clock_rate_hz : int
        RTP clock rate.
    notes : tuple of str
        Oddities (packets of other payload types skipped, truncated payloads).
    """

    audio: np.ndarray
    sample_rate_hz: int
    network_events: tuple[NetworkEvent, ...]
    stats: StreamStats
    codec: str = ""
    ssrc: int = 0
    first_timestamp: int = 0
    clock_rate_hz: int = 0
    notes: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        """Length of the decoded timeline, s."""
        return self.audio.shape[0] / self.sample_rate_hz

    @property
    def lost_spans_samples(self) -> tuple[tuple[int, int], ...]:
        """``(start, end)`` sample spans zero-filled for lost (or late) packets."""
        return tuple((e.start_sample, e.end_sample) for e in self.network_events
                     if e.type in ("loss", "late"))

    def events_of(self, kind: str) -> tuple[NetworkEvent, ...]:
        """The events of one type."""
        return tuple(e for e in self.network_events if e.type == kind)


# --------------------------------------------------------------------------- codecs

def _av_decoder(fmt: PayloadFormat, channels: int) -> Callable[[bytes], np.ndarray]:
    """A per-packet decoder through PyAV returning (n, channels) float64."""
    try:
        import av
    except ImportError as exc:
        raise MissingDependencyError(
            f"decoding {fmt.encoding} needs PyAV: pip install "
            "'audio-stream-validator[codecs]' (or pip install av)") from exc
    name = "g722" if fmt.encoding == "G722" else "opus"
    ctx: Any = av.CodecContext.create(name, "r")
    ctx.sample_rate = fmt.sample_rate_hz
    ctx.layout = "stereo" if channels == 2 else "mono"

    def run(payload: bytes) -> np.ndarray:
        out = []
        try:
            frames = ctx.decode(av.Packet(payload))
        except (av.FFmpegError, ValueError):  # a corrupt packet: no audio from it
            return np.zeros((0, channels))
        for fr in frames:
            a = fr.to_ndarray()
            if a.dtype == np.int16:
                a = a.astype(np.float64) / full_scale(16)
            else:
                a = a.astype(np.float64)
            if fr.format.is_planar:
                a = a.T
            else:
                a = a.reshape(-1, fr.layout.nb_channels)
            if a.shape[1] != channels:
                a = a[:, :channels] if a.shape[1] > channels else np.repeat(a, channels, axis=1)
            out.append(a)
        return np.concatenate(out) if out else np.zeros((0, channels))

    return run


def _channels(fmt: PayloadFormat, packets: list[RtpPacket]) -> int:
    if fmt.encoding == "opus":  # RFC 7587: rtpmap always says /2; the TOC byte's s bit tells
        return 2 if any(p.payload and p.payload[0] & 0x04 for p in packets[:50]) else 1
    if fmt.encoding == "G722":
        return 1
    return fmt.channels


# --------------------------------------------------------------------------- decode

def _event(kind: str, first_seq: int, last_seq: int, a: int, b: int, fs: int, n: int = 1,
           detail: str = "") -> NetworkEvent:
    return NetworkEvent(kind, first_seq & 0xFFFF, last_seq & 0xFFFF, a / fs, b / fs, a, b, n,
                        detail)


def decode(stream: RtpStream, *, jitter_buffer_ms: float | None = None,
           max_ts_jump_s: float = 10.0) -> DecodedAudio:
    """Decode a stream's audio, placed by RTP timestamp, with the network events.

    Four steps, one function each: arrival classification
    (:func:`_classify_arrivals`: duplicates, reordering, lateness), payload
    decoding (:func:`_decode_payloads`), placement by timestamp
    (:func:`_place`, with timestamp jumps), and the loss and arrival events
    (:func:`_loss_events`, :func:`_arrival_events`).

    Parameters
    ----------
    stream : RtpStream
        From :func:`validator.rtp.read_capture` / :func:`select_stream`.
    jitter_buffer_ms : float, optional
        Simulate a receiver with this much buffering: a packet arriving more
        than ``jitter_buffer_ms`` after its due time (first arrival + its RTP
        time offset) is reported as ``late`` and its audio zero-filled, as a
        real receiver would drop it. Default: keep every packet.
    max_ts_jump_s : float
        A timestamp jump between consecutive sequence numbers larger than
        this (or backwards) is reported as ``ts_jump`` and *not* turned into
        silence: the timeline continues as if the timestamps had followed.
        Smaller forward jumps become zero-filled gaps (e.g. silence
        suppression) and are reported too.

    Returns
    -------
    DecodedAudio

    Raises
    ------
    CaptureError
        The payload type is unknown (give ``payload_types`` to
        :func:`read_capture`, or ``--payload-type`` on the command line) or
        not an audio codec this package decodes; or no packet carries audio;
        or the timeline is absurd: longer than ``MAX_TIMELINE_S``, or longer
        than ``LOSS_ALLOWANCE_S`` and ``MAX_TIMELINE_PER_AUDIO`` times the
        audio the packets carry (a corrupt stream would otherwise be
        zero-filled into gigabytes).
    MissingDependencyError
        G.722 or Opus without PyAV (install the extra ``codecs``).
    """
    segments = stream.segments()
    if len(segments) > 1:
        return _decode_segments(stream, segments, jitter_buffer_ms=jitter_buffer_ms,
                                max_ts_jump_s=max_ts_jump_s)
    fmt, where = _decodable_format(stream)
    stats = analyze(stream)
    pt = stream.payload_type
    packets = [p for p in stream.packets if p.payload_type == pt]
    notes = _other_payload_notes(stream, len(packets))
    channels = _channels(fmt, packets)
    tl = _Timeline.of(packets, fmt)
    arrivals = _classify_arrivals(packets, tl, jitter_buffer_ms)
    order = sorted(arrivals.accepted)
    chunks, truncated = _decode_payloads(fmt, [packets[arrivals.accepted[e]] for e in order],
                                         channels)
    if truncated:
        notes.append(f"{truncated} packets were cut short (snap length or odd payload size): "
                     "only their whole samples were decoded")
    placement = _place(packets, order, arrivals.accepted, chunks, tl, max_ts_jump_s)
    notes += placement.notes
    keep = [k for k in range(len(order)) if placement.offsets[k] >= 0]
    audio = _assemble(chunks, placement.offsets, keep, channels, tl.fs, where, len(packets))
    placed = [(order[k], placement.offsets[k], chunks[k].shape[0]) for k in keep]
    late_seqs = {packets[i].sequence for i in arrivals.late}
    dur_samples = int(round(np.median([c.shape[0] for c in chunks]))) if chunks else 0
    events = (placement.events + _loss_events(placed, arrivals, late_seqs, tl.fs)
              + _arrival_events(packets, arrivals, tl, placement.shift, dur_samples,
                                jitter_buffer_ms))
    events.sort(key=lambda ev: (ev.start_sample, EVENT_TYPES.index(ev.type)))
    return DecodedAudio(audio, tl.fs, tuple(events), stats, fmt.encoding, stream.ssrc,
                        tl.origin_ts & 0xFFFFFFFF, tl.clock, tuple(notes))


def _decodable_format(stream: RtpStream) -> tuple[PayloadFormat, str]:
    """The stream's payload format, and how messages name the stream.

    Raises
    ------
    CaptureError
        The payload type is unknown, or not an audio codec this package decodes.
    """
    name = stream.path or "capture"
    fmt = stream.format
    where = f"{name}: stream {format_ssrc(stream.ssrc)} ({stream.src_endpoint} -> " \
            f"{stream.dst_endpoint})"
    if fmt is None:
        raise CaptureError(f"{where}: unknown payload type {stream.payload_type} (dynamic, and "
                           "no SDP in the capture names it); give it, e.g. --payload-type "
                           f"{stream.payload_type}=L24/48000/2")
    if not fmt.decodable:
        raise CaptureError(f"{where}: payload {fmt.encoding} (PT {stream.payload_type}) is not "
                           "an audio codec this tool decodes (PCMU, PCMA, L8, L16, L24, G722, "
                           "opus)")
    return fmt, where


def _other_payload_notes(stream: RtpStream, n_audio: int) -> list[str]:
    """A note on the packets of other payload types (comfort noise, DTMF...), if any."""
    skipped = len(stream.packets) - n_audio
    if not skipped:
        return []
    pt = stream.payload_type
    others = sorted({p.payload_type for p in stream.packets if p.payload_type != pt})
    return [f"{skipped} packets of other payload types {others} carry no audio here "
            "(comfort noise, telephone-event or another codec)"]


@dataclass(frozen=True)
class _Timeline:
    """Extended sequence numbers and timestamps of a stream's packets, and its clocks.

    Attributes
    ----------
    ext_seq, ext_ts : list of int
        RFC 3550 A.1 extended sequence numbers and unwrapped timestamps, in
        arrival order.
    clock : int
        RTP clock rate, Hz.
    fs : int
        Audio sample rate, Hz.
    ratio : float
        ``fs / clock`` (2 for G.722).
    origin_ts : int
        Extended timestamp of sample 0: the packet with the lowest extended
        sequence number.
    """

    ext_seq: list[int]
    ext_ts: list[int]
    clock: int
    fs: int
    ratio: float
    origin_ts: int

    @classmethod
    def of(cls, packets: list[RtpPacket], fmt: PayloadFormat) -> _Timeline:
        """The timeline of packets (arrival order) of one payload format."""
        ext_seq = extend_sequence([p.sequence for p in packets])
        ext_ts = extend_timestamps([p.timestamp for p in packets])
        i0 = min(range(len(packets)), key=lambda i: ext_seq[i])
        return cls(ext_seq, ext_ts, fmt.clock_rate_hz, fmt.sample_rate_hz,
                   fmt.sample_rate_hz / fmt.clock_rate_hz, ext_ts[i0])

    def span_of(self, i: int, shift: int, dur_samples: int) -> tuple[int, int]:
        """Where packet ``i``'s audio belongs on the timeline, samples (``shift``: rebasing)."""
        a = int(round((self.ext_ts[i] - self.origin_ts - shift) * self.ratio))
        return max(a, 0), max(a, 0) + dur_samples


@dataclass
class _Arrivals:
    """Packets by what arrival order says of them (indices into the packet list).

    Attributes
    ----------
    accepted : dict of int to int
        Extended sequence number -> index of the packet placed on the timeline.
    seen : set of int
        Extended sequence numbers that arrived at all.
    duplicates, reordered, late : list of int
        Packets that repeat a sequence number, that arrived after a later
        one, and that arrived beyond the jitter buffer (not placed).
    """

    accepted: dict[int, int] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    duplicates: list[int] = field(default_factory=list)
    reordered: list[int] = field(default_factory=list)
    late: list[int] = field(default_factory=list)


def _classify_arrivals(packets: list[RtpPacket], tl: _Timeline,
                       jitter_buffer_ms: float | None) -> _Arrivals:
    """Duplicates, reordering and lateness, in arrival order.

    A packet is late when it arrives more than ``jitter_buffer_ms`` after its
    due time: the first packet's arrival plus its RTP time offset from it.
    """
    out = _Arrivals()
    top = None
    t_first = packets[0].time_ns
    ts_first_arrival = tl.ext_ts[0]
    for i, p in enumerate(packets):
        e = tl.ext_seq[i]
        if e in out.seen:
            out.duplicates.append(i)
            continue
        out.seen.add(e)
        if top is not None and e < top:
            out.reordered.append(i)
        top = e if top is None or e > top else top
        if jitter_buffer_ms is not None:
            due_ns = t_first + (tl.ext_ts[i] - ts_first_arrival) * 1e9 / tl.clock
            if p.time_ns - due_ns > jitter_buffer_ms * 1e6:
                out.late.append(i)
                continue
        out.accepted[e] = i
    return out


def _decode_payloads(fmt: PayloadFormat, packets: list[RtpPacket], channels: int
                     ) -> tuple[list[np.ndarray], int]:
    """Each packet's audio, shape (n, channels) float64, and how many were cut short.

    Sample-based codecs decode in one block (only whole frames of a cut
    payload); G.722 and Opus packet by packet through PyAV.
    """
    truncated = 0
    if fmt.encoding in SAMPLE_BYTES:
        frame_bytes = SAMPLE_BYTES[fmt.encoding] * channels
        lengths = []
        parts = []
        for p in packets:
            pl = p.payload
            whole = len(pl) - len(pl) % frame_bytes
            if whole != len(pl) or p.truncated:
                truncated += 1
            lengths.append(whole // frame_bytes)
            parts.append(pl[:whole])
        block = decode_samples(fmt.encoding, b"".join(parts), channels)
        bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return [block[bounds[k]:bounds[k + 1]] for k in range(len(packets))], truncated
    run = _av_decoder(fmt, channels)
    chunks = []
    for p in packets:
        truncated += p.truncated
        chunks.append(run(p.payload) if p.payload else np.zeros((0, channels)))
    return chunks, truncated


@dataclass
class _Placement:
    """Where each decoded packet goes on the timeline.

    Attributes
    ----------
    offsets : list of int
        First sample of each packet (in sequence order); -1 for a packet
        before the first one's timestamp (left out).
    shift : int
        Clock units removed by rebasing large timestamp jumps, at the end.
    events : list of NetworkEvent
        The ``ts_jump`` events.
    notes : list of str
        Packets left out.
    """

    offsets: list[int] = field(default_factory=list)
    shift: int = 0
    events: list[NetworkEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _place(packets: list[RtpPacket], order: list[int], accepted: dict[int, int],
           chunks: list[np.ndarray], tl: _Timeline, max_ts_jump_s: float) -> _Placement:
    """Place each packet by its timestamp; report and absorb timestamp jumps.

    Between consecutive sequence numbers a jump of at least one clock tick is
    a ``ts_jump``: a forward one within ``max_ts_jump_s`` leaves a silent
    gap, a backward one overlaps (the later packet wins), a larger one is
    rebased away so that the timeline stays continuous. Across lost packets
    only a large jump is rebased (silently: the loss event reports the gap).
    """
    out = _Placement()
    prev: tuple[int, int, int] | None = None  # extended seq, extended ts, samples
    for k, e in enumerate(order):
        i = accepted[e]
        rel = tl.ext_ts[i] - tl.origin_ts - out.shift
        if prev is not None:
            rebased = _timestamp_step(out, prev, e, i, packets, accepted, tl, max_ts_jump_s)
            if rebased:
                rel = tl.ext_ts[i] - tl.origin_ts - out.shift
        off = int(round(rel * tl.ratio))
        if off < 0:
            out.notes.append(f"packet seq {packets[i].sequence} lies before the first packet's "
                             "timestamp and was left out")
            off = -1
        out.offsets.append(off)
        if off >= 0:
            prev = (e, tl.ext_ts[i], chunks[k].shape[0])
    return out


def _timestamp_step(out: _Placement, prev: tuple[int, int, int], e: int, i: int,
                    packets: list[RtpPacket], accepted: dict[int, int], tl: _Timeline,
                    max_ts_jump_s: float) -> bool:
    """Check the timestamp step from the previous placed packet to packet ``i``.

    Appends a ``ts_jump`` event to ``out`` and rebases ``out.shift`` as
    :func:`_place` says; returns whether the shift changed.
    """
    prev_e, prev_ts, prev_len = prev
    clock, ratio = tl.clock, tl.ratio
    gap_pkts = e - prev_e - 1
    expected_step = prev_len / ratio * (gap_pkts + 1)
    actual = tl.ext_ts[i] - prev_ts
    jump = actual - expected_step
    if gap_pkts == 0 and abs(jump) >= 1 and prev_len > 0:
        a = out.offsets[-1] + prev_len
        big = actual < 0 or jump / clock > max_ts_jump_s
        if big:
            out.shift += int(round(jump))
        b = a if big or jump < 0 else a + int(round(jump * ratio))
        if big:
            how = "; timeline kept continuous"
        elif jump < 0:
            how = "; the packets overlap and the later one wins"
        else:
            how = "; gap left silent"
        detail = (f"RTP timestamp jumped by {jump / clock * 1000:+.3f} ms between "
                  f"consecutive packets{how}")
        if packets[i].marker and not big and jump > 0:
            detail += " (marker bit: talkspurt start)"
        out.events.append(_event("ts_jump", packets[accepted[prev_e]].sequence,
                                 packets[i].sequence, a, b, tl.fs, 2, detail))
        return big
    if gap_pkts > 0 and (actual < 0 or (actual - expected_step) / clock > max_ts_jump_s):
        out.shift += int(round(actual - expected_step))
        return True
    return False


def _assemble(chunks: list[np.ndarray], offsets: list[int], keep: list[int], channels: int,
              fs: int, where: str, n_packets: int) -> np.ndarray:
    """The decoded timeline: every kept chunk at its offset, zeros elsewhere, clipped to [-1, 1).

    Raises
    ------
    CaptureError
        No samples at all, or an absurd timeline (:func:`decode`).
    """
    total = max((offsets[k] + chunks[k].shape[0] for k in keep), default=0)
    if total == 0:
        raise CaptureError(f"{where}: no audio samples in {n_packets} packets "
                           "(empty payloads?)")
    if total / fs > MAX_TIMELINE_S:
        raise CaptureError(f"{where}: the RTP timestamps span {total / fs:.0f} s, more than "
                           f"{MAX_TIMELINE_S:.0f} s; the stream is corrupt")
    present = sum(chunks[k].shape[0] for k in keep)
    if total > max(MAX_TIMELINE_PER_AUDIO * present, LOSS_ALLOWANCE_S * fs):
        raise CaptureError(f"{where}: the packets carry {present / fs:.3f} s of audio but their "
                           f"sequence numbers and timestamps span {total / fs:.0f} s; the "
                           "stream is corrupt")
    audio = np.zeros((total, channels), dtype=np.float64)
    for k in keep:
        c = chunks[k]
        if c.shape[0]:
            audio[offsets[k]:offsets[k] + c.shape[0]] = c
    np.clip(audio, -1.0, np.nextafter(1.0, 0.0), out=audio)
    return audio


def _loss_events(placed: list[tuple[int, int, int]], arrivals: _Arrivals, late_seqs: set[int],
                 fs: int) -> list[NetworkEvent]:
    """Runs of sequence numbers that never arrived, between consecutive placed packets.

    ``placed`` holds ``(extended seq, offset, samples)`` of each placed packet
    in sequence order. Without late packets each gap is one ``loss`` event
    over the whole zero-filled gap; with them (``late_seqs``, 16-bit), a gap
    splits around the late ones, each run placed in proportion.
    """
    if late_seqs:
        return _losses_without(late_seqs, placed, arrivals.accepted, fs)
    events: list[NetworkEvent] = []
    for (e1, o1, n1), (e2, o2, _n2) in pairwise(placed):
        if e2 - e1 > 1:
            missing = [x for x in range(e1 + 1, e2) if x not in arrivals.accepted]
            if not missing:
                continue
            a, b = o1 + n1, max(o1 + n1, o2)
            events.append(_event("loss", e1 + 1, e2 - 1, a, b, fs, e2 - e1 - 1,
                                 f"{len(missing)} packet(s) never arrived"))
    return events


def _arrival_events(packets: list[RtpPacket], arrivals: _Arrivals, tl: _Timeline, shift: int,
                    dur_samples: int, jitter_buffer_ms: float | None) -> list[NetworkEvent]:
    """The ``late``, ``duplicate`` and ``reorder`` events, each where its packet's audio belongs."""
    events = []
    kinds = (("late", arrivals.late, f"arrived beyond the {jitter_buffer_ms:g} ms jitter buffer"
              if jitter_buffer_ms is not None else ""),
             ("duplicate", arrivals.duplicates, "same sequence number arrived again"),
             ("reorder", arrivals.reordered,
              "arrived after a later packet; placed by its timestamp"))
    for kind, indices, detail in kinds:
        for i in indices:
            a, b = tl.span_of(i, shift, dur_samples)
            events.append(_event(kind, packets[i].sequence, packets[i].sequence, a, b, tl.fs,
                                 1, detail))
    return events


def _losses_without(late_seqs: set[int], placed: list[tuple[int, int, int]],
                    accepted: dict[int, int], fs: int) -> list[NetworkEvent]:
    """Loss events that leave out the sequence numbers that arrived late (not 'lost')."""
    out: list[NetworkEvent] = []
    for (e1, o1, n1), (e2, o2, _n2) in pairwise(placed):
        if e2 - e1 <= 1:
            continue
        run: list[int] = []
        for x in range(e1 + 1, e2 + 1):
            if x < e2 and x not in accepted and (x & 0xFFFF) not in late_seqs:
                run.append(x)
                continue
            if run:
                per = (max(o1 + n1, o2) - (o1 + n1)) / (e2 - e1 - 1)
                a = o1 + n1 + int(round((run[0] - e1 - 1) * per))
                b = o1 + n1 + int(round((run[-1] - e1) * per))
                out.append(_event("loss", run[0], run[-1], a, b, fs, len(run),
                                  f"{len(run)} packet(s) never arrived"))
                run = []
    return out


def _decode_segments(stream: RtpStream, segments: list[RtpStream], *,
                     jitter_buffer_ms: float | None, max_ts_jump_s: float) -> DecodedAudio:
    """Decode an SSRC-changing stream: each SSRC on its own, joined by arrival time."""
    parts = [decode(s, jitter_buffer_ms=jitter_buffer_ms, max_ts_jump_s=max_ts_jump_s)
             for s in segments]
    fs = parts[0].sample_rate_hz
    channels = max(p.audio.shape[1] for p in parts)
    offsets = [0]
    for k in range(1, len(parts)):
        prev_end = offsets[-1] + parts[k - 1].audio.shape[0]
        arrival_gap_s = (segments[k].packets[0].time_ns - segments[k - 1].packets[0].time_ns) / 1e9
        offsets.append(max(prev_end, offsets[-1] + int(round(arrival_gap_s * fs))))
    audio = np.zeros((offsets[-1] + parts[-1].audio.shape[0], channels))
    events: list[NetworkEvent] = []
    notes: list[str] = []
    for k, (part, off) in enumerate(zip(parts, offsets, strict=True)):
        audio[off:off + part.audio.shape[0], :part.audio.shape[1]] = part.audio
        for ev in part.network_events:
            a, b = ev.start_sample + off, ev.end_sample + off
            events.append(NetworkEvent(ev.type, ev.first_seq, ev.last_seq, a / fs, b / fs, a, b,
                                       ev.packets, ev.detail))
        notes += list(part.notes)
        if k:
            a = offsets[k - 1] + parts[k - 1].audio.shape[0]
            old, new = segments[k - 1], segments[k]
            events.append(_event("ssrc_change", old.packets[-1].sequence,
                                 new.packets[0].sequence, a, off, fs, 2,
                                 f"SSRC {format_ssrc(old.ssrc)} -> {format_ssrc(new.ssrc)}: "
                                 "new sequence and timestamp origin; placed by arrival time"))
    events.sort(key=lambda ev: (ev.start_sample, EVENT_TYPES.index(ev.type)))
    return DecodedAudio(audio, fs, tuple(events), analyze(stream), parts[0].codec, stream.ssrc,
                        parts[0].first_timestamp, parts[0].clock_rate_hz, tuple(notes))
