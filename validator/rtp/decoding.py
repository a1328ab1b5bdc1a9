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

import os
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from validator.codecs.pcm import decode_samples
from validator.codecs.sizes import SAMPLE_BYTES, full_scale
from validator.errors import CaptureError, MissingDependencyError, OutputError
from validator.rtp.capture import RtpStream
from validator.rtp.header import format_ssrc
from validator.rtp.payload import PayloadFormat
from validator.rtp.stats import (
    StreamStats,
    _first_arrivals,
    _increasing,
    analyze,
    extend_sequence_array,
    extend_timestamps_array,
)
from validator.rtp.table import PacketTable

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
#: Samples (per channel) decoded and written to the temporary WAV at a time.
WRITE_BLOCK_SAMPLES = 1 << 18
#: Largest WAV written as RIFF WAV, bytes; longer timelines are written as RF64.
_RIFF_MAX_BYTES = (1 << 31) - (1 << 20)


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
    """A decoded RTP stream, its audio in a temporary WAV file.

    Attributes
    ----------
    path : str
        The WAV holding the decoded timeline: shape (frames, channels) at
        ``sample_rate_hz``; sample 0 is the first packet's RTP timestamp and
        gaps are digital zeros. A temporary file, deleted by :meth:`close`
        (or when this object is garbage collected, or at interpreter exit).
    frames : int
        Samples per channel on the decoded timeline.
    channels : int
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

    path: str
    frames: int
    channels: int
    sample_rate_hz: int
    network_events: tuple[NetworkEvent, ...]
    stats: StreamStats
    codec: str = ""
    ssrc: int = 0
    first_timestamp: int = 0
    clock_rate_hz: int = 0
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Delete the temporary WAV with this object at the latest."""
        object.__setattr__(self, "_finalizer", weakref.finalize(self, _unlink, self.path))

    @property
    def audio(self) -> np.ndarray:
        """The whole decoded timeline, read from :attr:`path` on each access.

        np.ndarray, shape=(frames, channels), float64 in [-1, 1): an hour of
        48 kHz stereo is 1.4 GB, so the validator never asks for it; it reads
        the WAV in blocks (:meth:`source`). Kept for scripts and tests on
        short streams.

        Raises
        ------
        CaptureError
            The decoded WAV was already closed (deleted).
        """
        import soundfile as sf

        if not os.path.exists(self.path):
            raise CaptureError(f"decoded audio of stream {format_ssrc(self.ssrc)} was closed")
        y, _ = sf.read(self.path, dtype="float64", always_2d=True)
        return y

    def source(self, *, name: str | None = None) -> Any:
        """A :class:`validator.io.audio.FileSource` over the decoded WAV (block reads)."""
        from validator.io.audio import FileSource

        src = FileSource(self.path, name=name)
        src.checks_samples = False  # decoded codec samples, clipped to [-1, 1)
        src.identity = None  # a temporary file: its name may come again
        return src

    def close(self) -> None:
        """Delete the temporary WAV (idempotent)."""
        self._finalizer()  # type: ignore[attr-defined]

    def __enter__(self) -> DecodedAudio:
        """Use in a ``with`` block: the WAV is deleted at its end."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Delete the temporary WAV."""
        self.close()

    @property
    def duration_s(self) -> float:
        """Length of the decoded timeline, s."""
        return self.frames / self.sample_rate_hz

    @property
    def lost_spans_samples(self) -> tuple[tuple[int, int], ...]:
        """``(start, end)`` sample spans zero-filled for lost (or late) packets."""
        return tuple((e.start_sample, e.end_sample) for e in self.network_events
                     if e.type in ("loss", "late"))

    def events_of(self, kind: str) -> tuple[NetworkEvent, ...]:
        """The events of one type."""
        return tuple(e for e in self.network_events if e.type == kind)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


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



