"""Audio input: block-reading sources at the native sample rate."""

from validator.io.audio import (
    ArraySource,
    AudioSource,
    FileSource,
    ToneSource,
    open_audio,
    parse_tone_spec,
    valid_audio,
)

__all__ = ["ArraySource", "AudioSource", "FileSource", "ToneSource", "open_audio",
           "parse_tone_spec", "valid_audio"]
