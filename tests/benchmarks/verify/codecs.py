"""Class F: clean speech through common codecs, no fault at all.

A QA tool that fails a clean call loses its users, so this class holds the
false alarms: espeak-ng speech (``loopback.make_speech``, sox at 48 kHz,
``sox rate -v`` to 16 or 8 kHz for the narrow-band codecs) encoded and
decoded by ffmpeg's own codecs, with no packet lost:

- ``ffmpeg -i reference.wav -c:a CODEC [options] coded.EXT`` then
  ``ffmpeg -i coded.EXT -ar FS -ac 1 -c:a pcm_s16le received.wav``;
- Opus at 8 kbit/s stands for the AMR-like low rates (ffmpeg has no AMR
  encoder here). A parametric vocoder (codec2) is left out: it keeps no
  waveform, so a waveform comparator fails it closed (``match_db``), by design;
- optionally white noise at 30 dB SNR (against the active speech's RMS,
  numpy, seeded) added before encoding: a noisy microphone into the codec;
  the reference stays clean.

Truth: no fault. The delay is the integer numpy cross-correlation lag of
received against reference (tolerance 1 sample: a codec's phase response
leaves no exact fractional delay); drift 0. The verdict must be pass, unless
the codec itself changes the level by more than the default profile's gain
limit (:data:`GAIN_LIMIT_DB`): the level change is the numpy RMS ratio of
received to reference over their overlap at that lag (Opus at 8 kbit/s
lowers espeak-ng speech by 1.2 dB), and such a case must fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import Case, Truth, fresh_folder, have, load_case, read, run, save_case, write
from .loopback import make_speech, xcorr_lag

NOISE_SEED = 611
#: The default profile's ``max_abs_gain_error_db``: a codec that moves the level further
#: must fail
GAIN_LIMIT_DB = 1.0

#: name, sample rate (Hz), ffmpeg encoder options, container, SNR (dB) of the noise added
#: before encoding (None: none)
CODECS: list[tuple[str, int, list[str], str, float | None]] = [
    ("F_opus12k_voip", 48000, ["-c:a", "libopus", "-b:a", "12k", "-application", "voip"], "ogg",
     None),
    ("F_opus24k_voip", 48000, ["-c:a", "libopus", "-b:a", "24k", "-application", "voip"], "ogg",
     None),
    ("F_opus16k_audio", 48000, ["-c:a", "libopus", "-b:a", "16k", "-application", "audio"],
     "ogg", None),
    ("F_opus32k_audio", 48000, ["-c:a", "libopus", "-b:a", "32k", "-application", "audio"],
     "ogg", None),
    ("F_speex_16k", 16000, ["-c:a", "libspeex"], "ogg", None),
    ("F_gsm_8k", 8000, ["-c:a", "libgsm"], "gsm", None),
    ("F_g726_16k_8k", 8000, ["-c:a", "g726", "-b:a", "16k"], "wav", None),
    ("F_g711u_8k", 8000, ["-c:a", "pcm_mulaw"], "wav", None),
    ("F_g711a_8k", 8000, ["-c:a", "pcm_alaw"], "wav", None),
    ("F_g722_16k", 16000, ["-c:a", "g722"], "g722", None),
    ("F_opus8k_voip", 48000, ["-c:a", "libopus", "-b:a", "8k", "-application", "voip"], "ogg",
     None),
    ("F_mp3_32k", 48000, ["-c:a", "libmp3lame", "-b:a", "32k"], "mp3", None),
    ("F_aac_24k", 48000, ["-c:a", "aac", "-b:a", "24k"], "m4a", None),
    ("F_opus24k_voip_snr30", 48000, ["-c:a", "libopus", "-b:a", "24k", "-application", "voip"],
     "ogg", 30.0),
    ("F_g722_16k_snr30", 16000, ["-c:a", "g722"], "g722", 30.0),
    ("F_gsm_8k_snr30", 8000, ["-c:a", "libgsm"], "gsm", 30.0),
]

#: the fast ones (under ~2 s each to validate), for the test suite
FAST = ("F_g711u_8k", "F_gsm_8k", "F_g722_16k", "F_opus24k_voip")

_ENCODERS = {"libopus", "libspeex", "libgsm", "g726", "pcm_mulaw", "pcm_alaw", "g722",
             "libmp3lame", "aac"}


def encoders() -> set[str]:
    """The encoders of :data:`CODECS` that this machine's ffmpeg has."""
    if not have("ffmpeg"):
        return set()
    out = run(["ffmpeg", "-hide_banner", "-encoders"]).stdout
    names = {ln.split()[1] for ln in out.splitlines() if len(ln.split()) > 1}
    return _ENCODERS & names


