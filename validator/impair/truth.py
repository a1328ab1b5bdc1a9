"""The truth document of ``audio-validator impair``: every injected fault, exactly where it is.

:func:`impair_file` reads a reference, applies the planned :class:`Step`
list with :func:`validator.impair.compose` (each event annotated by
:func:`labelled`), writes the received WAV atomically and the truth document
beside it. :mod:`validator.impair.cli` only turns the options into steps and
calls it.

Document
--------
JSON (schema version :data:`TRUTH_SCHEMA_VERSION`), deterministic: the same
command gives the same bytes (no timestamp). Keys: ``schema_version``,
``tool``, ``tool_version``, ``seed``, ``reference`` (path, sha256, rate,
channels, frames, subtype), ``received`` (the same for OUT), ``order``,
``steps`` (stage, option as written, library function, its exact keyword
arguments), ``events`` (the faults a validator should report, sorted by
start) and ``conditions`` (whole-file changes: codec, gain, noise, delay,
drift, ...). Each fault has ``kind``, ``channel`` (null: all),
``start_sample``/``end_sample`` (end exclusive, received timeline),
``start_s``/``end_s``/``duration_s`` and ``detail`` (the library's, see
:class:`validator.impair.Fault`). Events also carry ``level_before_dbfs``,
the AES17 level of the audio the fault replaced (null for digital silence:
such a fault is invisible), and, unless they are splices, ``changed_samples``,
the samples that changed by more than half an LSB of the output (0: the fault
left the audio as it was, e.g. a repeated packet of a 1000 Hz tone at 20 ms).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from validator.errors import SignalSpecError
from validator.io.atomic import write_text_atomic

__all__ = [
    "BITS_OF_SUBTYPE",
    "ORDER",
    "SUBTYPE_OF_BITS",
    "TRUTH_SCHEMA_VERSION",
    "Step",
    "impair_file",
    "labelled",
    "truth_document",
    "truth_path_for",
]

#: Version of the truth document's layout.
TRUTH_SCHEMA_VERSION = 1
#: The fixed order of application: (stage, options in the order applied).
ORDER: tuple[tuple[str, str], ...] = (
    ("codec", "--mulaw | --alaw"),
    ("timed", "--dropout, --silence, --level-step (START on the input's timeline)"),
    ("loss", "--loss / --loss-model with --ptime and --plc"),
    ("level", "--gain, --clip"),
    ("channels", "--swap-channels, --invert"),
    ("timing", "--delay, --drift"),
    ("noise", "--snr, --dc"),
)
#: Output bit depth (``write_wav``) for each input subtype that can be kept.
BITS_OF_SUBTYPE = {"PCM_16": 16, "PCM_24": 24, "FLOAT": 32}
SUBTYPE_OF_BITS = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
#: What the truth document says of its spans.
CONVENTIONS = ("spans on the received timeline, samples [start_sample, end_sample) "
               "and seconds = sample / sample_rate_hz; channel null = all channels; "
               "start_sample == end_sample marks a splice where samples were skipped")


@dataclass(frozen=True)
class Step:
    """One impairment to apply.

    Attributes
    ----------
    stage : str
        Its stage in :data:`ORDER` (or ``"writer"``).
    option : str
        The option as the user wrote it, for messages and the truth.
    function : str
        A key of :data:`validator.impair.IMPAIRMENTS`.
    params : dict
        Keyword arguments of the function (seeds included).
    """

    stage: str
    option: str
    function: str
    params: dict[str, Any] = field(default_factory=dict)


def _level_dbfs(x: np.ndarray) -> float | None:
    """AES17 level (RMS of a sine = its peak) of a block, dBFS; None for digital silence."""
    rms = float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
    return round(20.0 * math.log10(rms * math.sqrt(2.0)), 2) if rms > 0.0 else None


def _annotate(fault: Any, x_in: np.ndarray, x_out: np.ndarray, fs: int, lsb: float) -> Any:
    """Add what the fault did to the step's input: ``level_before_dbfs``, ``changed_samples``.

    ``level_before_dbfs``: AES17 level of the audio the fault replaced (the
    step's input over the span, or the skipped samples), None when that was
    digital silence. ``changed_samples``: samples of the span that changed by
    more than half an LSB of the output format; 0 means the fault is invisible
    in the output (e.g. a repeated packet of a tone whose period divides the
    packet time). Splices get no ``changed_samples`` (they move the timeline).
    """
    d = fault.detail
    cols = slice(None) if fault.channel is None else slice(fault.channel, fault.channel + 1)
    if fault.start_sample == fault.end_sample:
        if "first_lost_packet" in d:  # packet_loss(plc="skip"): the lost packets of the input
            s = int(d["first_lost_packet"]) * int(round(d["ptime_s"] * fs))
        else:
            s = fault.start_sample
        before = x_in[s:s + int(d.get("skipped_samples", 0)), cols]
        extra: dict[str, Any] = {"level_before_dbfs": _level_dbfs(before)}
    else:
        s, e = fault.start_sample, fault.end_sample
        diff = np.abs(x_out[s:e, cols] - x_in[s:e, cols]) > lsb / 2
        extra = {"level_before_dbfs": _level_dbfs(x_in[s:e, cols]),
                 "changed_samples": int(np.count_nonzero(diff.any(axis=1)))}
    return replace(fault, detail={**d, **extra})


def labelled(func: Callable[..., Any], option: str, *, lsb: float) -> Callable[..., Any]:
    """``func`` whose errors start with the option and whose events say what they changed."""
    from validator.impair.model import Impaired

    def run(y: np.ndarray, sample_rate_hz: int, **kwargs: Any) -> Any:
        try:
            res = func(y, sample_rate_hz, **kwargs)
        except SignalSpecError as exc:
            raise SignalSpecError(f"{option}: {exc}") from exc
        same_length = res.y.shape[0] == y.shape[0]
        faults = tuple(_annotate(f, y, res.y, sample_rate_hz, lsb)
                       if f.is_event and (same_length or f.start_sample == f.end_sample) else f
                       for f in res.faults)
        return Impaired(res.y, faults, res.sample_rate_hz)

    run.__name__ = func.__name__
    return run



# --------------------------------------------------------------------------- document


def truth_path_for(output: str | os.PathLike[str]) -> Path:
    """Default truth path: ``rx.wav`` -> ``rx.truth.json`` (beside the output)."""
    out = Path(output)
    stem = out.stem if out.suffix.lower() == ".wav" else out.name
    return out.with_name(f"{stem}.truth.json")


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)  # -inf gain: JSON has no infinity
    return x


def _fault_doc(f: Any) -> dict[str, Any]:
    return {"kind": f.kind, "channel": f.channel, "start_sample": f.start_sample,
            "end_sample": f.end_sample, "start_s": f.start_s, "end_s": f.end_s,
            "duration_s": f.end_s - f.start_s, "detail": _jsonable(f.detail)}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False




def _read_reference(ref_path: Path) -> tuple[np.ndarray, int, str]:
    """The reference's samples, sample rate (Hz) and libsndfile subtype."""
    from validator.io.audio import FileSource

    src = FileSource(ref_path)
    try:
        return src.read(0, src.frames), src.sample_rate_hz, src.subtype
    finally:
        src.close()


def _check_paths(ref_path: Path, out_path: Path, truth_path: Path) -> None:
    """Refuse outputs that would overwrite the reference, or each other."""
    for what, p in (("OUTPUT", out_path), ("--truth", truth_path)):
        if p.resolve() == ref_path.resolve() or _same_file(p, ref_path):
            raise SignalSpecError(f"{what} {str(p)!r} is the reference file; refusing to "
                                  "overwrite it")
    if truth_path.resolve() == out_path.resolve():
        raise SignalSpecError(f"--truth {str(truth_path)!r} is the output WAV")


def _apply(y: np.ndarray, fs: int, steps: list[Step], *, seed: int, bits: int
           ) -> tuple[np.ndarray, list[Any], list[str]]:
    """Compose the steps (and the writer's clip at full scale); audio, faults, notes.

    A ``"writer"`` step is appended to ``steps`` when integer PCM cannot hold
    the result.
    """
    from validator.impair import IMPAIRMENTS, clip, compose

    lsb = 0.0 if bits == 32 else 2.0 ** (1 - bits)
    res = compose(y, fs, [(labelled(IMPAIRMENTS[s.function], s.option, lsb=lsb), s.params)
                          for s in steps], seed=seed)
    out, faults = res.y, list(res.faults)
    notes = []
    if bits != 32 and out.size and float(np.max(np.abs(out))) > 1.0:
        sat = labelled(clip, "(writer)", lsb=lsb)(out, fs, limit=1.0)
        out = sat.y
        faults += sat.faults
        steps.append(Step("writer", "(writer)", "clip", {"limit": 1.0}))
        notes.append(f"{len(sat.faults)} run(s) of samples beyond full scale were clipped: "
                     f"{bits}-bit PCM cannot hold them (use --bits 32 to keep them)")
    return out, faults, notes


def truth_document(*, reference: Mapping[str, Any], received: Mapping[str, Any], seed: int,
                   steps: Sequence[Step], faults: Sequence[Any], notes: Sequence[str]
                   ) -> dict[str, Any]:
    """The truth document (module docstring) of one run.

    Parameters
    ----------
    reference, received : mapping
        The ``reference`` and ``received`` sections (path, rate, channels,
        frames, subtype; a sha256 for the reference, a duration for the output).
    seed : int
        The run's seed.
    steps : sequence of Step
        As applied.
    faults : sequence of Fault
        Every fault on the received timeline; events are sorted by start
        (then channel, all channels first), conditions kept in order.
    notes : sequence of str
        Remarks (the writer's clipping).

    Returns
    -------
    dict
        JSON-ready (no NaN or infinity).
    """
    from validator import __version__

    events = sorted((f for f in faults if f.is_event),
                    key=lambda f: (f.start_sample, -1 if f.channel is None else f.channel))
    conditions = [f for f in faults if not f.is_event]
    return {
        "schema_version": TRUTH_SCHEMA_VERSION,
        "tool": "audio-stream-validator",
        "tool_version": __version__,
        "seed": seed,
        "reference": dict(reference),
        "received": dict(received),
        "order": [f"{stage}: {opts}" for stage, opts in ORDER],
        "conventions": CONVENTIONS,
        "steps": [{"stage": s.stage, "option": s.option, "function": s.function,
                   "params": _jsonable(s.params)} for s in steps],
        "events": [_fault_doc(f) for f in events],
        "conditions": [_fault_doc(f) for f in conditions],
        "notes": list(notes),
    }


def impair_file(reference: str | os.PathLike[str], output: str | os.PathLike[str],
                truth: str | os.PathLike[str], *, plan: Callable[[int], list[Step]],
                seed: int, bits: int | None = None) -> dict[str, Any]:
    """Impair a reference file: write the received WAV and its truth document.

    Parameters
    ----------
    reference : str or Path
        The reference audio file, read at its native rate.
    output : str or Path
        The received WAV to write (atomically).
    truth : str or Path
        The truth document to write (atomically).
    plan : callable
        ``plan(sample_rate_hz) -> list of Step``: the impairments, planned
        once the reference's rate is known.
    seed : int
        Seed of :func:`validator.impair.compose`.
    bits : {16, 24, 32}, optional
        Output bit depth (32: float); default the reference's own.

    Returns
    -------
    dict
        The truth document written.

    Raises
    ------
    SignalSpecError
        An output that is the reference (or the truth that is the output), a
        subtype that cannot be kept without ``bits``, or a bad plan.
    AudioFormatError
        An unreadable reference.
    OutputError
        A file that cannot be written.
    """
    from validator.signals import write_wav

    ref_path, out_path, truth_path = Path(reference), Path(output), Path(truth)
    _check_paths(ref_path, out_path, truth_path)
    y, fs, subtype = _read_reference(ref_path)
    bits = bits or BITS_OF_SUBTYPE.get(subtype)
    if bits is None:
        raise SignalSpecError(f"{ref_path}: input subtype {subtype!r} cannot be kept in the "
                              "output WAV; give --bits 16, 24 or 32 (float)")
    steps = plan(fs)
    out, faults, notes = _apply(y, fs, steps, seed=seed, bits=bits)
    n_out = out.shape[0]
    doc = truth_document(
        reference={"path": str(ref_path), "sha256": _sha256(ref_path), "sample_rate_hz": fs,
                   "channels": y.shape[1], "frames": y.shape[0], "subtype": subtype},
        received={"path": str(out_path), "sample_rate_hz": fs, "channels": out.shape[1],
                  "frames": n_out, "duration_s": n_out / fs, "subtype": SUBTYPE_OF_BITS[bits]},
        seed=seed, steps=steps, faults=faults, notes=notes)
    write_wav(out_path, out, fs, bit_depth=bits)
    write_text_atomic(truth_path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return doc
