"""Fault injection's model (:class:`Fault`, :class:`Impaired`) and its argument checks.

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

The impairments live in :mod:`~validator.impair.packet` (dropouts,
glitches, packet loss), :mod:`~validator.impair.level` (gain, clipping,
noise, polarity, channels), :mod:`~validator.impair.timing` (delay, drift)
and :mod:`~validator.impair.codec` (G.711 round trips);
:func:`~validator.impair.compose` (:mod:`~validator.impair.composition`)
applies several impairments in turn and carries the truth of earlier steps
through later timeline changes (skip, packet loss with skip concealment,
delay, drift, channel swap).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from validator.errors import SignalSpecError
from validator.io.audio import valid_audio

__all__ = [
    "CONDITION_KINDS",
    "EVENT_KINDS",
    "Fault",
    "Impaired",
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
#: Tolerance when a position mapped through a timeline change is rounded to a sample.
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


# --------------------------------------------------------------------------- checks and helpers


def _audio(y: Any) -> np.ndarray:
    """Check ``y`` with the one input gate (2-D, finite) and return a float64 copy."""
    return np.array(valid_audio(y, allow_1d=False, max_abs_sample=None), dtype=np.float64,
                    copy=True)


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
