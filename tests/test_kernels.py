"""Fast numeric kernels against the library calls they replace (same numbers).

Each replaced a scipy call on the validation path (scipy's import is most of a
short run's cold start) or a slow numpy one: the 5-smooth FFT length, the
running median of lag tracks, the glitch detector's box means, dilation and
window maxima, the zero/clip run tracker, the harmonic least-squares fit and
the integer-code file reads, the channel assignment, and the blocked
correlations of a short template or a few lags over a long head, and the
plot values' rounding, and the median of a long amplitude track; and the
order statistics (median, percentile, distinct values) that keep ``numpy.ma``
out of a validation's imports (``tests/test_imports.py`` checks that).
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf

from validator.align.track import running_median
from validator.align.xcorr import autocorrelation, correlate_valid, fast_len
from validator.detectors.features import ZERO_LEVEL, _run_mask, _RunTracker
from validator.detectors.glitch import _box, _dilate, _window_max
from validator.detectors.metrics import measure_tone
from validator.io.audio import open_audio
from validator.orderstats import median
from validator.plotdata import round_values

scipy_fft = pytest.importorskip("scipy.fft")
ndimage = pytest.importorskip("scipy.ndimage")


def test_fast_len_is_scipys_next_fast_len():
    rng = random.Random(0)
    sizes = [*range(1, 3000), *(rng.randint(3000, 10 ** 8) for _ in range(2000))]
    for n in sizes:
        assert fast_len(n) == scipy_fft.next_fast_len(n, real=True), n


def test_blocked_correlations_are_the_direct_sums():
    rng = np.random.default_rng(3)
    for n, m in [(7, 90_000), (100, 100), (2400, 492_000), (4800, 52_800), (3000, 70_001)]:
        t, s = rng.normal(size=n), rng.normal(size=m)
        want = np.correlate(s, t, mode="valid")
        np.testing.assert_allclose(correlate_valid(t, s), want, rtol=0, atol=1e-12 * np.sqrt(n))
    for n, lags in [(5, 3), (2400, 2401), (4097, 4096), (123_457, 2401), (24_576, 5000)]:
        x = rng.normal(size=n)
        want = np.array([np.dot(x[:n - k], x[k:]) for k in range(min(lags, n))])
        got = autocorrelation(x, lags)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * n)


def test_round_values_is_pythons_round_value_by_value():
    rng = np.random.default_rng(6)
    specials = np.array([0.0, -0.0, 1e-300, -1e-300, np.inf, -np.inf, np.nan, 1e20, -1e20, 2.5,
                         0.125, -0.125, 1e15, 2.0 ** 52 + 1])
    for digits in (0, 2, 5, 7):
        k = rng.integers(-10 ** 6, 10 ** 6, 20_000)
        halves = (k + 0.5) / 10 ** digits
        for a in (rng.normal(size=20_000) * 10.0 ** rng.integers(-8, 8, 20_000),
                  rng.normal(size=5000).astype(np.float32), halves,
                  np.nextafter(halves, 0), np.nextafter(halves, np.inf), specials):
            want = [round(float(v), digits) for v in a]
            got = round_values(a, digits)
            assert len(got) == len(want)
            for w, g in zip(want, got, strict=True):
                assert (w == g and np.signbit(w) == np.signbit(g)) or (w != w and g != g)


def test_median_is_numpys_median_to_the_bit():
    rng = np.random.default_rng(7)
    for i in range(600):
        n = int(rng.integers(1, 60_000))
        x = [rng.normal(size=n), np.round(rng.normal(size=n), 1), np.full(n, 0.3),
             np.sort(rng.random(n)), np.abs(rng.normal(size=n)) ** 4 * (np.arange(n) > n // 2),
             rng.normal(size=n)][i % 6]
        if i % 6 == 2:
            x[rng.integers(0, n, 5)] = rng.normal(size=5)
        if i % 6 == 5:
            x[rng.integers(0, n)] = np.nan
        want, got = float(np.median(x)), median(x)
        assert (want == got and np.signbit(want) == np.signbit(got)) or \
            (np.isnan(want) and np.isnan(got))


def test_received_head_from_the_lead_is_the_read_from_the_lead():
    from validator.align.delay import _from_lead, mono
    from validator.io.audio import ArraySource

    rng = np.random.default_rng(8)
    for shape in ((5000,), (5000, 2), (300, 2)):
        src = ArraySource(rng.uniform(-1, 1, shape), 8000)
        for lead, head, max_lag in ((100, 400, 2000), (0, 5000, 10_000), (1250, 5000, 0)):
            y_head = mono(src.read(0, min(src.frames, head + max_lag)))
            want = mono(src.read(-lead, lead + max_lag + head))
            np.testing.assert_array_equal(_from_lead(y_head, lead, lead + max_lag + head), want)


def test_running_median_is_median_filter_nearest():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n, w = int(rng.integers(1, 60)), int(rng.choice([3, 5, 7, 9]))
        x = rng.normal(size=n)
        np.testing.assert_allclose(running_median(x, w),
                                   ndimage.median_filter(x, size=w, mode="nearest"))


def test_box_dilate_and_window_max_match_their_references():
    rng = np.random.default_rng(1)
    for _ in range(300):
        n, k = int(rng.integers(1, 80)), int(rng.integers(1, 9))
        x = rng.random(n).astype(np.float32)
        for w in (1, 4, 16):
            want = np.convolve(x, np.ones(w, np.float32), mode="same")[:n] / w if n >= w else None
            if want is not None:
                np.testing.assert_allclose(_box(x, w), want, rtol=2e-6, atol=1e-7)
        at = np.flatnonzero(rng.random(n) < 0.3)
        np.testing.assert_array_equal(_window_max(x, at, k),
                                      ndimage.maximum_filter1d(x, 2 * k + 1)[at])
        m = rng.random(n) < 0.1
        np.testing.assert_array_equal(
            _dilate(m, k), ndimage.maximum_filter1d(m.astype(np.uint8), 2 * k + 1,
                                                    mode="constant") > 0)


def _runs_reference(mask: np.ndarray, min_run: int) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return [(int(s), int(e)) for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1),
                                             strict=True) if e - s >= min_run]


def test_run_tracker_fed_in_blocks_finds_every_run():
    rng = np.random.default_rng(2)
    for _ in range(2000):
        n = int(rng.integers(1, 400))
        mask = np.zeros(n, dtype=bool)
        i = 0
        while i < n:
            length = int(rng.integers(1, 30))
            mask[i:i + length] = rng.random() < 0.5
            i += length + int(rng.integers(0, 10))
        min_run = int(rng.integers(1, 20))
        cuts = sorted({0, n, *rng.integers(0, n, int(rng.integers(0, 6))).tolist()})
        tracker = _RunTracker(min_run)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            tracker.feed(mask[a:b], a)
        assert tracker.finish(n) == _runs_reference(mask, min_run)


def test_strided_run_mask_finds_the_same_runs_as_testing_every_sample():
    """_run_mask tests every min_run-th sample first: fed block by block, the tracker must keep
    exactly the runs of the full mask, including runs that cross a block's edge."""
    rng = np.random.default_rng(5)
    for _ in range(2000):
        n = int(rng.integers(1, 600))
        y = rng.uniform(-1, 1, n)
        i = 0
        while i < n:
            length = int(rng.integers(1, 60))
            if rng.random() < 0.3:
                y[i:i + length] = 0.0
            i += length + int(rng.integers(0, 40))
        min_run = int(rng.integers(1, 25))
        cuts = sorted({0, n, *rng.integers(0, n, int(rng.integers(0, 6))).tolist()})
        tracker = _RunTracker(min_run)
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            tracker.feed(_run_mask(y[a:b], min_run, lambda v: np.abs(v) < ZERO_LEVEL), a)
        assert tracker.finish(n) == _runs_reference(np.abs(y) < ZERO_LEVEL, min_run)


