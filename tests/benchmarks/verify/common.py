"""Truth schema, WAV I/O and the external-tool runner of the verification corpus."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

DEFAULT_CACHE = Path("/tmp/verify_corpus")
CORPUS_VERSION = 2  # bump when a builder changes what it writes


@dataclass
class Fault:
    """One fault on the RECEIVED timeline, in samples.

    ``kind``: ``zero_fill`` (samples replaced by zeros, noise may be added on
    top), ``skip`` / ``cut`` (samples removed: a point, ``start == end``),
    ``plc`` (a decoder concealed a lost packet), ``receiver_fill`` (a real
    receiver wrote zeros), ``receiver_cut`` (a real receiver truncated a
    buffer: a point). ``channel`` None means every channel. ``tail``: samples
    after ``end`` where a stateful decoder may still err (not false there, and
    an event may be that much longer).
    """

    kind: str
    start: int
    end: int
    channel: int | None = None
    tail: int = 0


@dataclass
class Truth:
    name: str
    klass: str
    sample_rate_hz: int
    channels: int
    how: str
    faults: list[Fault] = field(default_factory=list)
    # where reference sample 0 lands in received.wav (fractional); None = unknown
    delay_samples: float | None = None
    delay_tol_samples: float = 0.1
    period_samples: float | None = None  # of the tone, for delay errors in periods
    drift_ppm: float | None = 0.0  # positive: received content lasts longer
    expect_fail: bool | None = None  # None: the verdict is not scored
    channel_map: list[int | None] | None = None  # received ch i carries reference ch map[i]
    polarity: list[int] | None = None  # +1 / -1 per received channel
    notes: str = ""

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Truth:
        d = dict(d)
        d["faults"] = [Fault(**f) for f in d.get("faults", [])]
        return cls(**d)


@dataclass
class Case:
    """A built case: its folder and truth (``received``/``reference`` are paths)."""

    folder: Path
    truth: Truth

    @property
    def received(self) -> Path:
        return self.folder / "received.wav"

    @property
    def reference(self) -> Path:
        return self.folder / "reference.wav"


def merge_contiguous(faults: list[Fault], slack: int = 2) -> list[Fault]:
    """Merge spans of one kind and channel that touch (within ``slack`` samples): one fault.

    Two adjacent lost packets are one 40 ms hole in the audio, not two faults
    that an event would have to split.
    """
    out: list[Fault] = []
    for f in sorted(faults, key=lambda f: f.start):
        last = out[-1] if out else None
        if (
            last
            and last.kind == f.kind
            and last.channel == f.channel
            and last.end != last.start
            and f.end != f.start
            and f.start <= last.end + slack
        ):
            out[-1] = Fault(
                f.kind, last.start, max(last.end, f.end), f.channel, max(last.tail, f.tail)
            )
        else:
            out.append(f)
    return out


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def run(
    cmd: list[str], *, cwd: Path | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess:
    """Run a tool to completion (it stops by itself; ``timeout`` kills it)."""
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True, timeout=timeout)


def read(path: Path) -> tuple[np.ndarray, int]:
    x, fs = sf.read(str(path), dtype="float64", always_2d=True)
    return x, fs


def write(path: Path, x: np.ndarray, fs: int, subtype: str = "PCM_24") -> None:
    sf.write(str(path), np.clip(x, -1.0, 1.0 - 2.0**-23), fs, subtype=subtype)


def save_case(folder: Path, truth: Truth) -> Case:
    (folder / "truth.json").write_text(json.dumps(truth.to_json(), indent=1) + "\n")
    (folder / "BUILT").write_text(str(CORPUS_VERSION))
    return Case(folder, truth)


def load_case(folder: Path) -> Case | None:
    stamp = folder / "BUILT"
    if not stamp.exists() or stamp.read_text().strip() != str(CORPUS_VERSION):
        return None
    return Case(folder, Truth.from_json(json.loads((folder / "truth.json").read_text())))


def fresh_folder(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def sox_tone(path: Path, fs: int, seconds: float, freqs: list[float], gain_db: float) -> None:
    """``sox -n -r FS -b 24 [-c N] path synth S sine F1 [sine F2] gain G``: phase 0 at sample 0."""
    cmd = [
        "sox",
        "-R",  # repeatable: the same dither every build
        "-n",
        "-r",
        str(fs),
        "-b",
        "24",
        "-c",
        str(len(freqs)),
        str(path),
        "synth",
        str(seconds),
    ]
    for f in freqs:
        cmd += ["sine", str(f)]
    run(cmd + ["gain", str(gain_db)])


def fft_delay(x: np.ndarray, delay: float, total: int) -> np.ndarray:
    """``x`` (n, ch) placed ``delay`` samples late (fractional: FFT phase ramp), ``total`` long.

    The integer part is a shift; the fractional part multiplies the spectrum of
    the zero-padded signal by exp(-2 pi i k frac / N) (band-limited, exact for
    the periodic extension; the padding keeps the wrap-around in zeros).
    """
    d_int = int(np.floor(delay))
    frac = delay - d_int
    n_fft = total + 64
    buf = np.zeros((n_fft, x.shape[1]))
    buf[d_int : d_int + len(x)] = x
    if frac:
        spec = np.fft.rfft(buf, axis=0)
        k = np.arange(spec.shape[0])
        spec *= np.exp(-2j * np.pi * k * frac / n_fft)[:, None]
        if n_fft % 2 == 0:  # keep the Nyquist bin real
            spec[-1] = spec[-1].real
        buf = np.fft.irfft(spec, n=n_fft, axis=0)
    return buf[:total]
