"""Fault injection for tests and benchmarks: impaired audio plus its ground truth.

Every impairment is a pure function ``f(y, sample_rate_hz, *, ...) -> Impaired``;
see :mod:`validator.impair.faults` for the conventions.

The names below load :mod:`validator.impair.faults` (numpy, scipy) on first
use, so the command line can register ``impair`` without importing them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from validator.impair.faults import (
        ACTIVE_BLOCK_S,
        ACTIVE_THRESHOLD_DB,
        CONDITION_KINDS,
        EVENT_KINDS,
        IMPAIRMENTS,
        Fault,
        Impaired,
        a_law_decode,
        a_law_encode,
        a_law_round_trip,
        add_noise,
        attenuate,
        click,
        clip,
        compose,
        dc_offset,
        delay,
        drift,
        fade_packet,
        gain,
        hard_clip,
        invert_polarity,
        mu_law_decode,
        mu_law_encode,
        mu_law_round_trip,
        near_silence,
        packet_loss,
        repeat_packet,
        skip,
        swap_channels,
        zero_fill,
    )

__all__ = [
    "ACTIVE_BLOCK_S",
    "ACTIVE_THRESHOLD_DB",
    "CONDITION_KINDS",
    "EVENT_KINDS",
    "IMPAIRMENTS",
    "Fault",
    "Impaired",
    "a_law_decode",
    "a_law_encode",
    "a_law_round_trip",
    "add_noise",
    "attenuate",
    "click",
    "clip",
    "compose",
    "dc_offset",
    "delay",
    "drift",
    "fade_packet",
    "gain",
    "hard_clip",
    "invert_polarity",
    "mu_law_decode",
    "mu_law_encode",
    "mu_law_round_trip",
    "near_silence",
    "packet_loss",
    "repeat_packet",
    "skip",
    "swap_channels",
    "zero_fill",
]


def __getattr__(name: str) -> Any:
    """Load :mod:`validator.impair.faults` when one of its names is first used."""
    if name in __all__:
        from validator.impair import faults

        value = getattr(faults, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
