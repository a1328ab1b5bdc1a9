"""Fault injection: impair audio at known places and return the ground truth.

Every public impairment is a pure function ``f(y, sample_rate_hz, *, ...)``
that takes audio ``y`` (``np.ndarray``, shape ``(n_samples, n_channels)``,
float64, nominally in [-1, 1)) and returns an :class:`Impaired`: a NEW array
plus the ground truth as a tuple of :class:`Fault`. The input is never
modified. Randomness is seeded (``np.random.default_rng(seed)``).

Conventions
-----------
* Spans are on the OUTPUT (received) timeline, in samples, end exclusive;
  ``start_s = start_sample / sample_rate_hz`` and likewise ``end_s``.
* A time in seconds becomes a sample index by ``round(t_s * sample_rate_hz)``
  (Python ``round``: nearest sample, ties to even). A span is
  ``[round(start_s*fs), round(start_s*fs) + round(duration_s*fs))``.
* ``channel=None`` means all channels; a fault's ``channel`` is then ``None``.
* dBFS follows AES17: a sine of PEAK amplitude ``A`` reads ``20*log10(A)``
  dBFS, so noise at ``level_dbfs`` has RMS ``10**(level_dbfs/20)/sqrt(2)``.
* Nothing is clipped silently: only :func:`clip` and :func:`hard_clip` clip.
  Other impairments (gain, click, dc_offset) may leave [-1, 1) and say so.
* Fault kinds are either *events* (:data:`EVENT_KINDS`, the kinds a detector
  reports, matching :data:`validator.result.EVENT_TYPES`) or *conditions*
  (:data:`CONDITION_KINDS`: whole-file changes such as gain, delay, drift,
  which a detector measures rather than reports). Filter with
  :attr:`Impaired.events`.

:func:`compose` applies several impairments in turn and carries the truth
of earlier steps through later timeline changes (skip, packet loss with skip
concealment, delay, drift, channel swap).
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import fft as sp_fft
from scipy import special

from validator.codecs.g711 import a_law_decode, a_law_encode, mu_law_decode, mu_law_encode
from validator.errors import AudioFormatError, SignalSpecError

__all__ = [
    "ACTIVE_BLOCK_S",
    "ACTIVE_THRESHOLD_DB",
    "CONDITION_KINDS",
    "EVENT_KINDS",
    "IMPAIRMENTS",
    "Fault",
    "Impaired",
    "a_law_decode",
    "a_law_encode",
    "a_law_round_trip",
    "add_noise",
    "attenuate",
    "click",
    "clip",
    "compose",
    "dc_offset",
    "delay",
    "drift",
    "fade_packet",
    "gain",
    "hard_clip",
    "invert_polarity",
    "mu_law_decode",
    "mu_law_encode",
    "mu_law_round_trip",
    "near_silence",
    "packet_loss",
    "repeat_packet",
    "skip",
    "swap_channels",
    "zero_fill",
]

#: Fault kinds that are events a detector should report (a subset of
#: ``validator.result.EVENT_TYPES``).
EVENT_KINDS: tuple[str, ...] = ("dropout", "glitch", "level", "clipping", "silence")
#: Fault kinds that describe a whole-file condition rather than an event.
CONDITION_KINDS: tuple[str, ...] = (
    "gain",
    "noise",
    "dc",
    "delay",
    "drift",
    "polarity",
    "channel_swap",
    "codec",
)

#: Block length (s) of the activity measure used by :func:`add_noise`.
ACTIVE_BLOCK_S = 0.010
#: A block is active when its RMS is at most this far (dB) below the loudest block.
ACTIVE_THRESHOLD_DB = -50.0

# attenuate(): a dip deeper than this (dB) is reported as a dropout, not a level fault.
_DROPOUT_GAIN_DB = -20.0
# Band-limited interpolator used by drift(): Kaiser-windowed sinc.
_INTERP_HALF_TAPS = 64
_INTERP_STOPBAND_DB = 100.0
_INTERP_BETA = 0.1102 * (_INTERP_STOPBAND_DB - 8.7)  # Kaiser's formula, A > 50 dB
_INTERP_CUTOFF = 0.95  # of Nyquist; transition band about 0.90 .. 1.0
_INTERP_CHUNK = 4096
# delay(): zero guard (samples) around the signal in the FFT buffer.
_FFT_GUARD = 8192
_INT_TOL = 1e-9


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Fault:
    """Ground truth for one injected fault.

    Attributes
    ----------
    kind : str
        An event kind (:data:`EVENT_KINDS`: ``"dropout"``, ``"glitch"``,
        ``"level"``, ``"clipping"``, ``"silence"``) or a condition kind
        (:data:`CONDITION_KINDS`).
    channel : int or None
        Zero-based channel index; ``None`` when every channel is affected.
    start_sample, end_sample : int
        Span on the output (received) timeline in samples, end exclusive.
        ``start_sample == end_sample`` marks a point (a splice where samples
        were skipped).
    start_s, end_s : float
        The same span in seconds (``sample / sample_rate_hz``).
    detail : dict
        Parameters of the fault; always has ``"cause"`` (the name of the
        function that injected it). Not part of the hash.
    """

    kind: str
    channel: int | None
    start_sample: int
    end_sample: int
    start_s: float
    end_s: float
    detail: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def duration_s(self) -> float:
        """Duration of the span in seconds."""
        return self.end_s - self.start_s

    @property
    def is_event(self) -> bool:
        """True when the kind is an event kind (see :data:`EVENT_KINDS`)."""
        return self.kind in EVENT_KINDS


@dataclass(frozen=True, eq=False)
class Impaired:
    """Impaired audio and its ground truth.

    Attributes
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64
        The impaired audio (a new array, never a view of the input).
    faults : tuple of Fault
        Ground truth, spans on the timeline of ``y``.
    sample_rate_hz : int
        Sample rate of ``y`` in Hz.
    """

    y: np.ndarray
    faults: tuple[Fault, ...]
    sample_rate_hz: int

    @property
    def events(self) -> tuple[Fault, ...]:
        """The faults whose kind is an event kind, in order."""
        return tuple(f for f in self.faults if f.kind in EVENT_KINDS)

    @property
    def duration_s(self) -> float:
        """Duration of ``y`` in seconds."""
        return self.y.shape[0] / self.sample_rate_hz


# --------------------------------------------------------------------------- helpers


def _audio(y: Any) -> np.ndarray:
    """Check ``y`` (the one input gate) and return a float64 copy."""
    if not isinstance(y, np.ndarray):
        raise AudioFormatError(f"audio must be a numpy.ndarray, got {type(y).__name__!r}")
    if y.ndim != 2:
        raise AudioFormatError(
            f"audio must have shape (n_samples, n_channels), got shape {y.shape!r}"
        )
    if y.shape[0] < 1 or y.shape[1] < 1:
        raise AudioFormatError(f"audio is empty: shape {y.shape!r}")
    if not np.issubdtype(y.dtype, np.floating):
        raise AudioFormatError(f"audio must be floating point in [-1, 1), got dtype {y.dtype!r}")
    if not np.all(np.isfinite(y)):
        raise AudioFormatError("audio contains NaN or infinite samples")
    return np.array(y, dtype=np.float64, copy=True)


def _rate(sample_rate_hz: Any) -> int:
    if isinstance(sample_rate_hz, bool):
        raise SignalSpecError(f"sample_rate_hz must be a positive integer, got {sample_rate_hz!r}")
    try:
        fs = operator.index(sample_rate_hz)
    except TypeError:
        if isinstance(sample_rate_hz, float) and sample_rate_hz.is_integer():
            fs = int(sample_rate_hz)
        else:
            raise SignalSpecError(
                f"sample_rate_hz must be a positive integer, got {sample_rate_hz!r}"
            ) from None
    if fs <= 0:
        raise SignalSpecError(f"sample_rate_hz must be a positive integer, got {sample_rate_hz!r}")
    return int(fs)


def _real(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SignalSpecError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise SignalSpecError(f"{name} must be finite, got {value!r}")
    return v


def _int(name: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool):
        raise SignalSpecError(f"{name} must be an integer, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise SignalSpecError(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and v < minimum:
        raise SignalSpecError(f"{name} must be >= {minimum}, got {value!r}")
    return int(v)


def _to_samples(t_s: float, fs: int) -> int:
    return int(round(t_s * fs))


def _point(x: np.ndarray, fs: int, at_s: Any, name: str = "at_s") -> int:
    t = _real(name, at_s)
    n = x.shape[0]
    i = _to_samples(t, fs)
    if t < 0 or not 0 <= i < n:
        raise SignalSpecError(
            f"{name}={at_s!r} s (sample {i}) is outside the signal "
            f"(0 .. {n - 1} samples, {n / fs:.6f} s)"
        )
    return i


def _span(x: np.ndarray, fs: int, start_s: Any, duration_s: Any) -> tuple[int, int]:
    t0 = _real("start_s", start_s)
    dur = _real("duration_s", duration_s)
    if t0 < 0:
        raise SignalSpecError(f"start_s must be >= 0 s, got {start_s!r}")
    if dur <= 0:
        raise SignalSpecError(f"duration_s must be > 0 s, got {duration_s!r}")
    s = _to_samples(t0, fs)
    length = _to_samples(dur, fs)
    if length < 1:
        raise SignalSpecError(f"duration_s={duration_s!r} s is shorter than one sample at {fs} Hz")
    n = x.shape[0]
    if s + length > n:
        raise SignalSpecError(
            f"span start_s={start_s!r} s, duration_s={duration_s!r} s "
            f"(samples {s} .. {s + length}) ends beyond the signal ({n} samples, {n / fs:.6f} s)"
        )
    return s, s + length


def _channel(x: np.ndarray, channel: Any) -> tuple[slice, int | None]:
    """Column selector (always 2-D) for ``channel`` (None = all)."""
    if channel is None:
        return slice(None), None
    c = _int("channel", channel, minimum=0)
    if c >= x.shape[1]:
        raise SignalSpecError(
            f"channel={channel!r} does not exist: the audio has {x.shape[1]} channel(s)"
        )
    return slice(c, c + 1), c


def _packet_samples(ptime_s: Any, fs: int) -> int:
    pt = _real("ptime_s", ptime_s)
    p = _to_samples(pt, fs)
    if pt <= 0 or p < 1 or abs(pt * fs - p) > 1e-6:
        raise SignalSpecError(
            f"ptime_s={ptime_s!r} s must be a positive whole number of samples at {fs} Hz "
            f"(got {pt * fs!r} samples)"
        )
    return p


def _seed(seed: Any) -> int:
    return _int("seed", seed, minimum=0)


def _fault(kind: str, channel: int | None, start: int, end: int, fs: int, **detail: Any) -> Fault:
    return Fault(
        kind=kind,
        channel=channel,
        start_sample=int(start),
        end_sample=int(end),
        start_s=int(start) / fs,
        end_s=int(end) / fs,
        detail=detail,
    )


def _whole(kind: str, channel: int | None, x: np.ndarray, fs: int, **detail: Any) -> Fault:
    return _fault(kind, channel, 0, x.shape[0], fs, **detail)


def _runs(mask: np.ndarray) -> np.ndarray:
    """Runs of True in a 1-D mask, shape (n_runs, 2): start, end (exclusive)."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.column_stack((np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _db_to_amplitude(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


