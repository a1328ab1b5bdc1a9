"""The one exception root of the validator, and its subclasses.

Every error the user can cause (a bad file, a bad option, a bad profile) is a
:class:`ValidatorError`. The CLI maps it to a one-line message and exit code 2;
anything else is a bug: the CLI reports it on one line, also with exit code 2
(never 1, which means a FAIL verdict), and ``AUDIO_VALIDATOR_DEBUG=1`` shows its
traceback.
"""

from __future__ import annotations


class ValidatorError(Exception):
    """Root of every error the validator raises on purpose."""


class AudioFormatError(ValidatorError, ValueError):
    """An audio file or array cannot be used: unreadable, empty, NaN, wrong shape."""


class InputMismatchError(ValidatorError, ValueError):
    """Received and reference audio cannot be compared (sample rate, channels, length)."""


class ProfileError(ValidatorError, ValueError):
    """A profile (TOML limits file) is malformed or names an unknown check."""


class SignalSpecError(ValidatorError, ValueError):
    """A reference signal specification (e.g. ``sine:997``) is malformed."""


class OutputError(ValidatorError, OSError):
    """A report, audio or capture file cannot be written.

    The message names the user's path (never the hidden temporary file the
    atomic writer uses) and the reason, e.g. a folder that is a file or has no
    write permission.
    """


class MissingDependencyError(ValidatorError, ImportError):
    """An optional dependency is needed for this input; the message names the extra."""


class AlignmentError(ValidatorError, ValueError):
    """The received audio could not be aligned to the reference at all."""


class CaptureError(ValidatorError, ValueError):
    """A packet capture (pcap/pcapng) or an RTP stream in it cannot be used.

    The message names the file and says what was found and what was expected:
    truncated or unknown file format, no RTP stream, an ambiguous stream choice,
    an unknown payload type.
    """


class BatchError(ValidatorError, ValueError):
    """A batch run cannot start: a malformed manifest, no capture to validate, no run to resume.

    Problems with one capture of a batch are not raised: they become that
    capture's error entry and the other captures go on.
    """


class QualityError(ValidatorError, ValueError):
    """A quality metric request is malformed (``--quality``, ``quality = [...]``).

    A score that cannot be computed on a given capture (no speech, too short)
    is not an error: it is reported as "not computed" with its reason.
    """
