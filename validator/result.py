"""The result model: plain, frozen dataclasses that measurement returns.

Renderers (terminal, JSON, and later HTML and JUnit) take a
:class:`ValidationResult` and only render it. Times are in seconds on the
*received* file's timeline unless a name says otherwise; levels carry their
unit in the name (``_dbfs``, ``_db``).

dB conventions used throughout
------------------------------
dBFS follows AES17: the RMS level of a full-scale sine is 0 dBFS (so a
full-scale square wave reads +3.01 dBFS). Power ratios use ``10*log10``,
amplitude ratios ``20*log10``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:  # pragma: no cover (rtp imports this module)
    from validator.rtp.link import RtpSection

#: The kinds of :class:`Event`.
EventType = Literal["dropout", "glitch", "level", "clipping", "silence", "warp"]
#: The same, as a tuple in report order.
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)


@dataclass(frozen=True)
class Event:
    """One fault found in the received audio.

    Attributes
    ----------
    type : EventType
        ``"dropout" | "glitch" | "level" | "clipping" | "silence" | "warp"``.
    channel : int
        Zero-based channel index in the received file.
    start_s, end_s : float
        Span on the received timeline, in seconds. ``end_s >= start_s``.
    level_db : float
        Depth or level of the fault in dB, one meaning per ``type`` (the
        table in :mod:`validator.report.json_report`). For a dropout:
        received level relative to the expected level (-120 for digital
        zeros and skipped audio); for a glitch: residual level relative to
        the expected signal (0 for inserted audio); for a level step: the
        level change; for clipping: 0 (full scale); for silence: the
        received level in dBFS (the only absolute one); for a warp: the
        largest time offset in dB re 1 ms.
    description : str
        One short human sentence.
    start_sample : int
        First affected sample of the received file (inclusive).
    end_sample : int
        One past the last affected sample (exclusive).
    cause : str or None
        For RTP input: ``"network loss"`` when a lost packet overlaps the event,
        ``"no network loss"`` when none does (the device's own fault), or
        ``"unknown"``; None when the input was not RTP.
    """

    type: EventType
    channel: int
    start_s: float
    end_s: float
    level_db: float
    description: str
    start_sample: int = 0
    end_sample: int = 0
    cause: str | None = None

    @property
    def duration_s(self) -> float:
        """Duration of the event in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Segment:
    """A stretch of received audio aligned to the reference by one line.

    Received sample ``n`` (``start_sample <= n < end_sample``) carries the
    reference at the fractional position
    ``ref_pos(n) = (n - offset_samples) / (1 + drift_ppm * 1e-6)``, where
    ``drift_ppm`` is the alignment's common drift. ``offset_samples`` of the
    first segment is the delay in samples; ``end_sample`` is -1 for the last
    segment (it runs to the end of the file).
    """

    start_sample: int
    end_sample: int
    offset_samples: float


@dataclass(frozen=True)
class ChannelAlignment:
    """How one received channel maps onto its reference channel.

    Attributes
    ----------
    channel : int
        Zero-based received channel.
    delay_s, delay_samples, delay_confidence, delay_ambiguous, method, drift_ppm, segments
        As in :class:`Alignment`, for this channel alone.
    """

    channel: int
    delay_s: float | None
    delay_samples: float | None
    delay_confidence: float
    delay_ambiguous: bool
    method: str
    drift_ppm: float
    segments: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class Alignment:
    """How the received audio maps onto the reference.

    Attributes
    ----------
    delay_s : float or None
        Where the reference's first sample lands in the received file, in
        seconds. Positive: the received audio lags the reference. ``None``
        when the delay is ambiguous (a steady tone with no onset or marker).
    delay_samples : float or None
        The same delay in samples (fractional).
    delay_confidence : float
        0..1, the normalised cross-correlation at the chosen lag, reduced when
        a competing lag scores almost as high.
    delay_ambiguous : bool
        True when the delay is only known modulo a period of the signal.
    method : str
        ``"xcorr"`` (unique waveform correlation peak), ``"onset"`` (envelope
        onset, refined by correlation), or ``"tone"`` (no reference file).
    drift_ppm : float
        Clock drift in parts per million; positive when the received content
        lasts longer than the reference.
    segments : tuple of Segment
        Piecewise alignment; more than one when the receiver skipped audio.
    dtw_distance : float or None
        Normalised DTW distance on MFCCs (speech/music only).
    channel_map : tuple of int
        ``channel_map[i]`` is the reference channel that received channel
        ``i`` carries (all 0 with a mono reference); empty when not measured.
    shared_clock : bool
        All channels share one timeline (same drift, splices at the same places).
    channels : tuple of ChannelAlignment
        Every channel's own alignment (multichannel input only). The fields
        above are channel 0's; each channel is aligned against its own
        reference channel, since one skip shifts tones of different
        frequencies by different fractions of their periods.
    """

    delay_s: float | None
    delay_samples: float | None
    delay_confidence: float
    delay_ambiguous: bool
    method: str
    drift_ppm: float
    segments: tuple[Segment, ...] = ()
    dtw_distance: float | None = None
    channel_map: tuple[int, ...] = ()
    shared_clock: bool = True
    channels: tuple[ChannelAlignment, ...] = ()


@dataclass(frozen=True)
class ChannelMetrics:
    """Per-channel measurements of the received audio.

    Attributes
    ----------
    index : int
        Zero-based channel index.
    rms_dbfs, peak_dbfs : float
        Level of the received channel (AES17 dBFS; peak is ``20*log10(max|x|)``).
    reference_rms_dbfs : float or None
        Level of the reference channel over the same span.
    gain_error_db : float or None
        Received minus reference level, dB: the least-squares gain of a tone,
        the RMS level difference of other audio
        (:mod:`validator.detectors.metrics`).
    frequency_hz : float or None
        Frequency of the dominant tone (sine fit), None for non-tonal audio.
    frequency_error_hz : float or None
        ``frequency_hz`` minus the reference tone's frequency.
    snr_db : float or None
        Signal to noise ratio in dB (see :mod:`validator.detectors.metrics`).
    thd_n_db : float or None
        THD+N relative to the fundamental in dB (negative; tonal audio only).
    dc_offset : float
        Mean sample value, in full-scale units.
    polarity_inverted : bool
        The channel is the reference upside down (negative gain).
    judged_fraction : float or None
        Share (0..1) of the reference's energy on this channel that the
        detectors judged; None when the reference is silent there
        (:mod:`validator.detectors.coverage`).
    match_db : float or None
        Residual after alignment and gain relative to the received level on
        judged frames outside events, dB: near 0 when received and reference
        do not match; None with too few such frames.
    """

    index: int
    rms_dbfs: float
    peak_dbfs: float
    reference_rms_dbfs: float | None
    gain_error_db: float | None
    frequency_hz: float | None
    frequency_error_hz: float | None
    snr_db: float | None
    thd_n_db: float | None
    dc_offset: float
    polarity_inverted: bool = False
    judged_fraction: float | None = None
    match_db: float | None = None


@dataclass(frozen=True)
class Check:
    """One line of the verdict: a measured value against its limit."""

    name: str
    passed: bool
    measured: float | int | None
    limit: float | int | None
    unit: str
    description: str = ""


@dataclass(frozen=True)
class InputInfo:
    """What was compared."""

    received: str
    reference: str
    sample_rate_hz: int
    channels: int
    duration_s: float
    reference_duration_s: float


@dataclass(frozen=True)
class Trace:
    """A decimated level trace for plots: 10 ms RMS in dBFS, per channel.

    ``received_dbfs`` and ``expected_dbfs`` have shape ``(n_frames,)``;
    ``hop_s`` is the frame hop in seconds on the received timeline.
    """

    channel: int
    hop_s: float
    received_dbfs: tuple[float, ...]
    expected_dbfs: tuple[float, ...]
    residual_db: tuple[float, ...]


@dataclass(frozen=True)
class ChannelPlot:
    """What the plots of one channel need, decimated (renderers compute nothing).

    Attributes
    ----------
    channel : int
    envelope_hop_s : float
        Width of one envelope bin, s; bin ``i`` starts at ``i * envelope_hop_s``.
    received_min, received_max : tuple of float
        Waveform envelope of the received channel per bin (full-scale units).
    expected_min, expected_max : tuple of float
        The same for the expected signal (aligned, gain-matched reference).
    spectrum_hz : tuple of float
        Frequencies of the spectrum points, Hz.
    received_spectrum_db, expected_spectrum_db : tuple of float
        Magnitude spectra in dB re full scale (Blackman-Harris window, peak
        hold over groups of bins), of one excerpt free of events.
    tone_hz : float or None
        Frequency of the reference tone, for marking it and its harmonics.
    """

    channel: int
    envelope_hop_s: float
    received_min: tuple[float, ...]
    received_max: tuple[float, ...]
    expected_min: tuple[float, ...]
    expected_max: tuple[float, ...]
    spectrum_hz: tuple[float, ...] = ()
    received_spectrum_db: tuple[float, ...] = ()
    expected_spectrum_db: tuple[float, ...] = ()
    tone_hz: float | None = None


@dataclass(frozen=True)
class EventZoom:
    """Samples around one event, for a zoomed plot.

    Attributes
    ----------
    event_index : int
        Index into ``ValidationResult.events``.
    channel : int
    start_s : float
        Time of the first sample, s (received timeline).
    step_s : float
        Time between points, s (a sample period, or more when decimated).
    received, expected : tuple of float
        Received and expected (aligned, gain-matched reference) samples.
    """

    event_index: int
    channel: int
    start_s: float
    step_s: float
    received: tuple[float, ...]
    expected: tuple[float, ...]


@dataclass(frozen=True)
class PlotData:
    """Decimated data for the HTML report's plots."""

    channels: tuple[ChannelPlot, ...] = ()
    zooms: tuple[EventZoom, ...] = ()


@dataclass(frozen=True)
class QualityScore:
    """One full-reference quality score of the whole capture (ViSQOL v3 or PESQ).

    Attributes
    ----------
    metric : str
        ``"visqol"`` or ``"pesq"``.
    mode : str
        ViSQOL: ``"speech"`` (16 kHz, lattice mapper) or ``"audio"`` (48 kHz,
        SVR mapper). PESQ: ``"wb"`` (ITU-T P.862.2, 16 kHz) or ``"nb"``
        (P.862 with the P.862.1 mapping, 8 kHz).
    sample_rate_hz : int
        Rate the metric ran at, Hz (both signals resampled to it).
    mos_lqo : float or None
        MOS-LQO, 1 (bad) .. 5 (excellent); None when it could not be computed.
    reason : str or None
        Why ``mos_lqo`` is None (e.g. ``"no utterance detected"``); None when computed.
    scored_s : float
        Length of the reference span scored, s.
    """

    metric: str
    mode: str
    sample_rate_hz: int
    mos_lqo: float | None
    reason: str | None = None
    scored_s: float = 0.0


@dataclass(frozen=True)
class QualityWindow:
    """Quality scores over one sliding window of the reference.

    Attributes
    ----------
    start_s, end_s : float
        The window on the received timeline, s (where the window's reference
        audio lies in the received file).
    reference_start_s, reference_end_s : float
        The window on the reference timeline, s (what was scored).
    visqol, pesq : float or None
        MOS-LQO of each metric in the window; None when not asked for or not
        computed (``not_computed`` then says why).
    not_computed : tuple of (str, str)
        ``(metric, reason)`` for every asked-for metric with no score here.
    """

    start_s: float
    end_s: float
    reference_start_s: float
    reference_end_s: float
    visqol: float | None = None
    pesq: float | None = None
    not_computed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class QualityResult:
    """Full-reference quality of the received audio on the validator's alignment.

    The received audio is mapped onto the reference timeline (delay, drift and
    splices compensated; audio the receiver skipped reads as silence), mixed
    to mono and cut to the reference's span before scoring
    (:mod:`validator.quality`).

    Attributes
    ----------
    visqol, pesq : QualityScore or None
        The whole-capture score of each metric asked for (None: not asked for).
    windows : tuple of QualityWindow
        Scores over sliding windows of the reference, in time order.
    window_s, hop_s : float
        Window length and hop on the reference timeline, s.
    covered_fraction : float
        Share (0..1) of the reference span the received audio carries (the rest
        was missing: truncated or skipped, and scored as silence).
    elapsed_s : float
        Time spent scoring, s.
    """

    visqol: QualityScore | None = None
    pesq: QualityScore | None = None
    windows: tuple[QualityWindow, ...] = ()
    window_s: float = 8.0
    hop_s: float = 4.0
    covered_fraction: float = 1.0
    elapsed_s: float = 0.0

    @property
    def scores(self) -> tuple[QualityScore, ...]:
        """The whole-capture scores asked for, ViSQOL first."""
        return tuple(s for s in (self.visqol, self.pesq) if s is not None)


@dataclass(frozen=True)
class ValidationResult:
    """Everything one validation measured, and the verdict on it."""

    input: InputInfo
    alignment: Alignment
    channels: tuple[ChannelMetrics, ...]
    events: tuple[Event, ...]
    checks: tuple[Check, ...] = ()
    verdict: str = "pass"
    # truncation_s: reference audio missing at the received file's start or
    # end, in seconds (None for a tone spec).
    notes: tuple[str, ...] = ()
    traces: tuple[Trace, ...] = field(default=(), repr=False)
    truncation_s: float | None = None
    elapsed_s: float = 0.0
    plots: PlotData | None = field(default=None, repr=False)
    # rtp: for RTP input, the stream statistics and network events; None for audio files.
    rtp: RtpSection | None = field(default=None, repr=False)
    # quality: full-reference quality scores (ViSQOL, PESQ) when asked for, else None.
    quality: QualityResult | None = None

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return self.verdict == "pass"
