"""The ``rtp`` and ``listen`` subcommands (registered by :mod:`validator.cli`).

``audio-validator rtp CAPTURE [--json] [--port N] [--payload-type 97=L24/48000/2]
[--ssrc X] [--wav out.wav]`` prints one row per RTP stream (or the JSON
document) and optionally writes a stream's decoded audio.

``audio-validator listen --port 5004 [--bind 127.0.0.1] [--duration S]
[--pcap out.pcap] [--reference REF]`` receives RTP live, writes a pcap and
prints the stream table when it stops.

Both only parse arguments, call :mod:`validator.rtp` and render; errors are
:class:`validator.errors.ValidatorError` (one line, exit code 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from validator.errors import CaptureError, ValidatorError
from validator.verdict import EXIT_ERROR, EXIT_FAIL, EXIT_PASS

if TYPE_CHECKING:  # pragma: no cover (the command line starts without numpy)
    import numpy as np

__all__ = ["DEFAULT_LISTEN_PORT", "add_capture_options", "payload_type_mapping", "register",
           "udp_port", "write_wav_atomic"]

DEFAULT_LISTEN_PORT = 5004


def payload_type_mapping(text: str) -> tuple[int, str]:
    """Parse ``--payload-type`` for argparse: ``97=L24/48000/2`` -> ``(97, "L24/48000/2")``.

    Parameters
    ----------
    text : str
        ``PT=ENCODING/CLOCK_RATE[/CHANNELS]``, PT in 0..127.

    Returns
    -------
    (int, str)
        The payload type and the format in its canonical spelling.

    Raises
    ------
    argparse.ArgumentTypeError
        Malformed text (the message of
        :func:`validator.rtp.payload.parse_payload_type_option`).
    """
    from validator.rtp.payload import parse_payload_type_option

    try:
        pt, fmt = parse_payload_type_option(text)
    except CaptureError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return pt, str(fmt)


def udp_port(text: str) -> int:
    """Parse ``--port`` for argparse: a UDP port number, 1..65535.

    Raises
    ------
    argparse.ArgumentTypeError
        Not a whole number in 1..65535.
    """
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 < n < 65536:
        raise argparse.ArgumentTypeError(f"bad port {text!r}: expected 1..65535")
    return n


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``rtp`` and ``listen`` subcommands to the main parser's subparsers."""
    r = sub.add_parser("rtp", help="RTP stream statistics of a capture (tshark-compatible)",
                       description="One row per RTP stream in a pcap/pcapng capture: packets, "
                                   "lost, duplicates, reordering, deltas, jitter (RFC 3550), "
                                   "clock drift. Optionally decode one stream to WAV.")
    r.add_argument("capture", help="pcap or pcapng file")
    r.add_argument("--json", action="store_true", help="print the JSON document instead")
    _common(r)
    r.add_argument("--ssrc", help="stream to decode (0x1234ABCD or decimal); default: the only "
                                  "audio stream")
    r.add_argument("--wav", help="write the decoded audio of the stream to this WAV file")
    r.add_argument("--events", action="store_true",
                   help="decode the stream and list its network events")
    from validator.quality.emodel_cli import add_emodel_options

    add_emodel_options(r, buffer_help="; when decoding, a fixed buffer also marks late "
                                      "packets as 'late' events")
    r.set_defaults(run=_run_rtp)

    listen = sub.add_parser("listen", help="receive RTP live, write a pcap, print the table",
                            description="Receive RTP on a UDP port; keep every datagram with "
                                        "its arrival time in a pcap; print the stream table "
                                        "when stopped (--duration or Ctrl-C).")
    listen.add_argument("--port", type=udp_port, default=DEFAULT_LISTEN_PORT,
                        help=f"UDP port (default {DEFAULT_LISTEN_PORT})")
    listen.add_argument("--bind", default="127.0.0.1",
                        help="local address, or a multicast group to join (default 127.0.0.1)")
    listen.add_argument("--duration", type=_positive, metavar="S", help="stop after S seconds")
    listen.add_argument("--idle-timeout", type=_positive, metavar="S",
                        help="stop when nothing arrived for S seconds after the first packet")
    listen.add_argument("--pcap", help="capture to write (default: OUTPUT_DIR/listen-PORT.pcap)")
    listen.add_argument("--output-dir", default="reports", help="folder for the default pcap")
    listen.add_argument("--reference", "-r",
                        help="reference audio: validate the received stream against it")
    listen.add_argument("--rcvbuf", type=int, default=None, metavar="BYTES",
                        help="socket receive buffer to ask for (default 4 MiB)")
    listen.add_argument("--json", action="store_true", help="print the JSON document instead")
    listen.add_argument("--payload-type", action="append", type=payload_type_mapping, default=[],
                        metavar="PT=ENC/RATE[/CH]",
                        help="meaning of a dynamic payload type, e.g. 97=L24/48000/2 "
                             "(repeatable)")
    listen.set_defaults(run=_run_listen)