def _channels(fmt: PayloadFormat, packets: PacketTable) -> int:
    if fmt.encoding == "opus":  # RFC 7587: rtpmap always says /2; the TOC byte's s bit tells
        k = np.flatnonzero(packets.payload_length[:50] > 0)
        toc = packets.store.gather(packets.payload_offset[k], np.ones(k.shape[0], np.int64))
        return 2 if bool((toc & 0x04).any()) else 1
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

    Four steps on the packet table: arrival classification
    (:func:`_classify_arrivals`: duplicates, reordering, lateness), the
    samples each packet carries (:func:`_lengths`), placement by timestamp
    (:func:`_place`, with timestamp jumps), then the payloads are decoded
    block by block into a temporary WAV (:func:`_write_wav`) and the loss
    and arrival events are derived (:func:`_loss_events`,
    :func:`_arrival_events`). Memory does not grow with the stream's length
    beyond the packet table's columns.

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
        Its audio in a temporary WAV (``path``), deleted by ``close()``.

    Raises
    ------
    CaptureError
        The payload type is unknown (give ``payload_types`` to
        :func:`read_capture`, or ``--payload-type`` on the command line) or
        not an audio codec this package decodes; or no packet carries audio;
        or the timeline is absurd: longer than ``MAX_TIMELINE_S``, or longer
        than ``LOSS_ALLOWANCE_S`` and ``MAX_TIMELINE_PER_AUDIO`` times the
        audio the packets carry (a corrupt stream would otherwise be
        zero-filled into gigabytes); or the capture file changed meanwhile.
    MissingDependencyError
        G.722 or Opus without PyAV (install the extra ``codecs``).
    """
    segments = stream.segments()
    if len(segments) > 1:
        return _decode_segments(stream, segments, jitter_buffer_ms=jitter_buffer_ms,
                                max_ts_jump_s=max_ts_jump_s)
    fmt, where = _decodable_format(stream)
    stats = analyze(stream)
    table = stream.table
    mine = table.payload_type == stream.payload_type
    packets = table if mine.all() else table.take(np.flatnonzero(mine))
    notes = _other_payload_notes(stream, len(packets))
    channels = _channels(fmt, packets)
    tl = _Timeline.of(packets, fmt)
    arrivals = _classify_arrivals(packets, tl, jitter_buffer_ms)
    order = arrivals.order
    lengths, truncated = _lengths(fmt, packets, order, channels)
    if truncated:
        notes.append(f"{truncated} packets were cut short (snap length or odd payload size): "
                     "only their whole samples were decoded")
    placement = _place(packets, order, lengths, tl, max_ts_jump_s)
    notes += placement.notes
    keep = placement.offsets >= 0
    every = bool(keep.all())
    placed = (_pick(tl.ext_seq, order, keep, every),
              placement.offsets if every else placement.offsets[keep],
              lengths if every else lengths[keep])
    total = _check_timeline(placed[1], placed[2], tl.fs, where, len(packets))
    path = _write_wav(fmt, packets, order, lengths, placement.offsets, channels, total, tl.fs)
    late_seqs = set(packets.sequence[arrivals.late].tolist())
    dur_samples = int(round(_median_int(lengths))) if lengths.shape[0] else 0
    accepted = _by(tl.ext_seq, order)
    events = (placement.events + _loss_events(placed, accepted, late_seqs, tl.fs)
              + _arrival_events(packets, arrivals, tl, placement.shift, dur_samples,
                                jitter_buffer_ms))
    events.sort(key=lambda ev: (ev.start_sample, EVENT_TYPES.index(ev.type)))
    return DecodedAudio(path, total, channels, tl.fs, tuple(events), stats, fmt.encoding,
                        stream.ssrc, tl.origin_ts & 0xFFFFFFFF, tl.clock, tuple(notes))


def _by(values: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """``values`` in placing order (``values`` itself when ``order`` is None)."""
    return values if order is None else values[order]


def _span(order: np.ndarray | None, lo: int, hi: int) -> np.ndarray:
    """The packet indices placed ``lo..hi-1``."""
    return np.arange(lo, hi) if order is None else order[lo:hi]


def _pick(values: np.ndarray, order: np.ndarray | None, keep: np.ndarray,
          every: bool) -> np.ndarray:
    """``values[order[keep]]``, without copies when nothing is reordered or left out."""
    picked = _by(values, order)
    return picked if every else picked[keep]


def _median_int(values: np.ndarray) -> float:
    """``np.median`` of small non-negative integers, from their counts (no sorted copy)."""
    counts = np.cumsum(np.bincount(values))
    n = int(counts[-1])
    lo = int(np.searchsorted(counts, (n - 1) // 2, side="right"))
    hi = int(np.searchsorted(counts, n // 2, side="right"))
    return (lo + hi) / 2


def _other_payload_notes(stream: RtpStream, n_audio: int) -> list[str]:
    """A note on the packets of other payload types (comfort noise, DTMF...), if any."""
    skipped = len(stream.table) - n_audio
    if not skipped:
        return []
    pts = list(stream.table.payload_type_counts())
    others = sorted(p for p in pts if p != stream.payload_type)
    return [f"{skipped} packets of other payload types {others} carry no audio here "
            "(comfort noise, telephone-event or another codec)"]


@dataclass(frozen=True)
class _Timeline:
    """Extended sequence numbers and timestamps of a stream's packets, and its clocks.

    Attributes
    ----------
    ext_seq, ext_ts : np.ndarray, shape=(n_packets,), int64
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

    ext_seq: np.ndarray
    ext_ts: np.ndarray
    clock: int
    fs: int
    ratio: float
    origin_ts: int

    @classmethod
    def of(cls, packets: PacketTable, fmt: PayloadFormat) -> _Timeline:
        """The timeline of packets (arrival order) of one payload format."""
        ext_seq = extend_sequence_array(packets.sequence)
        ext_ts = extend_timestamps_array(packets.timestamp)
        i0 = int(np.argmin(ext_seq))
        return cls(ext_seq, ext_ts, fmt.clock_rate_hz, fmt.sample_rate_hz,
                   fmt.sample_rate_hz / fmt.clock_rate_hz, int(ext_ts[i0]))

    def span_of(self, i: int, shift: int, dur_samples: int) -> tuple[int, int]:
        """Where packet ``i``'s audio belongs on the timeline, samples (``shift``: rebasing)."""
        a = int(round((int(self.ext_ts[i]) - self.origin_ts - shift) * self.ratio))
        return max(a, 0), max(a, 0) + dur_samples


