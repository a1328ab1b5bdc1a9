"""Per-channel metrics: level, frequency, SNR and THD+N.

Definitions
-----------
- ``rms_dbfs``: AES17 dBFS, ``20*log10(sqrt(2) * rms)``; a full-scale sine
  reads 0 dBFS.
- ``peak_dbfs``: ``20*log10(max |x|)``.
- ``frequency_hz``: four-parameter least-squares sine fit (IEEE 1057-2017,
  §4.1.3.3) started from an interpolated FFT peak, on 0.5 s excerpts of the
  steady tone (the samples near an event left out); the median over excerpts.
- ``thd_n_db``: ``10*log10((P_total - P_fund) / P_fund)`` with the
  fundamental (and DC) removed by a least-squares sine fit, unweighted, DC to
  Nyquist. Negative: -40 dB means the distortion and noise are 40 dB below
  the tone.
- ``gain_error_db``: received minus reference level, dB. For a tone, the
  least-squares gain of the aligned reference (the fundamental's level:
  noise does not move it). For other signals, the RMS level over the active
  frames outside events, ``10*log10(sum p_y / sum p_r)``: a least-squares
  gain shrinks by the correlation of the two waveforms, so a codec that keeps
  the level but not the waveform (Opus, Speex, AAC: correlation 0.8 to 0.9)
  would read 1 to 2 dB quiet. Additive noise at an SNR of ``s`` dB raises
  the RMS figure by ``10*log10(1 + 10**(-s/10))`` (0.04 dB at 20 dB SNR).
- ``snr_db`` for a tone: ``10*log10(P_fund / P_noise)`` where the noise is
  what remains after fitting the fundamental, harmonics 2-10 and DC (the
  time-domain counterpart of IEEE 1241's spectral method). For other signals:
  signal-to-residual ratio against the aligned, gain-matched reference over
  active frames outside events.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from validator.align.delay import phasor
from validator.blas import dot
from validator.detectors.common import power_dbfs, span_mask
from validator.detectors.features import Features
from validator.orderstats import median
from validator.result import ChannelMetrics, Event

LOBE_BINS = 4


@functools.lru_cache(maxsize=8)
def blackmanharris(n: int) -> np.ndarray:
    """4-term Blackman-Harris window (Harris 1978, -92 dB sidelobes), symmetric, shape (n,).

    Cached per length (the excerpts share one), so the array is read-only.
    """
    a = (0.35875, 0.48829, 0.14128, 0.01168)
    t = 2 * np.pi * np.arange(n) / max(n - 1, 1)
    w = a[0] - a[1] * np.cos(t) + a[2] * np.cos(2 * t) - a[3] * np.cos(3 * t)
    w.flags.writeable = False
    return w


def _lsq(a_t: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares through the normal equations (the designs here are well conditioned).

    ``a_t`` is the design transposed, shape (k, n): its columns as contiguous rows.
    """
    # einsum, not BLAS: these small products gain nothing from threads, and BLAS threads
    # competing with other work on a busy machine cost a hundred times more; summed along
    # contiguous rows, it is about six times faster than over a (n, k) design's columns
    # (pairs of rows through validator.blas.dot, cut to stay on this thread, are only 15 %
    # faster)
    return np.linalg.solve(np.einsum("ij,kj->ik", a_t, a_t), np.einsum("ij,j->i", a_t, b))


@dataclass(frozen=True)
class ToneMeasurement:
    """Tone analysis of one excerpt of one channel."""

    frequency_hz: float
    amplitude: float
    snr_db: float
    thd_n_db: float


