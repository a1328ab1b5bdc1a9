"""Fault injection for tests and benchmarks: impaired audio plus its ground truth.

Every impairment is a pure function ``f(y, sample_rate_hz, *, ...) -> Impaired``;
the conventions are in :mod:`validator.impair.model`. One room per kind of
fault:

* :mod:`~validator.impair.model`: :class:`Fault`, :class:`Impaired`, the
  fault kinds and the argument checks;
* :mod:`~validator.impair.packet`: zero fills, dips, concealed and skipped
  packets, packet loss, clicks;
* :mod:`~validator.impair.level`: gain, clipping, near-silence, noise, DC,
  polarity, channel swaps;
* :mod:`~validator.impair.timing`: delay and drift;
* :mod:`~validator.impair.codec`: G.711 round trips (the codec itself is
  :mod:`validator.codecs`, shared with RTP decoding);
* :mod:`~validator.impair.composition`: :func:`compose` and :data:`IMPAIRMENTS`;
* :mod:`~validator.impair.truth`: the truth document of ``audio-validator
  impair`` (:mod:`~validator.impair.cli` only parses and calls it).

The names below load their module (numpy, scipy) on first use, so the
command line can register ``impair`` without importing them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from validator.codecs.g711 import a_law_decode, a_law_encode, mu_law_decode, mu_law_encode
    from validator.impair.codec import a_law_round_trip, mu_law_round_trip
    from validator.impair.composition import IMPAIRMENTS, compose
    from validator.impair.level import (
        ACTIVE_BLOCK_S,
        ACTIVE_THRESHOLD_DB,
        add_noise,
        clip,
        dc_offset,
        gain,
        hard_clip,
        invert_polarity,
        near_silence,
        swap_channels,
    )
    from validator.impair.model import CONDITION_KINDS, EVENT_KINDS, Fault, Impaired
    from validator.impair.packet import (
        attenuate,
        click,
        fade_packet,
        packet_loss,
        repeat_packet,
        skip,
        zero_fill,
    )
    from validator.impair.timing import delay, drift

#: Public name -> the module that defines it.
_HOME = {
    "ACTIVE_BLOCK_S": "validator.impair.level",
    "ACTIVE_THRESHOLD_DB": "validator.impair.level",
    "CONDITION_KINDS": "validator.impair.model",
    "EVENT_KINDS": "validator.impair.model",
    "IMPAIRMENTS": "validator.impair.composition",
    "Fault": "validator.impair.model",
    "Impaired": "validator.impair.model",
    "a_law_decode": "validator.codecs.g711",
    "a_law_encode": "validator.codecs.g711",
    "a_law_round_trip": "validator.impair.codec",
    "add_noise": "validator.impair.level",
    "attenuate": "validator.impair.packet",
    "click": "validator.impair.packet",
    "clip": "validator.impair.level",
    "compose": "validator.impair.composition",
    "dc_offset": "validator.impair.level",
    "delay": "validator.impair.timing",
    "drift": "validator.impair.timing",
    "fade_packet": "validator.impair.packet",
    "gain": "validator.impair.level",
    "hard_clip": "validator.impair.level",
    "invert_polarity": "validator.impair.level",
    "mu_law_decode": "validator.codecs.g711",
    "mu_law_encode": "validator.codecs.g711",
    "mu_law_round_trip": "validator.impair.codec",
    "near_silence": "validator.impair.level",
    "packet_loss": "validator.impair.packet",
    "repeat_packet": "validator.impair.packet",
    "skip": "validator.impair.packet",
    "swap_channels": "validator.impair.level",
    "zero_fill": "validator.impair.packet",
}

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
    """Load the module of one of the public names when it is first used."""
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