def reference_speech(cache: Path, fs: int, repeatable: bool = True) -> Path:
    """The espeak-ng speech at ``fs`` (48 kHz by sox, lower rates by ``sox rate -v``).

    ``repeatable``: sox's dither is the same in every build (``sox -R``);
    else each build draws its own, as a new recording would.
    """
    folder = cache / "F_speech_reference"
    folder.mkdir(parents=True, exist_ok=True)
    ref48 = folder / "speech_48000.wav"
    if not ref48.exists():
        make_speech(ref48, repeatable=repeatable)
    path = folder / f"speech_{fs}.wav"
    if not path.exists():
        run(["sox", *(["-R"] if repeatable else []), str(ref48), "-r", str(fs), "-b", "16",
             str(path), "rate", "-v"])
    return path


def clean_codec(folder: Path, *, name: str, cache: Path, fs: int, options: list[str],
                ext: str, snr_db: float | None, repeatable: bool = True) -> Case:
    """F: one codec round trip of clean (or noisy) speech; truth: no fault."""
    ref, _ = read(reference_speech(cache, fs, repeatable))
    write(folder / "reference.wav", ref, fs, subtype="PCM_16")
    source = folder / "reference.wav"
    if snr_db is not None:
        active = ref[np.abs(ref[:, 0]) > 1e-4, 0]
        rms = float(np.sqrt(np.mean(active**2)))
        rng = np.random.default_rng(NOISE_SEED)
        noisy = ref + rng.standard_normal(ref.shape) * rms * 10 ** (-snr_db / 20)
        source = folder / "noisy.wav"
        write(source, noisy, fs, subtype="PCM_16")
    coded = folder / f"coded.{ext}"
    run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(source), "-ac", "1",
         *options, str(coded)])
    run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", str(coded), "-ar", str(fs),
         "-ac", "1", "-c:a", "pcm_s16le", str(folder / "received.wav")])
    rx, _ = read(folder / "received.wav")
    lag = xcorr_lag(rx[:, 0], ref[:, 0])
    level_db = rms_change_db(rx[:, 0], ref[:, 0], lag)
    how = (f"espeak-ng speech (sox, {fs} Hz); ffmpeg {' '.join(options)} -> .{ext} -> "
           f"pcm_s16le{'' if snr_db is None else f'; white noise at {snr_db:g} dB SNR added before encoding'}; "  # noqa: E501
           f"no loss. Truth: no fault; lag {lag} samples (numpy xcorr); level change "
           f"{level_db:+.2f} dB (numpy RMS)")
    return save_case(folder, Truth(
        name=name, klass="F", sample_rate_hz=fs, channels=1, how=how, faults=[],
        delay_samples=float(lag), delay_tol_samples=1.0, period_samples=None, drift_ppm=0.0,
        expect_fail=abs(level_db) > GAIN_LIMIT_DB, channel_map=[0], polarity=[1],
        notes="codec: the delay is an integer xcorr lag (tolerance 1)"
              + (f"; the codec changes the level by {level_db:+.2f} dB, beyond the default "
                 f"{GAIN_LIMIT_DB:g} dB gain limit: the verdict must be fail"
                 if abs(level_db) > GAIN_LIMIT_DB else "")))


def rms_change_db(received: np.ndarray, reference: np.ndarray, lag: int) -> float:
    """Received over reference RMS level, dB, over their overlap with received ``lag`` later."""
    if lag >= 0:
        y, r = received[lag:], reference
    else:
        y, r = received, reference[-lag:]
    n = min(len(y), len(r))
    return float(10 * np.log10(np.sum(y[:n] ** 2) / np.sum(r[:n] ** 2)))


def build_f(cache: Path, rebuild: bool = False, only: tuple[str, ...] | None = None,
            log=None, repeatable: bool = True) -> list[Case]:
    """Every class-F case this machine's ffmpeg can make (``only``: these names).

    ``repeatable=False`` draws sox's dither afresh (another take of the same
    speech, for :func:`bench_verify`'s ``--f-dither``).
    """
    have_enc = encoders()
    out = []
    for name, fs, options, ext, snr in CODECS:
        if only is not None and name not in only:
            continue
        enc = options[options.index("-c:a") + 1]
        if enc not in have_enc:
            if log is not None:
                print(f"verify: ffmpeg has no {enc}, {name} skipped", file=log)
            continue
        case = None if rebuild else load_case(cache / name)
        if case is None:
            case = clean_codec(fresh_folder(cache / name), name=name, cache=cache, fs=fs,
                               options=options, ext=ext, snr_db=snr, repeatable=repeatable)
        out.append(case)
    return out