def _gaps(fs: int, kind: str) -> np.ndarray:
    keep = np.ones(fs, dtype=bool)
    if kind == "one gap":
        keep[20000:20960] = False
    elif kind == "100 gaps":  # more runs than the power sums take as series
        for a in range(1000, 41000, 400):
            keep[a:a + 48] = False
    return keep


@pytest.mark.parametrize("gaps", ["none", "one gap", "100 gaps"])
def test_tone_measurement_matches_an_explicit_least_squares_fit(gaps):
    """SNR and THD+N from the power-sum normal equations equal an explicit least-squares fit
    of DC and every harmonic below Nyquist, with the excerpt whole, with a gap (the fit is in
    the time domain), and with 100 gaps; at 2399.99976 Hz the twentieth power's series
    would divide by nearly zero (20 f is 1e-7 cycles under 48 kHz) and the sums are taken
    sample by sample."""
    fs = 48000
    t = np.arange(fs) / fs
    rng = np.random.default_rng(3)
    for f, noise in ((997.0, 1e-5), (3100.0, 1e-3), (10007.0, 1e-6), (2400 * (1 - 1e-7), 1e-4)):
        x = (0.5 * np.sin(2 * np.pi * f * t + 0.3) + 0.01 * np.sin(2 * np.pi * 2 * f * t)
             + noise * rng.normal(size=fs) + 1e-3)
        keep = _gaps(fs, gaps)
        m = measure_tone(x, fs, f, mask=keep)
        assert m is not None
        w = 2 * np.pi * m.frequency_hz
        tk = t[keep]
        cols = [np.ones_like(tk)]
        for h in range(1, 11):
            if h * m.frequency_hz >= fs / 2:
                break
            cols += [np.cos(h * w * tk), np.sin(h * w * tk)]
        a = np.stack(cols, axis=1)
        c = np.linalg.lstsq(a, x[keep], rcond=None)[0]
        p_fund = 0.5 * (c[1] ** 2 + c[2] ** 2)
        thd_n = 10 * np.log10(np.mean((x[keep] - a[:, :3] @ c[:3]) ** 2) / p_fund)
        snr = 10 * np.log10(p_fund / np.mean((x[keep] - a @ c) ** 2))
        assert m.thd_n_db == pytest.approx(thd_n, abs=1e-6)
        assert m.snr_db == pytest.approx(snr, abs=1e-6)


