"""The ``batch`` subcommand (registered by :mod:`validator.cli` through ``ROOM_COMMANDS``).

``audio-validator batch MANIFEST [--jobs N] [--dask | --scheduler tcp://host:8786]
[--output-dir reports] [--run-name NAME] [--resume]`` validates every capture
of a manifest; ``audio-validator batch --received 'captures/*.wav' --reference
REF`` covers the simple case. Exit code: 0 every capture passed, 1 one failed,
2 one could not be validated (or bad usage, or Ctrl-C).

Only parses arguments, calls :func:`validator.batch.run_batch` and renders;
errors are :class:`validator.errors.ValidatorError` (one line, exit code 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, TextIO

from validator.cli import count, quality_metrics
from validator.defaults import DEFAULT_MAX_DELAY_S, DEFAULT_MAX_ZOOMS, DEFAULT_OUTPUT_DIR
from validator.errors import BatchError
from validator.rtp.cli import add_capture_options
from validator.verdict import EXIT_ERROR

__all__ = ["ProgressLine", "register"]

#: Shared with :func:`validator.batch.run_batch` (a test keeps them equal).
DEFAULT_SHIP_INPUTS = "auto"


def _tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"bad tag {text!r}: expected KEY=VALUE")
    return key.strip(), value.strip()


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``batch`` subcommand to the main parser's subparsers."""
    b = sub.add_parser(
        "batch", help="validate many captures in parallel; one aggregated report",
        description="Validate every capture of a manifest (CSV, TOML or JSON: received, "
                    "reference, profile, ssrc and free-form tags) on a local process pool or "
                    "a Dask cluster. Writes per-capture JSON/HTML/JUnit reports and "
                    "summary.json, index.html and junit.xml into OUTPUT_DIR/RUN_NAME/. "
                    "Exit codes: 0 every capture passed, 1 one failed, 2 one could not be "
                    "validated.")
    b.add_argument("manifest", nargs="?", help="manifest file (.csv, .toml or .json); relative "
                   "paths in it are relative to its folder")
    b.add_argument("--received", action="append", default=[], metavar="PATTERN",
                   help="instead of a manifest: captures by path or glob, e.g. "
                        "'captures/*.wav' (repeatable); needs --reference")
    b.add_argument("--reference", "-r", help="reference file or tone spec (sine:997) for "
                   "--received, and for manifest entries that give none")
    b.add_argument("--profile", help="TOML profile for --received, and for manifest entries "
                   "that give none")
    b.add_argument("--ssrc", help="with --received: the RTP stream of every capture")
    add_capture_options(b, inputs="RTP capture inputs (every capture of the batch)")
    b.add_argument("--tag", action="append", type=_tag, default=[], metavar="KEY=VALUE",
                   help="a tag on every capture (repeatable)")
    b.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                   help=f"worker processes (default: os.cpu_count() = {os.cpu_count()})")
    where = b.add_mutually_exclusive_group()
    where.add_argument("--dask", action="store_true",
                       help="run on a Dask LocalCluster of --jobs processes (needs the dask "
                            "extra)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on this Dask cluster, e.g. tcp://host:8786 (needs the dask "
                            "extra)")
    b.add_argument("--ship-inputs", choices=["auto", "always", "never"],
                   default=DEFAULT_SHIP_INPUTS,
                   help="Dask: send inputs under 20 MB to the workers as bytes (always), "
                        "never (shared storage), or only to a --scheduler (auto, the default)")
    b.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR,
                   help=f"parent of the run folder (default: {DEFAULT_OUTPUT_DIR}/)")
    b.add_argument("--run-name", help="run folder name (default: the time, YYYYmmdd-HHMMSS)")
    b.add_argument("--resume", action="store_true",
                   help="skip captures validated before in this run folder (default: the "
                        "newest) whose inputs, profile and tool version are unchanged")
    b.add_argument("--max-zooms", type=count, default=DEFAULT_MAX_ZOOMS, metavar="N",
                   help=f"events with a zoomed plot in each HTML report (default "
                        f"{DEFAULT_MAX_ZOOMS})")
    b.add_argument("--max-delay", type=float, default=DEFAULT_MAX_DELAY_S, metavar="S",
                   help=f"largest delay searched, s (default {DEFAULT_MAX_DELAY_S:g})")
    b.add_argument("--no-html", action="store_true",
                   help="no per-capture HTML report (index.html is always written)")
    b.add_argument("--quality", type=quality_metrics, metavar="METRICS",
                   help="score every capture's quality too: visqol and/or pesq, e.g. "
                        "visqol,pesq (overrides the profiles' quality lists); the summary adds "
                        "the MOS per tag and the worst captures by MOS")
    b.add_argument("--max-listed", type=count, default=20, metavar="N",
                   help="captures that did not pass listed in the terminal (default 20)")
    b.add_argument("--quiet", "-q", action="store_true", help="print only the verdict line")
    b.add_argument("--no-progress", action="store_true", help="never show the progress line")
    b.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from validator.batch.manifest import jobs_from_patterns, load_manifest
    from validator.batch.render import render_text
    from validator.batch.runner import BatchInterrupted, run_batch

    tags = dict(args.tag)
    if args.manifest and args.received:
        raise BatchError("give a MANIFEST or --received, not both")
    if args.manifest:
        jobs = load_manifest(args.manifest, reference=args.reference, profile=args.profile,
                             tags=tags)
        if args.ssrc:
            raise BatchError("--ssrc goes with --received; in a manifest, use its ssrc column")
    elif args.received:
        if not args.reference:
            raise BatchError("--received needs --reference (a file or a tone spec such as "
                             "sine:997)")
        jobs = jobs_from_patterns(args.received, args.reference, profile=args.profile,
                                  ssrc=args.ssrc, tags=tags)
    else:
        raise BatchError("nothing to validate: give a MANIFEST or --received PATTERN")
    line = ProgressLine(sys.stderr) if (not args.no_progress and not args.quiet
                                        and sys.stderr.isatty()) else None
    scheduler: Any = "local" if args.dask else args.scheduler
    try:
        result = run_batch(jobs, output_dir=args.output_dir, run_name=args.run_name,
                           workers=args.jobs, scheduler=scheduler,
                           ship_inputs=args.ship_inputs, resume=args.resume,
                           max_delay_s=args.max_delay, max_zooms=args.max_zooms,
                           html=not args.no_html, progress=line, quality=args.quality,
                           payload_types=dict(args.payload_type) or None, port=args.port)
    except BatchInterrupted as exc:
        if line:
            line.close()
        r = exc.result
        print(render_text(r.summary, max_listed=args.max_listed,
                          report_paths=[_show(p) for p in r.paths]), end="")
        print(f"audio-validator: interrupted; the reports written are kept in "
              f"{_show(r.run_dir)}; finish with: --resume --run-name {r.run_name}",
              file=sys.stderr)
        return EXIT_ERROR
    if line:
        line.close()
    if args.quiet:
        print(result.summary["verdict"].upper())
    else:
        print(render_text(result.summary, max_listed=args.max_listed,
                          report_paths=[_show(p) for p in result.paths]), end="")
    return result.exit_code


def _show(path: os.PathLike[str] | str) -> str:
    """A path relative to the current folder when it is inside it."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


class ProgressLine:
    """One progress line on a terminal: captures done, passed, failed, errored, and an ETA.

    Parameters
    ----------
    stream : text stream
        Where to draw (stderr); the caller shows it only on a TTY.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.width = 0
        self.t_last = 0.0

    def __call__(self, p: Any) -> None:
        """Redraw for a :class:`validator.batch.ProgressInfo`."""
        now = time.monotonic()
        if p.done < p.total and now - self.t_last < 0.1:
            return
        self.t_last = now
        eta = "--" if p.eta_s is None else _duration(p.eta_s)
        text = (f"  batch {p.done}/{p.total}  pass {p.passed}  fail {p.failed}  "
                f"error {p.errored}" + (f"  resumed {p.resumed}" if p.resumed else "")
                + f"  ETA {eta}")
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        """Erase the line."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _duration(seconds: float) -> str:
    s = max(int(round(seconds)), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
