"""Reference test signals: tones, multitones, sweeps, sync markers, WAV output.

Every generator is a pure function of its arguments and returns a ``float64``
array of shape ``(n_samples, n_channels)``; the same arguments give the same
samples bit for bit, and :func:`write_wav` turns them into the same file bytes.

Levels follow AES17: the RMS level of a full-scale sine is 0 dBFS, so a sine
of peak amplitude ``A`` (full scale = 1.0) has level ``20*log10(A)`` dBFS, and
``level_dbfs=-10`` means a peak amplitude of ``10**(-10/20) = 0.3162``.

Why 997 Hz is the default test tone
-----------------------------------
AES17 practice is to measure with a tone near 1 kHz that is *not* a
sub-multiple of common sample rates: 997 Hz is prime, so its period (48.14
samples at 48 kHz) never lines up with the sample grid, and every code value
of the converter is exercised instead of the same few over and over.

For a network path the same property matters even more. A 1000 Hz tone at
8 or 48 kHz holds exactly 20 periods in a 20 ms RTP packet. A receiver that
conceals a lost packet by repeating the previous one then produces a seamless
continuation of the tone, and no analysis of the audio can see the loss. With
a repeated packet of duration ``ptime`` the tone jumps by
``d = distance of f*ptime to the nearest integer`` cycles, leaving a residual
of amplitude ``2*sin(pi*d)`` relative to the tone for the whole repeated
packet:

=========  =====================  =====================  =====================
ptime      1000 Hz                997 Hz                 1004 Hz (telephony)
=========  =====================  =====================  =====================
1 ms       frac 0.000: invisible  frac 0.997: -34.5 dB   frac 0.004: -32.0 dB
5 ms       frac 0.000: invisible  frac 0.985: -20.5 dB   frac 0.020: -18.0 dB
10 ms      frac 0.000: invisible  frac 0.970: -14.5 dB   frac 0.040: -12.0 dB
20 ms      frac 0.000: invisible  frac 0.940:  -8.5 dB   frac 0.080:  -6.1 dB
30 ms      frac 0.000: invisible  frac 0.910:  -5.1 dB   frac 0.120:  -2.7 dB
=========  =====================  =====================  =====================

(``frac`` is ``f*ptime mod 1``; the dB figure is ``20*log10(2*sin(pi*d))``.)
Check ``frac(f*ptime)`` against every packet time you use before choosing
another tone.

Sources: AES17-2020, *AES standard method for digital audio engineering -
Measurement of digital audio equipment* (level convention, 997 Hz practice);
RFC 3551 and AES67-2018 for packet times.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal as sps

from validator.errors import SignalSpecError
from validator.io.atomic import atomic_path
from validator.io.audio import valid_audio

__all__ = [
    "BIT_DEPTHS",
    "DEFAULT_TONE_HZ",
    "MARKERS",
    "log_sweep",
    "marker_length_samples",
    "multitone",
    "quantize",
    "schroeder_phases",
    "sync_marker",
    "tone",
    "write_wav",
]

DEFAULT_TONE_HZ = 997.0
"""Default test-tone frequency in Hz (AES17 practice; see the module docstring)."""

BIT_DEPTHS: tuple[int, ...] = (16, 24, 32)
"""Supported WAV bit depths: 16- and 24-bit integer PCM, 32-bit IEEE float."""

MARKERS: tuple[str, ...] = ("chirp", "mls")
"""Known sync-marker kinds for :func:`tone` (``None`` means no marker)."""

#: Chirp marker: nominal duration, start frequency and upper frequency limit.
_CHIRP_DURATION_S = 0.050
_CHIRP_START_HZ = 300.0
_CHIRP_STOP_MAX_HZ = 3400.0
_CHIRP_STOP_FRACTION_OF_FS = 0.45
_CHIRP_RAMP_S = 0.005
#: MLS marker: target duration (the order is chosen to come closest to it).
_MLS_TARGET_S = 0.050
#: log_sweep clamps stop_hz to this fraction of the sample rate.
_SWEEP_STOP_FRACTION_OF_FS = 0.475
#: Largest value a generator returns: keeps 0 dBFS peaks inside [-1, 1) and
#: is exactly representable in float32.
_MAX_SAMPLE = 1.0 - 2.0**-24
#: Highest sample rate a generator accepts, Hz (DXD x 2).
MAX_SAMPLE_RATE_HZ = 768_000
#: Most channels a generator writes (a MADI or AES67 stream carries up to 64).
MAX_CHANNELS = 64
#: Most samples (frames x channels) a generator builds: 2**28, 2 GiB of float64,
#: 93 min of mono at 48 kHz. A longer request is refused before any allocation.
MAX_SIGNAL_SAMPLES = 2**28
#: libsndfile command that switches the timestamped PEAK chunk of float WAVs off.
_SFC_SET_ADD_PEAK_CHUNK = 0x1050


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------


def _real(name: str, value: object) -> float:
    """Return ``value`` as a finite float or raise SignalSpecError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SignalSpecError(f"{name} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise SignalSpecError(f"{name} must be finite, got {value!r}")
    return out


def _sample_rate(value: object) -> int:
    """Return the sample rate as a positive int or raise SignalSpecError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SignalSpecError(f"sample_rate_hz must be a positive integer, got {value!r}")
    fvalue = float(value)
    if not (math.isfinite(fvalue) and fvalue.is_integer() and fvalue > 0):
        raise SignalSpecError(f"sample_rate_hz must be a positive integer, got {value!r}")
    if fvalue > MAX_SAMPLE_RATE_HZ:
        raise SignalSpecError(f"sample_rate_hz must be at most {MAX_SAMPLE_RATE_HZ} Hz, "
                              f"got {value!r}")
    return int(fvalue)


def _frequency(name: str, value: object, sample_rate_hz: int) -> float:
    """Return a frequency in (0, fs/2) or raise SignalSpecError."""
    f = _real(name, value)
    nyquist = sample_rate_hz / 2.0
    if not 0.0 < f < nyquist:
        raise SignalSpecError(
            f"{name} must be > 0 Hz and below the Nyquist frequency {nyquist:g} Hz "
            f"(sample_rate_hz={sample_rate_hz}), got {value!r}"
        )
    return f


def _frequency_list(value: object, sample_rate_hz: int) -> list[float]:
    """Return a non-empty list of valid frequencies from a float or a sequence."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return [_frequency("frequencies_hz", value, sample_rate_hz)]
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise SignalSpecError(
            f"frequencies_hz must be a number or a sequence of numbers, got {value!r}"
        )
    items = list(value.ravel()) if isinstance(value, np.ndarray) else list(value)
    if not items:
        raise SignalSpecError(f"frequencies_hz must not be empty, got {value!r}")
    return [_frequency(f"frequencies_hz[{i}]", f, sample_rate_hz) for i, f in enumerate(items)]


def _duration_samples(duration_s: object, sample_rate_hz: int) -> int:
    """Return ``round(duration_s * fs)`` (at least 1) or raise SignalSpecError."""
    d = _real("duration_s", duration_s)
    if d <= 0.0:
        raise SignalSpecError(f"duration_s must be > 0 s, got {duration_s!r}")
    n = int(round(d * sample_rate_hz))
    if n < 1:
        raise SignalSpecError(
            f"duration_s must last at least one sample (1/{sample_rate_hz} s), got {duration_s!r}"
        )
    _check_size(n, 1, duration_s)
    return n


def _check_size(n_samples: int, channels: int, duration_s: object = None) -> None:
    """Refuse a signal of more than MAX_SIGNAL_SAMPLES samples (frames x channels)."""
    if n_samples * channels > MAX_SIGNAL_SAMPLES:
        given = f"duration_s={duration_s!r}, " if duration_s is not None else ""
        raise SignalSpecError(
            f"{given}channels={channels}: {n_samples} x {channels} samples is more than "
            f"the {MAX_SIGNAL_SAMPLES} a generated signal may hold")


def _amplitude(level_dbfs: object) -> float:
    """Return the peak amplitude ``10**(level/20)`` for a level <= 0 dBFS."""
    level = _real("level_dbfs", level_dbfs)
    if level > 0.0:
        raise SignalSpecError(f"level_dbfs must be <= 0 dBFS, got {level_dbfs!r}")
    return 10.0 ** (level / 20.0)


def _ramp_samples(ramp_s: object, sample_rate_hz: int, n_samples: int) -> int:
    """Return the fade length in samples; both fades must fit in the signal."""
    r = _real("ramp_s", ramp_s)
    if r < 0.0:
        raise SignalSpecError(f"ramp_s must be >= 0 s, got {ramp_s!r}")
    n_ramp = int(round(r * sample_rate_hz))
    if 2 * n_ramp > n_samples:
        raise SignalSpecError(
            f"ramp_s must be at most half the duration ({n_samples / sample_rate_hz / 2:g} s) "
            f"so that fade-in and fade-out fit, got {ramp_s!r}"
        )
    return n_ramp


def _channel_count(channels: object) -> int:
    """Return a channel count >= 1 or raise SignalSpecError."""
    if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or \
            not 1 <= int(channels) <= MAX_CHANNELS:
        raise SignalSpecError(f"channels must be an integer from 1 to {MAX_CHANNELS}, "
                              f"got {channels!r}")
    return int(channels)


def _bit_depth(bit_depth: object) -> int:
    """Return a supported bit depth or raise SignalSpecError."""
    if isinstance(bit_depth, bool) or bit_depth not in BIT_DEPTHS:
        raise SignalSpecError(
            f"bit_depth must be one of {BIT_DEPTHS} (32 = 32-bit float), got {bit_depth!r}"
        )
    return int(bit_depth)  # type: ignore[call-overload]


# --------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------


def _sine(frequency_hz: float, n_samples: int, sample_rate_hz: int, phase_rad: float = 0.0
          ) -> np.ndarray:
    """``sin(2*pi*f*n/fs + phase)`` for n = 0..n_samples-1, float64, shape (n,)."""
    n = np.arange(n_samples, dtype=np.float64)
    # Reduce to whole cycles first so the argument of sin stays small and exact-ish.
    cycles = np.mod(n * frequency_hz / sample_rate_hz, 1.0)
    return np.sin(2.0 * np.pi * cycles + phase_rad)


def _fade(x: np.ndarray, n_ramp: int) -> np.ndarray:
    """Apply raised-cosine (half-Hann) fade-in and fade-out of n_ramp samples in place.

    The fade-in gain is ``0.5 - 0.5*cos(pi*k/n_ramp)`` for ``k = 0..n_ramp-1``
    (starts at exactly 0); the fade-out is its mirror image, so the last
    sample is exactly 0 and the signal joins digital silence on both sides
    with a continuous value and slope.
    """
    if n_ramp > 0:
        k = np.arange(n_ramp, dtype=np.float64)
        w = 0.5 - 0.5 * np.cos(np.pi * k / n_ramp)
        x[:n_ramp] *= w
        x[-n_ramp:] *= w[::-1]
    return x


def _to_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Copy a mono (n,) array to every channel of a (n, channels) float64 array."""
    _check_size(x.shape[0], channels)
    return np.repeat(x[:, np.newaxis], channels, axis=1)


def _limit(y: np.ndarray) -> np.ndarray:
    """Keep samples in [-1, 1): only a 0 dBFS peak can touch +1.0."""
    return np.minimum(y, _MAX_SAMPLE, out=y)


def marker_length_samples(marker: str, *, sample_rate_hz: int = 48000) -> int:
    """Length of a sync marker in samples.

    Parameters
    ----------
    marker : {"chirp", "mls"}
        Marker kind.
    sample_rate_hz : int, keyword-only
        Sample rate in Hz.

    Returns
    -------
    int
        ``round(0.05 * fs)`` samples for ``"chirp"``; ``2**order - 1`` samples
        for ``"mls"``, where ``order`` is the integer that brings the burst
        closest to 50 ms on a log scale (so it lasts 35-71 ms: 2047 samples =
        42.6 ms at 48 kHz, 511 samples = 63.9 ms at 8 kHz).

    Raises
    ------
    SignalSpecError
        Unknown marker or bad sample rate.
    """
    fs = _sample_rate(sample_rate_hz)
    if marker == "chirp":
        return int(round(_CHIRP_DURATION_S * fs))
    if marker == "mls":
        return 2 ** _mls_order(fs) - 1
    raise SignalSpecError(f"marker must be one of {MARKERS}, got {marker!r}")


def _mls_order(sample_rate_hz: int) -> int:
    """MLS order whose length 2**n - 1 is closest to 50 ms in log terms (n >= 4)."""
    target = _MLS_TARGET_S * sample_rate_hz
    return max(4, int(round(math.log2(target + 1.0))))


def sync_marker(
    marker: str, *, sample_rate_hz: int = 48000, level_dbfs: float = -10.0
) -> np.ndarray:
    """A short sync marker that gives a unique cross-correlation peak.

    Parameters
    ----------
    marker : {"chirp", "mls"}
        ``"chirp"``: a 50 ms linear chirp (``round(0.05*fs)`` samples) from
        300 Hz to ``min(0.45*fs, 3400)`` Hz, sine phase 0 at its first sample,
        peak amplitude ``10**(level_dbfs/20)`` (the same AES17 level as a sine
        of that peak), with 5 ms raised-cosine fades at both ends. The band
        300-3400 Hz passes telephone codecs (G.711) as well as wideband paths.
        ``"mls"``: a maximum-length sequence from
        :func:`scipy.signal.max_len_seq` (default taps and all-ones initial
        state, hence deterministic) mapped to +-a, with ``a`` chosen so that
        its RMS equals that of the sine at ``level_dbfs`` (``a = A/sqrt(2)``);
        the order is given by :func:`marker_length_samples`. The MLS is a
        broadband burst and is not faded.
    sample_rate_hz : int, keyword-only
        Sample rate in Hz.
    level_dbfs : float, keyword-only
        Level in AES17 dBFS, <= 0.

    Returns
    -------
    np.ndarray, shape=(n_marker_samples,), float64 in [-1, 1)
        The marker for one channel (``tone`` copies it to every channel).

    Raises
    ------
    SignalSpecError
        Unknown marker, bad sample rate or level above 0 dBFS.

    Notes
    -----
    Linear chirp: :func:`scipy.signal.chirp`. MLS: D. D. Rife and
    J. Vanderkooy, "Transfer-function measurement with maximum-length
    sequences", J. Audio Eng. Soc. 37(6), 1989.
    """
    fs = _sample_rate(sample_rate_hz)
    amplitude = _amplitude(level_dbfs)
    n = marker_length_samples(marker, sample_rate_hz=fs)
    if marker == "chirp":
        stop_hz = min(_CHIRP_STOP_FRACTION_OF_FS * fs, _CHIRP_STOP_MAX_HZ)
        t = np.arange(n, dtype=np.float64) / fs
        # phi=-90 turns scipy's cosine into a sine starting at phase 0.
        x = sps.chirp(t, f0=_CHIRP_START_HZ, t1=t[-1], f1=stop_hz, method="linear", phi=-90.0)
        x = _fade(amplitude * x, int(round(_CHIRP_RAMP_S * fs)))
    else:
        seq, _ = sps.max_len_seq(_mls_order(fs))
        x = (amplitude / math.sqrt(2.0)) * (2.0 * seq.astype(np.float64) - 1.0)
    return _limit(np.ascontiguousarray(x, dtype=np.float64))


# --------------------------------------------------------------------------
# public generators
# --------------------------------------------------------------------------


def tone(
    frequencies_hz: float | Sequence[float],
    *,
    sample_rate_hz: int = 48000,
    duration_s: float = 5.0,
    level_dbfs: float = -10.0,
    ramp_s: float = 0.005,
    marker: str | None = None,
    marker_gap_s: float = 0.2,
) -> np.ndarray:
    """Sine test tone, one frequency per channel, optionally led by a sync marker.

    Parameters
    ----------
    frequencies_hz : float or sequence of float
        Tone frequency in Hz. A single number gives a mono signal; a sequence
        gives one channel per entry, channel ``c`` carrying
        ``frequencies_hz[c]`` (different frequencies make a channel swap
        visible). Each must satisfy ``0 < f < sample_rate_hz/2``.
    sample_rate_hz : int, keyword-only
        Sample rate in Hz.
    duration_s : float, keyword-only
        Duration of the tone in seconds, fades included and marker excluded;
        the tone has ``round(duration_s * sample_rate_hz)`` samples.
    level_dbfs : float, keyword-only
        Level of each channel's sine in AES17 dBFS (<= 0): the peak amplitude
        is ``10**(level_dbfs/20)`` and the RMS of the steady part is that
        divided by ``sqrt(2)``.
    ramp_s : float, keyword-only
        Length in seconds of the raised-cosine (half-Hann) fade at the tone's
        start and end, ``0 <= ramp_s <= duration_s/2``. The fades keep the
        generator from adding a click where the tone meets silence; the first
        and last tone samples are exactly 0. ``ramp_s=0`` gives no fade.
    marker : {None, "chirp", "mls"}, keyword-only
        Optional sync marker placed before the tone (see :func:`sync_marker`),
        the same on every channel, at the same level (``"chirp"``: same peak;
        ``"mls"``: same RMS).
    marker_gap_s : float, keyword-only
        Digital silence between the marker and the tone in seconds (>= 0),
        ``round(marker_gap_s * sample_rate_hz)`` samples. Ignored without a
        marker.

    Returns
    -------
    np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        ``n_samples = n_marker + n_gap + round(duration_s*fs)``; without a
        marker ``n_marker = n_gap = 0``. The tone starts at sample
        ``tone_start = n_marker + n_gap`` with phase 0:
        ``y[tone_start + k, c] = A * w[k] * sin(2*pi*f_c*k/fs)``.

    Raises
    ------
    SignalSpecError
        A frequency <= 0 or >= Nyquist, duration <= 0, level > 0 dBFS, ramp
        negative or longer than half the tone, unknown marker, negative gap,
        or a non-integer sample rate.

    Notes
    -----
    Why a marker: the cross-correlation of a pure sine with a delayed copy of
    itself is periodic in the lag, so the delay of a received tone is known
    only modulo one period (lags ``L`` and ``L + fs/f`` score almost alike).
    A chirp or MLS burst has a single sharp autocorrelation peak; correlating
    the received signal against the marker (``y[:n_marker]``, or
    :func:`sync_marker`) as a matched filter pins the delay to the sample, and
    the tone then starts ``n_marker + n_gap`` samples after the marker's
    start. Level convention: AES17-2020. Fade: raised-cosine (Hann) window,
    F. J. Harris, "On the use of windows for harmonic analysis with the
    discrete Fourier transform", Proc. IEEE 66(1), 1978.
    """
    fs = _sample_rate(sample_rate_hz)
    freqs = _frequency_list(frequencies_hz, fs)
    n_tone = _duration_samples(duration_s, fs)
    amplitude = _amplitude(level_dbfs)
    n_ramp = _ramp_samples(ramp_s, fs, n_tone)
    if marker is not None and marker not in MARKERS:
        raise SignalSpecError(f"marker must be None or one of {MARKERS}, got {marker!r}")
    gap = _real("marker_gap_s", marker_gap_s)
    if gap < 0.0:
        raise SignalSpecError(f"marker_gap_s must be >= 0 s, got {marker_gap_s!r}")

    body = np.empty((n_tone, len(freqs)), dtype=np.float64)
    for c, f in enumerate(freqs):
        body[:, c] = _fade(amplitude * _sine(f, n_tone, fs), n_ramp)
    if marker is None:
        return _limit(body)

    lead = sync_marker(marker, sample_rate_hz=fs, level_dbfs=level_dbfs)
    n_gap = int(round(gap * fs))
    out = np.zeros((lead.shape[0] + n_gap + n_tone, len(freqs)), dtype=np.float64)
    out[: lead.shape[0], :] = lead[:, np.newaxis]
    out[lead.shape[0] + n_gap :, :] = body
    return _limit(out)


def schroeder_phases(n_tones: int) -> np.ndarray:
    """Schroeder phases for ``n_tones`` equal-amplitude sines.

    Parameters
    ----------
    n_tones : int
        Number of components, >= 1.

    Returns
    -------
    np.ndarray, shape=(n_tones,), float64
        ``phi_k = -pi * k * (k - 1) / n_tones`` rad for ``k = 1..n_tones``.

    Notes
    -----
    M. R. Schroeder, "Synthesis of low-peak-factor signals and binary
    sequences with low autocorrelation", IEEE Trans. Inf. Theory 16(1),
    85-89, 1970. The rule keeps the crest factor of a sum of harmonics low;
    for arbitrary frequencies it is a deterministic, usually good choice.
    """
    k = np.arange(1, n_tones + 1, dtype=np.float64)
    return -np.pi * k * (k - 1.0) / n_tones


def multitone(
    frequencies_hz: float | Sequence[float],
    *,
    sample_rate_hz: int = 48000,
    duration_s: float = 5.0,
    level_dbfs: float = -10.0,
    ramp_s: float = 0.005,
    channels: int = 1,
) -> np.ndarray:
    """Sum of equal-amplitude sines with Schroeder phases, same on every channel.

    Parameters
    ----------
    frequencies_hz : float or sequence of float
        Component frequencies in Hz, distinct, each ``0 < f < fs/2``.
    sample_rate_hz : int, keyword-only
        Sample rate in Hz.
    duration_s : float, keyword-only
        Duration in seconds (``round(duration_s*fs)`` samples), fades included.
    level_dbfs : float, keyword-only
        **Peak** level of the composite, in AES17 dBFS (<= 0): the largest
        ``|y|`` of the composite before the fades is exactly
        ``A = 10**(level_dbfs/20)``, i.e. the composite peaks as high as a
        single sine of ``level_dbfs`` would. Every component has the same
        amplitude ``a = A / max|sum_k sin(2*pi*f_k*n/fs + phi_k)|`` and so the
        level ``20*log10(a)`` dBFS; the composite's RMS level is below
        ``level_dbfs`` by its crest factor minus 3.01 dB.
    ramp_s : float, keyword-only
        Raised-cosine fade at start and end in seconds (see :func:`tone`).
    channels : int, keyword-only
        Number of identical output channels, >= 1.

    Returns
    -------
    np.ndarray, shape=(n_samples, channels), float64 in [-1, 1)
        ``y[n, c] = w[n] * a * sum_k sin(2*pi*f_k*n/fs + phi_k)``.

    Raises
    ------
    SignalSpecError
        Bad or duplicate frequency, duration <= 0, level > 0 dBFS, bad ramp,
        channels < 1, or a non-integer sample rate.

    Notes
    -----
    Phases from :func:`schroeder_phases` (Schroeder 1970) keep the crest
    factor low, so the components are as loud as possible for a given peak.
    """
    fs = _sample_rate(sample_rate_hz)
    freqs = _frequency_list(frequencies_hz, fs)
    if len(set(freqs)) != len(freqs):
        raise SignalSpecError(f"frequencies_hz must be distinct, got {frequencies_hz!r}")
    n = _duration_samples(duration_s, fs)
    amplitude = _amplitude(level_dbfs)
    n_ramp = _ramp_samples(ramp_s, fs, n)
    n_channels = _channel_count(channels)

    x = np.zeros(n, dtype=np.float64)
    for f, phi in zip(freqs, schroeder_phases(len(freqs)), strict=True):
        x += _sine(f, n, fs, phase_rad=float(phi))
    x *= amplitude / np.max(np.abs(x))
    return _limit(_to_channels(_fade(x, n_ramp), n_channels))


def log_sweep(
    *,
    start_hz: float = 20.0,
    stop_hz: float = 20000.0,
    sample_rate_hz: int = 48000,
    duration_s: float = 5.0,
    level_dbfs: float = -10.0,
    ramp_s: float = 0.005,
    channels: int = 1,
) -> np.ndarray:
    """Exponential (logarithmic) sine sweep, same on every channel.

    Parameters
    ----------
    start_hz : float, keyword-only
        Start frequency in Hz, ``0 < start_hz < stop_hz``.
    stop_hz : float, keyword-only
        Stop frequency in Hz. Clamped to ``0.475 * sample_rate_hz`` (below
        Nyquist) when higher, e.g. 20 kHz becomes 3800 Hz at 8 kHz.
    sample_rate_hz : int, keyword-only
        Sample rate in Hz.
    duration_s : float, keyword-only
        Duration in seconds (``round(duration_s*fs)`` samples), fades included.
    level_dbfs : float, keyword-only
        Level in AES17 dBFS (<= 0): the sweep is a sine of constant peak
        amplitude ``10**(level_dbfs/20)`` at every instant.
    ramp_s : float, keyword-only
        Raised-cosine fade at start and end in seconds (see :func:`tone`).
    channels : int, keyword-only
        Number of identical output channels, >= 1.

    Returns
    -------
    np.ndarray, shape=(n_samples, channels), float64 in [-1, 1)
        ``y[n] = w[n] * A * sin(2*pi*f1*T/R * (exp(t*R/T) - 1))`` with
        ``t = n/fs``, ``T = duration_s``, ``R = ln(f2/f1)``: the instantaneous
        frequency rises from ``f1`` at t=0 to ``f2`` at t=T; phase 0 at n=0.

    Raises
    ------
    SignalSpecError
        start_hz <= 0 or not below the (clamped) stop_hz, stop_hz <= 0,
        duration <= 0, level > 0 dBFS, bad ramp, channels < 1, or a
        non-integer sample rate.

    Notes
    -----
    A. Farina, "Simultaneous measurement of impulse response and distortion
    with a swept-sine technique", 108th AES Convention, preprint 5093, 2000.
    """
    fs = _sample_rate(sample_rate_hz)
    f1 = _real("start_hz", start_hz)
    f2 = _real("stop_hz", stop_hz)
    if f2 <= 0.0:
        raise SignalSpecError(f"stop_hz must be > 0 Hz, got {stop_hz!r}")
    f2 = min(f2, _SWEEP_STOP_FRACTION_OF_FS * fs)
    if not 0.0 < f1 < f2:
        raise SignalSpecError(
            f"start_hz must be > 0 Hz and below stop_hz (clamped to {f2:g} Hz), got {start_hz!r}"
        )
    n = _duration_samples(duration_s, fs)
    amplitude = _amplitude(level_dbfs)
    n_ramp = _ramp_samples(ramp_s, fs, n)
    n_channels = _channel_count(channels)

    t_total = n / fs
    rate = math.log(f2 / f1)
    t = np.arange(n, dtype=np.float64) / fs
    cycles = f1 * t_total / rate * np.expm1(t * rate / t_total)
    x = amplitude * np.sin(2.0 * np.pi * np.mod(cycles, 1.0))
    return _limit(_to_channels(_fade(x, n_ramp), n_channels))


# --------------------------------------------------------------------------
# quantization and WAV output
# --------------------------------------------------------------------------


def _integer_codes(y: np.ndarray, bit_depth: int) -> np.ndarray:
    """Integer PCM codes: round(y * 2**(b-1)) clipped to [-2**(b-1), 2**(b-1)-1], int64."""
    scale = 2.0 ** (bit_depth - 1)
    codes = np.clip(np.round(y.astype(np.float64) * scale), -scale, scale - 1.0)
    return codes.astype(np.int64)


def quantize(y: np.ndarray, bit_depth: int) -> np.ndarray:
    """Samples exactly as a WAV file of the given bit depth stores them.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels) or (n_samples,), floating
        Audio, nominally in [-1, 1).
    bit_depth : {16, 24, 32}
        16 or 24: integer PCM. Each sample becomes the code
        ``clip(round(y * 2**(b-1)), -2**(b-1), 2**(b-1) - 1)`` (round half to
        even, :func:`numpy.round`) and is returned as ``code / 2**(b-1)``; so
        values at or above +1.0 saturate to ``1 - 2**(1-b)``. 32: IEEE
        float32, i.e. ``y`` rounded to the nearest float32 (not clipped).

    Returns
    -------
    np.ndarray, same shape as ``y``, float64
        The quantized samples; reading the file written by :func:`write_wav`
        with ``soundfile.read(..., dtype="float64")`` returns exactly these.

    Raises
    ------
    SignalSpecError
        Unknown bit depth.
    AudioFormatError
        ``y`` is not a non-empty 1-D/2-D floating array of finite values.

    Notes
    -----
    The scale ``2**(b-1)`` matches libsndfile's integer-to-float conversion
    on reading, so the round trip is exact.
    """
    depth = _bit_depth(bit_depth)
    samples = valid_audio(y, max_abs_sample=None).reshape(np.shape(y))
    if depth == 32:
        return samples.astype(np.float32).astype(np.float64)
    return _integer_codes(samples, depth).astype(np.float64) / 2.0 ** (depth - 1)


def write_wav(
    path: str | os.PathLike[str],
    y: np.ndarray,
    sample_rate_hz: int,
    *,
    bit_depth: int = 16,
) -> Path:
    """Write audio to a WAV file, atomically and reproducibly.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; its directory must exist. An existing file is
        replaced only once the new one is complete.
    y : np.ndarray, shape=(n_samples, n_channels) or (n_samples,), floating
        Audio in [-1, 1); quantized with :func:`quantize` first.
    sample_rate_hz : int
        Sample rate in Hz.
    bit_depth : {16, 24, 32}, keyword-only
        16 or 24: integer PCM (``PCM_16``/``PCM_24``); 32: 32-bit float
        (``FLOAT``).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    SignalSpecError
        Unknown bit depth or bad sample rate.
    AudioFormatError
        ``y`` is not a non-empty 1-D/2-D floating array of finite values.
    OSError
        The file cannot be written.

    Notes
    -----
    Integer codes are computed here (see :func:`quantize`) and handed to
    libsndfile as integers (24-bit codes shifted into the top of an int32),
    so libsndfile does no float-to-int scaling of its own. For float files
    the timestamped ``PEAK`` chunk is switched off, so identical samples give
    identical bytes. The data go to a temporary file in the destination
    directory, which is flushed, fsync'ed and then moved over ``path`` with
    :func:`os.replace`: a reader sees either the old or the new file.
    """
    depth = _bit_depth(bit_depth)
    fs = _sample_rate(sample_rate_hz)
    frames = valid_audio(y, max_abs_sample=None)
    if depth == 16:
        data: np.ndarray = _integer_codes(frames, 16).astype(np.int16)
        subtype = "PCM_16"
    elif depth == 24:
        data = (_integer_codes(frames, 24) << 8).astype(np.int32)
        subtype = "PCM_24"
    else:
        data = frames.astype(np.float32)
        subtype = "FLOAT"

    target = Path(path)
    with atomic_path(target) as tmp, sf.SoundFile(
        tmp, "w", samplerate=fs, channels=data.shape[1], subtype=subtype, format="WAV"
    ) as snd:
        if depth == 32:
            _disable_peak_chunk(snd)
        snd.write(data)
    return target


def _disable_peak_chunk(snd: sf.SoundFile) -> None:
    """Stop libsndfile from writing a PEAK chunk (it holds a wall-clock timestamp)."""
    lib = getattr(sf, "_snd", None)
    ffi = getattr(sf, "_ffi", None)
    handle = getattr(snd, "_file", None)
    if lib is None or ffi is None or handle is None:  # pragma: no cover - soundfile internals
        raise OSError("cannot switch off the WAV PEAK chunk with this soundfile version")
    lib.sf_command(handle, _SFC_SET_ADD_PEAK_CHUNK, ffi.NULL, 0)