def fit_sine(x: np.ndarray, index: np.ndarray, frequency_hz: float, *, sample_rate_hz: int,
             iterations: int = 8) -> tuple[float, np.ndarray]:
    """Four-parameter least-squares sine fit (IEEE 1057-2017, 4.1.3.3).

    Parameters
    ----------
    x : np.ndarray, shape=(n,), float
        Samples, possibly a subset of an excerpt.
    index : np.ndarray, shape=(n,), int
        Sample number of each value of ``x`` (ascending, non-negative; gaps allowed).
    frequency_hz : float
        Starting frequency (e.g. from an FFT peak), Hz.
    sample_rate_hz : int
    iterations : int

    Returns
    -------
    frequency_hz : float
        Fitted frequency, Hz.
    coef : np.ndarray, shape=(3,)
        ``(a, b, c)`` of ``a cos(2 pi f t) + b sin(2 pi f t) + c``, ``t = index / sample_rate_hz``.
    """
    fs = sample_rate_hz
    t_s = index / fs
    w = 2 * np.pi * frequency_hz
    # the design's rows in one buffer: cos, sin, 1 and the frequency's column; the cosine and
    # sine at the current frequency serve the fit that ends one step and the next step
    a4 = np.empty((4, len(t_s)))
    c, s = a4[0], a4[1]
    a4[2] = 1.0
    _cos_sin(w / fs, index, c, s)
    coef = _lsq(a4[:3], x)
    for i in range(iterations):
        np.multiply(t_s, -coef[0] * s + coef[1] * c, out=a4[3])
        c4 = _lsq(a4, x)
        coef = c4[:3]
        w += c4[3]
        if abs(c4[3]) < 1e-10 * w:
            break
        if i + 1 < iterations:
            _cos_sin(w / fs, index, c, s)
    return float(w / (2 * np.pi)), coef


def _phasors(omega: float, index: np.ndarray) -> np.ndarray:
    """``exp(1j * omega * index)`` for ascending non-negative sample numbers ``index``.

    From :func:`~validator.align.delay.phasor`'s table (one complex product per
    sample, no trigonometric call per sample), gathered at ``index``.

    Returns
    -------
    np.ndarray, shape=(len(index),), complex128
    """
    if len(index) == 0:
        return np.empty(0, dtype=complex)
    table = phasor(omega, int(index[-1]) + 1)
    # ascending, distinct and as many as the table: index is 0 .. n-1, the table itself
    return table if len(table) == len(index) else table[index]


def _cos_sin(omega: float, index: np.ndarray, c: np.ndarray, s: np.ndarray) -> None:
    """``c = cos(omega index)`` and ``s = sin(omega index)``, in place (``omega``: rad/sample)."""
    z = _phasors(omega, index)
    np.copyto(c, z.real)
    np.copyto(s, z.imag)


def dominant_frequency(x: np.ndarray, sample_rate_hz: int) -> tuple[float, float]:
    """Frequency of the strongest spectral peak and the share of power near it.

    Parameters
    ----------
    x : np.ndarray, shape=(n,)
    sample_rate_hz : int

    Returns
    -------
    frequency_hz : float
        Peak frequency (parabolic on log power), Hz.
    tonality : float
        Fraction of the windowed power within +-4 bins of the peak: near 1 for
        a steady tone, small for speech or noise.
    """
    n = len(x)
    if n < 16 or not np.any(x):
        return 0.0, 0.0
    win = blackmanharris(n)
    spec = np.abs(np.fft.rfft((x - x.mean()) * win)) ** 2
    spec[:2] = 0
    k = int(np.argmax(spec))
    total = float(spec.sum())
    if total <= 0:
        return 0.0, 0.0
    near = float(spec[max(k - LOBE_BINS, 0):k + LOBE_BINS + 1].sum())
    off = 0.0
    if 0 < k < len(spec) - 1:
        a, b, c = np.log(spec[k - 1:k + 2] + 1e-30)
        den = a - 2 * b + c
        off = 0.5 * (a - c) / den if den < 0 else 0.0
    return float((k + off) * sample_rate_hz / n), near / total


