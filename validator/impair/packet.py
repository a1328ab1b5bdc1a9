"""Packet faults: zero-filled dropouts, dips, concealed and skipped packets, loss, clicks.

Conventions: :mod:`validator.impair.model`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from validator.errors import SignalSpecError
from validator.impair.model import (
    Fault,
    Impaired,
    _audio,
    _channel,
    _db_to_amplitude,
    _fault,
    _int,
    _packet_samples,
    _point,
    _rate,
    _real,
    _runs,
    _seed,
    _span,
    _to_samples,
)

__all__ = [
    "attenuate",
    "click",
    "fade_packet",
    "packet_loss",
    "repeat_packet",
    "skip",
    "zero_fill",
]

# attenuate(): a dip deeper than this (dB) is reported as a dropout, not a level fault.
_DROPOUT_GAIN_DB = -20.0


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
