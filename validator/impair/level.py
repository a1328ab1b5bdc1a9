"""Level faults: gain, clipping, near-silence, noise, DC, polarity and channel swaps.

Conventions: :mod:`validator.impair.model`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    _rate,
    _real,
    _runs,
    _seed,
    _span,
    _to_samples,
    _whole,
)

__all__ = [
    "ACTIVE_BLOCK_S",
    "ACTIVE_THRESHOLD_DB",
    "add_noise",
    "clip",
    "dc_offset",
    "gain",
    "hard_clip",
    "invert_polarity",
    "near_silence",
    "swap_channels",
]

#: Block length (s) of the activity measure used by :func:`add_noise`.
ACTIVE_BLOCK_S = 0.010
#: A block is active when its RMS is at most this far (dB) below the loudest block.
ACTIVE_THRESHOLD_DB = -50.0


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
