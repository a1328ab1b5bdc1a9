"""The ``impair`` subcommand: inject faults into a reference and write the ground truth.

``audio-validator impair REFERENCE OUT.wav [--truth OUT.truth.json] [faults...]``
reads REFERENCE at its native rate (soundfile), applies the faults with
:func:`validator.impair.compose`, writes the received WAV atomically (same
subtype as the input unless ``--bits``) and a truth document (JSON) with every
fault's exact span on the received timeline, in samples and seconds, the
steps and their parameters, the seed and the tool version.

This module only parses the options into :class:`~validator.impair.truth.Step`
lists (:func:`plan_steps`) and calls :func:`validator.impair.truth.impair_file`,
which documents the truth file.

Order of application
--------------------
The faults always go in one fixed order, a physical chain from the sender to
the capture, whatever the order of the options (:data:`ORDER`):

1. ``codec``: ``--mulaw`` or ``--alaw``, a G.711 encode and decode (the
   receiver conceals loss in the decoded audio);
2. ``timed``: ``--dropout``, ``--silence``, ``--level-step``, each in the
   order given. Their START is a time on the INPUT's timeline (nothing before
   them moves the audio); the truth says where they land in the output;
3. ``loss``: ``--loss`` / ``--loss-model gilbert`` with ``--ptime`` and the
   receiver's concealment ``--plc`` (``skip`` shortens the timeline);
4. ``level``: ``--gain``, then ``--clip`` (its own gain, then clipping at
   full scale);
5. ``channels``: ``--swap-channels``, then ``--invert``;
6. ``timing``: ``--delay``, then ``--drift``;
7. ``noise``: ``--snr``, then ``--dc``.

Integer PCM cannot hold samples beyond full scale: when the result exceeds
it and the output is 16 or 24-bit, a final ``clip`` at full scale is applied,
recorded as a step (option ``(writer)``) and its clipping events are in the
truth. A 32-bit float output keeps such samples as they are.

Seeds
-----
Every random step gets its own seed derived from ``--seed`` and the option
(``numpy.random.SeedSequence(seed, spawn_key=(option id, index))``), so adding
``--snr 30`` does not change which packets ``--loss`` drops. The derived seeds
are in the truth's step parameters: ``validator.impair.compose`` with those
steps reproduces the samples exactly.

Times
-----
A time is a number with an optional unit: ``1.5`` or ``1.5s``, ``20ms``,
``250us``, ``96samples`` (also ``96smp``); it becomes sample
``round(t * sample_rate_hz)`` (see :mod:`validator.impair.model`), so spans
may start and end anywhere, not only on a packet grid, and may be 1 sample
long.

"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from validator.errors import SignalSpecError
from validator.impair.truth import (
    ORDER,
    SUBTYPE_OF_BITS,
    TRUTH_SCHEMA_VERSION,
    Step,
    impair_file,
    truth_path_for,
)
from validator.verdict import EXIT_PASS

__all__ = [
    "DEFAULT_PLC",
    "DEFAULT_PTIME_S",
    "DEFAULT_P_BG",
    "DEFAULT_P_GB",
    "DEFAULT_SEED",
    "DEFAULT_SILENCE_DBFS",
    "ORDER",
    "TRUTH_SCHEMA_VERSION",
    "Duration",
    "Step",
    "plan_steps",
    "register",
    "truth_path_for",
]

#: Seed used when ``--seed`` is not given.
DEFAULT_SEED = 0
#: Longest --delay, s (prepended silence; a longer one is a typo, and gigabytes).
MAX_DELAY_S = 3600.0
#: Largest |dB| of --gain, --clip, --snr and the span levels (beyond, 10**(dB/20) overflows
#: or means nothing for audio).
MAX_ABS_DB = 400.0
#: Largest |--drift|, ppm (10 %: far past any real clock).
MAX_ABS_DRIFT_PPM = 100_000.0
#: spawn_key ids of the random options (never renumber: truth files cite them).
_SEED_IDS = {"--loss": 1, "--silence": 2, "--snr": 3}
#: Sentinel of ``--invert`` given without a channel (all channels).
_ALL_CHANNELS = -1
#: Events listed on the terminal.
_MAX_LISTED = 10
#: Defaults of the library functions the options call (not imported here, so that
#: registering the subcommand stays cheap); a test keeps them equal to the library's.
DEFAULT_PTIME_S = 0.02
DEFAULT_P_GB = 0.01
DEFAULT_P_BG = 0.3
DEFAULT_PLC = "zero"
DEFAULT_SILENCE_DBFS = -70.0

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TIME = re.compile(rf"^\s*({_NUMBER})\s*(s|ms|us|µs|samples?|smp)?\s*$")
_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}


# --------------------------------------------------------------------------- option values


@dataclass(frozen=True)
class Duration:
    """A time as written on the command line.

    Attributes
    ----------
    value : float
        The number, >= 0.
    unit : {"s", "samples"}
        Seconds (``ms`` and ``us`` are converted on parsing) or samples.
    text : str
        What the user wrote.
    """

    value: float
    unit: str
    text: str

    def seconds(self, sample_rate_hz: int) -> float:
        """The time in seconds at ``sample_rate_hz`` (samples are divided by it)."""
        return self.value if self.unit == "s" else self.value / sample_rate_hz


def _duration(text: str) -> Duration:
    """Parse ``1.5``, ``1.5s``, ``20ms``, ``250us`` or ``96samples`` (>= 0)."""
    m = _TIME.match(text)
    if not m:
        raise argparse.ArgumentTypeError(
            f"bad time {text!r}: expected a number with an optional unit s, ms, us or "
            "samples, e.g. 1.5s, 20ms, 96samples")
    value = float(m.group(1))
    unit = m.group(2) or "s"
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"bad time {text!r}: must be finite and >= 0")
    if unit in _TIME_SCALE:
        return Duration(value * _TIME_SCALE[unit], "s", text)
    return Duration(value, "samples", text)


def _real(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


def _db(text: str) -> float:
    """A level or gain in dB, finite and within +-MAX_ABS_DB (10**(30000/20) overflows)."""
    v = _real(text)
    if abs(v) > MAX_ABS_DB:
        raise argparse.ArgumentTypeError(f"expected a value within +-{MAX_ABS_DB:g} dB, "
                                         f"got {text!r}")
    return v


def _offset(text: str) -> float:
    """A DC offset in full-scale units, within the validator's input bound (+-1000)."""
    from validator.io.audio import MAX_ABS_SAMPLE

    v = _real(text)
    if abs(v) > MAX_ABS_SAMPLE:
        raise argparse.ArgumentTypeError(f"expected an offset within +-{MAX_ABS_SAMPLE:g} "
                                         f"full scale, got {text!r}")
    return v