def measure_tone(x: np.ndarray, sample_rate_hz: int, frequency_hz: float, *,
                 mask: np.ndarray | None = None, harmonics: int = 10) -> ToneMeasurement | None:
    """Frequency, SNR and THD+N of a steady tone by least-squares sine fitting.

    Parameters
    ----------
    x : np.ndarray, shape=(n,)
        An excerpt holding at least 20 periods of the tone.
    sample_rate_hz : int
    frequency_hz : float
        Approximate frequency, Hz (refined by the fit).
    mask : np.ndarray, shape=(n,), bool, optional
        Samples to use; False where an event makes the excerpt unrepresentative.
        The fit is in the time domain, so gaps do no harm.
    harmonics : int
        Highest harmonic removed for the SNR (those below Nyquist).

    Returns
    -------
    ToneMeasurement or None
        None when too few samples remain or the tone is absent.

    Notes
    -----
    The frequency comes from a four-parameter fit (IEEE 1057). Then the
    fundamental, harmonics 2..``harmonics`` and DC are fitted together at that
    frequency: THD+N is everything but the fundamental and DC, relative to the
    fundamental; SNR is the fundamental relative to what remains after the
    harmonics too. Unweighted, DC to Nyquist.
    """
    fs = sample_rate_hz
    m = np.ones(len(x), dtype=bool) if mask is None else mask
    if np.count_nonzero(m) < max(64, 20 * fs / max(frequency_hz, 1.0)):
        return None
    xs = x[m]
    if not np.any(xs):
        return None
    index = np.flatnonzero(m)
    f0, _ = dominant_frequency(x, fs)  # start near the received tone (drift, wrong clock)
    if not abs(f0 - frequency_hz) <= 0.05 * frequency_hz:
        f0 = frequency_hz
    f, _ = fit_sine(xs, index, f0, sample_rate_hz=fs)
    w = 2 * np.pi * f
    if not 0 < f < fs / 2:
        return None
    n_h = max(h for h in range(1, harmonics + 1) if h * f < fs / 2 or h == 1)
    c, z = _harmonic_fit(xs, _phasors(w / fs, index), n_h, index=index, omega=w / fs)
    p_fund = 0.5 * float(c[1] ** 2 + c[2] ** 2)
    fund = c[0] + c[1] * z.real + c[2] * z.imag
    p_thdn = float(np.mean((xs - fund) ** 2))
    p_noise = float(np.mean((xs - _harmonic_sum(c, z, n_h)) ** 2))
    if p_fund <= 1e-12:
        return None
    thd_n = 10 * np.log10(max(p_thdn, 1e-30) / p_fund)
    snr = 10 * np.log10(p_fund / max(p_noise, 1e-30))
    return ToneMeasurement(float(f), float(np.sqrt(2 * p_fund)), float(min(snr, 200.0)),
                           float(max(thd_n, -200.0)))