@dataclass
class _Arrivals:
    """Packets by what arrival order says of them (indices into the packet table).

    Attributes
    ----------
    order : np.ndarray of int64, or None
        The packets placed on the timeline (first arrivals, not late), in
        extended sequence order; None when that is every packet in arrival
        order (the usual case: no index array is built).
    duplicates, reordered, late : np.ndarray, int64
        Packets that repeat a sequence number, that arrived after a later
        one, and that arrived beyond the jitter buffer (not placed).
    """

    order: np.ndarray | None
    duplicates: np.ndarray
    reordered: np.ndarray
    late: np.ndarray


def _classify_arrivals(packets: PacketTable, tl: _Timeline,
                       jitter_buffer_ms: float | None) -> _Arrivals:
    """Duplicates, reordering and lateness, from arrival order.

    A packet is late when it arrives more than ``jitter_buffer_ms`` after its
    due time: the first packet's arrival plus its RTP time offset from it.
    """
    ext = tl.ext_seq
    in_order = _increasing(ext)
    first = _first_arrivals(ext)
    none = np.zeros(0, dtype=np.int64)
    reordered = none
    if not in_order:
        top = np.maximum.accumulate(ext)
        reordered = np.flatnonzero(first[1:] & (ext[1:] < top[:-1])) + 1
        del top
    late = np.zeros(ext.shape[0], dtype=bool)
    if jitter_buffer_ms is not None:
        t_first = int(packets.time_ns[0])
        due_ns = t_first + (tl.ext_ts - tl.ext_ts[0]) * 1e9 / tl.clock
        late = first & ((packets.time_ns - due_ns) > jitter_buffer_ms * 1e6)
        del due_ns
    order: np.ndarray | None = None  # every packet placed, in arrival order
    if not (in_order and not late.any()):
        accepted = np.flatnonzero(first & ~late)
        order = accepted[np.argsort(ext[accepted], kind="stable")]
    return _Arrivals(order, np.flatnonzero(~first), reordered, np.flatnonzero(late))