@pytest.fixture(params=["cached", "span by span"])
def file_cache(request, monkeypatch):
    """Reads from a short file's cached codes, and span by span as a long file's."""
    if request.param != "cached":
        monkeypatch.setattr("validator.io.audio.CACHE_SAMPLES", 0)
    return request.param


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_file_reads_give_libsndfiles_float_values(tmp_path, subtype, file_cache):
    y = np.random.default_rng(4).uniform(-1, 1, (5000, 2))
    path = tmp_path / f"x_{subtype}.wav"
    sf.write(path, y, 48000, subtype=subtype)
    want, _ = sf.read(path, dtype="float64", always_2d=True)
    with open_audio(path) as src:
        np.testing.assert_array_equal(src.read(0, 5000), want)
        np.testing.assert_array_equal(src.read(-10, 30)[10:], want[:20])
        assert not src.read(-10, 30)[:10].any()
        np.testing.assert_array_equal(src.read(4990, 30)[:10], want[4990:])
        assert not src.read(4990, 30)[10:].any()


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_windows_read_are_the_samples_that_reads_give(tmp_path, subtype, file_cache):
    """Sparse windows (a tone's phase track on an hour) hold exactly libsndfile's samples.

    Through a file, a channel view and a block view, with windows running off
    either end (zero there), as one read per window would give them.
    """
    from validator.align.channels import ChannelView
    from validator.io.audio import SpanSource

    y = np.random.default_rng(5).uniform(-1, 1, (20000, 2))
    path = tmp_path / f"w_{subtype}.wav"
    sf.write(path, y, 48000, subtype=subtype)
    want, _ = sf.read(path, dtype="float64", always_2d=True)
    length = 37
    with open_audio(path) as src:
        views = ((src, want), (ChannelView(src, 1), want[:, 1:]),
                 (SpanSource(src, 3000, 9000), want[3000:12000]))
        for view, ref in views:
            for starts in (np.arange(5, view.frames - length, 401),   # inside, sparse
                           np.arange(-20, view.frames, 977),          # off both ends
                           np.arange(100, 400, 3)):                   # overlapping
                got = view.read_windows(starts, length)
                assert got.shape == (len(starts), length, ref.shape[1])
                for k, s0 in enumerate(starts):
                    lo, hi = max(s0, 0), min(s0 + length, len(ref))
                    exp = np.zeros((length, ref.shape[1]))
                    exp[lo - s0:hi - s0] = ref[lo:hi]
                    np.testing.assert_array_equal(got[k], exp)


