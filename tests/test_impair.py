"""Tests for validator.impair: every fault lands where its ground truth says."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from validator.errors import AudioFormatError, SignalSpecError, ValidatorError
from validator.impair import (
    CONDITION_KINDS,
    EVENT_KINDS,
    IMPAIRMENTS,
    Fault,
    Impaired,
    a_law_decode,
    a_law_encode,
    a_law_round_trip,
    add_noise,
    attenuate,
    click,
    clip,
    compose,
    dc_offset,
    delay,
    drift,
    fade_packet,
    gain,
    hard_clip,
    invert_polarity,
    mu_law_decode,
    mu_law_encode,
    mu_law_round_trip,
    near_silence,
    packet_loss,
    repeat_packet,
    skip,
    swap_channels,
    zero_fill,
)
from validator.result import EVENT_TYPES

TONE_HZ = 997.0
RATES = (48000, 8000)


def tone(fs: int, seconds: float = 0.5, channels: int = 2, amplitude: float = 0.5) -> np.ndarray:
    """997 Hz sine, one phase per channel (no sample is exactly zero)."""
    t = np.arange(round(seconds * fs)) / fs
    phases = 0.3 + np.arange(channels)
    return amplitude * np.sin(2 * np.pi * TONE_HZ * t[:, None] + phases[None, :])


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def truth_mask(faults, n: int, n_channels: int) -> np.ndarray:
    """Boolean (n, n_channels) mask of the samples covered by fault spans."""
    mask = np.zeros((n, n_channels), dtype=bool)
    for f in faults:
        cols = slice(None) if f.channel is None else f.channel
        mask[f.start_sample : f.end_sample, cols] = True
    return mask


def assert_unchanged_outside(out, y, s, e, cols=slice(None)):
    """Samples outside [s, e) x cols are bit-identical to the input."""
    keep = np.ones(y.shape, dtype=bool)
    keep[s:e, cols] = False
    np.testing.assert_array_equal(out[keep], y[keep])


def assert_times(fault: Fault, fs: int):
    assert fault.start_s == pytest.approx(fault.start_sample / fs, abs=1e-12)
    assert fault.end_s == pytest.approx(fault.end_sample / fs, abs=1e-12)


# --------------------------------------------------------------------------- dropouts, glitches


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channel", [None, 1])
def test_zero_fill_dropout_lands_on_truth_span(fs, channel):
    y = tone(fs)
    res = zero_fill(y, fs, start_s=0.1234, duration_s=0.0105, channel=channel)
    s = round(0.1234 * fs)
    e = s + round(0.0105 * fs)
    (f,) = res.faults
    assert (f.kind, f.channel, f.start_sample, f.end_sample) == ("dropout", channel, s, e)
    assert_times(f, fs)
    cols = slice(None) if channel is None else slice(channel, channel + 1)
    assert np.all(res.y[s:e, cols] == 0.0)
    assert np.all(res.y[[s - 1, e], cols] != 0.0)
    assert_unchanged_outside(res.y, y, s, e, cols)
    assert res.sample_rate_hz == fs


def test_attenuate_scales_span_and_picks_kind():
    fs = 48000
    y = tone(fs)
    s, e = 4800, 4800 + 2400
    level = attenuate(y, fs, start_s=0.1, duration_s=0.05, gain_db=-6.0, channel=0)
    np.testing.assert_allclose(level.y[s:e, 0], y[s:e, 0] * 10 ** (-6 / 20), rtol=0, atol=1e-15)
    assert_unchanged_outside(level.y, y, s, e, slice(0, 1))
    assert [(f.kind, f.channel, f.start_sample, f.end_sample) for f in level.faults] == [
        ("level", 0, s, e)
    ]
    deep = attenuate(y, fs, start_s=0.1, duration_s=0.05, gain_db=-40.0)
    assert deep.faults[0].kind == "dropout"
    assert deep.faults[0].detail["gain_db"] == -40.0
    assert rms(deep.y[s:e]) == pytest.approx(rms(y[s:e]) * 0.01, rel=1e-12)


@pytest.mark.parametrize("fs", RATES)
def test_repeat_packet_glitch_copies_previous_packet(fs):
    y = tone(fs)
    p = round(0.02 * fs)
    res = repeat_packet(y, fs, start_s=0.2)
    s = round(0.2 * fs)
    (f,) = res.faults
    assert (f.kind, f.channel, f.start_sample, f.end_sample) == ("glitch", None, s, s + p)
    assert f.detail["plc"] == "repeat"
    np.testing.assert_array_equal(res.y[s : s + p], y[s - p : s])
    assert_unchanged_outside(res.y, y, s, s + p)
    # 997 Hz does not divide 20 ms, so the repetition is a real change (FIELD-NOTES)
    assert rms(res.y[s : s + p] - y[s : s + p]) > 0.1


@pytest.mark.parametrize("fs", RATES)
def test_fade_packet_glitch_ramps_previous_packet_to_zero(fs):
    y = tone(fs)
    p = round(0.02 * fs)
    s = round(0.25 * fs)
    res = fade_packet(y, fs, start_s=0.25, channel=1)
    (f,) = res.faults
    assert (f.kind, f.channel, f.start_sample, f.end_sample) == ("glitch", 1, s, s + p)
    assert f.detail["plc"] == "fade"
    ramp = 1.0 - np.arange(p) / (p - 1)
    np.testing.assert_allclose(res.y[s : s + p, 1], y[s - p : s, 1] * ramp, rtol=0, atol=1e-15)
    assert res.y[s + p - 1, 1] == 0.0
    assert res.y[s, 1] == y[s - p, 1]
    assert_unchanged_outside(res.y, y, s, s + p, slice(1, 2))


@pytest.mark.parametrize("fs", RATES)
def test_skip_removes_samples_and_marks_splice(fs):
    y = tone(fs)
    s = round(0.1 * fs)
    k = round(0.0333 * fs)
    res = skip(y, fs, start_s=0.1, duration_s=0.0333)
    assert res.y.shape == (y.shape[0] - k, y.shape[1])
    np.testing.assert_array_equal(res.y[:s], y[:s])
    np.testing.assert_array_equal(res.y[s:], y[s + k :])
    (f,) = res.faults
    assert (f.kind, f.channel, f.start_sample, f.end_sample) == ("dropout", None, s, s)
    assert f.detail["skipped_samples"] == k
    assert f.detail["skipped_s"] == pytest.approx(k / fs, abs=1e-12)
    assert_times(f, fs)


@pytest.mark.parametrize("fs", RATES)
def test_click_is_one_sample(fs):
    y = tone(fs)
    i = round(0.3 * fs)
    res = click(y, fs, at_s=0.3, amplitude=0.25, channel=0)
    (f,) = res.faults
    assert (f.kind, f.channel, f.start_sample, f.end_sample) == ("glitch", 0, i, i + 1)
    assert res.y[i, 0] == pytest.approx(y[i, 0] + 0.25, abs=1e-15)
    assert_unchanged_outside(res.y, y, i, i + 1, slice(0, 1))


# --------------------------------------------------------------------------- packet loss


def _lossy_signal(fs):
    return tone(fs, seconds=2.013)  # the last 20 ms packet is partial


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize(
    "model_kwargs",
    [{"model": "random", "loss": 0.3}, {"model": "gilbert", "p_gb": 0.1, "p_bg": 0.4}],
    ids=["random", "gilbert"],
)
def test_packet_loss_zero_truth_matches_zeroed_samples(fs, model_kwargs):
    y = _lossy_signal(fs)
    p = round(0.02 * fs)
    res = packet_loss(y, fs, plc="zero", seed=3, **model_kwargs)
    assert res.y.shape == y.shape
    zeroed = res.y == 0.0
    np.testing.assert_array_equal(zeroed, truth_mask(res.faults, *y.shape))
    np.testing.assert_array_equal(res.y[~zeroed], y[~zeroed])
    assert len(res.faults) >= 2
    assert any(f.detail["n_packets"] > 1 for f in res.faults)  # bursts were merged
    for f in res.faults:
        assert (f.kind, f.channel) == ("dropout", None)
        assert f.start_sample % p == 0 and f.start_sample >= p  # on the grid, never packet 0
        assert f.end_sample - f.start_sample == f.detail["n_packets"] * p
        assert f.detail["first_lost_packet"] == f.start_sample // p
    for a, b in zip(res.faults, res.faults[1:], strict=False):
        assert b.start_sample > a.end_sample  # contiguous losses are one fault


def test_packet_loss_is_seeded():
    fs = 8000
    y = _lossy_signal(fs)
    a = packet_loss(y, fs, loss=0.1, seed=7)
    b = packet_loss(y, fs, loss=0.1, seed=7)
    c = packet_loss(y, fs, loss=0.1, seed=8)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.faults == b.faults
    assert not np.array_equal(a.y, c.y)


def test_packet_loss_gilbert_statistics():
    fs = 8000
    y = np.full((8 * 40000, 1), 0.5)  # 40000 packets of 1 ms
    res = packet_loss(y, fs, ptime_s=0.001, model="gilbert", p_gb=0.05, p_bg=0.25, seed=1)
    lost = np.array([f.detail["n_packets"] for f in res.faults])
    assert lost.sum() / 40000 == pytest.approx(0.05 / 0.30, abs=0.01)
    assert lost.mean() == pytest.approx(1 / 0.25, abs=0.25)


@pytest.mark.parametrize("fs", RATES)
def test_packet_loss_repeat_conceals_with_last_received_packet(fs):
    y = _lossy_signal(fs)
    p = round(0.02 * fs)
    res = packet_loss(y, fs, loss=0.3, plc="repeat", seed=3)
    zero = packet_loss(y, fs, loss=0.3, plc="zero", seed=3)
    assert [(f.start_sample, f.end_sample) for f in res.faults] == [
        (f.start_sample, f.end_sample) for f in zero.faults
    ]
    mask = truth_mask(res.faults, *y.shape)
    np.testing.assert_array_equal(res.y[~mask], y[~mask])
    for f in res.faults:
        assert (f.kind, f.detail["plc"]) == ("glitch", "repeat")
        last_good = y[f.start_sample - p : f.start_sample]
        for k in range(f.start_sample, f.end_sample, p):
            m = min(p, f.end_sample - k)
            np.testing.assert_array_equal(res.y[k : k + m], last_good[:m])


def test_packet_loss_fade_then_zeros():
    fs = 8000
    y = _lossy_signal(fs)
    p = round(0.02 * fs)
    res = packet_loss(y, fs, loss=0.3, plc="fade", seed=3)
    ramp = np.linspace(1.0, 0.0, p)[:, None]
    assert any(f.detail["n_packets"] > 1 for f in res.faults)
    for f in res.faults:
        s, e = f.start_sample, f.end_sample
        m = min(p, e - s)
        np.testing.assert_allclose(res.y[s : s + m], (y[s - p : s] * ramp)[:m], rtol=0, atol=0)
        assert np.all(res.y[s + p : e] == 0.0)
    mask = truth_mask(res.faults, *y.shape)
    np.testing.assert_array_equal(res.y[~mask], y[~mask])


@pytest.mark.parametrize("plc", ["zero", "repeat", "fade", "skip"])
def test_packet_loss_total_loss_keeps_packet_zero_and_handles_partial_last_packet(plc):
    fs = 8000
    y = _lossy_signal(fs)
    n = y.shape[0]
    p = 160
    assert n % p != 0
    res = packet_loss(y, fs, loss=1.0, plc=plc)
    (f,) = res.faults
    assert f.detail["first_lost_packet"] == 1 and f.detail["n_packets"] == -(-n // p) - 1
    np.testing.assert_array_equal(res.y[:p], y[:p])
    if plc == "skip":
        assert res.y.shape[0] == p
        assert (f.start_sample, f.end_sample, f.detail["skipped_samples"]) == (p, p, n - p)
        return
    assert (f.start_sample, f.end_sample) == (p, n)
    expected = {
        "zero": np.zeros((n - p, 2)),
        "repeat": np.tile(y[:p], (n // p, 1))[: n - p],
        "fade": np.concatenate((y[:p] * np.linspace(1, 0, p)[:, None], np.zeros((n - 2 * p, 2)))),
    }[plc]
    np.testing.assert_array_equal(res.y[p:], expected)


@pytest.mark.parametrize("fs", RATES)
def test_packet_loss_skip_shifts_splices_onto_output_timeline(fs):
    y = _lossy_signal(fs)
    zero = packet_loss(y, fs, loss=0.3, plc="zero", seed=5)
    res = packet_loss(y, fs, loss=0.3, plc="skip", seed=5)
    keep = ~truth_mask(zero.faults, *y.shape)[:, 0]
    skipped = sum(f.detail["skipped_samples"] for f in res.faults)
    assert skipped == int((~keep).sum()) > 0
    assert res.y.shape[0] == y.shape[0] - skipped
    np.testing.assert_array_equal(res.y, y[keep])
    removed = 0
    for fz, fk in zip(zero.faults, res.faults, strict=True):
        assert fk.kind == "dropout" and fk.start_sample == fk.end_sample
        assert fk.start_sample == fz.start_sample - removed
        # the output continues with the first sample after the lost burst
        if fz.end_sample < y.shape[0]:
            np.testing.assert_array_equal(res.y[fk.start_sample], y[fz.end_sample])
        np.testing.assert_array_equal(res.y[fk.start_sample - 1], y[fz.start_sample - 1])
        removed += fk.detail["skipped_samples"]


# --------------------------------------------------------------------------- level


@pytest.mark.parametrize("fs", RATES)
def test_hard_clip_truth_lists_each_clipped_run(fs):
    y = tone(fs, seconds=0.1)
    res = hard_clip(y, fs, gain_db=6.0, ceiling=0.8)
    amplified = y * 10 ** (6 / 20)
    np.testing.assert_allclose(res.y, np.clip(amplified, -0.8, 0.8), rtol=0, atol=1e-15)
    gain_faults = [f for f in res.faults if f.kind == "gain"]
    assert len(gain_faults) == 1 and gain_faults[0].detail["gain_db"] == 6.0
    clips = [f for f in res.faults if f.kind == "clipping"]
    np.testing.assert_array_equal(truth_mask(clips, *y.shape), np.abs(amplified) > 0.8)
    # one run per half cycle of 997 Hz and channel
    assert len(clips) == pytest.approx(2 * 2 * TONE_HZ * 0.1, abs=4)
    for f in clips:
        run = res.y[f.start_sample : f.end_sample, f.channel]
        assert np.all(np.abs(run) == 0.8)
        assert f.detail["peak_before"] > 0.8


def test_clip_one_channel():
    fs = 48000
    y = tone(fs, seconds=0.05)
    res = clip(y, fs, limit=0.4, channel=1)
    np.testing.assert_array_equal(res.y[:, 0], y[:, 0])
    np.testing.assert_array_equal(res.y[:, 1], np.clip(y[:, 1], -0.4, 0.4))
    assert {f.channel for f in res.faults} == {1}
    np.testing.assert_array_equal(truth_mask(res.faults, *y.shape)[:, 1], np.abs(y[:, 1]) > 0.4)


def test_gain_is_a_condition_spanning_the_file():
    fs = 48000
    y = tone(fs)
    res = gain(y, fs, gain_db=-3.0)
    np.testing.assert_allclose(res.y, y * 10 ** (-3 / 20), rtol=0, atol=1e-15)
    (f,) = res.faults
    assert (f.kind, f.channel, f.start_sample, f.end_sample) == ("gain", None, 0, y.shape[0])
    assert f.detail["gain_db"] == -3.0
    assert not f.is_event and res.events == ()


@pytest.mark.parametrize("fs", RATES)
def test_near_silence_level_and_span(fs):
    y = tone(fs)
    s = round(0.2 * fs)
    e = s + round(0.05 * fs)
    res = near_silence(y, fs, start_s=0.2, duration_s=0.05, level_dbfs=-70.0, seed=1)
    (f,) = res.faults
    assert (f.kind, f.start_sample, f.end_sample) == ("silence", s, e)
    target = 10 ** (-70 / 20) / np.sqrt(2)
    for c in range(2):
        level_db = 20 * np.log10(rms(res.y[s:e, c]) / target)
        assert level_db == pytest.approx(0.0, abs=1e-9)
    assert_unchanged_outside(res.y, y, s, e)
    again = near_silence(y, fs, start_s=0.2, duration_s=0.05, level_dbfs=-70.0, seed=1)
    other = near_silence(y, fs, start_s=0.2, duration_s=0.05, level_dbfs=-70.0, seed=2)
    np.testing.assert_array_equal(res.y, again.y)
    assert not np.array_equal(res.y[s:e], other.y[s:e])


def test_add_noise_snr_relative_to_active_part():
    fs = 48000
    y = tone(fs, seconds=1.0)
    y[: fs // 2] = 0.0  # first half silent: not part of the signal level
    res = add_noise(y, fs, snr_db=30.0, seed=4)
    noise = res.y - y
    signal_rms = rms(y[fs // 2 :, 0])
    for c in range(2):
        snr = 20 * np.log10(rms(y[fs // 2 :, c]) / rms(noise[:, c]))
        assert snr == pytest.approx(30.0, abs=0.01)
    assert [f.kind for f in res.faults] == ["noise", "noise"]
    assert res.faults[0].detail["signal_rms"] == pytest.approx(signal_rms, rel=1e-6)
    assert res.events == ()
    np.testing.assert_array_equal(add_noise(y, fs, snr_db=30.0, seed=4).y, res.y)
    assert not np.array_equal(add_noise(y, fs, snr_db=30.0, seed=5).y, res.y)
    # noise is independent across channels
    assert abs(np.corrcoef(noise[:, 0], noise[:, 1])[0, 1]) < 0.02


def test_dc_offset_polarity_and_swap():
    fs = 8000
    y = tone(fs)
    dc = dc_offset(y, fs, offset=0.01, channel=0)
    np.testing.assert_array_equal(dc.y[:, 0], y[:, 0] + 0.01)
    np.testing.assert_array_equal(dc.y[:, 1], y[:, 1])
    assert dc.faults[0].kind == "dc" and dc.faults[0].detail["offset"] == 0.01
    inv = invert_polarity(y, fs, channel=1)
    np.testing.assert_array_equal(inv.y, np.column_stack((y[:, 0], -y[:, 1])))
    assert (inv.faults[0].kind, inv.faults[0].channel) == ("polarity", 1)
    sw = swap_channels(y, fs)
    np.testing.assert_array_equal(sw.y, y[:, ::-1])
    assert sw.faults[0].detail["channels"] == (0, 1)


# --------------------------------------------------------------------------- timing


@pytest.mark.parametrize("fs", RATES)
def test_delay_whole_samples_is_exact_shift(fs):
    y = tone(fs)
    res = delay(y, fs, delay_s=37 / fs)
    assert res.y.shape == (y.shape[0] + 37, 2)
    assert np.all(res.y[:37] == 0.0)
    np.testing.assert_array_equal(res.y[37:], y)
    assert res.faults[0].kind == "delay" and res.faults[0].detail["delay_samples"] == 37.0


def _noise_burst(fs, seed=11, n_tones=60, start=1000, length=2048):
    """Analytic band-limited noise burst: random sines (< 0.8 Nyquist) under a Hann window."""
    rng = np.random.default_rng(seed)
    freqs = rng.uniform(50.0, 0.8 * fs / 2, n_tones)
    phases = rng.uniform(0, 2 * np.pi, n_tones)
    amps = rng.normal(size=n_tones) / np.sqrt(n_tones)

    def at(t_samples):
        u = (t_samples - start) / length
        win = np.where((u >= 0) & (u <= 1), 0.5 - 0.5 * np.cos(2 * np.pi * u), 0.0)
        arg = 2 * np.pi * freqs[:, None] * t_samples[None, :] / fs + phases[:, None]
        return win * (amps[:, None] * np.sin(arg)).sum(axis=0)

    return at


@pytest.mark.parametrize("fs", RATES)
def test_fractional_delay_matches_analytic(fs):
    burst = _noise_burst(fs)
    n = 4096
    y = burst(np.arange(n, dtype=float))[:, None]
    res = delay(y, fs, delay_s=10.25 / fs)
    assert res.y.shape == (n + 11, 1)
    expected = burst(np.arange(n + 11) - 10.25)
    err_db = 10 * np.log10(np.sum((res.y[:, 0] - expected) ** 2) / np.sum(expected**2))
    assert err_db < -60.0
    # and it is not merely the integer shift
    shifted = np.concatenate((np.zeros(10), y[:, 0], np.zeros(1)))
    assert 10 * np.log10(np.sum((shifted - expected) ** 2) / np.sum(expected**2)) > -20.0
    assert res.faults[0].detail["delay_samples"] == pytest.approx(10.25, abs=1e-9)


def test_delay_total_s_sets_output_length():
    fs = 8000
    y = tone(fs)
    longer = delay(y, fs, delay_s=0.01, total_s=1.0)
    assert longer.y.shape == (8000, 2)
    np.testing.assert_array_equal(longer.y[80 : 80 + 4000], y)
    assert np.all(longer.y[4080:] == 0.0)
    shorter = delay(y, fs, delay_s=0.0105, total_s=0.25)
    assert shorter.y.shape == (2000, 2)


def _fit_frequency_hz(x, fs, guess_hz):
    k = np.arange(x.size)

    def cost(f):
        basis = np.column_stack(
            (np.sin(2 * np.pi * f * k / fs), np.cos(2 * np.pi * f * k / fs), np.ones(k.size))
        )
        coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
        return float(np.sum((basis @ coef - x) ** 2))

    fit = minimize_scalar(
        cost, bounds=(guess_hz - 0.3, guess_hz + 0.3), method="bounded", options={"xatol": 1e-7}
    )
    return float(fit.x)


@pytest.mark.parametrize(("fs", "ppm"), [(48000, 100.0), (48000, -100.0), (8000, 250.0)])
def test_drift_frequency_and_residual(fs, ppm):
    n = fs  # 1 s
    m = np.arange(n)
    y = 0.5 * np.sin(2 * np.pi * TONE_HZ * m / fs)[:, None]
    res = drift(y, fs, ppm=ppm)
    ratio = 1 + ppm * 1e-6
    assert res.y.shape == (round(n * ratio), 1)
    out = res.y[:, 0]
    edge = 128
    inner = out[edge:-edge]
    f_meas = _fit_frequency_hz(inner, fs, TONE_HZ)
    assert f_meas == pytest.approx(TONE_HZ / ratio, abs=0.001)
    assert abs(f_meas - TONE_HZ) > 0.01  # the drift is really there
    k = np.arange(out.size)
    ideal = 0.5 * np.sin(2 * np.pi * TONE_HZ * k / (ratio * fs))
    resid = out - ideal
    resid_db = 10 * np.log10(np.sum(resid[edge:-edge] ** 2) / np.sum(ideal[edge:-edge] ** 2))
    assert resid_db < -80.0
    (f,) = res.faults
    assert (f.kind, f.end_sample) == ("drift", out.size)
    assert f.detail["ppm"] == ppm


@pytest.mark.parametrize("ppm", [500.0, -1234.5])
def test_drift_is_band_limited_up_to_0p8_nyquist(ppm):
    fs = 48000
    burst = _noise_burst(fs)
    y = burst(np.arange(4096, dtype=float))[:, None]
    res = drift(y, fs, ppm=ppm)
    ratio = 1 + ppm * 1e-6
    expected = burst(np.arange(res.y.shape[0]) / ratio)
    err_db = 10 * np.log10(np.sum((res.y[:, 0] - expected) ** 2) / np.sum(expected**2))
    assert err_db < -60.0


def test_drift_zero_ppm_is_exact_copy():
    y = tone(8000)
    res = drift(y, 8000, ppm=0.0)
    np.testing.assert_array_equal(res.y, y)
    assert res.y is not y


# --------------------------------------------------------------------------- G.711


def test_mu_law_decoder_known_values():
    # ITU-T G.711 Table 2a decoder outputs, 14-bit units (x4 = 16-bit)
    codes = np.array([0x00, 0x7F, 0xFF, 0x80, 0xFE, 0xF0, 0xEF, 0xE0, 0xDF])
    expected_14 = np.array([-8031, 0, 0, 8031, 2, 30, 33, 93, 99])
    np.testing.assert_array_equal(mu_law_decode(codes) * 32768, expected_14 * 4)
    assert mu_law_decode(np.array([0x00]))[0] == -32124 / 32768
    assert mu_law_decode(np.array([0xFF]))[0] == 0.0
    # first segment: 0..30 in steps of 2 (codes 0xFF down to 0xF0)
    np.testing.assert_array_equal(
        mu_law_decode(np.arange(0xFF, 0xEF, -1)) * 32768 / 4, np.arange(0, 32, 2)
    )


def test_a_law_decoder_known_values():
    # ITU-T G.711 Table 1a decoder outputs, 13-bit units (x8 = 16-bit)
    codes = np.array([0xD5, 0x55, 0xAA, 0x2A, 0xC5])
    expected_13 = np.array([1, -1, 4032, -4032, 33])
    np.testing.assert_array_equal(a_law_decode(codes) * 32768, expected_13 * 8)


def test_g711_encoders_known_values_and_code_round_trip():
    x = np.array([0.0, 32767 / 32768, -1.0])
    np.testing.assert_array_equal(mu_law_encode(x), [0xFF, 0x80, 0x00])
    np.testing.assert_array_equal(a_law_encode(x), [0xD5, 0xAA, 0x2A])
    codes = np.arange(256)
    mu = mu_law_encode(mu_law_decode(codes))
    np.testing.assert_array_equal(mu, np.where(codes == 0x7F, 0xFF, codes))  # -0 -> +0
    np.testing.assert_array_equal(a_law_encode(a_law_decode(codes)), codes)
    # decoding is monotonic within each sign
    assert np.all(np.diff(mu_law_decode(np.arange(0x80, 0x100))) < 0)
    assert np.all(np.diff(mu_law_decode(np.arange(0x00, 0x80))) > 0)
    assert mu_law_encode(x).dtype == np.uint8


@pytest.mark.parametrize("round_trip", [mu_law_round_trip, a_law_round_trip])
def test_g711_round_trip_snr_of_minus_10_dbfs_sine(round_trip):
    fs = 8000
    t = np.arange(fs) / fs
    y = (10 ** (-10 / 20) * np.sin(2 * np.pi * 1004 * t))[:, None]
    res = round_trip(y, fs)
    snr_db = 10 * np.log10(np.sum(y**2) / np.sum((res.y - y) ** 2))
    assert 35.0 <= snr_db <= 40.0
    assert res.faults[0].kind == "codec"


# --------------------------------------------------------------------------- purity


FS = 48000
CASES = {
    "zero_fill": {"start_s": 0.1, "duration_s": 0.05},
    "attenuate": {"start_s": 0.1, "duration_s": 0.05, "gain_db": -6.0},
    "repeat_packet": {"start_s": 0.1},
    "fade_packet": {"start_s": 0.1},
    "skip": {"start_s": 0.1, "duration_s": 0.05},
    "packet_loss": {"loss": 0.3},
    "click": {"at_s": 0.2},
    "clip": {"limit": 0.3},
    "hard_clip": {"gain_db": 6.0},
    "gain": {"gain_db": -3.0},
    "near_silence": {"start_s": 0.1, "duration_s": 0.05},
    "add_noise": {"snr_db": 20.0},
    "dc_offset": {"offset": 0.1},
    "invert_polarity": {},
    "swap_channels": {},
    "delay": {"delay_s": 10.25 / FS},
    "drift": {"ppm": 100.0},
    "mu_law_round_trip": {},
    "a_law_round_trip": {},
}


def test_every_impairment_has_a_purity_case():
    assert set(CASES) == set(IMPAIRMENTS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_impairment_is_pure_and_returns_truth(name):
    y = tone(FS, seconds=0.3)
    original = y.copy()
    y.flags.writeable = False  # an in-place write would raise
    res = IMPAIRMENTS[name](y, FS, **CASES[name])
    np.testing.assert_array_equal(y, original)
    assert isinstance(res, Impaired)
    assert not np.shares_memory(res.y, y)
    assert res.y.dtype == np.float64 and res.y.ndim == 2 and res.y.shape[1] == 2
    assert res.y.shape != y.shape or not np.array_equal(res.y, y)  # it did something
    assert res.sample_rate_hz == FS
    assert len(res.faults) >= 1
    for f in res.faults:
        assert f.kind in EVENT_KINDS + CONDITION_KINDS
        assert 0 <= f.start_sample <= f.end_sample <= res.y.shape[0]
        assert f.detail["cause"] in IMPAIRMENTS
        assert_times(f, FS)


def test_fault_is_frozen_and_kinds_match_result_model():
    f = zero_fill(tone(8000), 8000, start_s=0.1, duration_s=0.01).faults[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.start_sample = 3
    assert hash(f) == hash(dataclasses.replace(f))
    assert set(EVENT_KINDS) <= set(EVENT_TYPES)
    assert not set(EVENT_KINDS) & set(CONDITION_KINDS)


# --------------------------------------------------------------------------- compose


def test_compose_carries_truth_through_whole_sample_delay():
    fs = 8000
    y = tone(fs)
    res = compose(
        y,
        fs,
        [(zero_fill, {"start_s": 0.1, "duration_s": 0.02}), ("delay", {"delay_s": 100 / fs})],
    )
    dropout, shift = res.faults
    assert (dropout.start_sample, dropout.end_sample) == (900, 1060)
    assert dropout.start_s == pytest.approx(900 / fs, abs=1e-12)
    assert np.all(res.y[900:1060] == 0.0) and np.all(res.y[[899, 1060]] != 0.0)
    assert shift.kind == "delay"


def test_compose_carries_truth_through_skip():
    fs = 8000
    y = tone(fs)
    steps = [
        (zero_fill, {"start_s": 0.3, "duration_s": 0.02}),  # after the skip: moves earlier
        (zero_fill, {"start_s": 0.12, "duration_s": 0.01}),  # inside the skip: gone
        (zero_fill, {"start_s": 0.14, "duration_s": 0.02, "channel": 1}),  # straddles: trimmed
        (skip, {"start_s": 0.1, "duration_s": 0.05}),
    ]
    res = compose(y, fs, steps)
    assert [(f.kind, f.channel, f.start_sample, f.end_sample) for f in res.faults] == [
        ("dropout", None, 2000, 2160),
        ("dropout", 1, 800, 880),
        ("dropout", None, 800, 800),
    ]
    assert res.y.shape[0] == 4000 - 400
    zeroed = res.y == 0.0
    np.testing.assert_array_equal(zeroed, truth_mask(res.faults, *res.y.shape))


def test_compose_carries_truth_through_packet_loss_skip():
    fs = 8000
    y = tone(fs, seconds=1.0)
    res = compose(
        y,
        fs,
        [
            (zero_fill, {"start_s": 0.61, "duration_s": 0.013, "channel": 0}),
            (packet_loss, {"loss": 0.15, "plc": "skip"}),
        ],
        seed=2,
    )
    dropouts = [f for f in res.faults if f.start_sample < f.end_sample]
    assert len(res.faults) > 2
    np.testing.assert_array_equal(res.y == 0.0, truth_mask(dropouts, *res.y.shape))


def test_compose_carries_truth_through_drift_within_one_sample():
    fs = 48000
    y = np.full((fs, 1), 0.5)
    res = compose(
        y, fs, [(zero_fill, {"start_s": 0.5, "duration_s": 0.05}), (drift, {"ppm": 1000.0})]
    )
    dropout = res.faults[0]
    out = res.y[:, 0]
    # the band-limited step crosses half level where the translated edge is
    low = np.flatnonzero(out[1000:-1000] < 0.25) + 1000
    assert dropout.start_sample == pytest.approx(low[0], abs=1)
    assert dropout.end_sample == pytest.approx(low[-1] + 1, abs=1)
    assert dropout.start_sample - 24000 == pytest.approx(24, abs=1)  # moved by ppm
    assert np.max(np.abs(out[dropout.start_sample + 70 : dropout.end_sample - 70])) < 1e-4


def test_compose_renumbers_channels_on_swap():
    fs = 8000
    y = tone(fs)
    res = compose(
        y,
        fs,
        [(zero_fill, {"start_s": 0.1, "duration_s": 0.01, "channel": 0}), ("swap_channels", {})],
    )
    assert res.faults[0].channel == 1
    assert np.all(res.y[800:880, 1] == 0.0) and np.all(res.y[800:880, 0] != 0.0)


def test_compose_derives_distinct_reproducible_seeds():
    fs = 8000
    y = tone(fs, seconds=1.0)
    steps = [(packet_loss, {"loss": 0.1}), (add_noise, {"snr_db": 40.0})]
    a = compose(y, fs, steps, seed=1)
    b = compose(y, fs, steps, seed=1)
    c = compose(y, fs, steps, seed=2)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)
    seeds = {f.detail["seed"] for f in a.faults}
    assert len(seeds) == 2
    explicit = compose(y, fs, [(packet_loss, {"loss": 0.1, "seed": 9})], seed=1)
    assert all(f.detail["seed"] == 9 for f in explicit.faults)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("func", "kwargs", "error", "match"),
    [
        (zero_fill, {"start_s": 0.49, "duration_s": 0.02}, SignalSpecError, "beyond the signal"),
        (zero_fill, {"start_s": -0.1, "duration_s": 0.02}, SignalSpecError, "start_s"),
        (zero_fill, {"start_s": 0.1, "duration_s": 0.0}, SignalSpecError, "duration_s"),
        (zero_fill, {"start_s": 0.1, "duration_s": 1e-6}, SignalSpecError, "one sample"),
        (zero_fill, {"start_s": 0.1, "duration_s": 0.01, "channel": 2}, SignalSpecError, "channel"),
        (
            attenuate,
            {"start_s": 0.1, "duration_s": 0.01, "gain_db": np.nan},
            SignalSpecError,
            "gain",
        ),
        (repeat_packet, {"start_s": 0.01}, SignalSpecError, "previous packet"),
        (repeat_packet, {"start_s": 0.1, "ptime_s": 0.0201}, SignalSpecError, "whole number"),
        (skip, {"start_s": 0.0, "duration_s": 0.5}, SignalSpecError, "whole signal"),
        (packet_loss, {"plc": "wiggle"}, SignalSpecError, "plc"),
        (packet_loss, {"model": "markov"}, SignalSpecError, "model"),
        (packet_loss, {"loss": 1.5}, SignalSpecError, "probability"),
        (packet_loss, {"first_packet": 0}, SignalSpecError, "first_packet"),
        (click, {"at_s": 0.5}, SignalSpecError, "outside"),
        (clip, {"limit": 0.0}, SignalSpecError, "limit"),
        (delay, {"delay_s": -0.001}, SignalSpecError, "delay_s"),
        (drift, {"ppm": 2e5}, SignalSpecError, "ppm"),
        (swap_channels, {"channels": (1, 1)}, SignalSpecError, "different"),
        (swap_channels, {"channels": (None, 1)}, SignalSpecError, "integer"),
        (swap_channels, {"channels": (0, 2)}, SignalSpecError, "channel"),
        (near_silence, {"start_s": 0.1, "duration_s": 0.01, "seed": -1}, SignalSpecError, "seed"),
    ],
)
def test_bad_arguments_raise_signal_spec_error(func, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(tone(8000), 8000, **kwargs)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(100),  # 1-D
        np.zeros((0, 2)),
        np.zeros((100, 2), dtype=np.int16),
        np.full((100, 2), np.nan),
        [[0.0, 0.0]],
    ],
    ids=["1d", "empty", "int16", "nan", "list"],
)
def test_bad_audio_raises_audio_format_error(bad):
    with pytest.raises(AudioFormatError):
        gain(bad, 8000, gain_db=1.0)


def test_bad_sample_rate_and_compose_steps():
    with pytest.raises(SignalSpecError, match="sample_rate_hz"):
        gain(tone(8000), 0, gain_db=1.0)
    with pytest.raises(SignalSpecError, match="unknown impairment"):
        compose(tone(8000), 8000, [("nonsense", {})])
    with pytest.raises(SignalSpecError, match="pair"):
        compose(tone(8000), 8000, [zero_fill])
    with pytest.raises(SignalSpecError, match="step 0"):
        compose(tone(8000), 8000, [(zero_fill, {"start_s": 0.1})])
    with pytest.raises(AudioFormatError):
        mu_law_decode(np.array([256]))
    assert issubclass(SignalSpecError, ValidatorError)
