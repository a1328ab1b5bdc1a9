"""Linear PCM samples (RFC 3551 L8, L16, L24) and G.711 octets, to and from bytes.

Full scale follows libsndfile: a ``b``-bit integer sample ``v`` is the value
``v / 2**(b-1)``, so 16384 reads 0.5 at 16 bits (:func:`full_scale`). On the
wire (RFC 3551 4.5.10-11, RFC 3190) L16 and L24 are big-endian two's
complement and L8 is offset binary (128 is zero); channels are interleaved.
"""

from __future__ import annotations

import numpy as np

from validator.codecs.g711 import a_law_encode, g711_decode_table, mu_law_encode
from validator.codecs.sizes import SAMPLE_BYTES, full_scale
from validator.errors import AudioFormatError

__all__ = ["SAMPLE_BYTES", "decode_samples", "encode_samples", "full_scale"]

def _check_encoding(encoding: str) -> None:
    if encoding not in SAMPLE_BYTES:
        raise AudioFormatError(f"cannot code {encoding!r} samples: expected one of "
                               f"{sorted(SAMPLE_BYTES)!r}")


def decode_samples(encoding: str, buf: bytes, channels: int) -> np.ndarray:
    """Decode whole frames of a sample-based payload.

    Parameters
    ----------
    encoding : {"PCMU", "PCMA", "L8", "L16", "L24"}
        RTP encoding name.
    buf : bytes
        Interleaved frames; its length must be a whole number of frames
        (``SAMPLE_BYTES[encoding] * channels`` bytes each).
    channels : int
        Channels per frame.

    Returns
    -------
    np.ndarray, shape=(n_frames, channels), float64 in [-1, 1)
        Full-scale units (:func:`full_scale`).

    Raises
    ------
    AudioFormatError
        An encoding that is not sample based.
    """
    _check_encoding(encoding)
    raw = np.frombuffer(buf, dtype=np.uint8)
    if encoding in ("PCMU", "PCMA"):
        y = g711_decode_table(encoding)[raw]
    elif encoding == "L16":
        y = np.frombuffer(buf, dtype=">i2").astype(np.float64) / full_scale(16)
    elif encoding == "L24":
        b = raw.reshape(-1, 3).astype(np.int32)
        v = (b[:, 0] << 16) | (b[:, 1] << 8) | b[:, 2]
        y = ((v ^ 0x800000) - 0x800000).astype(np.float64) / full_scale(24)
    else:  # L8: offset binary (RFC 3551 4.5.10)
        y = (raw.astype(np.float64) - 128.0) / full_scale(8)
    return y.reshape(-1, channels)


def encode_samples(y: np.ndarray, encoding: str) -> bytes:
    """Encode audio as interleaved samples on the wire.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float in [-1, 1)
        Audio in full-scale units; rounded to the nearest code and clipped
        to the encoding's range.
    encoding : {"PCMU", "PCMA", "L8", "L16", "L24"}
        RTP encoding name.

    Returns
    -------
    bytes
        ``n_samples * n_channels * SAMPLE_BYTES[encoding]`` bytes, frame by frame.

    Raises
    ------
    AudioFormatError
        An encoding that is not sample based, or (G.711) audio that is not
        a finite floating array.
    """
    _check_encoding(encoding)
    if encoding in ("PCMU", "PCMA"):
        codes = mu_law_encode(y) if encoding == "PCMU" else a_law_encode(y)
        return codes.astype(np.uint8).reshape(-1).tobytes()
    if encoding == "L16":
        s = full_scale(16)
        v16 = np.clip(np.round(y * s), -s, s - 1).astype(">i2")
        return v16.reshape(-1).tobytes()
    if encoding == "L24":
        s = full_scale(24)
        v = np.clip(np.round(y * s), -s, s - 1).astype(np.int64) & 0xFFFFFFFF
        b = np.stack([(v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF], axis=-1).astype(np.uint8)
        return b.reshape(-1).tobytes()
    s = full_scale(8)  # L8: offset binary
    return np.clip(np.round(y * s) + s, 0, 255).astype(np.uint8).reshape(-1).tobytes()