# --------------------------------------------------------------------------- dropouts, glitches


def zero_fill(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    start_s: float,
    duration_s: float,
    channel: int | None = None,
) -> Impaired:
    """Replace a span with digital zeros (a dropout).

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    start_s : float
        Start of the span in s (>= 0); sample ``round(start_s * fs)``.
    duration_s : float
        Length in s (> 0); ``round(duration_s * fs)`` samples.
    channel : int or None
        Zero-based channel to impair; ``None`` (default) for all channels.

    Returns
    -------
    Impaired
        ``y`` of the same shape; one fault of kind ``"dropout"`` spanning the
        zeroed samples, ``detail={"cause": "zero_fill", "fill": "zeros"}``.

    Raises
    ------
    AudioFormatError
        ``y`` is not a finite floating array of shape (n_samples, n_channels).
    SignalSpecError
        The span is empty or leaves the signal, or ``channel`` does not exist.

    Notes
    -----
    Models a receiver that plays silence for missing audio (e.g. GStreamer
    ``audiorate`` filling a gap).
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    s, e = _span(x, fs, start_s, duration_s)
    cols, ch = _channel(x, channel)
    x[s:e, cols] = 0.0
    return Impaired(x, (_fault("dropout", ch, s, e, fs, cause="zero_fill", fill="zeros"),), fs)


def attenuate(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    start_s: float,
    duration_s: float,
    gain_db: float,
    channel: int | None = None,
) -> Impaired:
    """Apply a gain to a span (a level dip, or a dropout when deep).

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    start_s, duration_s : float
        Span in s, as in :func:`zero_fill`.
    gain_db : float
        Amplitude gain in dB (``20*log10``) applied to the span; ``-inf``
        gives zeros. Positive values are allowed and are not clipped.
    channel : int or None
        Zero-based channel; ``None`` for all.

    Returns
    -------
    Impaired
        One fault of kind ``"level"`` when ``gain_db > -20`` dB, else
        ``"dropout"``; ``detail={"cause": "attenuate", "gain_db": gain_db}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Bad span or channel, or ``gain_db`` is NaN or ``+inf``.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    s, e = _span(x, fs, start_s, duration_s)
    cols, ch = _channel(x, channel)
    try:
        g_db = float(gain_db)
    except (TypeError, ValueError):
        raise SignalSpecError(f"gain_db must be a real number, got {gain_db!r}") from None
    if math.isnan(g_db) or g_db == math.inf:
        raise SignalSpecError(f"gain_db must be finite or -inf, got {gain_db!r}")
    x[s:e, cols] *= _db_to_amplitude(g_db)
    kind = "level" if g_db > _DROPOUT_GAIN_DB else "dropout"
    return Impaired(x, (_fault(kind, ch, s, e, fs, cause="attenuate", gain_db=g_db),), fs)