def _lengths(fmt: PayloadFormat, packets: PacketTable, order: np.ndarray | None,
             channels: int) -> tuple[np.ndarray, int]:
    """Samples each placed packet carries, shape=(len(order),) int32, and how many were cut.

    Sample-based codecs: whole frames of the payload. G.722 and Opus: what
    PyAV decodes from it (a first decoding pass whose audio is dropped).
    """
    cut = _by(packets.truncated, order)
    if fmt.encoding in SAMPLE_BYTES:
        frame_bytes = SAMPLE_BYTES[fmt.encoding] * channels
        size = _by(packets.payload_length, order).astype(np.int32)
        odd = size % frame_bytes != 0
        return size // frame_bytes, int(np.count_nonzero(odd | cut))
    out = np.zeros(cut.shape[0], dtype=np.int32)
    for k, chunk in _av_chunks(fmt, packets, order, channels):
        out[k] = chunk.shape[0]
    return out, int(np.count_nonzero(cut))


def _av_chunks(fmt: PayloadFormat, packets: PacketTable, order: np.ndarray | None,
               channels: int) -> Any:
    """``(k, audio)`` for each placed packet in order, decoded by a fresh PyAV decoder."""
    run = _av_decoder(fmt, channels)
    count = len(packets) if order is None else order.shape[0]
    for lo in range(0, count, 4096):
        idx = _span(order, lo, min(lo + 4096, count))
        raw = packets.payloads(idx).tobytes()
        bounds = [0, *np.cumsum(packets.payload_length[idx].astype(np.int64)).tolist()]
        for j in range(idx.shape[0]):
            payload = raw[bounds[j]:bounds[j + 1]]
            yield lo + j, run(payload) if payload else np.zeros((0, channels))


