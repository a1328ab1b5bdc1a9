"""Long captures block by block: memory that does not grow with the capture's length.

The frame features of a capture take about 21 bytes per millisecond and
channel, and the detectors' temporaries several times that: an hour of mono
audio held whole needs hundreds of MB, and four hours do not fit a small CI
machine. So a capture longer than :data:`SINGLE_BLOCK_MAX_S` is analysed in
blocks of :data:`BLOCK_S`:

- each block is read through a view whose sample 0 is the block's first
  sample, with the alignment shifted to match, plus :data:`MARGIN_S` either
  side, so that every detector sees the context it needs (the longest is the
  sample-level look around a glitch, 0.2 s plus 20 ms);
- the block's detectors run as on a whole capture, except for the two
  statistics that a long fault inside one block would bend: the background
  noise and the residual floor (the residual a clean stretch leaves at each
  level) are measured first on :data:`SAMPLE_SPANS` short spans spread over
  the whole capture (:func:`capture_statistics`), as the whole-capture
  analysis measures them on a strided sample of all frames. Without this, a
  level step that fills most of a block would become that block's floor and
  go unjudged. The glitch margin and the codec smear stay the block's own;
- what survives a block is its events in its core (the block without its
  margins) and sums: level, peak and DC, reference level, coverage and match,
  the decimated level traces, the waveform envelope and the excerpts for the
  tone analysis;
- an event that runs across a block boundary is seen by both blocks; their
  pieces are joined into one event (:func:`join_pieces`).

A capture up to :data:`SINGLE_BLOCK_MAX_S` is one block with no margins: the
same code path, the same numbers as analysing it whole.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from validator.align.channels import ChannelAlignments
from validator.align.phase import parallel_map
from validator.detectors.activity import measure_activity
from validator.detectors.common import packet_note, span_mask
from validator.detectors.coverage import CoverageSums, coverage_sums
from validator.detectors.detect import detect_events
from validator.detectors.features import (
    ENVELOPE_BINS,
    ChannelFeatures,
    Features,
    FeatureSpan,
    extract_features,
    frame_length,
    whole_span,
)
from validator.detectors.glitch import floor_curve
from validator.detectors.metrics import MetricSums, metric_sums
from validator.detectors.settings import DetectorSettings
from validator.io.audio import AudioSource, SpanSource
from validator.plotdata import TraceSums
from validator.result import Event

#: Length of one block, s.
BLOCK_S = 60.0
#: Context read either side of a block's core, s.
MARGIN_S = 1.0
#: A capture up to this long is analysed in one piece, s.
SINGLE_BLOCK_MAX_S = 90.0
#: Spans spread evenly over a long capture on which its background and residual floor are
#: measured before the blocks are analysed (at most; one per 4 s of capture at least).
SAMPLE_SPANS = 120
#: Length of each of those spans, s.
SAMPLE_SPAN_S = 1.0
#: Excerpts of the received audio kept for the tone analysis and the spectrum plot.
N_EXCERPTS = 16
#: Length of each excerpt, s.
EXCERPT_S = 0.5


@dataclass(frozen=True)
class Block:
    """One block of a capture, in received samples.

    Attributes
    ----------
    start, stop : int
        ``[start, stop)`` read and analysed (core plus margins).
    core_start, core_stop : int
        ``[core_start, core_stop)`` reported by this block.
    """

    start: int
    stop: int
    core_start: int
    core_stop: int


def plan_blocks(n_samples: int, sample_rate_hz: int, frame_len: int, *,
                block_s: float | None = None, margin_s: float | None = None,
                single_max_s: float | None = None) -> list[Block]:
    """Cut a capture into blocks whose edges fall on frame boundaries.

    Parameters
    ----------
    n_samples : int
        Capture length, samples.
    sample_rate_hz : int
    frame_len : int
        Samples per frame (block edges are multiples of it).
    block_s, margin_s, single_max_s : float, optional
        Block length, margin either side, and the longest capture kept in
        one piece, s (default :data:`BLOCK_S`, :data:`MARGIN_S`,
        :data:`SINGLE_BLOCK_MAX_S`).

    Returns
    -------
    list of Block
        In order; the cores tile ``[0, n_samples)`` exactly.
    """
    block_s = BLOCK_S if block_s is None else block_s
    margin_s = MARGIN_S if margin_s is None else margin_s
    single_max_s = SINGLE_BLOCK_MAX_S if single_max_s is None else single_max_s
    if n_samples <= single_max_s * sample_rate_hz:
        return [Block(0, n_samples, 0, n_samples)]
    step = max(int(block_s * sample_rate_hz) // frame_len, 1) * frame_len
    margin = -(-int(margin_s * sample_rate_hz) // frame_len) * frame_len
    blocks = []
    for c0 in range(0, n_samples, step):
        c1 = min(c0 + step, n_samples)
        if n_samples - c1 < step // 2:  # no short last block: the last one runs to the end
            c1 = n_samples
        blocks.append(Block(max(c0 - margin, 0), min(c1 + margin, n_samples), c0, c1))
        if c1 == n_samples:
            break
    return blocks


@dataclass
class Summary:
    """What the detection pass keeps of a capture besides its events.

    Attributes
    ----------
    sample_rate_hz, frame_len, n_samples : int
    metrics : list of MetricSums
        Per channel.
    coverage : list of CoverageSums
        Per channel.
    traces : TraceSums
        Decimated level traces.
    envelopes : list of np.ndarray, shape=(4, n_bins), float32
        Per channel: min and max of the received, then of the expected
        signal, per bin of ``envelope_bin`` samples.
    envelope_bin : int
    excerpts : list of (int, np.ndarray)
        ``(start_sample, y)``, y of shape (n, n_channels): received excerpts.
    """

    sample_rate_hz: int
    frame_len: int
    n_samples: int
    metrics: list[MetricSums]
    coverage: list[CoverageSums]
    traces: TraceSums
    envelopes: list[np.ndarray]
    envelope_bin: int
    excerpts: list[tuple[int, np.ndarray]]

    def absorb(self, res: _BlockResult) -> None:
        """Add one block's sums.

        Blocks come in order, so that the float sums do not depend on how many
        ran at once.
        """
        for ch in range(len(self.metrics)):
            self.metrics[ch].add(res.metrics[ch])
            self.coverage[ch].add(res.coverage[ch])
            self.traces.sums[ch] += res.traces[ch]
            if len(self.envelopes) <= ch:
                self.envelopes.append(res.envelopes[ch])
            else:  # bins of the margins are seen twice: min and max do not mind
                env = self.envelopes[ch]
                env[0::2] = np.minimum(env[0::2], res.envelopes[ch][0::2])
                env[1::2] = np.maximum(env[1::2], res.envelopes[ch][1::2])
        self.excerpts.extend(res.excerpts)


def analyse(rec: AudioSource, aligns: ChannelAlignments, settings: DetectorSettings, *,
            tonal: Sequence[float | None], judge_span: tuple[int, int] | None = None,
            progress: Callable[[float], None] | None = None,
            threads: int = 1) -> tuple[Summary, list[Event]]:
    """Every event of a capture, and its summary, block by block.

    Parameters
    ----------
    rec : AudioSource
        The received audio.
    aligns : ChannelAlignments
        Each channel's alignment to its reference channel.
    settings : DetectorSettings
    tonal : sequence of float or None
        Each channel's reference tone, Hz (None: not a steady tone).
    judge_span : tuple of int, optional
        ``[start, stop)`` received samples that may be judged at all (a tone
        spec's steady part); default all that maps inside the reference.
    progress : callable, optional
        Called with the fraction done, 0..1.
    threads : int
        Blocks analysed at once (numpy releases the GIL in its array passes).
        The result does not depend on it: each block is independent, and the
        blocks' sums and events are merged in order.

    Returns
    -------
    summary : Summary
    events : list of Event
        Sorted by start time, on the capture's timeline.
    """
    fs, nch, n = rec.sample_rate_hz, rec.channels, rec.frames
    flen = frame_length(fs)
    blocks = plan_blocks(n, fs, flen)
    want = whole_span(n, fs, n_excerpts=N_EXCERPTS, excerpt_s=EXCERPT_S).excerpts
    env_bin = max(1, -(-n // ENVELOPE_BINS))
    summary = Summary(fs, flen, n, [MetricSums() for _ in range(nch)],
                      [CoverageSums() for _ in range(nch)],
                      TraceSums(-(-n // flen), nch, flen / fs), [], env_bin, [])
    stats = capture_statistics(rec, aligns, settings, judge_span=judge_span,
                               threads=threads) if len(blocks) > 1 else None

    def run(blk: Block, block_progress: Callable[[float], None] | None) -> _BlockResult:
        return _analyse_block(rec, aligns, settings, blk, summary.traces, stats, tonal=tonal,
                              excerpts=[w for w in want if blk.core_start <= w < blk.core_stop],
                              judge_span=judge_span, progress=block_progress)

    events: list[Event] = []
    for res in _in_order(blocks, run, threads=threads, progress=progress):
        summary.absorb(res)
        events.extend(res.events)
    for env in summary.envelopes:
        env[~np.isfinite(env)] = 0.0  # bins no sample fell in
    if len(blocks) > 1:  # (each block's events are consolidated already, splices apart)
        events = join_pieces(events, fs)
    return summary, events


def _in_order(blocks: list[Block], run: Callable[[Block, Callable[[float], None] | None],
                                                  _BlockResult], *,
              threads: int, progress: Callable[[float], None] | None) -> Iterator[_BlockResult]:
    """Each block's result, in block order; ``threads`` blocks at once at most.

    At most ``threads + 1`` results wait to be merged, so memory stays that of a
    few blocks. One thread: in this thread, with progress within each block.
    """
    n = len(blocks)
    if threads <= 1 or n == 1:
        for k, blk in enumerate(blocks):
            def block_progress(f: float, k: int = k) -> None:
                if progress is not None:
                    progress((k + f) / n)

            yield run(blk, block_progress)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="validator-block") as ex:
        pending: deque[Future[_BlockResult]] = deque()
        for k, blk in enumerate(blocks):
            pending.append(ex.submit(run, blk, None))
            if len(pending) > threads:
                yield pending.popleft().result()
                if progress is not None:
                    progress((k + 1 - len(pending)) / n)
        while pending:
            yield pending.popleft().result()
            if progress is not None:
                progress((n - len(pending)) / n)


@dataclass
class _BlockResult:
    """What one block leaves: its core's events on the capture, and its sums."""

    events: list[Event]
    metrics: list[MetricSums]
    coverage: list[CoverageSums]
    traces: np.ndarray  # (channels, 3, groups): TraceSums.block_sums per channel
    envelopes: list[np.ndarray]
    excerpts: list[tuple[int, np.ndarray]]


def _analyse_block(rec: AudioSource, aligns: ChannelAlignments, settings: DetectorSettings,
                   blk: Block, traces: TraceSums, stats: list[CaptureStatistics] | None, *,
                   tonal: Sequence[float | None],
                   excerpts: list[int], judge_span: tuple[int, int] | None,
                   progress: Callable[[float], None] | None) -> _BlockResult:
    """Detect one block: its core's events on the capture, and its sums.

    ``traces`` gives the capture's grouping of trace points; it is only read.
    """
    fs, flen = rec.sample_rate_hz, frame_length(rec.sample_rate_hz)
    whole = (blk.start, blk.stop) == (0, rec.frames)
    src = rec if whole else SpanSource(rec, blk.start, blk.stop - blk.start)
    al = aligns if whole else aligns.shifted(blk.start)
    min_zero = max(int(np.ceil(settings.min_dropout_ms * fs / 1000)), 1)
    span = FeatureSpan(blk.start, rec.frames, (blk.core_start - blk.start,
                                              blk.core_stop - blk.start),
                       tuple(w - blk.start for w in excerpts))
    feats = extract_features(src, al, min_zero_run=min_zero,
                             min_clip_run=settings.clip_min_samples, progress=progress,
                             excerpt_s=EXCERPT_S, span=span)
    covered = _judged(feats.covered, judge_span, blk.start // flen, flen)
    if stats is None:
        acts = [measure_activity(cf, settings, covered) for cf in feats.channels]
    else:
        acts = [replace(measure_activity(cf, settings, covered, noise_power=st.noise_power),
                        floor_curve=st.floor_curve)
                for cf, st in zip(feats.channels, stats, strict=True)]
    found = detect_events(src, al, feats, acts, settings, covered=covered, tonal=tonal)
    core = ((blk.core_start - blk.start) // flen, -(-(blk.core_stop - blk.start) // flen))
    res = _BlockResult([], [], [], np.stack([
        traces.block_sums(feats, ch, frame0=blk.start // flen, core_frames=core)
        for ch in range(rec.channels)]), [cf.envelope for cf in feats.channels],
        [(s + blk.start, y) for s, y in feats.excerpts])
    for ch, cf in enumerate(feats.channels):
        res.metrics.append(metric_sums(feats, ch, tonal[ch], found, core_frames=core))
        spans = [(e.start_sample, max(e.end_sample, e.start_sample + 1)) for e in found
                 if e.channel == ch]
        res.coverage.append(coverage_sums(
            cf, acts[ch], covered, span_mask(spans, feats.n_frames, flen, pad_frames=2),
            settings, core_frames=core))
    if whole:
        res.events = found
        return res
    lo, hi = blk.core_start - blk.start, blk.core_stop - blk.start

    def in_core(e: Event) -> bool:
        if e.end_sample > e.start_sample:
            return e.end_sample > lo and e.start_sample < hi
        return lo <= e.start_sample < hi  # a point event (a splice)

    res.events = [_shifted(e, blk.start, fs) for e in found if in_core(e)]
    return res


def _judged(covered: np.ndarray, judge_span: tuple[int, int] | None, frame0: int,
            flen: int) -> np.ndarray:
    """``covered`` (frames from capture frame ``frame0``) limited to ``judge_span`` (samples)."""
    if judge_span is None:
        return covered
    f_lo = judge_span[0] // flen - frame0
    f_hi = judge_span[1] // flen - frame0
    covered = covered.copy()
    covered[:max(f_lo, 0)] = False
    covered[max(f_hi, 0):] = False
    return covered


@dataclass(frozen=True)
class CaptureStatistics:
    """Statistics of one channel measured over the whole capture.

    Attributes
    ----------
    noise_power : float
        Received background where the reference is silent (mean square).
    floor_curve : tuple of two tuples of float, or None
        Residual floor by level, ``(levels_db, ratios_db)``
        (:func:`validator.detectors.glitch.floor_curve`).
    """

    noise_power: float
    floor_curve: tuple[tuple[float, ...], tuple[float, ...]] | None


def capture_statistics(rec: AudioSource, aligns: ChannelAlignments,
                       settings: DetectorSettings, *,
                       judge_span: tuple[int, int] | None = None,
                       threads: int = 1) -> list[CaptureStatistics]:
    """Background and residual floor of each channel, from spans spread over the capture.

    Frame features are computed on up to :data:`SAMPLE_SPANS` spans of
    :data:`SAMPLE_SPAN_S` evenly spread over the capture, and the statistics
    taken on all their frames together: the median background where the
    reference is silent, and the median residual ratio per level
    (:func:`validator.detectors.glitch.floor_curve`). A fault shorter than
    half the capture leaves both medians where the clean audio puts them.
    ``threads`` spans are read at once (the same result).

    Returns
    -------
    list of CaptureStatistics
        One per channel.
    """
    fs, n = rec.sample_rate_hz, rec.frames
    flen = frame_length(fs)
    span = max(int(SAMPLE_SPAN_S * fs) // flen, 1) * flen
    count = int(min(SAMPLE_SPANS, max(n // (4 * span), 1)))
    starts = sorted({int(s) // flen * flen
                     for s in np.linspace(0, max(n - span, 0), count)})
    def features_at(s0: int) -> Features:
        m = min(span, n - s0)
        return extract_features(SpanSource(rec, s0, m), aligns.shifted(s0),
                                min_zero_run=m + 1, span=FeatureSpan(s0, n, (0, m), ()))

    parts = parallel_map(features_at, starts, threads)
    covers = [_judged(f.covered, judge_span, s0 // flen, flen)
              for f, s0 in zip(parts, starts, strict=True)]
    covered = np.concatenate(covers)
    out = []
    for ch in range(rec.channels):
        cat = {name: np.concatenate([getattr(f.channels[ch], name) for f in parts])
               for name in ("p_y", "p_x", "p_e", "p_r", "p_yr")}
        cf = ChannelFeatures(cat["p_y"], cat["p_x"], cat["p_e"], cat["p_r"], cat["p_yr"],
                             gain=aligns.gain(ch))
        act = measure_activity(cf, settings, covered)
        out.append(CaptureStatistics(act.noise_power, floor_curve(cf, act.active)))
    return out


def _shifted(e: Event, origin: int, fs: int) -> Event:
    """``e`` on the capture's timeline (it was found on a view starting at ``origin``)."""
    s, t = e.start_sample + origin, e.end_sample + origin
    return replace(e, start_sample=s, end_sample=t, start_s=s / fs, end_s=t / fs)


def join_pieces(events: list[Event], sample_rate_hz: int) -> list[Event]:
    """Join the pieces of events that neighbouring blocks both saw.

    Events of one type and channel that overlap or touch become one event
    spanning them: the first piece's description, level and cause, and the
    whole length. Point events (splices) are kept as they are, once.

    Parameters
    ----------
    events : list of Event
        Every block's events in its core, on the capture's timeline.
    sample_rate_hz : int

    Returns
    -------
    list of Event
        Sorted by start time, then channel.
    """
    out: list[Event] = []
    groups: dict[tuple[int, str], list[Event]] = {}
    for e in events:
        groups.setdefault((e.channel, e.type), []).append(e)
    for group in groups.values():
        group.sort(key=lambda e: (e.start_sample, e.end_sample))
        run: list[Event] = []
        for e in group:
            if run and e.start_sample <= max(r.end_sample for r in run) \
                    and (e.end_sample > e.start_sample or e.start_sample
                         == run[-1].start_sample == run[-1].end_sample):
                run.append(e)
            else:
                if run:
                    out.append(_joined(run, sample_rate_hz))
                run = [e]
        if run:
            out.append(_joined(run, sample_rate_hz))
    out.sort(key=lambda e: (e.start_s, e.channel, e.type))
    return out


def _joined(run: list[Event], fs: int) -> Event:
    """One event for pieces of the same fault seen by neighbouring blocks."""
    first = run[0]
    end = max(e.end_sample for e in run)
    if len(run) == 1 or end == first.end_sample:
        return first
    d = (end - first.start_sample) / fs
    text = first.description
    if text.startswith("one-way audio"):  # a block's "whole time" is not the capture's
        text = f"near-silence ({first.level_db:.1f} dBFS) while the reference is active"
    return replace(first, end_sample=end, end_s=end / fs,
                   description=f"{text}; continues across analysis blocks, "
                               f"{d * 1000:.1f} ms in all{packet_note(d)}")
