"""audio-stream-validator: whether the audio survived the trip through an RTP network or device.

The package is a pipeline, one folder per stage::

    signals/    reference test signals (tones, marker, sweep) and the shipped set
    io/         audio input: block-reading sources at the native sample rate, the input gate
    align/      delay, clock drift and splices (cross-correlation), DTW on MFCCs
    detectors/  frame features, then dropout, glitch, level, clipping, silence, metrics
    result.py   the result model: plain frozen dataclasses
    verdict.py  profiles (TOML limits) and the verdict, one pure function; the exit codes
    report/     renderers: terminal, JSON, HTML, JUnit XML (only render)
    codecs/     G.711 and linear PCM, shared by rtp/ and impair/
    rtp/        pcap reader, RTP statistics (tshark-equal), decoding, live receiver,
                and the link between audio events and network loss
    quality/    call quality scores (the ITU-T G.107 E-model of an RTP stream)
    plotdata.py decimated data for the report's plots (measured, not drawn)
    pipeline.py validate(): the stages above in order
    defaults.py defaults shared by the library and the command lines
    errors.py   the one exception root (ValidatorError)
    cli.py      the command line, a thin main(argv) -> int
    testing.py  assert_stream_ok() for QA suites; pytest_plugin.py: the audio_validator fixture
    batch/      many captures at once: process pool or Dask, one aggregated report
    impair/     fault injection with ground truth (audio-validator impair, tests, benchmarks);
                no module outside it imports it

Import rule: a package never exports (in ``__all__``, eagerly or lazily) a
name that is also one of its submodules. Python binds a submodule to its
package's namespace when the submodule is first imported, so such a name would
turn into a module behind the caller's back (``tests/test_imports.py`` checks
every package).

Python API::

    from validator import validate
    result = validate("received.wav", "reference.wav")
    assert result.passed, result.verdict
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "validate": ("validator.pipeline", "validate"),
    "Profile": ("validator.verdict", "Profile"),
    "load_profile": ("validator.verdict", "load_profile"),
    "ValidationResult": ("validator.result", "ValidationResult"),
    "Event": ("validator.result", "Event"),
    "ValidatorError": ("validator.errors", "ValidatorError"),
}


def __getattr__(name: str) -> Any:
    """Import the public API on first use, so ``import validator`` stays cheap."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'validator' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