def _ppm(text: str) -> float:
    """A clock drift in ppm, finite and within +-MAX_ABS_DRIFT_PPM."""
    v = _real(text)
    if abs(v) > MAX_ABS_DRIFT_PPM:
        raise argparse.ArgumentTypeError(f"expected a drift within +-{MAX_ABS_DRIFT_PPM:g} ppm, "
                                         f"got {text!r}")
    return v


def _probability(text: str) -> float:
    """``2%`` or ``0.02`` -> 0.02, checked to be in [0, 1]."""
    body = text.strip()
    pct = body.endswith("%")
    try:
        v = float(body[:-1] if pct else body)
    except ValueError:
        v = math.nan
    if pct:
        v /= 100.0
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise argparse.ArgumentTypeError(
            f"expected a probability as a fraction 0..1 or a percentage, e.g. 0.02 or 2%, "
            f"got {text!r}")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed, got {text!r}")
    return v


def _channel(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a zero-based channel index, got {text!r}")
    return v


@dataclass(frozen=True)
class _Span:
    """``START:DURATION[:DB]`` of --dropout, --silence and --level-step."""

    start: Duration
    duration: Duration
    db: float | None
    text: str


def _span_parser(db: str) -> Callable[[str], _Span]:
    """A parser of ``START:DURATION`` plus a dB field: ``db`` is "none", "optional", "required"."""
    form = {"none": "START:DURATION", "optional": "START:DURATION[:DBFS]",
            "required": "START:DURATION:DB"}[db]

    def parse(text: str) -> _Span:
        parts = text.split(":")
        if not ((len(parts) == 2 and db != "required") or (len(parts) == 3 and db != "none")):
            raise argparse.ArgumentTypeError(f"bad span {text!r}: expected {form}, e.g. "
                                             f"1.5s:20ms{':-20' if db != 'none' else ''}")
        start, dur = _duration(parts[0]), _duration(parts[1])
        if dur.value <= 0:
            raise argparse.ArgumentTypeError(f"bad span {text!r}: DURATION must be > 0")
        level = _db(parts[2]) if len(parts) == 3 else None
        return _Span(start, dur, level, text)

    parse.__name__ = "span"  # argparse names the type in "invalid span value"
    return parse


# --------------------------------------------------------------------------- parser


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``impair`` subcommand to the main parser's subparsers."""
    p = sub.add_parser(
        "impair", help="inject faults into a reference; write the received WAV and its truth",
        description="Apply faults to REFERENCE (read at its native rate) and write OUT.wav "
                    "(same subtype unless --bits) and a truth JSON with every fault's exact "
                    "span on OUT's timeline, in samples and seconds. Faults are applied in a "
                    "fixed order whatever the order of the options: "
                    + "; ".join(f"{i}. {stage}: {opts}" for i, (stage, opts)
                                in enumerate(ORDER, 1))
                    + ". Times: 1.5s, 20ms, 250us or 96samples (plain numbers are seconds).",
        epilog="Example: audio-validator impair ref.wav rx.wav --loss 2%% --plc repeat "
               "--snr 30 --drift 50 --seed 7")
    p.add_argument("reference", help="reference audio (wav, flac, ...) read at its native rate")
    p.add_argument("output", help="received WAV to write (atomically)")
    p.add_argument("--truth", metavar="PATH",
                   help="truth JSON to write (default: OUTPUT with .truth.json for .wav)")
    p.add_argument("--seed", type=_seed, default=DEFAULT_SEED,
                   help=f"seed of every random choice (default {DEFAULT_SEED})")
    p.add_argument("--bits", type=int, choices=sorted(SUBTYPE_OF_BITS),
                   help="output bit depth, 32 is float (default: the input's, if 16, 24 "
                        "or float)")

    g = p.add_argument_group("1. codec")
    codec = g.add_mutually_exclusive_group()
    codec.add_argument("--mulaw", action="store_true", help="G.711 mu-law (PCMU) round trip")
    codec.add_argument("--alaw", action="store_true", help="G.711 A-law (PCMA) round trip")

    g = p.add_argument_group("2. timed faults (START on the input's timeline)")
    g.add_argument("--dropout", action="append", type=_span_parser("none"), default=[],
                   metavar="START:DURATION",
                   help="digital zeros over the span, all channels (repeatable; any length "
                        ">= 1 sample, on or off a packet grid)")
    g.add_argument("--silence", action="append", type=_span_parser("optional"), default=[],
                   metavar="START:DURATION[:DBFS]",
                   help="replace the span with white noise at DBFS (AES17; default "
                        f"{DEFAULT_SILENCE_DBFS:g}) (repeatable)")
    g.add_argument("--level-step", action="append", type=_span_parser("required"), default=[],
                   metavar="START:DURATION:DB",
                   help="gain of DB over the span (a dip or a step; <= -20 dB counts as a "
                        "dropout) (repeatable)")

    g = p.add_argument_group("3. packet loss and concealment")
    g.add_argument("--loss", type=_probability, metavar="P",
                   help="packet loss probability, e.g. 2%% or 0.02")
    g.add_argument("--loss-model", choices=["random", "gilbert"],
                   help="random: independent losses (default); gilbert: two-state bursts")
    g.add_argument("--p-gb", type=_probability, metavar="P",
                   help="gilbert: good->bad probability (default: from --loss and --p-bg, "
                        f"else {DEFAULT_P_GB:g})")
    g.add_argument("--p-bg", type=_probability, metavar="P",
                   help="gilbert: bad->good probability, 1/mean burst length (default "
                        f"{DEFAULT_P_BG:g})")
    g.add_argument("--ptime", type=_duration, metavar="T",
                   help="packet time (default "
                        f"{DEFAULT_PTIME_S * 1000:g}ms)")
    g.add_argument("--plc", choices=["zero", "repeat", "fade", "skip"],
                   help="receiver concealment of lost packets: zero-fill (default), repeat "
                        "the last packet, fade it out, or skip (the timeline shrinks)")

    g = p.add_argument_group("4. level")
    g.add_argument("--gain", type=_db, metavar="DB",
                   help="whole-file gain, dB (beyond full scale, a 16/24-bit output is clipped "
                        "by the writer and the clipping is in the truth)")
    g.add_argument("--clip", type=_db, metavar="DB",
                   help="gain of DB, then clipping at full scale (an overdriven stage)")

    g = p.add_argument_group("5. channels")
    g.add_argument("--swap-channels", action="store_true", help="exchange channels 0 and 1")
    g.add_argument("--invert", nargs="?", type=_channel, const=_ALL_CHANNELS, metavar="CH",
                   help="invert the polarity of channel CH (zero-based), or of all channels "
                        "when CH is left out (put it after OUTPUT or use --invert=CH)")

    g = p.add_argument_group("6. timing")
    g.add_argument("--delay", type=_duration, metavar="T",
                   help="delay (prepended silence), fractions of a sample allowed, e.g. 5ms "
                        "or 10.5samples")
    g.add_argument("--drift", type=_ppm, metavar="PPM",
                   help="clock drift, ppm (positive: the received content lasts longer)")

    g = p.add_argument_group("7. noise")
    g.add_argument("--snr", type=_db, metavar="DB",
                   help="white noise at this SNR per channel (signal power of the active part)")
    g.add_argument("--dc", type=_offset, metavar="OFFSET", help="DC offset, full-scale units")
    p.set_defaults(run=_run)


# --------------------------------------------------------------------------- steps


def _derived_seed(seed: int, option: str, index: int) -> int:
    ss = np.random.SeedSequence(seed, spawn_key=(_SEED_IDS[option], index))
    return int(ss.generate_state(1)[0])


def _loss_step(args: argparse.Namespace, fs: int) -> Step | None:
    extras = [name for name, value in (("--ptime", args.ptime), ("--plc", args.plc),
                                       ("--p-gb", args.p_gb), ("--p-bg", args.p_bg))
              if value is not None]
    model = args.loss_model or "random"
    if args.loss is None and args.loss_model is None:
        if extras:
            raise SignalSpecError(f"{extras[0]} needs --loss (or --loss-model gilbert)")
        return None
    if model == "random":
        if args.loss is None:
            raise SignalSpecError("--loss-model random needs --loss P")
        gilbert_only = [x for x in extras if x in ("--p-gb", "--p-bg")]
        if gilbert_only:
            raise SignalSpecError(f"{gilbert_only[0]} needs --loss-model gilbert")
    p_bg = args.p_bg if args.p_bg is not None else DEFAULT_P_BG
    if args.p_gb is not None:
        if model == "gilbert" and args.loss is not None:
            raise SignalSpecError("--loss-model gilbert: give --loss or --p-gb, not both "
                                  "(the mean loss is p_gb / (p_gb + p_bg))")
        p_gb = args.p_gb
    elif model == "gilbert" and args.loss is not None:
        if args.loss >= 1.0 or p_bg <= 0.0:
            raise SignalSpecError("--loss-model gilbert: --loss must be < 100% and --p-bg > 0")
        p_gb = args.loss * p_bg / (1.0 - args.loss)  # mean loss p_gb / (p_gb + p_bg)
        if p_gb > 1.0:
            raise SignalSpecError(f"--loss-model gilbert: a mean loss of {args.loss:.4g} needs "
                                  f"p_gb = {p_gb:.4g} > 1 with --p-bg {p_bg:g}; raise --p-bg")
    else:
        p_gb = DEFAULT_P_GB
    ptime = args.ptime.seconds(fs) if args.ptime else DEFAULT_PTIME_S
    option = " ".join(x for x in (
        f"--loss {args.loss * 100:g}%" if args.loss is not None else "",
        f"--loss-model {model}" if args.loss_model else "",
        f"--p-gb {args.p_gb:g}" if args.p_gb is not None else "",
        f"--p-bg {args.p_bg:g}" if args.p_bg is not None else "",
        f"--ptime {args.ptime.text}" if args.ptime else "",
        f"--plc {args.plc}" if args.plc else "") if x)
    params: dict[str, Any] = {"ptime_s": ptime, "model": model, "p_gb": p_gb, "p_bg": p_bg,
                              "plc": args.plc or DEFAULT_PLC,
                              "seed": _derived_seed(args.seed, "--loss", 0)}
    if args.loss is not None:  # ignored by the gilbert model, which p_gb and p_bg define
        params["loss"] = args.loss
    return Step("loss", option, "packet_loss", params)


def plan_steps(args: argparse.Namespace, sample_rate_hz: int) -> list[Step]:
    """The impairments the options ask for, in the fixed order of :data:`ORDER`.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``impair`` options.
    sample_rate_hz : int
        Sample rate of the reference, Hz (converts sample counts to seconds).

    Returns
    -------
    list of Step
        Empty when no fault was asked for (the output is then a copy).

    Raises
    ------
    SignalSpecError
        Options that do not go together (e.g. ``--plc`` without ``--loss``).
    """
    fs = sample_rate_hz
    steps = _codec_and_timed_steps(args, fs)
    loss = _loss_step(args, fs)
    if loss:
        steps.append(loss)
    return steps + _level_and_channel_steps(args) + _timing_and_noise_steps(args, fs)


def _codec_and_timed_steps(args: argparse.Namespace, fs: int) -> list[Step]:
    """The ``codec`` and ``timed`` stages (:data:`ORDER`)."""
    steps: list[Step] = []
    if args.mulaw:
        steps.append(Step("codec", "--mulaw", "mu_law_round_trip"))
    if args.alaw:
        steps.append(Step("codec", "--alaw", "a_law_round_trip"))
    for sp in args.dropout:
        steps.append(Step("timed", f"--dropout {sp.text}", "zero_fill",
                          {"start_s": sp.start.seconds(fs), "duration_s": sp.duration.seconds(fs)}))
    for i, sp in enumerate(args.silence):
        params = {"start_s": sp.start.seconds(fs), "duration_s": sp.duration.seconds(fs),
                  "seed": _derived_seed(args.seed, "--silence", i)}
        if sp.db is not None:
            params["level_dbfs"] = sp.db
        steps.append(Step("timed", f"--silence {sp.text}", "near_silence", params))
    for sp in args.level_step:
        steps.append(Step("timed", f"--level-step {sp.text}", "attenuate",
                          {"start_s": sp.start.seconds(fs), "duration_s": sp.duration.seconds(fs),
                           "gain_db": sp.db}))
    return steps


def _level_and_channel_steps(args: argparse.Namespace) -> list[Step]:
    """The ``level`` and ``channels`` stages (:data:`ORDER`)."""
    steps: list[Step] = []
    if args.gain is not None:
        steps.append(Step("level", f"--gain {args.gain:g}", "gain", {"gain_db": args.gain}))
    if args.clip is not None:
        steps.append(Step("level", f"--clip {args.clip:g}", "hard_clip", {"gain_db": args.clip}))
    if args.swap_channels:
        steps.append(Step("channels", "--swap-channels", "swap_channels", {"channels": (0, 1)}))
    if args.invert is not None:
        all_ch = args.invert == _ALL_CHANNELS
        steps.append(Step("channels", "--invert" if all_ch else f"--invert {args.invert}",
                          "invert_polarity", {"channel": None if all_ch else args.invert}))
    return steps


def _timing_and_noise_steps(args: argparse.Namespace, fs: int) -> list[Step]:
    """The ``timing`` and ``noise`` stages (:data:`ORDER`)."""
    steps: list[Step] = []
    if args.delay is not None:
        if args.delay.seconds(fs) > MAX_DELAY_S:
            raise SignalSpecError(f"--delay {args.delay.text}: at most {MAX_DELAY_S:g} s "
                                  "of delay can be added")
        steps.append(Step("timing", f"--delay {args.delay.text}", "delay",
                          {"delay_s": args.delay.seconds(fs)}))
    if args.drift is not None:
        steps.append(Step("timing", f"--drift {args.drift:g}", "drift", {"ppm": args.drift}))
    if args.snr is not None:
        steps.append(Step("noise", f"--snr {args.snr:g}", "add_noise",
                          {"snr_db": args.snr, "seed": _derived_seed(args.seed, "--snr", 0)}))
    if args.dc is not None:
        steps.append(Step("noise", f"--dc {args.dc:g}", "dc_offset", {"offset": args.dc}))
    return steps


# --------------------------------------------------------------------------- run


def _run(args: argparse.Namespace) -> int:
    out_path = Path(args.output)
    truth_path = Path(args.truth) if args.truth else truth_path_for(out_path)
    doc = impair_file(args.reference, out_path, truth_path, seed=args.seed, bits=args.bits,
                      plan=lambda fs: plan_steps(args, fs))
    _print_summary(out_path, truth_path, doc)
    for n in doc["notes"]:
        print(f"audio-validator: note: {n}", file=sys.stderr)
    return EXIT_PASS


def _print_summary(out_path: Path, truth_path: Path, doc: dict[str, Any]) -> None:
    """What was written, the steps and the first events of the truth document."""
    rec, events = doc["received"], doc["events"]
    print(f"{out_path}: {rec['frames']} samples x {rec['channels']} ch at "
          f"{rec['sample_rate_hz']} Hz, {rec['subtype']}, {rec['duration_s']:.3f} s")
    print("steps: " + (", ".join(s["option"] for s in doc["steps"]) or "none (a clean copy)")
          + f"  [seed {doc['seed']}]")
    kinds = Counter(f["kind"] for f in events)
    print(f"events: {len(events)}" + (" (" + ", ".join(f"{n} {k}" for k, n in kinds.items())
                                      + ")" if events else ""))
    if events:
        print("     time s    dur ms  ch   type      cause")
        for f in events[:_MAX_LISTED]:
            ch = "all" if f["channel"] is None else str(f["channel"])
            detail = f["detail"]
            extra = (f" (skipped {detail['skipped_s'] * 1000:.2f} ms)"
                     if "skipped_s" in detail else "")
            print(f"  {f['start_s']:9.4f}  {(f['end_s'] - f['start_s']) * 1000:8.3f}  {ch:<4} "
                  f"{f['kind']:<9} {detail.get('cause', '')}{extra}")
        if len(events) > _MAX_LISTED:
            print(f"  ... {len(events) - _MAX_LISTED} more in the truth file")
    print(f"truth: {truth_path}")
