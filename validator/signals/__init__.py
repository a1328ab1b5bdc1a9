"""Reference test signals: generators, WAV output and the shipped standard set.

See :mod:`validator.signals.generate` for the level convention (AES17 dBFS)
and why 997 Hz is the default tone, and :mod:`validator.signals.standard_set`
for the files in ``reference_signals/``.
"""

from typing import Any

from validator.signals.generate import (
    BIT_DEPTHS,
    DEFAULT_TONE_HZ,
    MARKERS,
    log_sweep,
    marker_length_samples,
    multitone,
    quantize,
    schroeder_phases,
    sync_marker,
    tone,
    write_wav,
)

# The standard-set names load on first use (PEP 562), so that
# ``python -m validator.signals.standard_set`` runs a module that the package
# has not imported already.
_STANDARD_SET_NAMES = ("STANDARD_SET", "StandardSignal", "build_standard_set", "render")


def __getattr__(name: str) -> Any:
    """Load the standard-set names from :mod:`validator.signals.standard_set` lazily."""
    if name in _STANDARD_SET_NAMES:
        from validator.signals import standard_set

        return getattr(standard_set, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BIT_DEPTHS",
    "DEFAULT_TONE_HZ",
    "MARKERS",
    "STANDARD_SET",
    "StandardSignal",
    "build_standard_set",
    "log_sweep",
    "marker_length_samples",
    "multitone",
    "quantize",
    "render",
    "schroeder_phases",
    "sync_marker",
    "tone",
    "write_wav",
]