def _conceal_start(x: np.ndarray, fs: int, start_s: Any, p: int) -> int:
    t = _real("start_s", start_s)
    s = _to_samples(t, fs)
    n = x.shape[0]
    if s < p:
        raise SignalSpecError(
            f"start_s={start_s!r} s (sample {s}) leaves no previous packet of {p} samples "
            "to conceal with"
        )
    if s + p > n:
        raise SignalSpecError(
            f"the concealed packet (samples {s} .. {s + p}) ends beyond the signal ({n} samples)"
        )
    return s


def _fade_ramp(p: int) -> np.ndarray:
    """Linear gain from 1 at the first sample of a packet to 0 at its last."""
    return np.linspace(1.0, 0.0, p) if p > 1 else np.zeros(1)


def repeat_packet(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    start_s: float,
    ptime_s: float = 0.02,
    channel: int | None = None,
) -> Impaired:
    """Conceal one packet by repeating the previous packet's audio.

    Samples ``[s, s + p)`` become a copy of ``[s - p, s)`` with
    ``s = round(start_s * fs)`` and ``p = round(ptime_s * fs)``.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    start_s : float
        Start of the concealed packet in s; needs ``s >= p``.
    ptime_s : float
        Packet time in s (default 0.02); must be a whole number of samples.
    channel : int or None
        Zero-based channel; ``None`` for all.

    Returns
    -------
    Impaired
        One fault of kind ``"glitch"``,
        ``detail={"cause": "repeat_packet", "plc": "repeat", "ptime_s": ...}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        No full previous packet, packet past the end, bad ``ptime_s`` or channel.

    Notes
    -----
    The simplest packet loss concealment (waveform repetition). A tone whose
    period divides the packet time is continued perfectly, so the fault is
    invisible there: use e.g. 997 Hz (see FIELD-NOTES "Test tones").
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    p = _packet_samples(ptime_s, fs)
    s = _conceal_start(x, fs, start_s, p)
    cols, ch = _channel(x, channel)
    x[s : s + p, cols] = x[s - p : s, cols]
    fault = _fault("glitch", ch, s, s + p, fs, cause="repeat_packet", plc="repeat", ptime_s=p / fs)
    return Impaired(x, (fault,), fs)


def fade_packet(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    start_s: float,
    ptime_s: float = 0.02,
    channel: int | None = None,
) -> Impaired:
    """Conceal one packet by repeating the previous packet with a fade-out.

    Samples ``[s, s + p)`` become ``y[s - p : s] * ramp`` where ``ramp``
    falls linearly from 1 at the first sample to 0 at the last.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    start_s : float
        Start of the concealed packet in s; needs ``s >= p``.
    ptime_s : float
        Packet time in s (default 0.02); must be a whole number of samples.
    channel : int or None
        Zero-based channel; ``None`` for all.

    Returns
    -------
    Impaired
        One fault of kind ``"glitch"``,
        ``detail={"cause": "fade_packet", "plc": "fade", "ptime_s": ...}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        As for :func:`repeat_packet`.

    Notes
    -----
    A simplification of ITU-T G.711 Appendix I (1999), which repeats pitch
    periods and attenuates by 20 % per 10 ms; here the whole previous packet
    is repeated under one linear ramp.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    p = _packet_samples(ptime_s, fs)
    s = _conceal_start(x, fs, start_s, p)
    cols, ch = _channel(x, channel)
    x[s : s + p, cols] = x[s - p : s, cols] * _fade_ramp(p)[:, None]
    fault = _fault("glitch", ch, s, s + p, fs, cause="fade_packet", plc="fade", ptime_s=p / fs)
    return Impaired(x, (fault,), fs)


