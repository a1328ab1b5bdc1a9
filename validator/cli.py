"""Command line: ``audio-validator validate | generate``.

A thin layer: parse arguments, call the library, render, and map the one
exception root (:class:`validator.errors.ValidatorError`) to a one-line
message and exit code 2. Exit codes: 0 pass, 1 fail, 2 could not run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from validator import __version__
from validator.defaults import (
    DEFAULT_MAX_DELAY_S,
    DEFAULT_MAX_ZOOMS,
    DEFAULT_OUTPUT_DIR,
    THREADS_ENV,
)
from validator.errors import MissingDependencyError, OutputError, ValidatorError
from validator.rtp.cli import add_capture_options
from validator.verdict import EXIT_ERROR, EXIT_FAIL, EXIT_PASS

if TYPE_CHECKING:  # pragma: no cover
    from validator.result import ValidationResult
    from validator.verdict import Profile

#: Modules that add subcommands through ``register(subparsers)``, each setting ``run``.
ROOM_COMMANDS = ("validator.rtp.cli", "validator.impair.cli", "validator.batch.cli")


class _Parser(argparse.ArgumentParser):
    """argparse that exits with code 2 and one line, as every usage error should."""

    def error(self, message: str) -> None:  # type: ignore[override]
        where = self.prog.split(" ", 1)
        extra = f" ({where[1]})" if len(where) > 1 else ""
        self.exit(EXIT_ERROR, f"audio-validator: error: {message}{extra}\n")


def count(text: str) -> int:
    """Parse a whole number >= 0 for argparse (``--max-zooms``, ``--max-events``)."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return n


