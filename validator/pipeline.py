"""The validation pipeline: io -> align -> detectors -> metrics -> verdict.

:func:`validate` is the whole main job as one function; the CLI and the
Python API both call it. It is a short chain of named stages:

1. :func:`_open_inputs`: the received audio (or its decoded RTP capture) and
   the reference (a file, an array or a tone spec);
2. :func:`_align`: the channel map, then each channel against its own
   reference channel (:mod:`validator.align`);
3. :func:`_detect`: one streaming pass for the frame features and every
   detector (:func:`validator.detectors.detect.detect_events`), block by
   block for a long capture so that memory stays flat
   (:mod:`validator.detectors.blocks`);
4. :func:`_measure_and_assemble`: per-channel metrics, DTW, truncation and
   quality scores, assembled into a :class:`~validator.result.ValidationResult`;
5. :func:`validator.verdict.judge`: the checks and the verdict.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from validator.align.channels import (
    ChannelAlignments,
    ChannelView,
    align_channels,
    channel_map,
    fit_track,
    lag_track,
)
from validator.align.delay import DelayEstimate, steady_tone_span
from validator.align.track import AlignmentModel
from validator.defaults import DEFAULT_MAX_DELAY_S, DEFAULT_MAX_ZOOMS, default_threads
from validator.detectors.blocks import Summary, analyse
from validator.detectors.coverage import CoverageSums, measure_coverage
from validator.detectors.features import frame_length
from validator.detectors.metrics import channel_metrics, dominant_frequency
from validator.detectors.settings import DetectorSettings
from validator.errors import AudioFormatError, InputMismatchError
from validator.io.audio import ArraySource, AudioSource, ToneSource, open_audio, parse_tone_spec
from validator.io.kept import KeptBySamples
from validator.plotdata import plot_data
from validator.quality import assess_quality, requested_metrics
from validator.result import (
    Alignment,
    ChannelAlignment,
    ChannelMetrics,
    Event,
    InputInfo,
    Segment,
    ValidationResult,
)
from validator.verdict import Profile, judge

if TYPE_CHECKING:  # pragma: no cover (only a captured stream imports the E-model)
    from validator.quality.rating import EModelSettings

AudioInput = str | os.PathLike[str] | np.ndarray
#: Shortest received audio that can be validated, in seconds.
MIN_DURATION_S = 0.05
#: Without a reference file, the first and last part of the tone are not judged, s.
TONE_EDGE_GUARD_S = 0.02
#: A channel whose residual is within this of its received level (dB) does not carry its
#: reference at all: its events are not reported (the match check fails it).
NO_MATCH_DB = -3.0
#: Tonality (share of power in the spectral peak) above which a channel is a steady tone.
TONAL = 0.9


def validate(received: AudioInput, reference: AudioInput | str, *, profile: Profile | None = None,
             sample_rate_hz: int | None = None, max_delay_s: float = DEFAULT_MAX_DELAY_S,
             dtw: bool = False, zoom_events: int = DEFAULT_MAX_ZOOMS,
             ssrc: str | int | None = None,
             port: int | None = None, payload_types: dict[int, str] | None = None,
             progress: Callable[[float], None] | None = None,
             emodel: EModelSettings | None = None,
             quality: str | Sequence[str] | None = None,
             threads: int | None = None) -> ValidationResult:
    """Validate received audio against its reference.

    Parameters
    ----------
    received : str, path or np.ndarray, shape=(n_samples,) or (n_samples, n_channels)
        The audio that came out of the device or network: an audio file, a
        pcap/pcapng capture of its RTP stream (decoded on the RTP-timestamp
        timeline, lost packets zero-filled), or an array (float in [-1, 1),
        with ``sample_rate_hz``).
    reference : str, path or np.ndarray
        The exact signal that went in, or a tone spec such as ``"sine:997"``
        (``"sine:997,1499"`` for one tone per channel) to validate a capture of
        a known tone by sine fitting alone.
    profile : Profile, optional
        Limits and detector settings; :func:`validator.verdict.default_profile`
        when omitted.
    sample_rate_hz : int, optional
        Sample rate of array inputs, Hz.
    max_delay_s : float
        Largest delay searched, in seconds.
    dtw : bool
        Also run DTW on MFCCs around the cross-correlation path (speech and
        music references; skipped for steady tones), reporting its distance
        and ``warp`` events where the timing bends. Imports librosa (slow the
        first time).
    zoom_events : int
        Events (the first ones) whose surrounding samples are kept in
        ``result.plots`` for zoomed plots.
    ssrc : str or int, optional
        For a capture: the stream to validate (``"0x1234ABCD"`` or decimal);
        needed when the capture holds more than one audio stream.
    port : int, optional
        For a capture: the UDP port that carries the RTP (1..65535), for a
        capture without SDP whose RTP the heuristics do not find; every UDP
        datagram to or from it is read as RTP and all other traffic ignored.
    payload_types : dict, optional
        For a capture: ``{97: "L24/48000/2"}`` for dynamic payload types that
        no SDP in the capture describes.
    progress : callable, optional
        Called with the fraction done (0..1) during the detection pass.
    emodel : EModelSettings, optional
        For a capture: how the E-model rates each RTP stream (modelled
        jitter buffer, network one-way delay, receiver PLC); the defaults of
        :class:`validator.quality.rating.EModelSettings` when omitted.
    quality : str or sequence of str, optional
        Full-reference quality scores to compute on the alignment:
        ``"visqol,pesq"``, ``["visqol:audio", "pesq:nb"]``
        (:mod:`validator.quality`; needs the ``quality`` extra). None: the
        profile's ``quality`` list; ``()``: none.
    threads : int, optional
        Blocks of a long capture (over 90 s) analysed at once, and channels
        or blocks of its alignment; the result is the same whatever the
        number. Each piece in flight holds its own working memory (about
        60 MB more for a 24-bit stereo capture at 48 kHz). Default
        :func:`validator.defaults.default_threads` (the CPUs available, at
        most 2, or the ``AUDIO_VALIDATOR_THREADS`` environment variable),
        divided by the channels: two for mono, one for stereo.

    Returns
    -------
    ValidationResult
        Events on the received timeline, metrics, alignment, checks and verdict.

    Raises
    ------
    AudioFormatError
        A file is missing, empty, truncated, not audio or holds NaN.
    InputMismatchError
        Sample rates or channel counts cannot be compared.
    SignalSpecError
        A malformed tone spec.
    CaptureError
        A capture with no usable RTP audio stream.
    QualityError, MissingDependencyError
        A malformed quality metric, or the ``quality`` extra is missing.
    """
    t0 = time.perf_counter()
    profile = profile or Profile()
    quality_specs = requested_metrics(quality, profile.quality)
    with ExitStack() as stack:
        inputs = _open_inputs(stack, received, reference, sample_rate_hz=sample_rate_hz,
                              ssrc=ssrc, payload_types=payload_types, port=port,
                              emodel=emodel)
        # by default, work in flight holds as many channels as one stereo block: a second
        # thread for mono audio, whose peak memory it does not raise (bench_speed)
        nch = inputs.rec.channels
        threads = threads or max(1, default_threads() // nch)
        aligns, notes = _align(inputs, max_delay_s=max_delay_s, threads=threads)
        tonal = _tonal_frequencies(inputs.ref, inputs.tone, nch)
        summary, events = _detect(inputs, aligns, profile.detectors, tonal,
                                  progress=progress, threads=threads)
        rtp = None
        if inputs.decoded is not None:
            from validator.rtp.link import link_causes, network_notes

            events = link_causes(events, inputs.decoded.network_events)
            notes.extend(network_notes(inputs.decoded.network_events, events))
            rtp = inputs.rtp
        result = _measure_and_assemble(inputs, aligns, summary, tonal, events, notes,
                                       settings=profile.detectors, dtw=dtw,
                                       zoom_events=zoom_events, rtp=rtp,
                                       quality_specs=quality_specs)
    checks, verdict = judge(result, profile)
    return replace(result, checks=checks, verdict=verdict,
                   elapsed_s=round(time.perf_counter() - t0, 3))


@dataclass(frozen=True)
class _Inputs:
    """The opened inputs of one validation (stage 1)."""

    received: AudioInput
    reference: AudioInput | str
    rec: AudioSource
    ref: AudioSource
    tone: tuple[float, ...] | None
    decoded: Any = None
    rtp: Any = None


def _open_inputs(stack: ExitStack, received: AudioInput, reference: AudioInput | str, *,
                 sample_rate_hz: int | None, ssrc: str | int | None,
                 payload_types: dict[int, str] | None, port: int | None,
                 emodel: Any = None) -> _Inputs:
    """Stage 1: open the received audio (or decode its capture) and the reference.

    A capture is decoded to a temporary WAV (deleted at the end of the
    validation) and its RTP section is computed here, so that the packet
    tables are released before the audio is analysed.
    """
    decoded = rtp = None
    if not isinstance(received, np.ndarray) and _is_capture(received):
        from validator.rtp.link import decode_capture, rtp_section

        rec, decoded, capture = decode_capture(received, ssrc, payload_types, port=port)
        stack.callback(decoded.close)  # deletes the decoded WAV, after the source below
        stack.enter_context(rec)
        rtp = rtp_section(decoded, capture, emodel=emodel)
        del capture
    else:
        rec = stack.enter_context(_source(received, sample_rate_hz, "received"))
    tone = parse_tone_spec(reference) if isinstance(reference, str) else None
    if tone is not None:
        ref: AudioSource = _tone_reference(tone, rec)
    else:
        ref = stack.enter_context(_source(reference, sample_rate_hz or rec.sample_rate_hz
                                          if decoded is not None else sample_rate_hz,
                                          "reference"))
    _check_compatible(rec, ref)
    return _Inputs(received, reference, rec, ref, tone, decoded, rtp)


def _align(inputs: _Inputs, *, max_delay_s: float,
           threads: int = 1) -> tuple[ChannelAlignments, list[str]]:
    """Stage 2: the channel map, then each channel against its own reference channel.

    Periods, splices and polarity are per channel. Returns the alignments
    and the notes they call for.
    """
    rec, ref, tone = inputs.rec, inputs.ref, inputs.tone
    mapping = (channel_map(reference=ref, received=rec, max_delay_s=max_delay_s)
               if tone is None
               else tuple(range(rec.channels)) if ref.channels > 1 else (0,) * rec.channels)
    if tone is not None:
        aligns = _tone_alignments(ref, rec, mapping)
    else:
        aligns = align_channels(reference=ref, received=rec, max_delay_s=max_delay_s,
                                mapping=mapping, threads=threads)
    notes = list(dict.fromkeys(e.note for e in aligns.estimates if e.note))
    if not any(m.points for m in aligns.models) and tone is None:
        notes.append("no stretch of the received audio matches the reference: alignment "
                     "falls back to the global delay")
    if mapping != tuple(range(rec.channels)) and ref.channels > 1:
        notes.append("channel map: " + ", ".join(
            f"received ch{i} carries reference ch{j}" for i, j in enumerate(mapping)
            if i != j))
    if rec.channels > 1 and not aligns.shared_clock:
        notes.append("the channels do not share one timeline (different drift or splices): "
                     "each channel is aligned on its own")
    return aligns, notes


def _detect(inputs: _Inputs, aligns: ChannelAlignments, settings: DetectorSettings,
            tonal: list[float | None], *,
            progress: Callable[[float], None] | None,
            threads: int) -> tuple[Summary, list[Event]]:
    """Stage 3: one streaming pass for the frame features and every detector, block by block.

    A capture longer than :data:`validator.detectors.blocks.SINGLE_BLOCK_MAX_S`
    is analysed in blocks, so that memory does not grow with its length.
    """
    rec, ref = inputs.rec, inputs.ref
    judge_span = None
    if isinstance(ref, ToneSource):
        # the received tone's own onset and end ramps are unknown: judge inside them
        flen = frame_length(rec.sample_rate_hz)
        guard = int(TONE_EDGE_GUARD_S * rec.sample_rate_hz) // flen * flen
        judge_span = (ref.start + guard, ref.stop - guard)
    return analyse(rec, aligns, settings, tonal=tonal, judge_span=judge_span,
                   progress=progress, threads=threads)


def _measure_and_assemble(inputs: _Inputs, aligns: ChannelAlignments, summary: Summary,
                          tonal: list[float | None], events: list[Event],
                          notes: list[str], *, settings: DetectorSettings, dtw: bool,
                          zoom_events: int, rtp: Any,
                          quality_specs: Sequence[Any]) -> ValidationResult:
    """Stages 4 and 5: metrics (per channel, DTW, truncation, quality) and the result."""
    rec, ref, tone = inputs.rec, inputs.ref, inputs.tone
    fs = rec.sample_rate_hz
    dtw_distance = None
    if dtw:
        if all(f is not None for f in tonal):
            notes.append("DTW skipped: the reference is a steady tone, whose MFCC frames are "
                         "all alike, so DTW has no unique path")
        else:
            from validator.align.dtw import dtw_align, warp_events

            res = dtw_align(received=rec, reference=ref, model=aligns.models[0])
            dtw_distance = round(res.distance, 4)
            events = sorted([*events, *warp_events(res, fs)],
                            key=lambda e: (e.start_s, e.channel, e.type))
    channels = tuple(_with_coverage(channel_metrics(summary.metrics[ch], ch, tonal[ch],
                                                    aligns.gain(ch), reference_known=tone is None),
                                    summary.coverage[ch])
                     for ch in range(rec.channels))
    unmatched = {m.index for m in channels if m.match_db is not None
                 and m.match_db >= NO_MATCH_DB and m.rms_dbfs > settings.silence_threshold_dbfs}
    if unmatched:
        # a channel that carries another signal (the wrong reference channel, another file):
        # its "events" would describe that signal, not faults; the match check fails instead
        events = [e for e in events if e.channel not in unmatched]
        # nor can its gain or polarity against that reference be judged
        channels = tuple(replace(m, gain_error_db=None, polarity_inverted=False)
                         if m.index in unmatched else m for m in channels)
        notes.extend(f"received ch{ch} does not carry its reference (residual "
                     f"{channels[ch].match_db:+.1f} dB re received): no events are reported "
                     f"on it; see the check match_ch{ch}" for ch in sorted(unmatched))
    truncation_s = _truncation_s(aligns, rec) if tone is None else None
    if truncation_s:
        notes.append(f"the received audio lacks {truncation_s:.3f} s of the reference at its "
                     "start or end")
    alignment = replace(_alignment(aligns, fs, tone is not None), dtw_distance=dtw_distance)
    return ValidationResult(
        input=InputInfo(received=_name(inputs.received, "received"),
                        reference=_name(inputs.reference, "reference"), sample_rate_hz=fs,
                        channels=rec.channels, duration_s=rec.duration_s,
                        reference_duration_s=ref.duration_s),
        alignment=alignment, channels=channels, events=tuple(events), notes=tuple(notes),
        traces=tuple(summary.traces.trace(ch) for ch in range(rec.channels)),
        truncation_s=truncation_s,
        plots=plot_data(summary, rec, aligns, events, tonal, zoom_events),
        rtp=rtp,
        quality=assess_quality(rec, aligns, quality_specs) if quality_specs else None)


def _is_capture(x: object) -> bool:
    """A path to a pcap/pcapng file (checked by its magic bytes)."""
    if isinstance(x, np.ndarray) or not isinstance(x, str | os.PathLike):
        return False
    from validator.rtp import is_capture_file

    return bool(is_capture_file(x))


def _source(x: AudioInput, sample_rate_hz: int | None, what: str) -> AudioSource:
    if isinstance(x, np.ndarray):
        if sample_rate_hz is None:
            raise AudioFormatError(f"{what}: an array input needs sample_rate_hz")
        return ArraySource(x, sample_rate_hz, name=f"<{what} array>")
    return open_audio(x)


def _name(x: object, what: str) -> str:
    return f"<{what} array>" if isinstance(x, np.ndarray) else str(x)


def _tone_reference(freqs: tuple[float, ...], rec: AudioSource) -> ToneSource:
    if len(freqs) == 1:
        freqs = freqs * rec.channels
    if len(freqs) != rec.channels:
        raise InputMismatchError(f"{rec.name}: has {rec.channels} channels but the tone spec gives "
                                 f"{len(freqs)} frequencies")
    for f in freqs:
        if f >= rec.sample_rate_hz / 2:
            raise InputMismatchError(f"{rec.name}: tone {f:g} Hz is not below Nyquist "
                                     f"({rec.sample_rate_hz / 2:g} Hz)")
    # judge where the steady tone is: a sync marker, its gap and the tone's ramps lie outside
    y = rec.read(0, rec.frames)[:, 0] if rec.frames <= 60 * rec.sample_rate_hz else None
    start, stop = 0, rec.frames
    if y is not None:
        span = steady_tone_span(y, freqs[0], rec.sample_rate_hz)
        if span is not None:
            start, stop = span
    return ToneSource(freqs, rec.sample_rate_hz, rec.frames, start=start, stop=stop)


def _check_compatible(rec: AudioSource, ref: AudioSource) -> None:
    if rec.sample_rate_hz != ref.sample_rate_hz:
        raise InputMismatchError(
            f"{rec.name}: sample rate {rec.sample_rate_hz} Hz differs from the reference "
            f"{ref.name} ({ref.sample_rate_hz} Hz); resample one of them first, e.g. "
            f"'sox IN -r {rec.sample_rate_hz} OUT'")
    if ref.channels not in (1, rec.channels):
        raise InputMismatchError(
            f"{rec.name}: has {rec.channels} channel(s) but the reference {ref.name} has "
            f"{ref.channels}; expected the same count, or a mono reference")
    if rec.duration_s < MIN_DURATION_S:
        raise AudioFormatError(f"{rec.name}: only {rec.frames} samples; at least "
                               f"{MIN_DURATION_S * 1000:.0f} ms are needed")
    if ref.duration_s < MIN_DURATION_S:
        raise AudioFormatError(f"{ref.name}: only {ref.frames} samples; at least "
                               f"{MIN_DURATION_S * 1000:.0f} ms are needed")


def _with_coverage(metrics: ChannelMetrics, sums: CoverageSums) -> ChannelMetrics:
    """The channel's metrics plus how much of it was judged and how well it matched."""
    cov = measure_coverage(sums)
    return replace(metrics,
                   judged_fraction=None if cov.judged_fraction is None
                   else round(cov.judged_fraction, 4),
                   match_db=None if cov.match_db is None else round(cov.match_db, 2))