def _harmonic_fit(x: np.ndarray, z: np.ndarray, n_h: int, *, index: np.ndarray | None = None,
                  omega: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of DC and harmonics ``1..n_h`` of the phase ``theta`` to ``x``.

    The design ``[1, cos(h theta), sin(h theta)]`` is never formed: with
    ``z = exp(i theta)``, every entry of its normal matrix is the real or
    imaginary part of a power sum ``S_m = sum z**m`` (m = 0 .. 2 n_h), by the
    product-to-sum identities, and the right-hand side is ``sum x z**h``. That
    is O(n n_h) multiplications instead of O(n n_h**2), and no trigonometric
    evaluation per sample. The powers are formed in one buffer, in place.
    Given the sample numbers and the phase step (``theta = omega * index``),
    the power sums are geometric series over the runs of consecutive samples
    (:func:`_power_sums`), and only the powers up to ``n_h`` are formed.

    Parameters
    ----------
    x : np.ndarray, shape=(n,), float
    z : np.ndarray, shape=(n,), complex128
        ``exp(i theta)``, the fundamental's phasor at each sample (:func:`_phasors`).
    n_h : int
    index : np.ndarray, shape=(n,), int, optional
        Ascending sample numbers of ``x``, with ``z = exp(1j * omega * index)``.
    omega : float, optional
        Phase step per sample, radians (with ``index``).

    Returns
    -------
    coef : np.ndarray, shape=(2 * n_h + 1,)
        ``(dc, a1, b1, a2, b2, ...)`` for ``dc + sum a_h cos(h theta) + b_h sin(h theta)``.
    z : np.ndarray, shape=(n,), complex128
        ``z`` itself (see :func:`_harmonic_sum`).
    """
    xc = x.astype(complex)
    s = None if index is None or omega is None else _power_sums(z, index, omega, 2 * n_h)
    top = n_h if s is not None else 2 * n_h  # the powers formed sample by sample
    if s is None:
        s = np.empty(2 * n_h + 1, dtype=complex)
        s[0] = len(x)
    q = np.empty(n_h, dtype=complex)  # sum x z**h
    p = z.copy()
    for m in range(1, top + 1):
        if top == 2 * n_h:
            s[m] = p.sum()
        if m <= n_h:
            q[m - 1] = dot(xc, p)
        if m < top:
            p *= z

    # S_m for m = -2 n_h .. 2 n_h (S_-m = conj(S_m)), then the blocks of the normal matrix
    # for h, j = 1 .. n_h: d = S_(h-j), a = S_(h+j)
    re = np.concatenate((s.real[:0:-1], s.real))
    im = np.concatenate((-s.imag[:0:-1], s.imag))
    hj = np.arange(1, n_h + 1)
    diff, tot = hj[:, None] - hj[None, :] + 2 * n_h, hj[:, None] + hj[None, :] + 2 * n_h
    k = 2 * n_h + 1
    g = np.empty((k, k))
    g[0, 0] = len(x)
    g[0, 1::2] = g[1::2, 0] = s.real[1:n_h + 1]  # sum cos(h theta)
    g[0, 2::2] = g[2::2, 0] = s.imag[1:n_h + 1]  # sum sin(h theta)
    g[1::2, 1::2] = 0.5 * (re[diff] + re[tot])  # cos h cos j
    g[2::2, 2::2] = 0.5 * (re[diff] - re[tot])  # sin h sin j
    g[1::2, 2::2] = 0.5 * (im[tot] - im[diff])  # cos h sin j
    g[2::2, 1::2] = 0.5 * (im[tot] + im[diff])  # sin h cos j
    rhs = np.empty(k)
    rhs[0] = x.sum()
    rhs[1::2], rhs[2::2] = q.real, q.imag
    return np.linalg.solve(g, rhs), z


def _power_sums(z: np.ndarray, index: np.ndarray, omega: float,
                top: int) -> np.ndarray | None:
    """``S_m = sum_k z_k**m`` for ``m = 0 .. top``, as geometric series, or None.

    ``z_k = exp(1j omega index_k)``. Over a run of ``L`` consecutive samples
    from ``a``, ``sum z**m = (v**m - u**m) / (1 - w**m)`` with ``v = z_a``,
    ``u = z_(a+L-1) w`` and ``w = exp(1j omega)``: a few operations per run
    and power instead of a pass over the samples per power. ``v`` and ``u``
    come from ``z`` itself, so the series carry its accuracy; the powers of
    the few run ends are formed by repeated products. None (sum them sample
    by sample) where a ratio's denominator nears zero (``m f`` within 1e-6
    cycles of the sample rate, which only a tone just under ``fs / 2 top``
    can reach), or where the gaps split ``z`` into more than 64 runs.

    Returns
    -------
    np.ndarray, shape=(top + 1,), complex128, or None
    """
    n = len(index)
    if n == 0:
        return None
    cuts = np.flatnonzero(np.diff(index) != 1) + 1
    if len(cuts) > 63:
        return None
    first = np.concatenate(([0], cuts))
    last = np.concatenate((cuts - 1, [n - 1]))
    ms = np.arange(1, top + 1)
    den = 1.0 - np.exp(1j * omega * ms)
    if np.min(np.abs(den)) < 2 * np.pi * 1e-6:
        return None
    w = np.exp(1j * omega)
    v = np.cumprod(np.broadcast_to(z[first], (top, len(first))), axis=0)  # (top, runs)
    u = np.cumprod(np.broadcast_to(z[last] * w, (top, len(first))), axis=0)
    out = np.empty(top + 1, dtype=complex)
    out[0] = n
    out[1:] = (v - u).sum(axis=1) / den
    return out


def _harmonic_sum(coef: np.ndarray, z: np.ndarray, n_h: int) -> np.ndarray:
    """``dc + sum a_h cos(h theta) + b_h sin(h theta)`` from :func:`_harmonic_fit`'s output.

    The real part of the polynomial ``sum (a_h - i b_h) z**h``, by Horner's
    scheme in one buffer.
    """
    acc = np.full(len(z), complex(coef[2 * n_h - 1], -coef[2 * n_h]))
    for h in range(n_h - 1, 0, -1):
        acc *= z
        acc += complex(coef[2 * h - 1], -coef[2 * h])
    acc *= z
    return acc.real + coef[0]


@dataclass
class MetricSums:
    """What the frames of one channel contribute to its metrics, summed block by block.

    Attributes
    ----------
    samples : int
        Received samples counted (the cores of the blocks).
    sum_y, sum_y2, peak : float
        Sum, sum of squares and peak magnitude of those samples (full scale).
    ref_power, ref_frames : float, int
        Sum of the expected power ``p_x`` over frames where it is above
        -100 dB, and their count (the reference level, before the gain).
    snr_px, snr_pe : float
        Expected and residual power summed over those frames outside events
        (the signal-to-residual ratio of a reference that is not a tone).
    level_py, level_pr : float
        Received power and aligned reference power (before the gain) over
        the same frames (the level difference of a reference that is not a
        tone).
    tones : list of ToneMeasurement
        One per steady excerpt measured (tone references).
    """

    samples: int = 0
    sum_y: float = 0.0
    sum_y2: float = 0.0
    peak: float = 0.0
    ref_power: float = 0.0
    ref_frames: int = 0
    snr_px: float = 0.0
    snr_pe: float = 0.0
    level_py: float = 0.0
    level_pr: float = 0.0
    tones: list[ToneMeasurement] = field(default_factory=list)

    def add(self, other: MetricSums) -> None:
        """Add another block's sums to these."""
        self.samples += other.samples
        self.sum_y += other.sum_y
        self.sum_y2 += other.sum_y2
        self.peak = max(self.peak, other.peak)
        self.ref_power += other.ref_power
        self.ref_frames += other.ref_frames
        self.snr_px += other.snr_px
        self.snr_pe += other.snr_pe
        self.level_py += other.level_py
        self.level_pr += other.level_pr
        self.tones.extend(other.tones)