def test_channel_assignment_is_kuhn_munkres():
    optimize = pytest.importorskip("scipy.optimize")
    from validator.align.channels import _best_assignment

    rng = np.random.default_rng(5)
    for _ in range(300):
        n = int(rng.integers(1, 7))
        score = rng.random((n, n))
        rows, cols = optimize.linear_sum_assignment(-score)
        got = _best_assignment(score)
        assert score[np.arange(n), list(got)].sum() == pytest.approx(score[rows, cols].sum())
    assert _best_assignment(np.ones((3, 3))) == (0, 1, 2), "ties keep the identity"


def test_phase_track_in_threads_is_the_same_track():
    """The phase track's blocks demodulated two at a time give the same points exactly, on a
    12 s tone (three blocks) with a 7 ms skip and a fill that the track must step over."""
    from validator.align.phase import BLOCK, phase_track
    from validator.io.audio import ArraySource

    fs, f0 = 48000, 997.0
    n = 12 * fs
    ref = 0.3 * np.sin(2 * np.pi * f0 * np.arange(n) / fs)
    rec = np.concatenate([np.zeros(100), ref[:5 * fs], ref[5 * fs + 336:]])
    rec[8 * fs:8 * fs + 960] = 0.0
    assert n > 2 * BLOCK
    kw = {"reference": ArraySource(ref, fs), "received": ArraySource(rec, fs),
          "initial_lag": 100.0, "period_samples": fs / f0}
    one = phase_track(**kw, threads=1)
    # the skip moves the lag by its length modulo one period (336 samples: about one sample)
    assert len(one) > 10000 and max(p.lag for p in one) - min(p.lag for p in one) > 0.5
    assert phase_track(**kw, threads=2) == one


@pytest.mark.parametrize("max_points", [8_000, 2_000])  # windows overlapping, windows apart
def test_phase_tracks_read_once_are_each_channels_own_track(monkeypatch, max_points):
    """Stereo tones (997 and 1499 Hz, a skip on one channel) tracked from one read of each
    file per block give the tracks of each channel on its own (as align_channels read them
    before, through a channel view) exactly, with a stereo and with a mono reference."""
    from validator.align import phase
    from validator.align.channels import ChannelView
    from validator.io.audio import ArraySource

    monkeypatch.setattr(phase, "MAX_POINTS", max_points)  # a hop of 40 or 160 samples
    fs, n = 16000, 20 * 16000
    k = np.arange(n)
    ref = np.stack([0.3 * np.sin(2 * np.pi * 997 * k / fs),
                    0.2 * np.sin(2 * np.pi * 1499 * k / fs)], 1)
    rec = np.concatenate([np.zeros((40, 2)), ref])[:n].copy()
    rec[6 * fs:, 1] = np.concatenate([rec[6 * fs + 90:, 1], np.zeros(90)])  # a 90-sample skip
    for reference, mapping in ((ArraySource(ref, fs), [0, 1]),
                               (ArraySource(ref[:, :1], fs), [0, 0])):
        received = ArraySource(rec if mapping == [0, 1] else rec[:, [0, 0]], fs)
        periods = [fs / (997 if m == 0 else 1499) for m in mapping]
        joint = phase.phase_tracks(reference=reference, received=received, mapping=mapping,
                                   initial_lags=[40.0, 40.0], periods_samples=periods,
                                   inverted=[False, False], threads=2)
        assert joint is not None
        for ch in range(2):
            own = phase.phase_track(reference=ChannelView(reference, mapping[ch]),
                                    received=ChannelView(received, ch),
                                    initial_lag=40.0, period_samples=periods[ch])
            assert len(own) > 1000 and joint[ch] == own