def skip(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    start_s: float,
    duration_s: float,
) -> Impaired:
    """Delete a span of samples from all channels (the timeline shrinks).

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    start_s, duration_s : float
        Span to delete in s, as in :func:`zero_fill`.

    Returns
    -------
    Impaired
        ``y`` of shape ``(n_samples - k, n_channels)`` with
        ``k = round(duration_s * fs)``; one fault of kind ``"dropout"``,
        ``channel=None``, with ``start_sample == end_sample`` = the splice point
        on the output timeline, ``detail={"cause": "skip", "skipped_samples": k,
        "skipped_s": k / fs}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Bad span, or the span covers the whole signal.

    Notes
    -----
    Models receivers that drop lost packets without filling the gap
    (GStreamer without ``audiorate``, ffmpeg's RTP demuxer).
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    s, e = _span(x, fs, start_s, duration_s)
    if e - s >= x.shape[0]:
        raise SignalSpecError("skip would delete the whole signal")
    out = np.concatenate((x[:s], x[e:]), axis=0)
    k = e - s
    fault = _fault("dropout", None, s, s, fs, cause="skip", skipped_samples=k, skipped_s=k / fs)
    return Impaired(out, (fault,), fs)


_PLC = ("zero", "repeat", "fade", "skip")
_LOSS_MODELS = ("random", "gilbert")


def _loss_pattern(
    n_packets: int,
    *,
    model: str,
    loss: float,
    p_gb: float,
    p_bg: float,
    seed: int,
    first_packet: int,
) -> np.ndarray:
    """Boolean loss flag per packet, shape (n_packets,)."""
    rng = np.random.default_rng(seed)
    u = rng.random(n_packets)
    if model == "random":
        lost = u < loss
    else:
        lost = np.zeros(n_packets, dtype=bool)
        bad = False
        for k in range(first_packet, n_packets):
            bad = (u[k] >= p_bg) if bad else (u[k] < p_gb)
            lost[k] = bad
    lost[:first_packet] = False
    return lost


def packet_loss(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    ptime_s: float = 0.02,
    loss: float = 0.02,
    model: str = "random",
    p_gb: float = 0.01,
    p_bg: float = 0.3,
    plc: str = "zero",
    seed: int = 0,
    first_packet: int = 1,
) -> Impaired:
    """Lose packets on a fixed packet grid and conceal them.

    Packet ``k`` covers samples ``[k*p, (k+1)*p)`` with
    ``p = round(ptime_s * fs)`` (the last packet may be short). Packets are
    lost at random (seeded); every packet lost affects all channels.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    ptime_s : float
        Packet time in s (default 0.02); must be a whole number of samples.
    loss : float
        Loss probability per packet, 0..1, for ``model="random"`` (Bernoulli).
    model : {"random", "gilbert"}
        ``"random"``: independent losses with probability ``loss``.
        ``"gilbert"``: two-state Gilbert model, every packet in the bad state
        is lost; ``loss`` is ignored. Mean loss ``p_gb / (p_gb + p_bg)``, mean
        burst length ``1 / p_bg`` packets.
    p_gb, p_bg : float
        Gilbert transition probabilities good->bad and bad->good, 0..1.
    plc : {"zero", "repeat", "fade", "skip"}
        Concealment: ``"zero"`` digital zeros; ``"repeat"`` every lost packet
        repeats the last received packet; ``"fade"`` the first lost packet of a
        burst repeats the last received packet under a linear fade to 0
        (as :func:`fade_packet`) and the rest of the burst is zeros; ``"skip"``
        lost samples are deleted and the timeline shrinks.
    seed : int
        Seed for ``np.random.default_rng``; same seed, same losses.
    first_packet : int
        Packets before this index are never lost (>= 1, so packet 0 always
        arrives and there is always a packet to repeat).

    Returns
    -------
    Impaired
        One fault per burst of consecutive lost packets, ``channel=None``:
        kind ``"dropout"`` for ``"zero"`` and ``"skip"``, ``"glitch"`` for
        ``"repeat"`` and ``"fade"``. ``detail`` has ``cause``, ``plc``,
        ``model``, ``ptime_s``, ``seed``, ``first_lost_packet`` (input packet
        index) and ``n_packets``. For ``"skip"`` the span is the splice point on the
        output timeline (``start_sample == end_sample``, shifted by all earlier
        skips) and ``detail`` adds ``skipped_samples`` and ``skipped_s``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Unknown ``model`` or ``plc``, probabilities outside 0..1, a packet time
        that is not a whole number of samples, ``first_packet < 1``.

    Notes
    -----
    Gilbert model: E. N. Gilbert, "Capacity of a burst-noise channel", Bell
    Syst. Tech. J. 39 (1960); the same two-state form as RFC 3611 sec. 4.7.2.
    The chain starts in the good state at ``first_packet``. The uniform
    draws are one per packet, so the pattern for a seed does not depend on
    ``plc``.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    p = _packet_samples(ptime_s, fs)
    if model not in _LOSS_MODELS:
        raise SignalSpecError(f"model must be one of {_LOSS_MODELS!r}, got {model!r}")
    if plc not in _PLC:
        raise SignalSpecError(f"plc must be one of {_PLC!r}, got {plc!r}")
    probs = {"loss": loss, "p_gb": p_gb, "p_bg": p_bg}
    for name, value in probs.items():
        v = _real(name, value)
        if not 0.0 <= v <= 1.0:
            raise SignalSpecError(f"{name} must be a probability in [0, 1], got {value!r}")
    first = _int("first_packet", first_packet, minimum=1)
    seed_value = _seed(seed)
    n = x.shape[0]
    n_packets = -(-n // p)
    lost = _loss_pattern(
        n_packets,
        model=model,
        loss=float(loss),
        p_gb=float(p_gb),
        p_bg=float(p_bg),
        seed=seed_value,
        first_packet=first,
    )
    kind = "glitch" if plc in ("repeat", "fade") else "dropout"
    common = {
        "cause": "packet_loss",
        "plc": plc,
        "model": model,
        "ptime_s": p / fs,
        "seed": seed_value,
    }
    faults: list[Fault] = []
    keep = np.ones(n, dtype=bool)
    removed = 0
    ramp = _fade_ramp(p)
    for k0, k1 in _runs(lost):
        s, e = int(k0) * p, min(int(k1) * p, n)
        info = dict(common, first_lost_packet=int(k0), n_packets=int(k1 - k0))
        if plc == "zero":
            x[s:e] = 0.0
        elif plc == "repeat":
            prev = x[s - p : s]
            x[s:e] = np.tile(prev, (int(k1 - k0), 1))[: e - s]
        elif plc == "fade":
            m = min(p, e - s)
            x[s : s + m] = x[s - p : s - p + m] * ramp[:m, None]
            x[s + m : e] = 0.0
        else:
            keep[s:e] = False
            splice = s - removed
            removed += e - s
            info.update(skipped_samples=e - s, skipped_s=(e - s) / fs)
            faults.append(_fault(kind, None, splice, splice, fs, **info))
            continue
        faults.append(_fault(kind, None, s, e, fs, **info))
    if plc == "skip":
        x = x[keep]
    return Impaired(x, tuple(faults), fs)


def click(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    at_s: float,
    amplitude: float = 0.5,
    channel: int | None = None,
) -> Impaired:
    """Add a single-sample impulse.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    at_s : float
        Time of the impulse in s; sample ``round(at_s * fs)``.
    amplitude : float
        Value added to that sample, in full-scale units (non-zero). The sum is
        not clipped and may leave [-1, 1).
    channel : int or None
        Zero-based channel; ``None`` for all.

    Returns
    -------
    Impaired
        One fault of kind ``"glitch"`` spanning one sample,
        ``detail={"cause": "click", "amplitude": amplitude}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        ``at_s`` outside the signal, zero or non-finite amplitude, bad channel.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    i = _point(x, fs, at_s)
    a = _real("amplitude", amplitude)
    if a == 0.0:
        raise SignalSpecError("amplitude must be non-zero")
    cols, ch = _channel(x, channel)
    x[i, cols] += a
    return Impaired(x, (_fault("glitch", ch, i, i + 1, fs, cause="click", amplitude=a),), fs)


# --------------------------------------------------------------------------- level


def _clip_runs(
    pre: np.ndarray, limit: float, fs: int, channels: Sequence[int], **detail: Any
) -> list[Fault]:
    faults: list[Fault] = []
    for c in channels:
        over = np.abs(pre[:, c]) > limit
        for s, e in _runs(over):
            peak = float(np.max(np.abs(pre[s:e, c])))
            faults.append(
                _fault(
                    "clipping",
                    c,
                    s,
                    e,
                    fs,
                    limit=limit,
                    n_samples=int(e - s),
                    peak_before=peak,
                    **detail,
                )
            )
    faults.sort(key=lambda f: (f.start_sample, f.channel))
    return faults


def clip(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    limit: float = 1.0,
    channel: int | None = None,
) -> Impaired:
    """Clip samples to ``[-limit, limit]``.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    limit : float
        Clipping level in full-scale units (> 0); 1.0 is full scale.
    channel : int or None
        Zero-based channel; ``None`` for all.

    Returns
    -------
    Impaired
        One fault of kind ``"clipping"`` per channel and per run of
        consecutive samples with ``|y| > limit`` (the samples clipping
        changed), sorted by start. ``detail`` has ``cause``, ``limit``,
        ``n_samples`` and ``peak_before`` (max ``|y|`` in the run).

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        ``limit`` not finite and positive, bad channel.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    lim = _real("limit", limit)
    if lim <= 0:
        raise SignalSpecError(f"limit must be > 0, got {limit!r}")
    cols, ch = _channel(x, channel)
    chans = range(x.shape[1]) if ch is None else [ch]
    faults = _clip_runs(x, lim, fs, chans, cause="clip")
    x[:, cols] = np.clip(x[:, cols], -lim, lim)
    return Impaired(x, tuple(faults), fs)


def hard_clip(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    gain_db: float,
    ceiling: float = 1.0,
) -> Impaired:
    """Amplify all channels, then clip at ``ceiling`` (an overdriven stage).

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    gain_db : float
        Amplitude gain in dB applied before clipping.
    ceiling : float
        Clipping level in full-scale units (> 0), default 1.0 (full scale).

    Returns
    -------
    Impaired
        A ``"gain"`` condition fault spanning the file (only when
        ``gain_db != 0``), then one ``"clipping"`` fault per channel and run of
        samples with ``|y * g| > ceiling``; ``detail`` as in :func:`clip`
        plus ``gain_db``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Non-finite ``gain_db``; ``ceiling`` not finite and positive.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    g_db = _real("gain_db", gain_db)
    lim = _real("ceiling", ceiling)
    if lim <= 0:
        raise SignalSpecError(f"ceiling must be > 0, got {ceiling!r}")
    x *= _db_to_amplitude(g_db)
    faults: list[Fault] = []
    if g_db != 0.0:
        faults.append(_whole("gain", None, x, fs, cause="hard_clip", gain_db=g_db))
    faults += _clip_runs(x, lim, fs, range(x.shape[1]), cause="hard_clip", gain_db=g_db)
    np.clip(x, -lim, lim, out=x)
    return Impaired(x, tuple(faults), fs)


def gain(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    gain_db: float,
    channel: int | None = None,
) -> Impaired:
    """Apply a whole-file gain.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    gain_db : float
        Amplitude gain in dB (``20*log10``). The result is not clipped.
    channel : int or None
        Zero-based channel; ``None`` for all.

    Returns
    -------
    Impaired
        One condition fault of kind ``"gain"`` spanning the file,
        ``detail={"cause": "gain", "gain_db": gain_db}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Non-finite ``gain_db``, bad channel.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    g_db = _real("gain_db", gain_db)
    cols, ch = _channel(x, channel)
    x[:, cols] *= _db_to_amplitude(g_db)
    return Impaired(x, (_whole("gain", ch, x, fs, cause="gain", gain_db=g_db),), fs)


def near_silence(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    start_s: float,
    duration_s: float,
    level_dbfs: float = -70.0,
    seed: int = 0,
    channel: int | None = None,
) -> Impaired:
    """Replace a span with low-level white Gaussian noise (a "silent" stretch).

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    start_s, duration_s : float
        Span in s, as in :func:`zero_fill`.
    level_dbfs : float
        Noise level in dBFS (AES17): the RMS over the span of each affected
        channel is exactly ``10**(level_dbfs/20) / sqrt(2)``.
    seed : int
        Seed for ``np.random.default_rng``.
    channel : int or None
        Zero-based channel; ``None`` for all (independent noise per channel).

    Returns
    -------
    Impaired
        One fault of kind ``"silence"``,
        ``detail={"cause": "near_silence", "level_dbfs": level_dbfs, "seed": seed}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Bad span or channel, non-finite ``level_dbfs``, negative seed.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    s, e = _span(x, fs, start_s, duration_s)
    lvl = _real("level_dbfs", level_dbfs)
    cols, ch = _channel(x, channel)
    seed_value = _seed(seed)
    rng = np.random.default_rng(seed_value)
    n_cols = x[:, cols].shape[1]
    noise = rng.standard_normal((e - s, n_cols))
    rms = np.sqrt(np.mean(noise**2, axis=0))
    target = _db_to_amplitude(lvl) / math.sqrt(2.0)
    x[s:e, cols] = noise * (target / rms)
    fault = _fault("silence", ch, s, e, fs, cause="near_silence", level_dbfs=lvl, seed=seed_value)
    return Impaired(x, (fault,), fs)


def _active_rms(col: np.ndarray, fs: int) -> float:
    """RMS over the active 10 ms blocks of one channel (0.0 if silent)."""
    block = max(1, _to_samples(ACTIVE_BLOCK_S, fs))
    starts = np.arange(0, col.shape[0], block)
    energy = np.add.reduceat(col**2, starts)
    counts = np.diff(np.append(starts, col.shape[0]))
    block_rms = np.sqrt(energy / counts)
    loudest = float(block_rms.max())
    if loudest == 0.0:
        return 0.0
    active = block_rms >= loudest * _db_to_amplitude(ACTIVE_THRESHOLD_DB)
    return float(np.sqrt(energy[active].sum() / counts[active].sum()))


def add_noise(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    snr_db: float,
    seed: int = 0,
    channel: int | None = None,
) -> Impaired:
    """Add white Gaussian noise at a given SNR per channel.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    snr_db : float
        Signal to noise ratio in dB (power ratio, ``10*log10``, full band up to
        Nyquist). The signal power is that of the channel's active part: the
        10 ms blocks (:data:`ACTIVE_BLOCK_S`) whose RMS is within 50 dB
        (:data:`ACTIVE_THRESHOLD_DB`) of the loudest block. The noise is
        scaled so its RMS over the whole file is exactly
        ``active_rms * 10**(-snr_db/20)``.
    seed : int
        Seed for ``np.random.default_rng``.
    channel : int or None
        Zero-based channel; ``None`` for all (independent noise per channel).

    Returns
    -------
    Impaired
        One condition fault of kind ``"noise"`` per affected channel,
        spanning the file, ``detail={"cause": "add_noise", "snr_db": ...,
        "noise_rms": ..., "signal_rms": ..., "seed": seed}``. A channel that is all zeros
        gets no noise (``noise_rms`` 0.0). The result is not clipped.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Non-finite ``snr_db``, bad channel or seed.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    snr = _real("snr_db", snr_db)
    _, ch = _channel(x, channel)
    chans = range(x.shape[1]) if ch is None else [ch]
    seed_value = _seed(seed)
    rng = np.random.default_rng(seed_value)
    noise = rng.standard_normal((x.shape[0], x.shape[1]))
    faults = []
    for c in chans:
        sig = _active_rms(x[:, c], fs)
        target = sig * _db_to_amplitude(-snr)
        if target > 0.0:
            x[:, c] += noise[:, c] * (target / np.sqrt(np.mean(noise[:, c] ** 2)))
        faults.append(
            _whole(
                "noise",
                c,
                x,
                fs,
                cause="add_noise",
                snr_db=snr,
                noise_rms=target,
                signal_rms=sig,
                seed=seed_value,
            )
        )
    return Impaired(x, tuple(faults), fs)


def dc_offset(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    offset: float,
    channel: int | None = None,
) -> Impaired:
    """Add a constant (DC) offset.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    offset : float
        Value added to every sample, in full-scale units. Not clipped.
    channel : int or None
        Zero-based channel; ``None`` for all.

    Returns
    -------
    Impaired
        One condition fault of kind ``"dc"`` spanning the file,
        ``detail={"cause": "dc_offset", "offset": offset}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Non-finite ``offset``, bad channel.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    off = _real("offset", offset)
    cols, ch = _channel(x, channel)
    x[:, cols] += off
    return Impaired(x, (_whole("dc", ch, x, fs, cause="dc_offset", offset=off),), fs)


def invert_polarity(y: np.ndarray, sample_rate_hz: int, *, channel: int | None = None) -> Impaired:
    """Invert the polarity (multiply by -1).

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified. (-1.0 becomes +1.0, outside [-1, 1).)
    sample_rate_hz : int
        Sample rate in Hz.
    channel : int or None
        Zero-based channel; ``None`` for all.

    Returns
    -------
    Impaired
        One condition fault of kind ``"polarity"`` spanning the file.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Bad channel.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    cols, ch = _channel(x, channel)
    x[:, cols] *= -1.0
    return Impaired(x, (_whole("polarity", ch, x, fs, cause="invert_polarity"),), fs)


def swap_channels(
    y: np.ndarray, sample_rate_hz: int, *, channels: tuple[int, int] = (0, 1)
) -> Impaired:
    """Exchange two channels (e.g. left and right).

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio with at least two channels; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    channels : tuple of two int
        Zero-based indices of the channels to exchange (default ``(0, 1)``).

    Returns
    -------
    Impaired
        One condition fault of kind ``"channel_swap"`` spanning the file,
        ``channel=None``, ``detail={"cause": "swap_channels",
        "channels": (a, b)}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Fewer than two channels, or ``channels`` not two distinct existing
        channels.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    try:
        a, b = channels
    except (TypeError, ValueError):
        raise SignalSpecError(
            f"channels must be a pair of channel indices, got {channels!r}"
        ) from None
    a = _int("channels[0]", a, minimum=0)
    b = _int("channels[1]", b, minimum=0)
    _channel(x, a)  # range checks
    _channel(x, b)
    if a == b:
        raise SignalSpecError(f"channels must be two different channels, got {channels!r}")
    x[:, [a, b]] = x[:, [b, a]]
    fault = _whole("channel_swap", None, x, fs, cause="swap_channels", channels=(a, b))
    return Impaired(x, (fault,), fs)


# --------------------------------------------------------------------------- timing


def delay(
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    delay_s: float,
    total_s: float | None = None,
) -> Impaired:
    """Delay the audio by a (possibly fractional) time, prepending silence.

    Positive ``delay_s``: the output lags the input; input sample ``i`` lands
    at output position ``i + delay_s * fs``.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    delay_s : float
        Delay in s (>= 0). Fractions of a sample are allowed.
    total_s : float or None
        Output length in s (``round(total_s * fs)`` samples, >= 1); the delayed
        audio is cut or padded with zeros to fit. ``None``: the output has
        ``n_samples + ceil(delay_s * fs)`` samples.

    Returns
    -------
    Impaired
        One condition fault of kind ``"delay"`` spanning the output,
        ``detail={"cause": "delay", "delay_s": ..., "delay_samples": ...}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Negative or non-finite ``delay_s``; ``total_s`` shorter than a sample.

    Notes
    -----
    A whole number of samples is an exact shift. A fractional delay is the
    ideal band-limited delay, applied as a linear phase
    ``exp(-2j*pi*k*d/N)`` on the DFT of the signal zero-padded by 8192
    samples each side (Laakso et al., "Splitting the unit delay", IEEE Signal
    Processing Magazine 13(1), 1996, sec. II). An abrupt start or end of the
    input then rings (Gibbs) on both sides of the edge, as a real band-limited
    system would.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    d_s = _real("delay_s", delay_s)
    if d_s < 0:
        raise SignalSpecError(f"delay_s must be >= 0 s (output lags input), got {delay_s!r}")
    d = d_s * fs
    n, n_ch = x.shape
    d_int = int(round(d))
    integer = abs(d - d_int) < _INT_TOL
    n_natural = n + (d_int if integer else math.ceil(d))
    if total_s is None:
        n_out = n_natural
    else:
        n_out = _to_samples(_real("total_s", total_s), fs)
        if n_out < 1:
            raise SignalSpecError(f"total_s={total_s!r} s is shorter than one sample")
    if integer:
        out = np.zeros((n_out, n_ch))
        m = max(0, min(n, n_out - d_int))
        out[d_int : d_int + m] = x[:m]
        d = float(d_int)
    else:
        g = _FFT_GUARD
        size = sp_fft.next_fast_len(max(n_out, n_natural) + 2 * g, real=True)
        buf = np.zeros((size, n_ch))
        buf[g : g + n] = x
        k = np.arange(size // 2 + 1)
        spec = sp_fft.rfft(buf, axis=0) * np.exp(-2j * np.pi * k * d / size)[:, None]
        out = sp_fft.irfft(spec, n=size, axis=0)[g : g + n_out]
    fault = _fault("delay", None, 0, n_out, fs, cause="delay", delay_s=d_s, delay_samples=d)
    return Impaired(np.ascontiguousarray(out), (fault,), fs)


def _bandlimited_interp(x: np.ndarray, t: np.ndarray, *, cutoff: float) -> np.ndarray:
    """Evaluate ``x`` (n, c) at fractional positions ``t`` (m,) by windowed sinc.

    Kernel ``h(u) = cutoff * sinc(cutoff * u) * w(u / K)``, ``w`` the Kaiser
    window (beta from Kaiser's formula for 100 dB), ``K`` = 64 taps each side.
    Samples outside ``x`` are zeros.
    """
    n = x.shape[0]
    half = _INTERP_HALF_TAPS
    offsets = np.arange(-half + 1, half + 1)
    norm = special.i0(_INTERP_BETA)
    out = np.empty((t.shape[0], x.shape[1]))
    for i in range(0, t.shape[0], _INTERP_CHUNK):
        tc = t[i : i + _INTERP_CHUNK]
        base = np.floor(tc).astype(np.int64)
        dist = (tc - base)[:, None] - offsets[None, :]
        u = dist / half
        win = special.i0(_INTERP_BETA * np.sqrt(np.clip(1.0 - u * u, 0.0, None))) / norm
        h = cutoff * np.sinc(cutoff * dist) * win
        idx = base[:, None] + offsets[None, :]
        h[(idx < 0) | (idx >= n)] = 0.0
        out[i : i + _INTERP_CHUNK] = np.einsum("mk,mkc->mc", h, x[np.clip(idx, 0, n - 1)])
    return out


def drift(y: np.ndarray, sample_rate_hz: int, *, ppm: float) -> Impaired:
    """Resample so the content lasts ``1 + ppm * 1e-6`` times longer (clock drift).

    Output sample ``m`` carries the input at position ``m / r`` with
    ``r = 1 + ppm * 1e-6``: a tone at ``f`` Hz comes out at ``f / r`` Hz and
    input sample ``i`` lands at output position ``i * r``. Positive ppm: the
    received content is longer (the sender's clock is slow relative to the
    receiver's).

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz (the same for input and output).
    ppm : float
        Drift in parts per million, ``-1e5 < ppm < 1e5``.

    Returns
    -------
    Impaired
        ``y`` with ``round(n_samples * r)`` samples; one condition fault of
        kind ``"drift"`` spanning the output,
        ``detail={"cause": "drift", "ppm": ppm, "ratio": r}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        Non-finite ``ppm`` or ``|ppm| >= 1e5``.

    Notes
    -----
    Band-limited interpolation at the exact positions ``m / r`` with a
    Kaiser-windowed sinc of 128 taps, cutoff 0.95 x Nyquist (times ``r`` when
    ``r < 1``, against aliasing) and about 100 dB stopband (J. O. Smith,
    "Digital Audio Resampling Home Page", CCRMA; Kaiser window design after
    Oppenheim & Schafer, "Discrete-Time Signal Processing", sec. 7.5.3).
    It works for any ppm, unlike a rational ``resample_poly`` whose filter
    grows with the denominator. Content above 0.90 x Nyquist is attenuated,
    and the first and last 64 output samples see zeros beyond the input.
    ``ppm == 0`` returns an exact copy.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    drift_ppm = _real("ppm", ppm)
    if not abs(drift_ppm) < 1e5:
        raise SignalSpecError(f"ppm must be within (-1e5, 1e5), got {ppm!r}")
    ratio = 1.0 + drift_ppm * 1e-6
    n = x.shape[0]
    if drift_ppm == 0.0:
        out = x
    else:
        n_out = max(1, int(round(n * ratio)))
        t = np.arange(n_out, dtype=np.float64) / ratio
        out = _bandlimited_interp(x, t, cutoff=_INTERP_CUTOFF * min(1.0, ratio))
    fault = _fault("drift", None, 0, out.shape[0], fs, cause="drift", ppm=drift_ppm, ratio=ratio)
    return Impaired(out, (fault,), fs)


# --------------------------------------------------------------------------- G.711 round trips
# (the codec itself is validator.codecs.g711)


def mu_law_round_trip(y: np.ndarray, sample_rate_hz: int) -> Impaired:
    """Pass audio through a G.711 mu-law (PCMU) encoder and decoder.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified. Values beyond full scale are clipped by
        the 16-bit quantiser (and not reported).
    sample_rate_hz : int
        Sample rate in Hz (G.711 is specified at 8000 Hz; any rate is accepted).

    Returns
    -------
    Impaired
        One condition fault of kind ``"codec"`` spanning the file,
        ``detail={"cause": "mu_law_round_trip", "codec": "PCMU"}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.

    Notes
    -----
    See :func:`mu_law_encode` and :func:`mu_law_decode`. The round trip of a
    -10 dBFS sine has an SNR of about 38 dB.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    out = mu_law_decode(mu_law_encode(x))
    return Impaired(
        out, (_whole("codec", None, out, fs, cause="mu_law_round_trip", codec="PCMU"),), fs
    )


def a_law_round_trip(y: np.ndarray, sample_rate_hz: int) -> Impaired:
    """Pass audio through a G.711 A-law (PCMA) encoder and decoder.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified. Values beyond full scale are clipped by
        the 16-bit quantiser (and not reported).
    sample_rate_hz : int
        Sample rate in Hz.

    Returns
    -------
    Impaired
        One condition fault of kind ``"codec"`` spanning the file,
        ``detail={"cause": "a_law_round_trip", "codec": "PCMA"}``.

    Raises
    ------
    AudioFormatError
        Bad ``y``.

    Notes
    -----
    See :func:`a_law_encode` and :func:`a_law_decode`.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    out = a_law_decode(a_law_encode(x))
    return Impaired(
        out, (_whole("codec", None, out, fs, cause="a_law_round_trip", codec="PCMA"),), fs
    )


# --------------------------------------------------------------------------- compose

#: Every impairment by name, for :func:`compose` steps and a CLI.
IMPAIRMENTS: Mapping[str, Callable[..., Impaired]] = {
    f.__name__: f
    for f in (
        zero_fill,
        attenuate,
        repeat_packet,
        fade_packet,
        skip,
        packet_loss,
        click,
        clip,
        hard_clip,
        gain,
        near_silence,
        add_noise,
        dc_offset,
        invert_polarity,
        swap_channels,
        delay,
        drift,
        mu_law_round_trip,
        a_law_round_trip,
    )
}


def _position_map(step: Impaired, n_in: int) -> Callable[[float], float]:
    """Map an input-timeline position of one step to its output timeline."""
    splices = sorted(
        (f for f in step.faults if "skipped_samples" in f.detail), key=lambda f: f.start_sample
    )
    delays = [f for f in step.faults if f.kind == "delay"]
    drifts = [f for f in step.faults if f.kind == "drift"]
    if splices:
        removed = 0
        spans = []
        for f in splices:
            u = f.start_sample + removed
            k = int(f.detail["skipped_samples"])
            spans.append((u, u + k))
            removed += k

        def through_skips(p: float) -> float:
            return p - sum(min(max(p - u, 0), v - u) for u, v in spans)

        return through_skips
    if delays:
        d = float(delays[0].detail["delay_samples"])
        return lambda p: p + d
    if drifts:
        r = float(drifts[0].detail["ratio"])
        return lambda p: p * r
    if step.y.shape[0] != n_in:
        raise SignalSpecError(
            "a compose step changed the signal length without a skip, delay or drift fault "
            "describing how; its earlier faults cannot be placed"
        )
    return lambda p: p


def _translate(faults: list[Fault], step: Impaired, n_in: int) -> list[Fault]:
    """Carry earlier faults through one step's timeline and channel changes."""
    n_out = step.y.shape[0]
    fs = step.sample_rate_hz
    pos = _position_map(step, n_in)
    perm: dict[int, int] = {}
    for f in step.faults:
        if f.kind == "channel_swap":
            a, b = f.detail["channels"]
            perm = {a: b, b: a}
    out: list[Fault] = []
    for f in faults:
        a, b = pos(f.start_sample), pos(f.end_sample)
        if f.start_sample == f.end_sample:
            s = e = int(round(a))
            if s > n_out:
                continue
        else:
            s = math.floor(a + _INT_TOL)
            e = min(math.ceil(b - _INT_TOL), n_out)
            if e <= s:
                continue  # skipped or cut away entirely: no longer in the output
        ch = perm.get(f.channel, f.channel) if f.channel is not None else None
        out.append(Fault(f.kind, ch, s, e, s / fs, e / fs, dict(f.detail)))
    return out


def compose(
    y: np.ndarray,
    sample_rate_hz: int,
    steps: Sequence[tuple[Callable[..., Impaired] | str, Mapping[str, Any]]],
    *,
    seed: int = 0,
) -> Impaired:
    """Apply several impairments in turn, keeping all truth on the final timeline.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    steps : sequence of (function or name, kwargs)
        Each step is called as ``function(y, sample_rate_hz, **kwargs)``; a
        name is looked up in :data:`IMPAIRMENTS`. Any callable returning an
        :class:`Impaired` works; one that changes the length must describe it
        with the faults used below.
    seed : int
        Steps that take a ``seed`` and were not given one get a distinct seed
        derived from this one (``np.random.SeedSequence(seed).spawn``).

    Returns
    -------
    Impaired
        The final audio; the faults of all steps in order, each on the final
        timeline.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        A malformed step, an unknown name, or any error of a step.

    Notes
    -----
    After each step the earlier faults are moved onto its output timeline:
    through deletions (``"skipped_samples"`` in a fault's detail: :func:`skip`
    and ``packet_loss(plc="skip")``) exactly, a fault wholly inside a deleted
    span being dropped; through :func:`delay` by ``+delay_samples``; through
    :func:`drift` by ``x ratio``; spans that land between samples are widened
    to whole samples (floor of the start, ceiling of the end), so they are
    exact for whole-sample delays and within one sample otherwise. A span cut
    off by ``delay(total_s=...)`` is shortened or dropped. :func:`swap_channels`
    renumbers the channels of earlier faults.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    children = np.random.SeedSequence(_seed(seed)).spawn(len(steps))
    faults: list[Fault] = []
    for i, step in enumerate(steps):
        try:
            fn, kwargs = step
        except (TypeError, ValueError):
            raise SignalSpecError(
                f"step {i} must be a (function, kwargs) pair, got {step!r}"
            ) from None
        if isinstance(fn, str):
            if fn not in IMPAIRMENTS:
                raise SignalSpecError(
                    f"step {i}: unknown impairment {fn!r}; expected one of {sorted(IMPAIRMENTS)!r}"
                )
            fn = IMPAIRMENTS[fn]
        if not callable(fn) or not isinstance(kwargs, Mapping):
            raise SignalSpecError(f"step {i} must be a (function, kwargs) pair, got {step!r}")
        kw = dict(kwargs)
        try:
            takes_seed = "seed" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            takes_seed = False
        if takes_seed and "seed" not in kw:
            kw["seed"] = int(children[i].generate_state(1)[0])
        n_in = x.shape[0]
        try:
            res = fn(x, fs, **kw)
        except TypeError as exc:
            raise SignalSpecError(f"step {i} ({getattr(fn, '__name__', fn)!r}): {exc}") from exc
        if not isinstance(res, Impaired):
            raise SignalSpecError(f"step {i} returned {type(res).__name__!r}, not Impaired")
        faults = _translate(faults, res, n_in)
        faults.extend(res.faults)
        x = res.y
    return Impaired(x, tuple(faults), fs)