def positive(text: str) -> int:
    """Parse a whole number >= 1 for argparse (``--threads``)."""
    n = count(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def seconds(text: str) -> float:
    """Parse a finite number of seconds >= 0 for argparse (``--max-delay``)."""
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0.0 <= v < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return v


def quality_metrics(text: str) -> tuple[str, ...]:
    """Parse ``--quality`` for argparse: ``visqol,pesq`` -> canonical metric specs.

    The specs are checked; nothing is imported.
    """
    from validator.errors import QualityError
    from validator.quality.spec import parse_metrics

    try:
        return parse_metrics(text)
    except QualityError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--quality: ")) from exc


#: The subcommands defined here; the others come from :data:`ROOM_COMMANDS`.
CORE_COMMANDS = ("validate", "generate")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation).

    Parameters
    ----------
    command : str, optional
        The subcommand about to run. When it is one of :data:`CORE_COMMANDS`, the
        other rooms' subcommands are not registered, so their modules are not
        imported on that command's path (a cold start cost); None registers all.
    """
    p = _Parser(prog="audio-validator",
                description="Validate audio that crossed an RTP network or device against its "
                            "reference. Exit codes: 0 pass, 1 fail, 2 could not run.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("validate", help="compare a received capture with its reference",
                       description="Compare RECEIVED with its reference; print a summary and "
                                   "write JSON, HTML and JUnit XML reports.")
    v.add_argument("received", help="received audio (wav, flac, ogg, mp3; m4a via ffmpeg)")
    v.add_argument("--reference", "-r", required=True,
                   help="reference audio file, or a tone spec such as sine:997 "
                        "(sine:997,1499 for one tone per channel)")
    v.add_argument("--profile", help="TOML profile of limits and detector settings")
    v.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR,
                   help=f"folder for the reports <received stem>.json, .html and .xml "
                        f"(default: {DEFAULT_OUTPUT_DIR}/)")
    v.add_argument("--json", dest="json_path", help="JSON report path "
                   "(default: OUTPUT_DIR/<received stem>.json)")
    v.add_argument("--html", dest="html_path", help="HTML report path "
                   "(default: OUTPUT_DIR/<received stem>.html)")
    v.add_argument("--junit", dest="junit_path", help="JUnit XML report path "
                   "(default: OUTPUT_DIR/<received stem>.xml)")
    v.add_argument("--no-json", action="store_true", help="write no JSON report")
    v.add_argument("--no-html", action="store_true", help="write no HTML report")
    v.add_argument("--no-junit", action="store_true", help="write no JUnit XML report")
    v.add_argument("--max-zooms", type=count, default=DEFAULT_MAX_ZOOMS, metavar="N",
                   help="events (the first N) with a zoomed plot in the HTML report "
                        f"(default {DEFAULT_MAX_ZOOMS})")
    v.add_argument("--max-delay", type=seconds, default=DEFAULT_MAX_DELAY_S, metavar="S",
                   help=f"largest delay searched, s (default {DEFAULT_MAX_DELAY_S:g})")
    v.add_argument("--ssrc", help="RTP capture input: the stream to validate (0x1234ABCD or "
                   "decimal), when the capture holds more than one")
    add_capture_options(v)
    from validator.quality.emodel_cli import add_emodel_options

    add_emodel_options(v)
    v.add_argument("--dtw", action="store_true",
                   help="also run DTW on MFCCs (speech/music) and report time warps")
    v.add_argument("--quality", type=quality_metrics, metavar="METRICS",
                   help="also score full-reference quality on the alignment: visqol and/or "
                        "pesq, e.g. visqol,pesq (visqol:audio for 48 kHz audio mode, pesq:nb "
                        "or pesq:wb to force the band); overrides the profile's quality list; "
                        "needs pip install 'audio-stream-validator[quality]'")
    v.add_argument("--threads", type=positive, metavar="N",
                   help="blocks of a long capture (over 90 s) analysed at once; the result is "
                        "the same, each block in flight takes its own memory (default: the "
                        f"CPUs available, at most 2, or ${THREADS_ENV}, divided by the "
                        "channels)")
    v.add_argument("--max-events", type=count, default=20,
                   help="events listed in the terminal summary (default 20)")
    v.add_argument("--quiet", "-q", action="store_true", help="print only the verdict line")
    v.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    v.set_defaults(run=_validate)

    g = sub.add_parser("generate", help="write a reference test signal",
                       description="Write a reference signal (AES17 dBFS levels; 997 Hz default).")
    g.add_argument("kind", choices=["tone", "multitone", "sweep", "standard-set", "speech"])
    g.add_argument("output", help="output WAV path (a folder for standard-set and speech)")
    g.add_argument("--freq", type=float, action="append", metavar="HZ",
                   help="tone frequency; repeat for one tone per channel (tone) or for the "
                        "components (multitone). Default 997")
    g.add_argument("--rate", type=int, default=48000, help="sample rate, Hz (default 48000)")
    g.add_argument("--duration", type=float, default=5.0, help="duration, s (default 5)")
    g.add_argument("--level", type=float, default=-10.0, help="level, dBFS (default -10)")
    g.add_argument("--bits", type=int, default=16, choices=[16, 24, 32],
                   help="bit depth; 32 is float (default 16)")
    g.add_argument("--channels", type=int, default=1, help="channels (multitone, sweep)")
    g.add_argument("--marker", choices=["chirp", "mls"], help="sync marker before the tone")
    g.add_argument("--ramp", type=float, default=0.005, help="onset/end ramp, s (default 0.005)")
    g.add_argument("--start", type=float, default=20.0, help="sweep start, Hz")
    g.add_argument("--stop", type=float, default=20000.0, help="sweep stop, Hz")
    g.set_defaults(run=_generate)
    if command not in CORE_COMMANDS:
        _register_rooms(sub)
    return p


def _register_rooms(sub: argparse._SubParsersAction) -> None:
    """Let other rooms of the package add their own subcommands (``register(sub)``)."""
    import importlib

    for module in ROOM_COMMANDS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not exc.name or not module.startswith(exc.name):
                raise
            continue
        mod.register(sub)


#: Set to any value to let an internal error (a bug) raise with its traceback.
DEBUG_ENV = "AUDIO_VALIDATOR_DEBUG"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 pass, 1 fail, 2 could not run (bad input, usage, or an internal
        error, which is reported on one line; set ``AUDIO_VALIDATOR_DEBUG=1``
        for its traceback). When stdout is a pipe whose reader has gone
        (``audio-validator impair ... | head -3``), the command stops quietly
        with 2: its output could not be delivered.
    """
    # One BLAS thread: the few small least-squares solves gain nothing from more, and
    # several threads fighting other jobs on a busy machine cost seconds.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version exit 0, usage errors 2
        return int(exc.code or 0)
    try:
        code = int(args.run(args))
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:  # stdout's reader went away (``| head``): nobody to tell
        _stdout_to_devnull()
        return EXIT_ERROR
    except ValidatorError as exc:
        print(f"audio-validator: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        name = exc.filename or ""
        print(f"audio-validator: error: {name}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("audio-validator: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug: still exit 2 (could not run), never 1 (a FAIL verdict)
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"audio-validator: internal error ({type(exc).__name__}: {exc}); this is a bug, "
              f"please report it (set {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        return EXIT_ERROR


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null so that the final flush at exit cannot fail again.

    The standard handling of ``SIGPIPE`` as ``BrokenPipeError`` (Python docs,
    "Note on SIGPIPE"). Under a test's captured stdout (no file descriptor)
    there is nothing to redirect.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _validate(args: argparse.Namespace) -> int:
    from validator.pipeline import validate
    from validator.quality.emodel_cli import emodel_settings
    from validator.report.terminal import render_terminal
    from validator.verdict import default_profile, load_profile

    profile = load_profile(args.profile) if args.profile else default_profile()
    bar = _ProgressBar() if (not args.no_progress and not args.quiet and sys.stderr.isatty()) \
        else None
    result = validate(args.received, args.reference, profile=profile, max_delay_s=args.max_delay,
                      dtw=args.dtw, progress=bar, zoom_events=args.max_zooms,
                      ssrc=args.ssrc, port=args.port,
                      payload_types=dict(args.payload_type) or None,
                      emodel=emodel_settings(args), quality=args.quality,
                      threads=args.threads)
    if bar:
        bar.close()
    try:
        paths = _write_reports(args, result, profile)
        failed = None
    except OutputError as exc:  # the verdict is known: print it, then say what was not written
        paths, failed = [], exc
    if args.quiet:
        print(result.verdict.upper())
    else:
        sys.stdout.write(render_terminal(result, max_events=args.max_events, report_paths=paths))
    if failed is not None:
        print(f"audio-validator: error: {failed}; no report was written", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_PASS if result.passed else EXIT_FAIL


def _write_reports(args: argparse.Namespace, result: ValidationResult,
                   profile: Profile) -> list[Path]:
    """Write the JSON, HTML and JUnit reports asked for, as a set: all of them or none.

    Every report is rendered first, then all are written to temporary files
    beside their destinations and moved into place together
    (:func:`validator.io.atomic.atomic_paths`). When jinja2 is
    missing (a broken install), the HTML report is skipped with a note unless
    it was asked for by ``--html``.

    Returns
    -------
    list of Path
        The reports written.

    Raises
    ------
    OutputError
        A report cannot be written (its path is named); no report was written.
    MissingDependencyError
        ``--html`` was given and jinja2 is missing.
    """
    from validator.io.atomic import atomic_paths
    from validator.report.json_report import render_json

    stem = Path(args.received).stem
    out = Path(args.output_dir)
    texts: list[tuple[Path, str]] = []
    if not args.no_json:
        texts.append((Path(args.json_path or out / f"{stem}.json"), render_json(result)))
    if not args.no_html:
        from validator.report.html import render_html

        try:
            texts.append((Path(args.html_path or out / f"{stem}.html"), render_html(
                result, max_zooms=args.max_zooms,
                silence_threshold_dbfs=profile.detectors.silence_threshold_dbfs)))
        except MissingDependencyError as exc:
            if args.html_path:
                raise
            print(f"audio-validator: note: HTML report skipped: {exc}", file=sys.stderr)
    if not args.no_junit:
        from validator.report.junit import render_junit

        texts.append((Path(args.junit_path or out / f"{stem}.xml"), render_junit([result])))
    with atomic_paths([p for p, _ in texts]) as tmps:
        for tmp, (_, text) in zip(tmps, texts, strict=True):
            tmp.write_text(text, encoding="utf-8", newline="\n")
    return [p for p, _ in texts]


#: Parameter names of :mod:`validator.signals` and the ``generate`` flags that set them.
GENERATE_FLAGS = {"frequencies_hz": "--freq", "frequency_hz": "--freq",
                  "sample_rate_hz": "--rate", "duration_s": "--duration",
                  "level_dbfs": "--level", "ramp_s": "--ramp", "start_hz": "--start",
                  "stop_hz": "--stop", "channels": "--channels", "bit_depth": "--bits",
                  "marker": "--marker"}


def _generate(args: argparse.Namespace) -> int:
    """``generate``: a signal error names the flags (``--freq``), not the API's parameters."""
    import re

    from validator.errors import SignalSpecError

    try:
        return _generate_signal(args)
    except SignalSpecError as exc:
        text = re.sub(r"\b(" + "|".join(GENERATE_FLAGS) + r")\b",
                      lambda m: GENERATE_FLAGS[m.group(1)], str(exc))
        raise SignalSpecError(f"generate {args.kind}: {text}") from exc


def _generate_signal(args: argparse.Namespace) -> int:
    from validator import signals

    if args.kind == "standard-set":
        signals.build_standard_set(args.output)
        print(f"standard set written to {args.output}")
        return EXIT_PASS
    if args.kind == "speech":
        from validator.signals.speech import build_speech, espeak_version

        for path in build_speech(args.output).values():
            print(f"{path}: espeak-ng {espeak_version()} speech")
        return EXIT_PASS
    freqs = args.freq or [signals.DEFAULT_TONE_HZ]
    if args.kind == "tone":
        y = signals.tone(freqs if len(freqs) > 1 else freqs[0], sample_rate_hz=args.rate,
                         duration_s=args.duration, level_dbfs=args.level, ramp_s=args.ramp,
                         marker=args.marker)
    elif args.kind == "multitone":
        y = signals.multitone(freqs, sample_rate_hz=args.rate, duration_s=args.duration,
                              level_dbfs=args.level, ramp_s=args.ramp, channels=args.channels)
    else:
        y = signals.log_sweep(start_hz=args.start, stop_hz=args.stop, sample_rate_hz=args.rate,
                              duration_s=args.duration, level_dbfs=args.level, ramp_s=args.ramp,
                              channels=args.channels)
    path = signals.write_wav(args.output, y, args.rate, bit_depth=args.bits)
    print(f"{path}: {y.shape[0]} samples x {y.shape[1]} ch at {args.rate} Hz, {args.bits}-bit")
    return EXIT_PASS


class _ProgressBar:
    """A one-line progress bar on stderr, shown only after the first 2 s."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.shown = False

    def __call__(self, fraction: float) -> None:
        el = time.monotonic() - self.t0
        if el < 2.0 and not self.shown:
            return
        self.shown = True
        n = int(fraction * 30)
        eta = el / fraction - el if fraction > 0 else 0.0
        sys.stderr.write(f"\r  [{'#' * n}{'.' * (30 - n)}] {fraction * 100:5.1f} %  "
                         f"ETA {eta:5.1f} s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