@dataclass
class _Placement:
    """Where each decoded packet goes on the timeline.

    Attributes
    ----------
    offsets : np.ndarray, int64
        First sample of each packet (in sequence order); -1 for a packet
        before the first one's timestamp (left out).
    shift : int
        Clock units removed by rebasing large timestamp jumps, at the end.
    events : list of NetworkEvent
        The ``ts_jump`` events.
    notes : list of str
        Packets left out.
    """

    offsets: np.ndarray
    shift: int = 0
    events: list[NetworkEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _place(packets: PacketTable, order: np.ndarray | None, lengths: np.ndarray,
           tl: _Timeline, max_ts_jump_s: float) -> _Placement:
    """Place each packet by its timestamp; report and absorb timestamp jumps.

    Between consecutive sequence numbers a jump of at least one clock tick is
    a ``ts_jump``: a forward one within ``max_ts_jump_s`` leaves a silent
    gap, a backward one overlaps (the later packet wins), a larger one is
    rebased away so that the timeline stays continuous. Across lost packets
    only a large jump is rebased (silently: the loss event reports the gap).
    Vectorised when no step needs any of that; else in order, packet by packet.
    """
    ts = _by(tl.ext_ts, order)
    offsets = ts - tl.origin_ts
    offsets = np.rint(offsets * tl.ratio).astype(np.int64) if tl.ratio != 1 else offsets
    if offsets.shape[0] and (offsets >= 0).all():
        e = _by(tl.ext_seq, order)
        if not _any_jump(e, ts, lengths, tl, max_ts_jump_s):
            return _Placement(offsets)
    return _place_in_order(packets, order, lengths, tl, max_ts_jump_s)


def _any_jump(e: np.ndarray, ts: np.ndarray, lengths: np.ndarray, tl: _Timeline,
              max_ts_jump_s: float) -> bool:
    """Whether any step between consecutive placed packets is a timestamp jump (in blocks)."""
    block = 1 << 18
    for lo in range(0, max(e.shape[0] - 1, 0), block):
        hi = min(lo + block, e.shape[0] - 1)
        gap = e[lo + 1:hi + 1] - e[lo:hi] - 1
        prev_len = lengths[lo:hi]
        expected = prev_len / tl.ratio * (gap + 1)
        actual = ts[lo + 1:hi + 1] - ts[lo:hi]
        jump = actual - expected
        if ((gap == 0) & (np.abs(jump) >= 1) & (prev_len > 0)).any():
            return True
        if ((gap > 0) & ((actual < 0) | ((actual - expected) / tl.clock > max_ts_jump_s))).any():
            return True
    return False


def _place_in_order(packets: PacketTable, order: np.ndarray | None, lengths: np.ndarray,
                    tl: _Timeline, max_ts_jump_s: float) -> _Placement:
    """:func:`_place` packet by packet (timestamp jumps, packets before the origin)."""
    out = _Placement(np.full(lengths.shape[0], -1, dtype=np.int64))
    seq16 = _by(packets.sequence, order)
    marker = _by(packets.marker, order)
    prev: tuple[int, int, int, int] | None = None  # k, extended seq, extended ts, samples
    for lo in range(0, lengths.shape[0], 1 << 16):
        idx = _span(order, lo, min(lo + (1 << 16), lengths.shape[0]))
        es = tl.ext_seq[idx].tolist()
        tss = tl.ext_ts[idx].tolist()
        ns = lengths[lo:lo + (1 << 16)].tolist()
        for j, (e, ts, n) in enumerate(zip(es, tss, ns, strict=True)):
            k = lo + j
            if prev is not None:  # may rebase out.shift, which the offset then uses
                _timestamp_step(out, prev, k, e, ts, seq16, marker, tl, max_ts_jump_s)
            off = int(round((ts - tl.origin_ts - out.shift) * tl.ratio))
            if off < 0:
                out.notes.append(f"packet seq {int(seq16[k])} lies before the first packet's "
                                 "timestamp and was left out")
                off = -1
            out.offsets[k] = off
            if off >= 0:
                prev = (k, e, ts, n)
    return out


def _timestamp_step(out: _Placement, prev: tuple[int, int, int, int], k: int, e: int, ts: int,
                    seq16: np.ndarray, marker: np.ndarray, tl: _Timeline,
                    max_ts_jump_s: float) -> bool:
    """Check the timestamp step from the previous placed packet to packet ``k`` (in order).

    Appends a ``ts_jump`` event to ``out`` and rebases ``out.shift`` as
    :func:`_place` says; returns whether the shift changed.
    """
    pk, prev_e, prev_ts, prev_len = prev
    clock, ratio = tl.clock, tl.ratio
    gap_pkts = e - prev_e - 1
    expected_step = prev_len / ratio * (gap_pkts + 1)
    actual = ts - prev_ts
    jump = actual - expected_step
    if gap_pkts == 0 and abs(jump) >= 1 and prev_len > 0:
        a = int(out.offsets[k - 1]) + prev_len
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
        if marker[k] and not big and jump > 0:
            detail += " (marker bit: talkspurt start)"
        out.events.append(_event("ts_jump", int(seq16[pk]), int(seq16[k]), a, b, tl.fs, 2,
                                 detail))
        return big
    if gap_pkts > 0 and (actual < 0 or (actual - expected_step) / clock > max_ts_jump_s):
        out.shift += int(round(actual - expected_step))
        return True
    return False


def _check_timeline(offsets: np.ndarray, lengths: np.ndarray, fs: int, where: str,
                    n_packets: int) -> int:
    """The decoded timeline's length, samples.

    Raises
    ------
    CaptureError
        No samples at all, or an absurd timeline (:func:`decode`).
    """
    total = max((int((offsets[lo:lo + (1 << 18)] + lengths[lo:lo + (1 << 18)]).max())
                 for lo in range(0, offsets.shape[0], 1 << 18)), default=0)
    if total == 0:
        raise CaptureError(f"{where}: no audio samples in {n_packets} packets "
                           "(empty payloads?)")
    if total / fs > MAX_TIMELINE_S:
        raise CaptureError(f"{where}: the RTP timestamps span {total / fs:.0f} s, more than "
                           f"{MAX_TIMELINE_S:.0f} s; the stream is corrupt")
    present = int(lengths.sum())
    if total > max(MAX_TIMELINE_PER_AUDIO * present, LOSS_ALLOWANCE_S * fs):
        raise CaptureError(f"{where}: the packets carry {present / fs:.3f} s of audio but their "
                           f"sequence numbers and timestamps span {total / fs:.0f} s; the "
                           "stream is corrupt")
    return total


def _new_wav(total: int, channels: int, fs: int, subtype: str) -> tuple[Any, str]:
    """A temporary WAV open for writing (RF64 beyond 2 GB), and its path.

    Raises
    ------
    OutputError
        The temporary folder (``TMPDIR``) cannot take the file.
    """
    import soundfile as sf

    try:
        fd, path = tempfile.mkstemp(prefix="validator-rtp-", suffix=".wav")
    except OSError as exc:
        raise _temp_error("", exc) from exc
    os.close(fd)
    width = 4 if subtype == "FLOAT" else 8
    container = "WAV" if total * channels * width < _RIFF_MAX_BYTES else "RF64"
    try:
        f = sf.SoundFile(path, "w", samplerate=fs, channels=channels, subtype=subtype,
                         format=container)
    except (OSError, RuntimeError) as exc:
        _unlink(path)
        raise _temp_error(path, exc) from exc
    return f, path


def _temp_error(path: str, exc: BaseException) -> OutputError:
    """The one-line error for a decoded WAV that cannot be written (disk full, no TMPDIR)."""
    return OutputError(f"cannot write the decoded audio to a temporary WAV "
                       f"{path or 'in ' + tempfile.gettempdir()} ({exc}); it needs about "
                       "4 bytes per sample and channel: free space there or set TMPDIR")


_TOP = np.nextafter(1.0, 0.0)


def _write_wav(fmt: PayloadFormat, packets: PacketTable, order: np.ndarray | None,
               lengths: np.ndarray, offsets: np.ndarray, channels: int, total: int,
               fs: int) -> str:
    """Decode the placed packets into a temporary WAV, block by block; return its path.

    Every placed packet's samples go to its offset, the later one (in
    sequence order) winning where two overlap; zeros elsewhere; clipped to
    [-1, 1). Sample codecs decode one block of the timeline at a time; G.722
    and Opus decode in sequence order (their decoders keep state) into a
    zeroed file, written in place.
    """
    if fmt.encoding not in SAMPLE_BYTES:
        return _write_wav_av(fmt, packets, order, offsets, channels, total, fs)
    f, path = _new_wav(total, channels, fs, "FLOAT")
    try:
        with f:
            if bool((offsets >= 0).all()) and _increasing(offsets):
                by_start, starts = None, offsets  # the usual case: in order, nothing left out
            else:
                kept = np.flatnonzero(offsets >= 0)
                by_start = kept[np.argsort(offsets[kept], kind="stable")]
                starts = offsets[by_start]
            longest = int(lengths.max()) if lengths.shape[0] else 0
            frame_bytes = SAMPLE_BYTES[fmt.encoding] * channels
            for a in range(0, total, WRITE_BLOCK_SAMPLES):
                b = min(a + WRITE_BLOCK_SAMPLES, total)
                lo, hi = np.searchsorted(starts, [a - longest, b], side="left")
                ks = np.arange(lo, hi) if by_start is None else np.sort(by_start[lo:hi])
                ks = ks[(offsets[ks] + lengths[ks] > a) & (offsets[ks] < b)]
                block = np.zeros((b - a, channels))
                if ks.shape[0]:
                    idx = ks if order is None else order[ks]
                    raw = packets.store.gather(packets.payload_offset[idx],
                                               lengths[ks] * frame_bytes)
                    y = decode_samples(fmt.encoding, raw.tobytes(), channels)
                    _put(block, y, offsets[ks] - a, lengths[ks])
                np.clip(block, -1.0, _TOP, out=block)
                f.write(block)
    except (OSError, RuntimeError) as exc:
        _unlink(path)
        raise _temp_error(path, exc) from exc
    except BaseException:
        _unlink(path)
        raise
    return path


def _put(block: np.ndarray, y: np.ndarray, at: np.ndarray, n: np.ndarray) -> None:
    """Write the packets' samples ``y`` (concatenated) at ``at`` in ``block``; later ones win."""
    ends = at + n
    if at.shape[0] > 1 and (at[1:] < ends[:-1]).any():  # overlaps: in order, one by one
        pos = 0
        for s, m in zip(at.tolist(), n.tolist(), strict=True):
            lo, hi = max(s, 0), min(s + m, block.shape[0])
            if hi > lo:
                block[lo:hi] = y[pos + lo - s:pos + hi - s]
            pos += m
        return
    total = int(n.sum())
    if (at[1:] == ends[:-1]).all():  # one contiguous run (no loss inside the block)
        lo, hi = max(int(at[0]), 0), min(int(at[0]) + total, block.shape[0])
        block[lo:hi] = y[lo - int(at[0]):hi - int(at[0])]
        return
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
    dest = np.repeat(at, n) + within
    ok = (dest >= 0) & (dest < block.shape[0])
    block[dest[ok]] = y[ok]


def _write_wav_av(fmt: PayloadFormat, packets: PacketTable, order: np.ndarray | None,
                  offsets: np.ndarray, channels: int, total: int, fs: int) -> str:
    """G.722 / Opus: zero the WAV, then write each packet's audio at its offset, in order."""
    f, path = _new_wav(total, channels, fs, "DOUBLE")
    try:
        with f:
            for a in range(0, total, WRITE_BLOCK_SAMPLES):
                f.write(np.zeros((min(WRITE_BLOCK_SAMPLES, total - a), channels)))
        import soundfile as sf

        with sf.SoundFile(path, "r+") as f2:
            for k, chunk in _av_chunks(fmt, packets, order, channels):
                off = int(offsets[k])
                if off < 0 or not chunk.shape[0]:
                    continue
                f2.seek(off)
                f2.write(np.clip(chunk, -1.0, _TOP))
    except BaseException:
        _unlink(path)
        raise
    return path


def _loss_events(placed: tuple[np.ndarray, np.ndarray, np.ndarray], accepted: np.ndarray,
                 late_seqs: set[int], fs: int) -> list[NetworkEvent]:
    """Runs of sequence numbers that never arrived, between consecutive placed packets.

    ``placed`` holds the extended sequence numbers, offsets and samples of
    the placed packets in sequence order; ``accepted`` the (sorted) extended
    sequence numbers of every accepted packet. Without late packets each gap
    is one ``loss`` event over the whole zero-filled gap; with them
    (``late_seqs``, 16-bit), a gap splits around the late ones, each run
    placed in proportion.
    """
    e, off, n = placed
    events: list[NetworkEvent] = []
    for g in np.flatnonzero(np.diff(e) > 1).tolist():
        e1, e2 = int(e[g]), int(e[g + 1])
        o1, n1, o2 = int(off[g]), int(n[g]), int(off[g + 1])
        inside = accepted[np.searchsorted(accepted, e1, "right"):
                          np.searchsorted(accepted, e2, "left")]
        if late_seqs:
            events += _losses_without(late_seqs, (e1, o1, n1), (e2, o2), set(inside.tolist()),
                                      fs)
            continue
        missing = e2 - e1 - 1 - inside.shape[0]
        if not missing:
            continue
        a, b = o1 + n1, max(o1 + n1, o2)
        events.append(_event("loss", e1 + 1, e2 - 1, a, b, fs, e2 - e1 - 1,
                             f"{missing} packet(s) never arrived"))
    return events


def _arrival_events(packets: PacketTable, arrivals: _Arrivals, tl: _Timeline, shift: int,
                    dur_samples: int, jitter_buffer_ms: float | None) -> list[NetworkEvent]:
    """The ``late``, ``duplicate`` and ``reorder`` events, each where its packet's audio belongs."""
    events = []
    kinds = (("late", arrivals.late, f"arrived beyond the {jitter_buffer_ms:g} ms jitter buffer"
              if jitter_buffer_ms is not None else ""),
             ("duplicate", arrivals.duplicates, "same sequence number arrived again"),
             ("reorder", arrivals.reordered,
              "arrived after a later packet; placed by its timestamp"))
    for kind, indices, detail in kinds:
        for i in indices.tolist():
            a, b = tl.span_of(i, shift, dur_samples)
            seq = int(packets.sequence[i])
            events.append(_event(kind, seq, seq, a, b, tl.fs, 1, detail))
    return events


def _losses_without(late_seqs: set[int], left: tuple[int, int, int], right: tuple[int, int],
                    accepted: set[int], fs: int) -> list[NetworkEvent]:
    """Loss events in one gap that leave out the sequence numbers that arrived late."""
    (e1, o1, n1), (e2, o2) = left, right
    out: list[NetworkEvent] = []
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
    try:
        fs = parts[0].sample_rate_hz
        channels = max(p.channels for p in parts)
        offsets = [0]
        for k in range(1, len(parts)):
            prev_end = offsets[-1] + parts[k - 1].frames
            arrival_gap_s = (int(segments[k].table.time_ns[0])
                             - int(segments[k - 1].table.time_ns[0])) / 1e9
            offsets.append(max(prev_end, offsets[-1] + int(round(arrival_gap_s * fs))))
        total = offsets[-1] + parts[-1].frames
        path = _join_wavs(parts, offsets, channels, total, fs)
    finally:
        for p in parts:
            p.close()
    events: list[NetworkEvent] = []
    notes: list[str] = []
    for k, (part, off) in enumerate(zip(parts, offsets, strict=True)):
        for ev in part.network_events:
            a, b = ev.start_sample + off, ev.end_sample + off
            events.append(NetworkEvent(ev.type, ev.first_seq, ev.last_seq, a / fs, b / fs, a, b,
                                       ev.packets, ev.detail))
        notes += list(part.notes)
        if k:
            a = offsets[k - 1] + parts[k - 1].frames
            old, new = segments[k - 1].table, segments[k].table
            events.append(_event("ssrc_change", int(old.sequence[-1]), int(new.sequence[0]), a,
                                 off, fs, 2,
                                 f"SSRC {format_ssrc(segments[k - 1].ssrc)} -> "
                                 f"{format_ssrc(segments[k].ssrc)}: new sequence and timestamp "
                                 "origin; placed by arrival time"))
    events.sort(key=lambda ev: (ev.start_sample, EVENT_TYPES.index(ev.type)))
    return DecodedAudio(path, total, channels, fs, tuple(events), analyze(stream), parts[0].codec,
                        stream.ssrc, parts[0].first_timestamp, parts[0].clock_rate_hz,
                        tuple(notes))


def _join_wavs(parts: list[DecodedAudio], offsets: list[int], channels: int, total: int,
               fs: int) -> str:
    """One temporary WAV with each part's audio at its offset, zeros between."""
    import soundfile as sf

    subtype = "DOUBLE" if any(sf.info(p.path).subtype == "DOUBLE" for p in parts) else "FLOAT"
    f, path = _new_wav(total, channels, fs, subtype)
    try:
        with f:
            pos = 0
            for part, off in zip(parts, offsets, strict=True):
                if off > pos:
                    for a in range(pos, off, WRITE_BLOCK_SAMPLES):
                        f.write(np.zeros((min(WRITE_BLOCK_SAMPLES, off - a), channels)))
                with sf.SoundFile(part.path) as src:
                    for blk in src.blocks(WRITE_BLOCK_SAMPLES, dtype="float64", always_2d=True):
                        out = np.zeros((blk.shape[0], channels))
                        out[:, :blk.shape[1]] = blk
                        f.write(out)
                pos = off + part.frames
    except BaseException:
        _unlink(path)
        raise
    return path
