"""The E-model's loss inputs: a modelled jitter buffer (late packets) and the Gilbert fit (BurstR).

Pure functions of plain sequences (no numpy), each returning a frozen dataclass.

* :func:`late_packets` plays arrival times against RTP times through a
  receiver's jitter buffer and marks the packets that arrive after their
  play-out deadline. G.107 (clause 7.5) and G.113 count such a packet as lost:
  Ppl is the loss *after* the buffer.
* :func:`gilbert_fit` fits the 2-state Markov (Gilbert) loss model to a
  loss pattern and gives BurstR = 1 / (p + q) (G.107 (06/2015) clause 7.5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from validator.defaults import DEFAULT_JITTER_BUFFER_MS
from validator.errors import ValidatorError

__all__ = [
    "ADAPTIVE_ALPHA",
    "ADAPTIVE_BETA",
    "DEFAULT_JITTER_BUFFER_MS",
    "GilbertFit",
    "JitterBuffer",
    "PlayoutResult",
    "gilbert_fit",
    "late_from_transit",
    "late_mask",
    "late_packets",
    "parse_jitter_buffer",
]

#: Ramjee et al. (1994), algorithm 1: weight of the past in the delay and variation estimates.
ADAPTIVE_ALPHA = 0.998002
#: Ramjee et al. (1994), algorithm 1: play-out delay = mean delay + ADAPTIVE_BETA x variation.
ADAPTIVE_BETA = 4.0
#: Largest buffer accepted, ms.
MAX_JITTER_BUFFER_MS = 10_000.0


class JitterBufferSpecError(ValidatorError, ValueError):
    """A jitter buffer specification (``fixed:60``, ``adaptive``) is malformed."""


@dataclass(frozen=True)
class JitterBuffer:
    """A receiver's jitter buffer, as modelled for the E-model.

    Attributes
    ----------
    type : str
        ``"fixed"``: every packet is played ``size_ms`` after the RTP time of
        the first packet to arrive (its arrival anchors the play-out clock); a
        packet that arrives later than that is late. ``"adaptive"``: the
        play-out delay follows the measured transit delay and its variation
        (Ramjee et al. 1994, :func:`late_packets`), starting at ``size_ms``.
    size_ms : float
        Fixed buffer depth, or the adaptive buffer's starting depth, ms.
    """

    type: str = "fixed"
    size_ms: float = DEFAULT_JITTER_BUFFER_MS

    def __post_init__(self) -> None:
        """Check the type and the size.

        Raises
        ------
        JitterBufferSpecError
            A type other than fixed or adaptive, or a size outside 0..MAX_JITTER_BUFFER_MS.
        """
        if self.type not in ("fixed", "adaptive"):
            raise JitterBufferSpecError(f"bad jitter buffer type {self.type!r}: expected "
                                        "'fixed' or 'adaptive'")
        if not 0 <= self.size_ms <= MAX_JITTER_BUFFER_MS:  # also refuses NaN
            raise JitterBufferSpecError(f"bad jitter buffer size {self.size_ms!r} ms: expected "
                                        f"0..{MAX_JITTER_BUFFER_MS:g}")

    def __str__(self) -> str:
        """The option form, ``fixed:60`` or ``adaptive:40``."""
        return f"{self.type}:{self.size_ms:g}"

    def to_dict(self) -> dict[str, object]:
        """``{"type": ..., "size_ms": ...}``."""
        return {"type": self.type, "size_ms": self.size_ms}


def parse_jitter_buffer(text: str) -> JitterBuffer:
    """Parse ``fixed:60``, ``fixed``, ``adaptive``, ``adaptive:40`` or a bare ``60`` (fixed).

    Parameters
    ----------
    text : str
        ``TYPE[:MS]`` or ``MS``; sizes in ms, 0..10000. Without a size, the
        default :data:`DEFAULT_JITTER_BUFFER_MS`.

    Returns
    -------
    JitterBuffer

    Raises
    ------
    JitterBufferSpecError
        Anything else; the message shows the text and the accepted forms.
    """
    s = str(text).strip().lower()
    kind, _, size = s.partition(":")
    if kind not in ("fixed", "adaptive"):
        kind, size = "fixed", s
    elif not size:
        size = str(DEFAULT_JITTER_BUFFER_MS)
    try:
        ms = float(size)
    except ValueError:
        ms = float("nan")
    if not math.isfinite(ms) or not 0 <= ms <= MAX_JITTER_BUFFER_MS:
        raise JitterBufferSpecError(f"bad jitter buffer {text!r}: expected fixed:MS, adaptive, "
                                    f"adaptive:MS or MS, with MS in 0..{MAX_JITTER_BUFFER_MS:g}")
    return JitterBuffer(kind, ms)


@dataclass(frozen=True)
class PlayoutResult:
    """What a modelled jitter buffer did to a stream.

    Attributes
    ----------
    late : tuple of bool
        Per packet (in the order given): it arrived after its play-out deadline.
    mean_wait_ms : float or None
        Mean time the packets that were in time waited in the buffer, ms
        (their arrival to their play-out); the delay the buffer adds. None
        when no packet was in time.
    final_delay_ms : float
        Play-out delay in force at the end, ms, above the smallest transit
        delay seen (the buffer's depth over the fastest packet).
    """

    late: tuple[bool, ...]
    mean_wait_ms: float | None
    final_delay_ms: float

    @property
    def late_count(self) -> int:
        """Packets that arrived too late."""
        return sum(self.late)


def late_packets(arrival_ms: Sequence[float], rtp_ms: Sequence[float], *,
                 buffer: JitterBuffer | None = None, packet_ms: float = 20.0) -> PlayoutResult:
    """Mark the packets that arrive after their play-out deadline in a modelled jitter buffer.

    Parameters
    ----------
    arrival_ms : sequence of float
        Arrival time of each packet, ms, in arrival order (any origin).
    rtp_ms : sequence of float
        The same packets' RTP timestamps converted to ms (unwrapped, any
        origin): the instant their audio is due relative to each other.
    buffer : JitterBuffer, optional
        Default: fixed, :data:`DEFAULT_JITTER_BUFFER_MS`.
    packet_ms : float
        Audio per packet, ms: the adaptive buffer never plays out sooner than
        one packet after the mean transit delay.

    Returns
    -------
    PlayoutResult

    Notes
    -----
    Each packet's transit delay is ``n_i = arrival_i - rtp_i`` (its constant
    offset, the clock difference, cancels out).

    *Fixed*: the first packet to arrive (n_0) is played ``size_ms`` after it
    arrives, and every packet at the same offset from its RTP time; packet i
    is late when ``n_i > n_0 + size_ms``.

    *Adaptive*: Ramjee, Kurose, Towsley and Schulzrinne, "Adaptive playout
    mechanisms for packetized audio applications in wide-area networks",
    IEEE INFOCOM 1994, algorithm 1: ``d_i = a d_(i-1) + (1 - a) n_i`` and
    ``v_i = a v_(i-1) + (1 - a) |d_i - n_i|`` with ``a = 0.998002``; the
    play-out delay is ``d + 4 v``. Ramjee et al. change it only at the start
    of a talkspurt; here it changes before every packet (as a receiver that
    time-scales its audio does), which also covers streams without silence
    suppression, whose single talkspurt would otherwise freeze it. The
    estimates start at ``d = n_0`` and ``v = size_ms / 4`` (a buffer of
    ``size_ms``), and the margin ``4 v`` never drops below ``packet_ms``.
    A packet is late when ``n_i`` exceeds the play-out delay in force when
    it arrives; the estimates then learn from it.
    """
    late, mean_wait, final = late_mask(np.asarray(arrival_ms, dtype=np.float64),
                                       np.asarray(rtp_ms, dtype=np.float64), buffer=buffer,
                                       packet_ms=packet_ms)
    return PlayoutResult(tuple(late.tolist()), mean_wait, final)


def late_mask(arrival_ms: np.ndarray, rtp_ms: np.ndarray, *, buffer: JitterBuffer | None = None,
              packet_ms: float = 20.0) -> tuple[np.ndarray, float | None, float]:
    """:func:`late_packets` on arrays: the late mask (bool), the mean wait and the final delay.

    Parameters
    ----------
    arrival_ms, rtp_ms : np.ndarray, shape=(n_packets,), float64
        As in :func:`late_packets`, ms.
    buffer : JitterBuffer, optional
    packet_ms : float

    Returns
    -------
    late : np.ndarray, shape=(n_packets,), bool
    mean_wait_ms : float or None
        Mean wait of the packets in time (None when every packet is late).
    final_delay_ms : float
        The play-out delay in force at the end, over the smallest transit.

    Raises
    ------
    ValueError
        The two arrays differ in length.
    """
    if arrival_ms.shape != rtp_ms.shape:
        raise ValueError(f"{arrival_ms.shape[0]} arrival times for {rtp_ms.shape[0]} RTP times")
    return late_from_transit(arrival_ms - rtp_ms, buffer=buffer, packet_ms=packet_ms)


def late_from_transit(n: np.ndarray, *, buffer: JitterBuffer | None = None,
                      packet_ms: float = 20.0) -> tuple[np.ndarray, float | None, float]:
    """:func:`late_mask` from the transit delays ``n = arrival_ms - rtp_ms`` (ms, in arrival order).

    Parameters and returns as :func:`late_mask`, with ``n``, shape
    ``(n_packets,)``, float64, in place of the two time arrays.
    """
    jb = buffer or JitterBuffer()
    if not n.shape[0]:
        return np.zeros(0, dtype=bool), None, 0.0
    if jb.type != "fixed":
        late, waits, playout = _adaptive_playout(n, jb, packet_ms)
        final = playout - float(n.min())
        mean_wait = float(np.cumsum(waits)[-1]) / waits.shape[0] if waits.shape[0] else None
        return late, mean_wait, final
    playout = n[0] + jb.size_ms
    late = n > playout
    total, count = 0.0, 0
    for lo in range(0, n.shape[0], 1 << 18):  # sum(waits) in order, as Python sums them
        w = playout - n[lo:lo + (1 << 18)][~late[lo:lo + (1 << 18)]]
        if w.shape[0]:
            total = float(np.cumsum(np.concatenate([[total], w]))[-1])
            count += w.shape[0]
    return late, (total / count if count else None), playout - float(n.min())


def _adaptive_playout(n: np.ndarray, jb: JitterBuffer, packet_ms: float
                      ) -> tuple[np.ndarray, np.ndarray, float]:
    """Ramjee et al. algorithm 1 (:func:`late_packets`) in order: late mask, waits, last delay."""
    late = np.zeros(n.shape[0], dtype=bool)
    waits: list[float] = []
    d, v = float(n[0]), jb.size_ms / ADAPTIVE_BETA
    playout = float(n[0]) + jb.size_ms
    for k, x in enumerate(n.tolist()):
        is_late = x > playout
        late[k] = is_late
        if not is_late:
            waits.append(playout - x)
        d = ADAPTIVE_ALPHA * d + (1 - ADAPTIVE_ALPHA) * x
        v = ADAPTIVE_ALPHA * v + (1 - ADAPTIVE_ALPHA) * abs(d - x)
        playout = d + max(ADAPTIVE_BETA * v, packet_ms)
    return late, np.asarray(waits, dtype=np.float64), playout


@dataclass(frozen=True)
class GilbertFit:
    """A 2-state Markov (Gilbert) loss model fitted to a loss pattern.

    States: 0 = received (in time), 1 = lost. ``p = P(1 | previous 0)`` and
    ``q = P(0 | previous 1)``, maximum-likelihood estimates from the
    transition counts: ``p = n01 / (n00 + n01)``, ``q = n10 / (n10 + n11)``.

    Attributes
    ----------
    packets : int
        Length of the pattern.
    lost : int
        Lost packets in it.
    loss_pct : float
        ``100 * lost / packets``, % (0 for an empty pattern).
    bursts : int
        Runs of consecutive losses.
    mean_burst_packets : float
        Mean run length, packets (0 without loss).
    p, q : float or None
        Transition probabilities; None where the pattern has no transition
        out of that state (p: never received before the end; q: the only
        losses are at the end), or for a pattern without loss.
    burst_ratio : float
        BurstR = 1 / (p + q), G.107 (06/2015) clause 7.5. It is 1 for random
        loss, > 1 for bursty loss, < 1 for loss more spread out than random.
        Defined as 1 for a pattern without loss (nothing to be bursty). When
        p or q cannot be estimated, the missing one is replaced by its
        stationary value (``p = q * loss / (1 - loss)``; a final run with no
        exit: ``q = 1 / mean burst length``).
    """

    packets: int
    lost: int
    loss_pct: float
    bursts: int
    mean_burst_packets: float
    p: float | None
    q: float | None
    burst_ratio: float


def gilbert_fit(lost: Sequence[bool] | np.ndarray) -> GilbertFit:
    """Fit the 2-state Markov (Gilbert) model to a loss pattern; BurstR = 1 / (p + q).

    Parameters
    ----------
    lost : sequence of bool or np.ndarray, shape=(n_packets,), bool
        One entry per packet in sequence-number order: True where the packet
        was lost (on the network, or late for the jitter buffer).

    Returns
    -------
    GilbertFit

    Examples
    --------
    Four packets lost in one burst among 100: p = 1/95, q = 1/4,
    BurstR = 1 / (1/95 + 1/4) = 3.84.

    >>> round(gilbert_fit([False] * 50 + [True] * 4 + [False] * 46).burst_ratio, 2)
    3.84
    """
    x = np.asarray(lost, dtype=bool).ravel()
    n = int(x.shape[0])
    k = int(np.count_nonzero(x))
    a, b = x[:-1], x[1:]
    n11 = int(np.count_nonzero(a & b))
    n10 = int(np.count_nonzero(a & ~b))
    n01 = int(np.count_nonzero(~a & b))
    n00 = int(np.count_nonzero(~a & ~b))
    bursts = int(x[0]) + int(np.count_nonzero(b & ~a)) if n else 0
    mean_burst = k / bursts if bursts else 0.0
    if k == 0:
        return GilbertFit(n, 0, 0.0, 0, 0.0, 0.0 if n > 1 else None, None, 1.0)
    p = n01 / (n00 + n01) if n00 + n01 else None
    q = n10 / (n10 + n11) if n10 + n11 else None
    qq = q if q is not None else 1.0 / mean_burst
    frac = k / n
    if p is not None:
        pp = p
    elif frac < 1:
        pp = qq * frac / (1 - frac)
    else:
        pp = 0.0
    burst_ratio = 1.0 / (pp + qq) if pp + qq > 0 else math.inf
    return GilbertFit(n, k, 100.0 * frac, bursts, mean_burst, p, q, burst_ratio)
