"""Sample codecs shared by decoding, synthesis and fault injection.

Neutral ground: :mod:`validator.rtp` decodes and encodes RTP payloads with
these, and :mod:`validator.impair` builds its codec round trips on them, so
neither room imports the other.

* :mod:`~validator.codecs.g711`: ITU-T G.711 mu-law (PCMU) and A-law (PCMA).
* :mod:`~validator.codecs.pcm`: linear PCM at 8, 16 and 24 bits (RFC 3551
  L8, L16, L24) and G.711 octets, to and from the bytes on the wire.
* :mod:`~validator.codecs.sizes`: sample widths and full scale, without
  numpy (the live receiver and the payload table import only these).

The functions load numpy on first use (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from validator.codecs.sizes import SAMPLE_BYTES, full_scale

if TYPE_CHECKING:  # pragma: no cover
    from validator.codecs.g711 import (
        a_law_decode,
        a_law_encode,
        g711_decode_table,
        mu_law_decode,
        mu_law_encode,
    )
    from validator.codecs.pcm import decode_samples, encode_samples

__all__ = [
    "SAMPLE_BYTES",
    "a_law_decode",
    "a_law_encode",
    "decode_samples",
    "encode_samples",
    "full_scale",
    "g711_decode_table",
    "mu_law_decode",
    "mu_law_encode",
]

_LAZY = {"a_law_decode": "g711", "a_law_encode": "g711", "g711_decode_table": "g711",
         "mu_law_decode": "g711", "mu_law_encode": "g711", "decode_samples": "pcm",
         "encode_samples": "pcm"}


def __getattr__(name: str) -> Any:
    """Import a codec function on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"validator.codecs.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