def test_a_kept_reference_head_gives_the_same_delay_and_a_changed_file_is_read_again(tmp_path):
    """The batch's reference memo: the same numbers as a fresh analysis, never stale ones."""
    import os

    from validator.align.delay import analyse_reference_head, estimate_delay, reference_head

    fs = 8000
    t = np.arange(2 * fs) / fs
    tone = np.where(t >= 0.1, 0.5 * np.sin(2 * np.pi * 997 * t), 0.0)
    ref_path, rec_path = tmp_path / "ref.wav", tmp_path / "rec.wav"
    sf.write(ref_path, tone, fs, subtype="PCM_16")
    sf.write(rec_path, np.concatenate((np.zeros(123), tone))[:len(tone)], fs, subtype="PCM_16")
    with open_audio(ref_path) as ref, open_audio(rec_path) as rec:
        first = estimate_delay(reference=ref, received=rec)
        head = reference_head(ref, ref.frames)
    assert round(first.lag_samples) == 123 and not first.ambiguous
    with open_audio(ref_path) as ref, open_audio(rec_path) as rec:
        assert reference_head(ref, ref.frames) is head  # kept: the same file, unchanged
        assert estimate_delay(reference=ref, received=rec) == first
    fresh = analyse_reference_head(head.r.copy(), fs)
    assert (fresh.period, fresh.onset, fresh.steady, fresh.anchor, fresh.marker) == \
        (head.period, head.onset, head.steady, head.anchor, head.marker)

    # the same size and name, another tone, and the old modification time: analysed again
    st = os.stat(ref_path)
    with open_audio(ref_path) as ref:
        head_identity = ref.identity
    sf.write(ref_path, np.where(t >= 0.1, 0.5 * np.sin(2 * np.pi * 1499 * t), 0.0), fs,
             subtype="PCM_16")
    os.utime(ref_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with open_audio(ref_path) as ref:
        identity = ref.identity
        again = reference_head(ref, ref.frames)
    assert identity != head_identity  # the change time moved
    assert again is not head
    assert again.period == pytest.approx(fs / 1499, rel=1e-3)

    # a clock too coarse to tell the writes apart: the samples still do
    sf.write(ref_path, tone, fs, subtype="PCM_16")
    with open_audio(ref_path) as ref:
        ref.identity = identity  # as if nothing had changed
        third = reference_head(ref, ref.frames)
    assert third is not again
    assert third.period == pytest.approx(head.period)


@pytest.mark.parametrize(("period", "hop"), [(48000 / 997, 48), (160 / 3, 53), (30.5, 200)])
def test_phase_window_sums_are_the_strided_windows_sums(period, hop):
    """The phase track's windows demodulated hop by hop (one contiguous matrix product) give
    the sums of the windows taken one by one, to rounding: windows overlapping by four hops,
    by a fraction of one, and not at all, and a stretch that ends inside the last window's
    zero-padded hop."""
    from numpy.lib.stride_tricks import sliding_window_view

    from validator.align.phase import _Demodulator

    dm = replace(_Demodulator.of(period, 0.0, 10**6, 10**6), hop=hop)
    x = np.random.default_rng(7).standard_normal(20_000)
    k = (len(x) - dm.nwin) // hop + 1
    w, k_re, k_im = dm.kernel
    windows = sliding_window_view(x, dm.nwin)[::hop][:k]
    z, power = dm.window_sums(x, k)
    assert z.shape == power.shape == (k,)
    np.testing.assert_allclose(z, np.array([np.dot(v, k_re) + 1j * np.dot(v, k_im)
                                            for v in windows]), rtol=0, atol=1e-13)
    np.testing.assert_allclose(power, np.array([np.dot(v * v, w) for v in windows]),
                               rtol=1e-13)


def _interpolate_by_hand(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """The interpolator's definition: each position's table row against its 32 samples."""
    from validator.align.interp import HALF_TAPS, KAISER_BETA, PHASES, _table

    h = _table(HALF_TAPS, PHASES, KAISER_BETA)
    out = np.zeros(len(pos))
    for i, p in enumerate(pos):
        ip = int(np.floor(p))
        ph = int(np.rint((p - ip) * PHASES))
        ip, ph = ip + ph // PHASES, ph % PHASES
        if not -2 <= ip <= len(x):
            continue  # its 32 samples leave the source padded by 17 zeros: zero
        for j, k in enumerate(range(-HALF_TAPS + 1, HALF_TAPS + 1)):
            if 0 <= ip + k < len(x):
                out[i] += x[ip + k] * h[ph, j]
    return out


@pytest.mark.parametrize("shift", [0.3712, 0.0, 2.0 ** -40, 0.99995])
def test_interpolation_at_unit_steps_is_the_interpolators_definition(shift):
    """Positions one sample apart (as callers form them, ``n - d``, with rounding) take the
    constant-fraction path; they give each position's own filter (to rounding), as do the
    same positions moved by a millionth of a sample (the general path, or one FIR filter
    where their phases agree), and positions whose filter reaches past the source's ends
    (zeros there; the FIR path once filtered the wrong stretch when its first position lay
    outside)."""
    from validator.align.interp import interpolate

    x = np.random.default_rng(11).standard_normal((3000, 1))
    n = np.arange(100, 2900, dtype=np.float64)
    for pos in (n - shift, n - shift + 1e-6 * np.sin(n), n - 120.0 - shift, n + 120.0 - shift,
                (n - shift + 1e-6 * np.sin(n)) - 120.0):
        got = interpolate(x, pos)[:, 0]
        np.testing.assert_allclose(got, _interpolate_by_hand(x[:, 0], pos), rtol=0, atol=1e-12)


def test_kept_analyses_are_given_back_only_for_the_same_samples():
    """KeptBySamples: a result comes back for its key and exactly its samples; other samples,
    another shape, no identity, or a key pushed out by newer ones give nothing."""
    from validator.io.kept import KeptBySamples

    kept: KeptBySamples[str] = KeptBySamples(2)
    a = np.arange(10.0)
    kept.put("a", a, "from a")
    assert kept.get("a", a.copy()) == "from a"
    b = a.copy()
    b[7] = np.nextafter(b[7], 100.0)  # one sample, one unit in the last place
    assert kept.get("a", b) is None and kept.get("a", a[:9]) is None
    kept.put(None, a, "nothing")
    assert kept.get(None, a) is None
    kept.put("b", a, "from b")
    kept.get("a", a)  # "a" is now the newest
    kept.put("c", a, "from c")
    assert (kept.get("a", a), kept.get("b", a), kept.get("c", a)) == ("from a", None, "from c")


def test_the_reference_tone_frequencies_are_kept_for_the_same_samples(tmp_path):
    """A batch's reference: its tone frequency is measured once, and again for a file that
    changed under an identity forced equal."""
    from validator import pipeline

    fs = 8000
    t = np.arange(2 * fs) / fs
    path = tmp_path / "ref.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 997 * t), fs, subtype="PCM_16")
    with open_audio(path) as ref:
        identity = ref.identity
        first = pipeline._tonal_frequencies(ref, None, 2)
    assert first == [pytest.approx(997, abs=0.1)] * 2
    calls = []
    real = pipeline.dominant_frequency
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "dominant_frequency", lambda *a: calls.append(1) or real(*a))
        with open_audio(path) as ref:
            assert pipeline._tonal_frequencies(ref, None, 2) == first and not calls
        sf.write(path, 0.5 * np.sin(2 * np.pi * 1499 * t), fs, subtype="PCM_16")
        with open_audio(path) as ref:
            ref.identity = identity  # as if nothing had changed
            assert pipeline._tonal_frequencies(ref, None, 1) == [pytest.approx(1499, abs=0.1)]
    assert calls == [1]


def test_blas_products_in_one_thread_sized_pieces_are_numpys():
    """validator.blas cuts dot and matrix products below OpenBLAS's threading sizes; the
    results are numpy's to rounding, real and complex, at every length around a cut."""
    from validator import blas

    rng = np.random.default_rng(2)
    for n in (1, blas.DOT_CHUNK, blas.DOT_CHUNK + 1, 3 * blas.DOT_CHUNK - 7):
        a, b = rng.standard_normal(n), rng.standard_normal(n)
        z = a + 1j * rng.standard_normal(n)
        assert blas.dot(a, b) == pytest.approx(np.dot(a, b), rel=1e-12, abs=1e-9)
        assert blas.dot(z.astype(complex), z) == pytest.approx(np.dot(z, z), rel=1e-12)
    for m, k, n in ((10, 48, 10), (20_000, 48, 10), (7, 3000, 100), (5000, 1, 1)):
        a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        np.testing.assert_allclose(blas.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)


def _same(want, got) -> bool:
    """The same value, type and dtype, NaN for NaN, and the same sign of zero."""
    return (type(want) is type(got) and getattr(want, "dtype", None) == getattr(got, "dtype", None)
            and np.array_equal(want, got, equal_nan=True)
            and bool(np.all(np.signbit(want) == np.signbit(got))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int16])
def test_order_statistics_are_numpys_to_the_bit(dtype):
    """orderstats.median (whole or along an axis) and percentile against numpy's; a NaN, ties,
    -0.0, even and odd lengths, lists."""
    from validator import orderstats

    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 4, 5, 8, 9, 100, 101, 1001, 4800):
        for kind in ("normal", "ties", "nan", "zeros", "list"):
            if kind == "nan" and not np.issubdtype(dtype, np.floating):
                continue
            x = rng.standard_normal(n) * 1000
            x = (np.round(x / 300) if kind == "ties" else x).astype(dtype)
            if kind == "nan":
                x[rng.integers(n)] = np.nan
            if kind == "zeros" and np.issubdtype(dtype, np.floating):
                x[:] = -0.0
            xs = x.tolist() if kind == "list" else x
            assert _same(np.median(xs), orderstats.median(xs)), (n, kind)
            if n >= 3:
                w = np.lib.stride_tricks.sliding_window_view(x, 3)
                assert _same(np.median(w, axis=1), orderstats.median(w, axis=1)), (n, kind)
            for q in (0.0, 5.0, 33.3, 50.0, 90.0, 95.0, 99.5, 99.9, 100.0):
                assert _same(np.percentile(x, q), orderstats.percentile(x, q)), (n, kind, q)
    before = x.copy()
    orderstats.median(x), orderstats.percentile(x, 90.0)
    assert np.array_equal(x, before, equal_nan=True)  # inputs are never partitioned in place
    v = rng.integers(-5, 5, 200).astype(dtype)
    assert _same(np.unique(v), orderstats.unique_values(v))
    assert np.array_equal(np.unique(v, return_inverse=True)[1], orderstats.dense_ranks(v))

