"""The shipped speech reference (``reference_signals/speech/``): espeak-ng sentences.

Full-reference quality metrics (ViSQOL, PESQ) need speech, not tones. This
module makes a short reference of five Harvard sentences (IEEE 1969, public
domain) spoken by the espeak-ng synthesiser, at 16 kHz (ViSQOL speech mode,
PESQ-WB) and 48 kHz (wideband codecs such as Opus, ViSQOL audio mode).

How it is made (:func:`build_speech`)::

    espeak-ng -v en-us -s 150 -w raw.wav "<the five sentences>"   # 22050 Hz, 16-bit

then, in numpy: 0.5 s of digital silence before and after, a polyphase
resample (:func:`scipy.signal.resample_poly`) to 16000 and 48000 Hz, and a
gain that sets the active speech level (RMS over the 20 ms frames within
40 dB of the loudest, a simple stand-in for ITU-T P.56) to -26 dBFS
(AES17), written as 16-bit PCM WAV.

Licence: espeak-ng is GPL-3.0-or-later. Its GPL covers the program, not the
audio it synthesises from our text: the generated WAV files are ours and ship
under this project's licence. The text is public domain.

espeak-ng's output changes between its versions, so the files are pinned by
their SHA-256 in ``reference_signals/speech/README.md`` together with the
espeak-ng version that made them; a test rebuilds them only when the same
version is installed.

Regenerate with::

    python -m validator.signals.speech                # into <repo>/reference_signals/speech
    audio-validator generate speech OUT_DIR
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from validator.errors import MissingDependencyError, ValidatorError
from validator.signals.generate import write_wav

__all__ = ["ESPEAK_ARGS", "LEVEL_DBFS", "SENTENCES", "SPEECH_FILES", "build_speech",
           "espeak_version"]

#: Harvard sentences, list 1 (IEEE Recommended Practice for Speech Quality
#: Measurements, 1969): public domain.
SENTENCES: tuple[str, ...] = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
)
#: espeak-ng's arguments before ``-w FILE TEXT``.
ESPEAK_ARGS: tuple[str, ...] = ("-v", "en-us", "-s", "150")
#: Active speech level of the files, dBFS (AES17: a full-scale sine reads 0 dBFS).
LEVEL_DBFS = -26.0
#: Digital silence before and after the speech, s.
PAD_S = 0.5
#: File name -> sample rate, Hz.
SPEECH_FILES: dict[str, int] = {
    "speech_en_harvard_16k_16bit_mono.wav": 16000,
    "speech_en_harvard_48k_16bit_mono.wav": 48000,
}
_DEFAULT_OUT_DIR = Path(__file__).resolve().parents[2] / "reference_signals" / "speech"


def espeak_version() -> str | None:
    """The installed espeak-ng's version (``"1.51"``), None when it is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
    parts = out.split()
    i = parts.index("text-to-speech:") if "text-to-speech:" in parts else -1
    return parts[i + 1] if 0 <= i < len(parts) - 1 else (out.strip() or None)


def _synthesise(text: str) -> tuple[np.ndarray, int]:
    """espeak-ng's output: shape (n,), float64, and its rate (22050 Hz)."""
    import soundfile as sf

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MissingDependencyError("the speech reference needs espeak-ng: apt-get install "
                                     "espeak-ng")
    with tempfile.TemporaryDirectory(prefix="audio-validator-speech-") as tmp:
        raw = Path(tmp) / "raw.wav"
        proc = subprocess.run([exe, *ESPEAK_ARGS, "-w", str(raw), text], capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0 or not raw.is_file():
            raise ValidatorError(f"espeak-ng failed (exit {proc.returncode}): "
                                 f"{proc.stderr.strip()[:200]}")
        y, fs = sf.read(raw, dtype="float64", always_2d=True)
    return y[:, 0], int(fs)


def _active_level_dbfs(y: np.ndarray, fs: int) -> float:
    n = int(0.02 * fs)
    m = len(y) // n
    p = np.mean(y[:m * n].reshape(m, n) ** 2, axis=1)
    db = 10 * np.log10(np.maximum(2 * p, 1e-30))
    active = p[db >= db.max() - 40.0]
    return float(10 * np.log10(2 * active.mean()))


def render_speech(sample_rate_hz: int) -> np.ndarray:
    """The speech reference at one rate.

    Parameters
    ----------
    sample_rate_hz : int
        Output rate, Hz.

    Returns
    -------
    np.ndarray, shape=(n_samples,), float64 in [-1, 1)

    Raises
    ------
    MissingDependencyError
        espeak-ng is not installed.
    """
    from scipy.signal import resample_poly

    y, fs = _synthesise(" ".join(SENTENCES))
    pad = np.zeros(int(round(PAD_S * fs)))
    y = np.concatenate([pad, y, pad])
    g = math.gcd(fs, sample_rate_hz)
    y = resample_poly(y, sample_rate_hz // g, fs // g)
    gain = 10 ** ((LEVEL_DBFS - _active_level_dbfs(y, sample_rate_hz)) / 20)
    return np.clip(y * gain, -1.0, 32767 / 32768)


def build_speech(out_dir: str | Path = _DEFAULT_OUT_DIR) -> dict[str, Path]:
    """Write every file of :data:`SPEECH_FILES` into ``out_dir`` (created if needed).

    Returns
    -------
    dict
        File name -> path written.

    Raises
    ------
    MissingDependencyError
        espeak-ng is not installed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {name: write_wav(out / name, render_speech(fs), fs, bit_depth=16)
            for name, fs in SPEECH_FILES.items()}


def main(argv: list[str] | None = None) -> int:
    """``python -m validator.signals.speech [OUT_DIR]``."""
    args = sys.argv[1:] if argv is None else argv
    try:
        paths = build_speech(args[0] if args else _DEFAULT_OUT_DIR)
    except ValidatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for p in paths.values():
        print(p)
    print(f"espeak-ng {espeak_version()}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