#: The reference tone frequencies of the newest references (:func:`_tonal_frequencies`).
_tones_kept: KeptBySamples[list[float | None]] = KeptBySamples(4)


def _tonal_frequencies(ref: AudioSource, tone: tuple[float, ...] | None,
                       channels: int) -> list[float | None]:
    """Frequency of each received channel's reference tone, None where not a steady tone."""
    if tone is not None:
        return list(tone) if len(tone) == channels else [tone[0]] * channels
    fs = ref.sample_rate_hz
    n = min(ref.frames, 4 * fs)
    start = max(0, (ref.frames - n) // 2)
    y = ref.read(start, n)
    key = None if ref.identity is None else (ref.identity, start, n, fs)
    out: list[float | None] | None = _tones_kept.get(key, y)  # (a batch's one reference)
    if out is None:
        out = []
        for ch in range(y.shape[1]):
            f, share = dominant_frequency(y[:, ch], fs)
            out.append(f if share >= TONAL and f > 0 else None)
        _tones_kept.put(key, y, out)
    return out * channels if len(out) == 1 else list(out)


def _alignment(aligns: ChannelAlignments, fs: int, is_tone: bool) -> Alignment:
    """The alignment section: channel 0's figures, and every channel's own."""
    per = tuple(_channel_alignment(ch, est, m, fs, is_tone)
                for ch, (est, m) in enumerate(zip(aligns.estimates, aligns.models, strict=True)))
    first = per[0]
    return Alignment(
        delay_s=first.delay_s, delay_samples=first.delay_samples,
        delay_confidence=first.delay_confidence, delay_ambiguous=first.delay_ambiguous,
        method=first.method, drift_ppm=first.drift_ppm, segments=first.segments,
        channel_map=aligns.channel_map, shared_clock=aligns.shared_clock,
        channels=per if len(per) > 1 else ())


def _channel_alignment(ch: int, est: DelayEstimate, model: AlignmentModel, fs: int,
                       is_tone: bool) -> ChannelAlignment:
    delay = None if (est.ambiguous or is_tone) else model.offsets[0]
    bounds = [0, *model.breaks]
    ends = [*model.breaks, None]
    segs = tuple(Segment(int(a), int(b) if b is not None else -1, round(float(o), 3))
                 for a, b, o in zip(bounds, ends, model.offsets, strict=True))
    return ChannelAlignment(
        channel=ch,
        delay_s=None if delay is None else round(delay / fs, 7),
        delay_samples=None if delay is None else round(float(delay), 3),
        delay_confidence=round(float(est.confidence), 3),
        delay_ambiguous=bool(est.ambiguous or is_tone),
        method=est.method,
        drift_ppm=round(float(model.drift_ppm), 3),
        segments=segs)


def _truncation_s(aligns: ChannelAlignments, rec: AudioSource) -> float:
    """Reference audio missing at the received file's start and end, s (worst channel)."""
    fs = rec.sample_rate_hz
    worst = 0.0
    for m in aligns.models:
        first = float(m.ref_positions(0, 1)[0])
        last = float(m.ref_positions(rec.frames - 1, rec.frames)[0])
        head = max(first, 0.0)
        tail = max(aligns.reference.frames - 1 - last, 0.0)
        worst = max(worst, (head + tail) / fs)
    return round(worst, 4)


def _tone_alignments(ref: AudioSource, rec: AudioSource,
                     mapping: tuple[int, ...]) -> ChannelAlignments:
    """A tone spec has no timing to measure: a lag track per channel against the synthetic tone."""
    fs = rec.sample_rate_hz
    models, ests = [], []
    for ch in range(rec.channels):
        r, y = ChannelView(ref, mapping[ch]), ChannelView(rec, ch)
        period = (fs / ref.frequencies_hz[mapping[ch]] if isinstance(ref, ToneSource)
                  else None)
        est = DelayEstimate(0.0, 0.0, True, "tone", period,
                            "no reference file: delay is not measurable from a tone")
        points = lag_track(reference=r, received=y, initial_lag=0.0, period_samples=period)
        if isinstance(ref, ToneSource):  # only where the steady tone is (not a marker, a gap)
            points = [q for q in points if ref.start <= q.ref_pos < ref.stop]
        models.append(fit_track(points, reference=r, received=y, initial_lag=0.0,
                                period_samples=period))
        ests.append(est)
    return ChannelAlignments(tuple(models), tuple(ests), mapping, ref)