def metric_sums(feats: Features, ch: int, f_ref: float | None, events: list[Event], *,
                core_frames: tuple[int, int] | None = None) -> MetricSums:
    """One channel's metric sums over the frames ``core_frames`` of ``feats``.

    Parameters
    ----------
    feats : Features
        From the streaming pass over the capture or one block of it (levels,
        running sums and excerpts already limited to the block's core).
    ch : int
        Channel index.
    f_ref : float or None
        Frequency of the reference tone on this channel, Hz; None for speech,
        music or a sweep.
    events : list of Event
        Events on ``feats``' timeline: excerpts and frames they touch are left out.
    core_frames : tuple of int, optional
        ``[start, stop)`` frames counted; default all.

    Returns
    -------
    MetricSums
    """
    cf = feats.channels[ch]
    f0, f1 = core_frames or (0, feats.n_frames)
    ev = [e for e in events if e.channel == ch]
    frame_mask = span_mask([(e.start_sample, e.end_sample) for e in ev], feats.n_frames,
                           feats.frame_len, pad_frames=5)[f0:f1]
    px_all = cf.p_x.astype(np.float64)
    px = px_all[f0:f1]
    act = px > 1e-10
    out = MetricSums(samples=min(f1 * feats.frame_len, feats.n_samples) - f0 * feats.frame_len,
                     sum_y=cf.sum_y, sum_y2=cf.sum_y2, peak=cf.peak,
                     ref_power=float(px[act].sum()), ref_frames=int(np.count_nonzero(act)))
    if f_ref is None:
        use = act & ~frame_mask
        out.snr_px = float(px[use].sum())
        out.snr_pe = float(cf.p_e[f0:f1][use].astype(np.float64).sum())
        out.level_py = float(cf.p_y[f0:f1][use].astype(np.float64).sum())
        out.level_pr = float(cf.p_r[f0:f1][use].astype(np.float64).sum())
        return out
    pad = feats.sample_rate_hz // 1000
    for start, y in feats.excerpts:
        mask = np.ones(len(y), dtype=bool)
        for e in ev:
            a, b = e.start_sample - start - pad, e.end_sample - start + pad
            if b > 0 and a < len(y):
                mask[max(a, 0):max(min(b, len(y)), 0)] = False
        fa = start // feats.frame_len
        steady = px_all[fa:fa + len(y) // feats.frame_len]
        if len(steady) == 0 or steady.min() < 0.5 * steady.max():
            continue  # not inside the steady tone (marker, gap, onset or end)
        m = measure_tone(y[:, ch], feats.sample_rate_hz, f_ref, mask=mask)
        if m is not None and m.amplitude > 1e-4:
            out.tones.append(m)
    return out


def channel_metrics(sums: MetricSums, ch: int, f_ref: float | None, gain: float, *,
                    reference_known: bool) -> ChannelMetrics:
    """The metrics of one received channel (see the module docstring for definitions).

    Parameters
    ----------
    sums : MetricSums
        The channel's sums over the whole capture (:func:`metric_sums` of each
        block, added).
    ch : int
        Channel index.
    f_ref : float or None
        Frequency of the reference tone on this channel, Hz; None for speech,
        music or a sweep (then SNR is signal-to-residual and there is no THD+N).
    gain : float
        The channel's least-squares gain (received over reference amplitude):
        the gain error of a tone, and the polarity of every channel.
    reference_known : bool
        False for a tone spec (``sine:997``): no reference level, no gain error.

    Returns
    -------
    ChannelMetrics
    """
    n = max(sums.samples, 1)
    rms = np.sqrt(sums.sum_y2 / n)
    ref_rms_dbfs = None
    if reference_known and gain != 0 and sums.ref_frames:
        ref_rms_dbfs = float(power_dbfs(sums.ref_power / sums.ref_frames / gain ** 2))
    freq = ferr = snr = thdn = None
    if f_ref is not None:
        if sums.tones:
            freq = float(median([m.frequency_hz for m in sums.tones]))
            ferr = freq - f_ref
            snr = float(median([m.snr_db for m in sums.tones]))
            thdn = float(median([m.thd_n_db for m in sums.tones]))
    elif reference_known and sums.snr_px > 0:
        snr = float(min(10 * np.log10(sums.snr_px / max(sums.snr_pe, 1e-30)), 200.0))
    gain_db = None
    if reference_known and gain:
        gain_db = 20 * np.log10(abs(gain))
        if f_ref is None and sums.level_py > 0 and sums.level_pr > 0:
            gain_db = 10 * np.log10(sums.level_py / sums.level_pr)
    return ChannelMetrics(
        index=ch, rms_dbfs=round(float(power_dbfs(rms ** 2)), 3),
        peak_dbfs=round(float(20 * np.log10(max(sums.peak, 1e-6))), 3),
        reference_rms_dbfs=None if ref_rms_dbfs is None else round(ref_rms_dbfs, 3),
        gain_error_db=None if gain_db is None else round(float(gain_db), 3),
        polarity_inverted=bool(reference_known and gain < 0),
        frequency_hz=None if freq is None else round(freq, 4),
        frequency_error_hz=None if ferr is None else round(ferr, 4),
        snr_db=None if snr is None else round(snr, 2),
        thd_n_db=None if thdn is None else round(thdn, 2),
        dc_offset=round(sums.sum_y / n, 6))
