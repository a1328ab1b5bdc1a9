"""The shipped set of reference signals (``reference_signals/``) and its manifest.

:data:`STANDARD_SET` lists every shipped file with all generator parameters
spelled out, so a file can always be rebuilt bit for bit with :func:`render`
and :func:`~validator.signals.generate.write_wav`.
:func:`build_standard_set` writes the WAV files and ``manifest.json``.

Regenerate the shipped set with::

    python -m validator.signals.standard_set            # into <repo>/reference_signals
    python -m validator.signals.standard_set OUT_DIR    # anywhere else
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from validator.errors import SignalSpecError, ValidatorError
from validator.io.atomic import write_text_atomic
from validator.signals.generate import (
    log_sweep,
    marker_length_samples,
    multitone,
    tone,
    write_wav,
)
from validator.verdict import EXIT_ERROR, EXIT_PASS

__all__ = [
    "KINDS",
    "MANIFEST_NAME",
    "MANIFEST_SCHEMA_VERSION",
    "STANDARD_SET",
    "StandardSignal",
    "build_standard_set",
    "main",
    "render",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA_VERSION = 1
KINDS: tuple[str, ...] = ("tone", "multitone", "log_sweep")
"""Signal kinds: the generator function of the same name renders each."""

_GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "tone": tone,
    "multitone": multitone,
    "log_sweep": log_sweep,
}
_DEFAULT_OUT_DIR = Path(__file__).resolve().parents[2] / "reference_signals"


@dataclass(frozen=True)
class StandardSignal:
    """One file of the shipped reference set.

    Attributes
    ----------
    name : str
        File name, e.g. ``"sine_997hz_48k_24bit_10s_mono_marker.wav"``.
    kind : str
        ``"tone" | "multitone" | "log_sweep"``: the generator in
        :mod:`validator.signals.generate` that renders it.
    params : Mapping[str, Any]
        Keyword arguments of that generator except ``sample_rate_hz``, all
        given explicitly (read-only).
    sample_rate_hz : int
        Sample rate in Hz.
    bit_depth : int
        16, 24 (integer PCM) or 32 (float) bits.
    description : str
        One line for humans.
    """

    name: str
    kind: str
    params: Mapping[str, Any] = field(hash=False)
    sample_rate_hz: int
    bit_depth: int
    description: str = ""

    def __post_init__(self) -> None:
        """Freeze ``params`` into a read-only mapping."""
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


STANDARD_SET: tuple[StandardSignal, ...] = (
    StandardSignal(
        name="sine_440hz_44k1_16bit_5s_mono.wav",
        kind="tone",
        params={
            "frequencies_hz": 440.0,
            "duration_s": 5.0,
            "level_dbfs": -10.0,
            "ramp_s": 0.005,
            "marker": None,
            "marker_gap_s": 0.2,
        },
        sample_rate_hz=44100,
        bit_depth=16,
        description="440 Hz sine at -10 dBFS, no marker: the classic (ambiguous-delay) case.",
    ),
    StandardSignal(
        name="sine_1004hz_8k_16bit_10s_mono_marker.wav",
        kind="tone",
        params={
            "frequencies_hz": 1004.0,
            "duration_s": 10.0,
            "level_dbfs": -10.0,
            "ramp_s": 0.005,
            "marker": "chirp",
            "marker_gap_s": 0.2,
        },
        sample_rate_hz=8000,
        bit_depth=16,
        description="1004 Hz telephony test tone at -10 dBFS after a chirp marker (G.711 paths).",
    ),
    StandardSignal(
        name="sine_997hz_1499hz_48k_24bit_10s_stereo.wav",
        kind="tone",
        params={
            "frequencies_hz": (997.0, 1499.0),
            "duration_s": 10.0,
            "level_dbfs": -10.0,
            "ramp_s": 0.005,
            "marker": None,
            "marker_gap_s": 0.2,
        },
        sample_rate_hz=48000,
        bit_depth=24,
        description="AES67 stereo: 997 Hz left, 1499 Hz right, -10 dBFS (shows channel swaps).",
    ),
    StandardSignal(
        name="sweep_20hz_20khz_48k_24bit_5s_mono.wav",
        kind="log_sweep",
        params={
            "start_hz": 20.0,
            "stop_hz": 20000.0,
            "duration_s": 5.0,
            "level_dbfs": -10.0,
            "ramp_s": 0.005,
            "channels": 1,
        },
        sample_rate_hz=48000,
        bit_depth=24,
        description="Exponential sweep 20 Hz - 20 kHz at -10 dBFS (Farina 2000).",
    ),
    StandardSignal(
        name="sine_997hz_48k_24bit_10s_mono_marker.wav",
        kind="tone",
        params={
            "frequencies_hz": 997.0,
            "duration_s": 10.0,
            "level_dbfs": -10.0,
            "ramp_s": 0.005,
            "marker": "chirp",
            "marker_gap_s": 0.2,
        },
        sample_rate_hz=48000,
        bit_depth=24,
        description="997 Hz default tone at -10 dBFS after a chirp marker.",
    ),
    StandardSignal(
        name="multitone_8k_16bit_5s_mono.wav",
        kind="multitone",
        params={
            "frequencies_hz": (317.0, 997.0, 2503.0),
            "duration_s": 5.0,
            "level_dbfs": -10.0,
            "ramp_s": 0.005,
            "channels": 1,
        },
        sample_rate_hz=8000,
        bit_depth=16,
        description="317 + 997 + 2503 Hz, Schroeder phases, composite peak at -10 dBFS.",
    ),
)
"""Every file shipped in ``reference_signals/``."""


def render(entry: StandardSignal) -> np.ndarray:
    """Render the samples of one standard-set entry (before quantization).

    Parameters
    ----------
    entry : StandardSignal
        An entry such as one of :data:`STANDARD_SET`.

    Returns
    -------
    np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        ``generator(**entry.params, sample_rate_hz=entry.sample_rate_hz)``;
        the shipped file holds ``quantize(render(entry), entry.bit_depth)``.

    Raises
    ------
    SignalSpecError
        Unknown kind or invalid parameters.
    """
    generator = _GENERATORS.get(entry.kind)
    if generator is None:
        raise SignalSpecError(f"kind must be one of {KINDS}, got {entry.kind!r}")
    try:
        return generator(**entry.params, sample_rate_hz=entry.sample_rate_hz)
    except TypeError as exc:
        raise SignalSpecError(
            f"params of {entry.name!r} do not fit generator {entry.kind!r}: {exc}"
        ) from exc


def _json_value(value: Any) -> Any:
    """Parameters as JSON values: tuples become lists."""
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    return value


def _layout(entry: StandardSignal) -> dict[str, int]:
    """Marker length and tone start sample of a tone entry (0 and 0 without marker)."""
    marker = entry.params.get("marker")
    if marker is None:
        return {"marker_samples": 0, "tone_start_sample": 0}
    n_marker = marker_length_samples(marker, sample_rate_hz=entry.sample_rate_hz)
    n_gap = int(round(float(entry.params["marker_gap_s"]) * entry.sample_rate_hz))
    return {"marker_samples": n_marker, "tone_start_sample": n_marker + n_gap}


def build_standard_set(
    out_dir: str | os.PathLike[str], *, entries: Sequence[StandardSignal] = STANDARD_SET
) -> dict[str, Any]:
    """Write the reference WAV files and ``manifest.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Destination directory; created if missing. Existing files of the
        same names are replaced atomically; other files are left alone.
    entries : sequence of StandardSignal, keyword-only
        What to build; the shipped set by default.

    Returns
    -------
    dict
        The manifest as written: ``{"schema_version", "generator",
        "level_convention", "files"}``, where ``files`` maps each file name to
        ``kind``, ``description``, ``params`` (tuples as lists),
        ``sample_rate_hz``, ``channels``, ``bit_depth``, ``frames``,
        ``duration_s`` (frames / sample rate), ``sha256`` (hex digest of the
        file bytes) and, for tones, ``marker_samples`` and
        ``tone_start_sample``. It holds no timestamp, so rebuilding gives
        identical bytes. ``manifest.json`` is written atomically with sorted
        keys, indent 2 and a trailing newline.

    Raises
    ------
    SignalSpecError
        An entry has an unknown kind or invalid parameters.
    OSError
        A file cannot be written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    for entry in entries:
        y = render(entry)
        path = write_wav(out / entry.name, y, entry.sample_rate_hz, bit_depth=entry.bit_depth)
        record: dict[str, Any] = {
            "kind": entry.kind,
            "description": entry.description,
            "params": {k: _json_value(v) for k, v in entry.params.items()},
            "sample_rate_hz": entry.sample_rate_hz,
            "channels": int(y.shape[1]),
            "bit_depth": entry.bit_depth,
            "frames": int(y.shape[0]),
            "duration_s": y.shape[0] / entry.sample_rate_hz,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        if entry.kind == "tone":
            record.update(_layout(entry))
        files[entry.name] = record
    manifest: dict[str, Any] = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "generator": "validator.signals.standard_set",
        "level_convention": "AES17: the RMS of a full-scale sine is 0 dBFS",
        "files": files,
    }
    text = json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    write_text_atomic(out / MANIFEST_NAME, text)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """Rebuild the standard set: ``python -m validator.signals.standard_set [OUT_DIR]``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``argv[0]``, if given, is the
        output directory (default: the repository's ``reference_signals/``).

    Returns
    -------
    int
        0 on success, 2 when the set could not be built (message on stderr).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1:
        sys.stderr.write("usage: python -m validator.signals.standard_set [OUT_DIR]\n")
        return EXIT_ERROR
    out_dir = Path(args[0]) if args else _DEFAULT_OUT_DIR
    try:
        manifest = build_standard_set(out_dir)
    except (ValidatorError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_ERROR
    for name, record in manifest["files"].items():
        sys.stdout.write(f"{out_dir / name}  {record['sha256']}\n")
    return EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