def add_capture_options(p: argparse.ArgumentParser, *,
                        inputs: str = "RTP capture input") -> None:
    """Add ``--payload-type`` and ``--port`` to a command that reads captures.

    Parameters
    ----------
    p : argparse.ArgumentParser
        The ``validate`` or ``batch`` parser.
    inputs : str
        What the options apply to, at the start of their help.
    """
    p.add_argument("--payload-type", action="append", type=payload_type_mapping, default=[],
                   metavar="PT=ENC/RATE[/CH]",
                   help=f"{inputs}: meaning of a dynamic payload type that no SDP in the "
                        "capture gives, e.g. 97=L24/48000/2 (repeatable)")
    p.add_argument("--port", type=udp_port, metavar="N",
                   help=f"{inputs}: treat UDP on this port as RTP (and only that), for a "
                        "capture without SDP whose RTP the heuristics miss")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=udp_port, help="treat UDP on this port as RTP (and only that)")
    p.add_argument("--payload-type", action="append", type=payload_type_mapping, default=[],
                   metavar="PT=ENC/RATE[/CH]",
                   help="meaning of a dynamic payload type, e.g. 97=L24/48000/2 (repeatable)")


def write_wav_atomic(path: str | os.PathLike[str], audio: np.ndarray, sample_rate_hz: int, *,
                     subtype: str = "PCM_16") -> Path:
    """Write a WAV through a temporary file in the same folder and ``os.replace``.

    Parameters
    ----------
    path : str or Path
        Destination (its folder is created).
    audio : np.ndarray, shape=(n_samples, n_channels), float in [-1, 1)
    sample_rate_hz : int
    subtype : str
        soundfile subtype (``PCM_16``, ``PCM_24``, ``FLOAT``).

    Returns
    -------
    Path
    """
    import soundfile as sf

    from validator.io.atomic import atomic_path

    dest = Path(path)
    with atomic_path(dest) as tmp:
        sf.write(tmp, audio, sample_rate_hz, subtype=subtype, format="WAV")
    return dest


def copy_wav_atomic(path: str | os.PathLike[str], source: str | os.PathLike[str], *,
                    subtype: str = "PCM_16") -> Path:
    """Copy a WAV block by block to ``path`` in another subtype, through a temporary file.

    Parameters
    ----------
    path : str or Path
        Destination (its folder is created).
    source : str or Path
        A WAV (e.g. :attr:`validator.rtp.DecodedAudio.path`), read in blocks.
    subtype : str
        soundfile subtype of the copy (``PCM_16``, ``PCM_24``, ``FLOAT``).

    Returns
    -------
    Path
    """
    import soundfile as sf

    from validator.io.atomic import atomic_path

    dest = Path(path)
    with sf.SoundFile(str(source)) as src, atomic_path(dest) as tmp:
        with sf.SoundFile(tmp, "w", samplerate=src.samplerate, channels=src.channels,
                          subtype=subtype, format="WAV") as out:
            for block in src.blocks(1 << 18, dtype="float64", always_2d=True):
                out.write(block)
    return dest


def _wav_subtype(codec: str) -> str:
    return {"L24": "PCM_24", "opus": "FLOAT"}.get(codec, "PCM_16")


