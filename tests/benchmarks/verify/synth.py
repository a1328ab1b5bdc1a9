"""Classes A, B and C: sox tones edited with numpy arithmetic whose truth is exact.

A: sox sine tones at 8 / 16 / 44.1 / 48 kHz placed after an FFT fractional
   delay (hard onset, hundreds of samples of lead-in), with white noise
   defined against the tone's RMS (20 or 30 dB SNR) that goes on through
   zero-filled 20 ms or 1 ms gaps (6 per file).
B: receiver skips / cuts in steady tones (samples removed), and a true drift
   made by sox's ``speed`` effect (resampling).
C: stereo, one tone per channel (997 Hz L / 1499 Hz R, 48 kHz): cuts, skips,
   swapped channels, one channel inverted, stereo vs a mono reference.

Each builder writes ``reference.wav`` (made by sox), ``received.wav`` and
``truth.json`` into a folder and returns the :class:`~.common.Case`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import Case, Fault, Truth, fft_delay, read, run, save_case, sox_tone, write

TONE_DB = -10.0  # sox gain: peak level of the mono tones, dBFS


def _positions(
    rng: np.random.Generator, lo: int, hi: int, n: int, min_gap: int, quantum: int = 1
) -> list[int]:
    """``n`` sorted positions in [lo, hi), ``min_gap`` apart, multiples of ``quantum`` (seeded)."""
    for _ in range(1000):
        p = np.sort(rng.integers(lo // quantum, hi // quantum, n)) * quantum
        if n < 2 or np.min(np.diff(p)) >= min_gap:
            return [int(v) for v in p]
    raise RuntimeError("could not place the edits")


def _noise(
    rng: np.random.Generator, shape: tuple[int, ...], signal_rms: float, snr_db: float
) -> np.ndarray:
    return rng.standard_normal(shape) * signal_rms * 10.0 ** (-snr_db / 20.0)


# ---------------------------------------------------------------- class A
def tone_in_noise(
    folder: Path,
    *,
    name: str,
    fs: int,
    freq: float,
    seconds: float = 10.0,
    delay: float = 437.4,
    snr_db: float | None = 20.0,
    gap_ms: float | None = 20.0,
    n_gaps: int = 6,
    tail_s: float = 0.25,
    seed: int = 1,
) -> Case:
    """A: sox tone, FFT fractional delay, zero-filled gaps, then noise over everything.

    Truth: delay = ``delay`` (exact by construction), gaps at the chosen
    received samples (``round(gap_ms * fs / 1000)`` long), drift 0.
    """
    rng = np.random.default_rng(seed)
    ref_path = folder / "reference.wav"
    sox_tone(ref_path, fs, seconds, [freq], TONE_DB)
    ref, _ = read(ref_path)
    total = int(np.ceil(delay)) + len(ref) + int(tail_s * fs)
    rx = fft_delay(ref, delay, total)
    faults = []
    if gap_ms:
        glen = int(round(gap_ms * fs / 1000))
        start0 = int(np.ceil(delay)) + int(0.5 * fs)
        stop0 = int(delay) + len(ref) - int(0.5 * fs)
        for p in _positions(rng, start0, stop0, n_gaps, int(0.3 * fs)):
            rx[p : p + glen] = 0.0
            faults.append(Fault("zero_fill", p, p + glen))
    if snr_db is not None:
        rx = rx + _noise(rng, rx.shape, float(np.sqrt(np.mean(ref**2))), snr_db)
    write(folder / "received.wav", rx, fs)
    snr = (
        "no noise"
        if snr_db is None
        else f"white noise at {snr_db:g} dB below the tone RMS (also in the gaps)"
    )
    how = (
        f"sox synth {seconds:g} s sine {freq:g} Hz at {fs} Hz, gain {TONE_DB:g} dB; received = "
        "reference "
        f"delayed by {delay} samples (FFT phase ramp on the zero-padded signal), {len(faults)} "
        "gaps of "
        f"{gap_ms} ms set to 0 at seeded places (seed {seed}), then {snr}"
    )
    return save_case(
        folder,
        Truth(
            name=name,
            klass="A",
            sample_rate_hz=fs,
            channels=1,
            how=how,
            faults=faults,
            delay_samples=float(delay),
            period_samples=fs / freq,
            drift_ppm=0.0,
            expect_fail=bool(faults),
            channel_map=[0],
            polarity=[1],
        ),
    )


# ---------------------------------------------------------------- class B
def tone_with_removals(
    folder: Path,
    *,
    name: str,
    fs: int,
    freq: float,
    seconds: float = 10.0,
    lengths: list[int],
    delay: int = 0,
    packet: int | None = None,
    seed: int = 1,
    kind: str = "skip",
) -> Case:
    """B: remove ``lengths[i]`` samples at seeded places of a steady sox tone (a receiver skip/cut).

    With ``packet`` the removals start on packet boundaries (a receiver that
    skips whole packets). Truth: one point per removal on the received
    timeline (reference position minus the samples removed before it, plus
    ``delay`` samples of leading zeros), delay ``delay``, drift 0.
    """
    rng = np.random.default_rng(seed)
    ref_path = folder / "reference.wav"
    sox_tone(ref_path, fs, seconds, [freq], TONE_DB)
    ref, _ = read(ref_path)
    pos = _positions(
        rng, int(0.5 * fs), len(ref) - int(0.5 * fs), len(lengths), int(0.3 * fs), packet or 1
    )
    keep = np.ones(len(ref), bool)
    faults, removed = [], 0
    for p, n in zip(pos, lengths, strict=True):
        keep[p : p + n] = False
        faults.append(Fault(kind, delay + p - removed, delay + p - removed))
        removed += n
    rx = np.concatenate([np.zeros((delay, ref.shape[1])), ref[keep]])
    write(folder / "received.wav", rx, fs)
    how = (
        f"sox synth {seconds:g} s sine {freq:g} Hz at {fs} Hz; received = {delay} zeros + the "
        "reference with "
        f"{lengths} samples removed at reference samples {pos} (seed {seed}); bit-exact elsewhere"
    )
    return save_case(
        folder,
        Truth(
            name=name,
            klass="B",
            sample_rate_hz=fs,
            channels=1,
            how=how,
            faults=faults,
            delay_samples=float(delay),
            period_samples=fs / freq,
            drift_ppm=0.0,
            expect_fail=bool(faults),
            channel_map=[0],
            polarity=[1],
        ),
    )


def tone_drift(
    folder: Path,
    *,
    name: str,
    fs: int,
    freq: float,
    ppm: float,
    seconds: float = 10.0,
    delay: int = 300,
    snr_db: float | None = None,
    seed: int = 1,
) -> Case:
    """B: a clock drift made by sox's ``speed`` effect (it resamples).

    ``sox ref.wav rx.wav speed S rate FS`` plays the reference S times faster,
    so the received content lasts 1/S as long: truth drift = (1/S - 1) * 1e6
    ppm with S = 1 / (1 + ppm * 1e-6). The reference starts with its hard
    onset after ``delay`` zeros (added by ``sox pad`` before the speed change,
    so the onset lands at ``delay / S`` samples).
    """
    rng = np.random.default_rng(seed)
    ref_path = folder / "reference.wav"
    sox_tone(ref_path, fs, seconds, [freq], TONE_DB)
    speed = 1.0 / (1.0 + ppm * 1e-6)
    tmp = folder / "speed.wav"
    run(
        [
            "sox",
            "-R",  # repeatable: the same dither every build
            str(ref_path),
            "-b",
            "24",
            str(tmp),
            "pad",
            f"{delay}s",
            f"{int(0.2 * fs)}s",
            "speed",
            repr(speed),
            "rate",
            "-v",
            str(fs),
        ]
    )
    rx, _ = read(tmp)
    tmp.unlink()
    if snr_db is not None:
        ref, _ = read(ref_path)
        rx = rx + _noise(rng, rx.shape, float(np.sqrt(np.mean(ref**2))), snr_db)
    write(folder / "received.wav", rx, fs)
    true_ppm = (1.0 / speed - 1.0) * 1e6
    how = (
        f"sox synth {seconds:g} s sine {freq:g} Hz at {fs} Hz; received = sox pad {delay}s ... "
        f"speed {speed!r} "
        f"rate -v {fs}: content lasts 1/speed as long -> drift {true_ppm:+.3f} ppm; delay = "
        f"{delay}/speed"
    )
    return save_case(
        folder,
        Truth(
            name=name,
            klass="B",
            sample_rate_hz=fs,
            channels=1,
            how=how,
            faults=[],
            delay_samples=delay / speed,
            delay_tol_samples=0.5,
            period_samples=fs / freq,
            drift_ppm=true_ppm,
            expect_fail=False,
            channel_map=[0],
            polarity=[1],
            notes="sox's rate filter has its own group delay (linear phase, compensated "
            "by sox); the delay tolerance is 0.5 sample here",
        ),
    )


def tone_repeats(
    folder: Path,
    *,
    name: str,
    fs: int,
    freq: float,
    seconds: float = 6.0,
    n: int = 4,
    seed: int = 1,
) -> Case:
    """B: a receiver that conceals a lost 20 ms packet by repeating the previous one.

    Packet k (on the 20 ms grid) is replaced by packet k - 1: the length is
    unchanged, so the fault is the repeated span itself (``repeat``).
    """
    rng = np.random.default_rng(seed)
    ref_path = folder / "reference.wav"
    sox_tone(ref_path, fs, seconds, [freq], TONE_DB)
    ref, _ = read(ref_path)
    pkt = fs // 50
    rx = ref.copy()
    faults = []
    for p in _positions(rng, int(0.5 * fs), len(ref) - int(0.5 * fs), n, int(0.3 * fs), pkt):
        rx[p : p + pkt] = ref[p - pkt : p]
        faults.append(Fault("repeat", p, p + pkt))
    write(folder / "received.wav", rx, fs)
    how = (
        f"sox synth {seconds:g} s sine {freq:g} Hz at {fs} Hz; received = reference with {n} "
        f"20 ms packets replaced by the packet before them (seed {seed})"
    )
    truth = Truth(
        name=name,
        klass="B",
        sample_rate_hz=fs,
        channels=1,
        how=how,
        faults=faults,
        delay_samples=0.0,
        period_samples=fs / freq,
        drift_ppm=0.0,
        expect_fail=True,
        channel_map=[0],
        polarity=[1],
    )
    return save_case(folder, truth)


def speech_drift(folder: Path, *, name: str, fake_rate: int = 47998, fs: int = 48000) -> Case:
    """B: espeak-ng speech with a clock drift made by ffmpeg (the ``-r`` trick).

    ``ffmpeg -af asetrate=R,aresample=48000`` relabels the reference as R Hz
    and resamples it to 48 kHz: the content lasts 48000 / R as long, so the
    truth drift is (48000 / R - 1) * 1e6 ppm (R = 47998: +41.67 ppm). Sample 0
    stays at 0: delay 0.
    """
    from .loopback import make_speech

    ref_path = folder / "reference.wav"
    make_speech(ref_path)
    run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            str(ref_path),
            "-af",
            f"asetrate={fake_rate},aresample={fs}",
            "-c:a",
            "pcm_s24le",
            "-y",
            str(folder / "received.wav"),
        ]
    )
    ppm = (fs / fake_rate - 1.0) * 1e6
    how = (
        f"espeak-ng en-us speech at {fs} Hz; received = ffmpeg -af asetrate={fake_rate},"
        f"aresample={fs}: drift {ppm:+.3f} ppm, delay 0"
    )
    truth = Truth(
        name=name,
        klass="B",
        sample_rate_hz=fs,
        channels=1,
        how=how,
        faults=[],
        delay_samples=0.0,
        delay_tol_samples=0.5,
        period_samples=None,
        drift_ppm=ppm,
        expect_fail=False,
        channel_map=[0],
        polarity=[1],
        notes="ffmpeg's resampler has its own group delay: delay tolerance 0.5 sample",
    )
    return save_case(folder, truth)


# ---------------------------------------------------------------- class C
STEREO_FREQS = [997.0, 1499.0]


def stereo(
    folder: Path,
    *,
    name: str,
    variant: str,
    fs: int = 48000,
    seconds: float = 5.0,
    removal: int = 0,
    n_removals: int = 3,
    delay: int = 0,
    seed: int = 1,
) -> Case:
    """C: ``sox synth sine 997 sine 1499`` (one tone per channel), -6 dB.

    ``variant``: ``clean``; ``cut`` / ``skip`` (``removal`` frames removed from
    both channels at ``n_removals`` seeded places: points on the received
    timeline); ``swap`` (received = reference channels swapped: truth map
    [1, 0]); ``invert_r`` (right channel negated: truth polarity [+1, -1]);
    ``mono_ref`` (the reference is the left channel alone; the received is
    the stereo pair: truth map [0, None]).
    """
    rng = np.random.default_rng(seed)
    ref_path = folder / "reference.wav"
    sox_tone(ref_path, fs, seconds, STEREO_FREQS, -6.0)
    ref, _ = read(ref_path)
    rx = ref.copy()
    faults: list[Fault] = []
    channel_map: list[int | None] = [0, 1]
    polarity = [1, 1]
    expect_fail: bool | None = False
    if variant in ("cut", "skip"):
        pos = _positions(
            rng,
            int(0.5 * fs),
            len(ref) - int(0.5 * fs),
            n_removals,
            int(0.3 * fs),
            48 if variant == "skip" else 1,
        )
        keep = np.ones(len(ref), bool)
        removed = 0
        for p in pos:
            keep[p : p + removal] = False
            faults.append(Fault(variant, delay + p - removed, delay + p - removed))
            removed += removal
        rx = ref[keep]
        expect_fail = True
    elif variant == "swap":
        rx = ref[:, ::-1].copy()
        channel_map = [1, 0]
        expect_fail = True
    elif variant == "invert_r":
        rx[:, 1] *= -1.0
        polarity = [1, -1]
        expect_fail = True
    elif variant == "mono_ref":
        write(ref_path, ref[:, :1], fs)
        channel_map = [0, None]
        expect_fail = None
    elif variant != "clean":
        raise ValueError(variant)
    rx = np.concatenate([np.zeros((delay, 2)), rx])
    write(folder / "received.wav", rx, fs)
    how = (
        f"sox synth {seconds:g} s sine 997 sine 1499 (L/R) at {fs} Hz, gain -6; variant {variant}: "
        f"removal {removal} frames x {len(faults)} (seed {seed}), {delay} leading zeros"
    )
    return save_case(
        folder,
        Truth(
            name=name,
            klass="C",
            sample_rate_hz=fs,
            channels=2,
            how=how,
            faults=faults,
            delay_samples=float(delay),
            period_samples=fs / 997.0,
            drift_ppm=0.0,
            expect_fail=expect_fail,
            channel_map=channel_map,
            polarity=polarity,
            notes="swap and one inverted channel are wiring faults: the verdict must fail",
        ),
    )


# ---------------------------------------------------------------- the list
def cases() -> list[tuple[str, str, object, dict]]:
    """(class, name, builder, kwargs) for every synthetic case of classes A-C."""
    c: list[tuple[str, str, object, dict]] = []
    a = [  # name, fs, freq, delay, snr, gap_ms
        ("A_8k_997_snr20_gap20ms", 8000, 997.0, 437.4, 20, 20),
        ("A_16k_997_snr30_gap20ms", 16000, 997.0, 611.55, 30, 20),
        ("A_44k1_440_snr20_gap20ms", 44100, 440.0, 523.3, 20, 20),
        ("A_48k_440_snr20_gap20ms", 48000, 440.0, 480.6, 20, 20),
        ("A_48k_997_snr30_gap1ms", 48000, 997.0, 701.45, 30, 1),
        ("A_16k_1004_snr30_gap1ms", 16000, 1004.0, 333.5, 30, 1),
        ("A_8k_1004_clean_onset_frac", 8000, 1004.0, 250.37, None, None),
        ("A_16k_997_clean_onset_frac", 16000, 997.0, 400.6, None, None),
        ("A_48k_997_snr20_nogap", 48000, 997.0, 512.45, 20, None),
        ("A_8k_440_snr30_nogap", 8000, 440.0, 301.3, 30, None),
    ]
    for i, (name, fs, f, d, snr, g) in enumerate(a):
        c.append(
            (
                "A",
                name,
                tone_in_noise,
                dict(fs=fs, freq=f, delay=d, snr_db=snr, gap_ms=g, seed=100 + i),
            )
        )
    c += [
        (
            "B",
            "B_8k_1004_skip20ms_x5",
            tone_with_removals,
            dict(fs=8000, freq=1004.0, lengths=[160] * 5, packet=160, seed=201),
        ),
        (
            "B",
            "B_8k_997_cut10-12ms_x6",
            tone_with_removals,
            dict(
                fs=8000,
                freq=997.0,
                lengths=[80, 96, 84, 91, 88, 95],
                seed=202,
                kind="cut",
                delay=200,
            ),
        ),
        (
            "B",
            "B_48k_997_skip20ms_x5",
            tone_with_removals,
            dict(fs=48000, freq=997.0, lengths=[960] * 5, packet=960, seed=203, seconds=6.0),
        ),
        (
            "B",
            "B_8k_1004_clean",
            tone_with_removals,
            dict(fs=8000, freq=1004.0, lengths=[], seed=204),
        ),
        ("B", "B_48k_997_repeat20ms_x4", tone_repeats, dict(fs=48000, freq=997.0, seed=205)),
        ("B", "B_8k_1004_repeat20ms_x4", tone_repeats, dict(fs=8000, freq=1004.0, seed=206)),
        ("B", "B_speech_48k_ffmpeg_drift+41.7ppm", speech_drift, dict(fake_rate=47998)),
        (
            "B",
            "B_48k_997_drift+50ppm",
            tone_drift,
            dict(fs=48000, freq=997.0, ppm=50.0, seconds=8.0),
        ),
        (
            "B",
            "B_16k_997_drift-50ppm",
            tone_drift,
            dict(fs=16000, freq=997.0, ppm=-50.0, seconds=8.0),
        ),
    ]
    c += [
        ("C", "C_stereo_clean", stereo, dict(variant="clean", delay=120)),
        ("C", "C_stereo_cut1ms_x3", stereo, dict(variant="cut", removal=48, seed=301)),
        ("C", "C_stereo_skip5ms_x3", stereo, dict(variant="skip", removal=240, seed=302)),
        ("C", "C_stereo_swap", stereo, dict(variant="swap")),
        ("C", "C_stereo_invert_right", stereo, dict(variant="invert_r")),
        ("C", "C_stereo_vs_mono_ref", stereo, dict(variant="mono_ref")),
    ]
    return c
