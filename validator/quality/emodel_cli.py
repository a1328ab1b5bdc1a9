"""Command-line options of the E-model, shared by ``rtp`` and ``validate`` (thin argparse glue).

``--jitter-buffer fixed:60 | adaptive[:MS] | MS``, ``--one-way-delay-ms MS``
and ``--plc`` become one :class:`validator.quality.rating.EModelSettings`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from validator.defaults import DEFAULT_JITTER_BUFFER_MS

if TYPE_CHECKING:  # pragma: no cover (the E-model's modules load when an option is used)
    from validator.quality.loss import JitterBuffer
    from validator.quality.rating import EModelSettings

__all__ = ["add_emodel_options", "emodel_settings"]


def _buffer(text: str) -> JitterBuffer:
    from validator.quality.loss import JitterBufferSpecError, parse_jitter_buffer

    try:
        return parse_jitter_buffer(text)
    except JitterBufferSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _delay_ms(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0 <= v <= 60_000:  # also refuses NaN and infinity
        raise argparse.ArgumentTypeError(f"expected a one-way delay in ms, 0..60000, got {text!r}")
    return v


def add_emodel_options(p: argparse.ArgumentParser, *, buffer_help: str = "") -> None:
    """Add ``--jitter-buffer``, ``--one-way-delay-ms`` and ``--plc`` to a subcommand."""
    p.add_argument("--jitter-buffer", type=_buffer, metavar="fixed:MS|adaptive[:MS]",
                   help="receiver jitter buffer modelled for the E-model: packets later than "
                        "its play-out deadline count as lost (default fixed:"
                        f"{DEFAULT_JITTER_BUFFER_MS:g}; adaptive follows the delay and its "
                        "variation, Ramjee et al. 1994; a bare MS means fixed:MS)" + buffer_help)
    p.add_argument("--one-way-delay-ms", type=_delay_ms, metavar="MS",
                   help="network one-way delay for the E-model's delay impairment (default: "
                        "half the RTCP round trip when the capture has one, else 0 ms assumed)")
    p.add_argument("--plc", action="store_true",
                   help="the receiver conceals lost packets (G.711: Bpl 25.1 instead of 4.3, "
                        "ITU-T G.113 Appendix I)")


def emodel_settings(args: argparse.Namespace) -> EModelSettings | None:
    """The :class:`~validator.quality.rating.EModelSettings` of parsed arguments.

    Returns
    -------
    EModelSettings or None
        None when no E-model option was given: the defaults, which every
        consumer takes for None (and a WAV validation does not import the
        E-model for them).
    """
    if args.jitter_buffer is None and args.one_way_delay_ms is None and not args.plc:
        return None
    from validator.quality.loss import JitterBuffer
    from validator.quality.rating import EModelSettings

    return EModelSettings(jitter_buffer=args.jitter_buffer or JitterBuffer(),
                          one_way_delay_ms=args.one_way_delay_ms, plc=bool(args.plc))
