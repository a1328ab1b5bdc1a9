"""Sample widths and full scale of the sample-based codecs (no numpy: cheap to import).

The live receiver and the payload table use these without loading numpy.
"""

from __future__ import annotations

__all__ = ["SAMPLE_BYTES", "full_scale"]

#: Bytes per sample (per channel) of each sample-based RTP encoding: G.711
#: (PCMU, PCMA) and linear PCM (RFC 3551 L8, L16, L24).
SAMPLE_BYTES: dict[str, int] = {"PCMU": 1, "PCMA": 1, "L8": 1, "L16": 2, "L24": 3}


def full_scale(bits: int) -> int:
    """The integer code of full scale (1.0) at ``bits`` bits: ``2**(bits - 1)``.

    Parameters
    ----------
    bits : int
        Sample width in bits (8, 16, 24).

    Returns
    -------
    int
        128, 32768 or 8388608: a ``bits``-bit sample ``v`` is the value
        ``v / full_scale(bits)``, as libsndfile reads integer PCM.
    """
    return 1 << (bits - 1)