def _run_rtp(args: argparse.Namespace) -> int:
    from validator.quality.emodel_cli import emodel_settings
    from validator.quality.rating import rate_capture
    from validator.rtp import analyze, decode, read_capture, select_stream
    from validator.rtp.report import events_text, streams_document, streams_table
    from validator.rtp.stats import ssrc_collisions

    if Path(args.capture).is_dir():
        raise CaptureError(f"{args.capture}: is a folder; expected a pcap or pcapng file")
    if not Path(args.capture).is_file():
        raise CaptureError(f"{args.capture}: no such file")
    capture = read_capture(args.capture, port=args.port,
                           payload_types=dict(args.payload_type) or None)
    stats = [analyze(s) for s in capture.streams]
    ratings = rate_capture(capture, settings=emodel_settings(args))
    decoded = None
    if args.wav or args.events or args.ssrc:
        stream = select_stream(capture, args.ssrc)
        jb = args.jitter_buffer
        decoded = decode(stream, jitter_buffer_ms=jb.size_ms if jb and jb.type == "fixed"
                         else None)
        if args.wav:
            copy_wav_atomic(args.wav, decoded.path, subtype=_wav_subtype(decoded.codec))
    if args.json:
        sys.stdout.write(json.dumps(streams_document(capture, stats, decoded=decoded,
                                                     ratings=ratings), indent=1) + "\n")
    else:
        sys.stdout.write(streams_table(stats, capture=capture, ratings=ratings,
                                       collisions=ssrc_collisions(stats)))
        if decoded is not None:
            sys.stdout.write(events_text(decoded))
            if args.wav:
                sys.stdout.write(f"wrote {args.wav}\n")
    return EXIT_PASS


def _run_listen(args: argparse.Namespace) -> int:
    from validator.rtp import analyze, read_capture
    from validator.rtp.listen import DEFAULT_RCVBUF_BYTES, listen
    from validator.rtp.report import streams_document, streams_table
    from validator.rtp.stats import ssrc_collisions

    pcap = args.pcap or str(Path(args.output_dir) / f"listen-{args.port}.pcap")
    tty = sys.stderr.isatty()

    def show(line: str) -> None:
        sys.stderr.write(f"\r  {line}   ")
        sys.stderr.flush()

    overrides = dict(args.payload_type)
    clock_rates = {}
    if overrides:
        from validator.rtp.payload import parse_rtpmap

        clock_rates = {pt: parse_rtpmap(f).clock_rate_hz for pt, f in overrides.items()}
    def ready() -> None:
        print(f"listening on {args.bind}:{args.port}, writing {pcap}"
              + (" (Ctrl-C stops)" if tty else ""), file=sys.stderr, flush=True)

    result = listen(args.port, bind=args.bind, pcap_path=pcap, duration_s=args.duration,
                    idle_timeout_s=args.idle_timeout,
                    rcvbuf_bytes=args.rcvbuf or DEFAULT_RCVBUF_BYTES, on_ready=ready,
                    status=show if tty else None, clock_rates=clock_rates)
    if tty:
        sys.stderr.write("\n")
    drops = "unknown" if result.kernel_drops is None else str(result.kernel_drops)
    print(f"received {result.packets} datagrams ({result.bytes} bytes) in "
          f"{result.duration_s:.1f} s; kernel drops {drops}; SO_RCVBUF {result.rcvbuf_bytes} "
          f"bytes; stopped by {result.stopped_by}; pcap {result.pcap_path}", file=sys.stderr)
    capture = read_capture(result.pcap_path, port=args.port, payload_types=overrides or None)
    stats = [analyze(s) for s in capture.streams]
    if args.json:
        doc = streams_document(capture, stats)
        doc["listen"] = {"packets": result.packets, "bytes": result.bytes,
                         "kernel_drops": result.kernel_drops,
                         "rcvbuf_bytes": result.rcvbuf_bytes,
                         "duration_s": round(result.duration_s, 3),
                         "stopped_by": result.stopped_by}
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    else:
        sys.stdout.write(streams_table(stats, capture=capture,
                                       collisions=ssrc_collisions(stats)))
    if not args.reference:
        return EXIT_PASS
    return _validate_capture(result.pcap_path, args.reference, overrides or None)


def _validate_capture(pcap_path: str, reference: str,
                      payload_types: dict[int, str] | None = None) -> int:
    """Validate the capture against the reference through :func:`validator.pipeline.validate`."""
    try:
        from validator.pipeline import validate
        from validator.report.terminal import render_terminal

        result = validate(pcap_path, reference, payload_types=payload_types)
    except ValidatorError as exc:
        print(f"audio-validator: error: validation of the capture could not run: {exc}",
              file=sys.stderr)
        return EXIT_ERROR
    sys.stdout.write(render_terminal(result))
    return EXIT_PASS if result.passed else EXIT_FAIL
