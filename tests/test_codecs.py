"""The neutral codec room: G.711 and linear PCM, shared by rtp and impair."""

from __future__ import annotations

import numpy as np
import pytest

from validator import codecs, impair
from validator.codecs import (
    SAMPLE_BYTES,
    a_law_decode,
    decode_samples,
    encode_samples,
    full_scale,
    g711_decode_table,
    mu_law_decode,
)
from validator.errors import AudioFormatError


@pytest.mark.parametrize("bits, scale", [(8, 128), (16, 32768), (24, 8388608)])
def test_full_scale_is_libsndfile_scaling(bits: int, scale: int) -> None:
    assert full_scale(bits) == scale


@pytest.mark.parametrize("encoding", ["L8", "L16", "L24"])
def test_linear_pcm_round_trip_is_exact_on_the_grid(encoding: str, rng) -> None:
    scale = full_scale(8 * SAMPLE_BYTES[encoding])
    codes = rng.integers(-scale, scale, size=(400, 2))
    y = codes / scale
    raw = encode_samples(y, encoding)
    assert len(raw) == y.size * SAMPLE_BYTES[encoding]
    np.testing.assert_array_equal(decode_samples(encoding, raw, 2), y)


def test_linear_pcm_clips_at_full_scale_and_is_big_endian() -> None:
    y = np.array([[1.5], [-1.5], [0.5]])
    assert encode_samples(y, "L16") == bytes.fromhex("7fff" "8000" "4000")
    assert encode_samples(y, "L24") == bytes.fromhex("7fffff" "800000" "400000")
    assert encode_samples(y, "L8") == bytes([255, 0, 192])


@pytest.mark.parametrize("encoding, decode", [("PCMU", mu_law_decode), ("PCMA", a_law_decode)])
def test_g711_table_is_the_decoder(encoding: str, decode) -> None:
    table = g711_decode_table(encoding)
    np.testing.assert_array_equal(table, decode(np.arange(256)))
    assert not table.flags.writeable
    raw = bytes(range(256))
    np.testing.assert_array_equal(decode_samples(encoding, raw, 1)[:, 0], table)


def test_unknown_encodings_raise_audio_format_error() -> None:
    with pytest.raises(AudioFormatError, match="opus"):
        encode_samples(np.zeros((4, 1)), "opus")
    with pytest.raises(AudioFormatError, match="G722"):
        g711_decode_table("G722")


def test_impair_reexports_the_codec_functions() -> None:
    for name in ("mu_law_encode", "mu_law_decode", "a_law_encode", "a_law_decode"):
        assert getattr(impair, name) is getattr(codecs, name)
