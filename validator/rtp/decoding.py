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
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from validator.codecs.pcm import decode_samples
from validator.codecs.sizes import SAMPLE_BYTES, full_scale
from validator.errors import CaptureError, MissingDependencyError
from validator.rtp.capture import RtpPacket, RtpStream, format_ssrc
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
    stats = analyze(stream)
    notes: list[str] = []
    pt = stream.payload_type
    packets = [p for p in stream.packets if p.payload_type == pt]
    skipped = len(stream.packets) - len(packets)
    if skipped:
        others = sorted({p.payload_type for p in stream.packets if p.payload_type != pt})
        notes.append(f"{skipped} packets of other payload types {others} carry no audio here "
                     "(comfort noise, telephone-event or another codec)")
    clock = fmt.clock_rate_hz
    fs = fmt.sample_rate_hz
    ratio = fs / clock
    channels = _channels(fmt, packets)
    ext_seq = extend_sequence([p.sequence for p in packets])
    ext_ts = extend_timestamps([p.timestamp for p in packets])
    events: list[NetworkEvent] = []

    # first packet: the lowest extended sequence number
    i0 = min(range(len(packets)), key=lambda i: ext_seq[i])
    origin_ts = ext_ts[i0]
    t_first = packets[0].time_ns
    ts_first_arrival = ext_ts[0]

    # arrival-order pass: duplicates, reordering, lateness
    seen: set[int] = set()
    top = None
    accepted: dict[int, int] = {}  # ext seq -> packet index
    pending_dup: list[int] = []
    pending_reorder: list[int] = []
    pending_late: list[int] = []
    for i, p in enumerate(packets):
        e = ext_seq[i]
        if e in seen:
            pending_dup.append(i)
            continue
        seen.add(e)
        if top is not None and e < top:
            pending_reorder.append(i)
        top = e if top is None or e > top else top
        if jitter_buffer_ms is not None:
            due_ns = t_first + (ext_ts[i] - ts_first_arrival) * 1e9 / clock
            if p.time_ns - due_ns > jitter_buffer_ms * 1e6:
                pending_late.append(i)
                continue
        accepted[e] = i

    # decode each accepted packet, in sequence order
    order = sorted(accepted)
    truncated = 0
    if fmt.encoding in SAMPLE_BYTES:
        frame_bytes = SAMPLE_BYTES[fmt.encoding] * channels
        lengths = []
        parts = []
        for e in order:
            pl = packets[accepted[e]].payload
            whole = len(pl) - len(pl) % frame_bytes
            if whole != len(pl) or packets[accepted[e]].truncated:
                truncated += 1
            lengths.append(whole // frame_bytes)
            parts.append(pl[:whole])
        block = decode_samples(fmt.encoding, b"".join(parts), channels)
        bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        chunks = [block[bounds[k]:bounds[k + 1]] for k in range(len(order))]
    else:
        run = _av_decoder(fmt, channels)
        chunks = []
        for e in order:
            p = packets[accepted[e]]
            truncated += p.truncated
            chunks.append(run(p.payload) if p.payload else np.zeros((0, channels)))
    if truncated:
        notes.append(f"{truncated} packets were cut short (snap length or odd payload size): "
                     "only their whole samples were decoded")

    # placement by timestamp, with ts-jump handling
    offsets: list[int] = []
    shift = 0  # clock units removed by rebasing big jumps
    prev_e = prev_ts = prev_len = None
    for k, e in enumerate(order):
        i = accepted[e]
        rel = ext_ts[i] - origin_ts - shift
        n = chunks[k].shape[0]
        if prev_e is not None and prev_ts is not None and prev_len is not None:
            gap_pkts = e - prev_e - 1
            expected_step = prev_len / ratio * (gap_pkts + 1)
            actual = ext_ts[i] - prev_ts
            jump = actual - expected_step
            if gap_pkts == 0 and abs(jump) >= 1 and prev_len > 0:
                a = offsets[-1] + prev_len
                big = actual < 0 or jump / clock > max_ts_jump_s
                if big:
                    shift += int(round(jump))
                    rel = ext_ts[i] - origin_ts - shift
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
                events.append(_event("ts_jump", packets[accepted[prev_e]].sequence,
                                     packets[i].sequence, a, b, fs, 2, detail))
            elif gap_pkts > 0 and (actual < 0 or (actual - expected_step) / clock > max_ts_jump_s):
                shift += int(round(actual - expected_step))
                rel = ext_ts[i] - origin_ts - shift
        off = int(round(rel * ratio))
        if off < 0:
            notes.append(f"packet seq {packets[i].sequence} lies before the first packet's "
                         "timestamp and was left out")
            off = -1
        offsets.append(off)
        if off >= 0:
            prev_e, prev_ts, prev_len = e, ext_ts[i], n
    keep = [k for k in range(len(order)) if offsets[k] >= 0]
    total = max((offsets[k] + chunks[k].shape[0] for k in keep), default=0)
    if total == 0:
        raise CaptureError(f"{where}: no audio samples in {len(packets)} packets "
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

    # losses: runs of missing extended sequence numbers between placed packets
    placed = [(order[k], offsets[k], chunks[k].shape[0]) for k in keep]
    for (e1, o1, n1), (e2, o2, _n2) in pairwise(placed):
        if e2 - e1 > 1:
            missing = [x for x in range(e1 + 1, e2) if x not in accepted]
            if not missing:
                continue
            a, b = o1 + n1, max(o1 + n1, o2)
            late = [x for x in missing if x in seen]
            lost = len(missing) - len(late)
            if lost:
                events.append(_event("loss", e1 + 1, e2 - 1, a, b, fs, e2 - e1 - 1,
                                     f"{lost} packet(s) never arrived"))
    dur_samples = int(round(np.median([c.shape[0] for c in chunks]))) if chunks else 0

    def span_of(i: int) -> tuple[int, int]:
        a = int(round((ext_ts[i] - origin_ts - shift) * ratio))
        return max(a, 0), max(a, 0) + dur_samples

    late_events = []
    for i in pending_late:
        a, b = span_of(i)
        late_events.append(_event("late", packets[i].sequence, packets[i].sequence, a, b, fs, 1,
                                  f"arrived beyond the {jitter_buffer_ms:g} ms jitter buffer"))
    if late_events:  # a late packet sits inside a loss run: split it out of the loss event
        events = [ev for ev in events if ev.type != "loss"] + _losses_without(
            events, {packets[i].sequence for i in pending_late}, placed, accepted, packets, fs)
        events += late_events
    for i in pending_dup:
        a, b = span_of(i)
        events.append(_event("duplicate", packets[i].sequence, packets[i].sequence, a, b, fs, 1,
                             "same sequence number arrived again"))
    for i in pending_reorder:
        a, b = span_of(i)
        events.append(_event("reorder", packets[i].sequence, packets[i].sequence, a, b, fs, 1,
                             "arrived after a later packet; placed by its timestamp"))
    events.sort(key=lambda ev: (ev.start_sample, EVENT_TYPES.index(ev.type)))
    return DecodedAudio(audio, fs, tuple(events), stats, fmt.encoding, stream.ssrc,
                        origin_ts & 0xFFFFFFFF, clock, tuple(notes))


def _losses_without(events: list[NetworkEvent], late_seqs: set[int],
                    placed: list[tuple[int, int, int]], accepted: dict[int, int],
                    packets: list[RtpPacket], fs: int) -> list[NetworkEvent]:
    """Loss events recomputed so that sequence numbers that arrived late are not 'lost'."""
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
