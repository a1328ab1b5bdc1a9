"""RTP payload formats: the static table (RFC 3551), rtpmap strings, clock rates.

A :class:`PayloadFormat` is what an SDP ``a=rtpmap:<pt> <encoding>/<clock
rate>[/<channels>]`` line says (RFC 4566 section 6, RFC 8866 6.6), for
example ``L24/48000/2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from validator.codecs.sizes import SAMPLE_BYTES
from validator.errors import CaptureError

__all__ = [
    "CN_PAYLOAD_TYPES",
    "DECODABLE",
    "STATIC_PAYLOAD_TYPES",
    "PayloadFormat",
    "parse_payload_type_option",
    "parse_rtpmap",
]


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """An RTP payload format: encoding name, RTP clock rate and channels.

    Attributes
    ----------
    encoding : str
        Encoding name as registered with IANA, normalised to its usual
        spelling (``PCMU``, ``PCMA``, ``G722``, ``L16``, ``L24``, ``opus``,
        ``telephone-event``, ``CN``); unknown names are kept as given.
    clock_rate_hz : int
        RTP timestamp clock rate, Hz.
    channels : int
        Audio channels (1 unless the rtpmap says otherwise).
    """

    encoding: str
    clock_rate_hz: int
    channels: int = 1

    @property
    def sample_rate_hz(self) -> int:
        """Audio sample rate, Hz: the clock rate, except G.722 (16 kHz audio, 8 kHz clock).

        RFC 3551 section 4.5.2: G.722's RTP clock rate is 8000 Hz "for
        historical reasons" although it samples at 16000 Hz.
        """
        return 16000 if self.encoding == "G722" else self.clock_rate_hz

    @property
    def is_event(self) -> bool:
        """RFC 4733 telephone-event (DTMF): no audio, timestamps stay put during an event."""
        return self.encoding == "telephone-event"

    @property
    def is_comfort_noise(self) -> bool:
        """RFC 3389 comfort noise."""
        return self.encoding == "CN"

    @property
    def decodable(self) -> bool:
        """Whether :func:`validator.rtp.decode` can turn it into audio."""
        return self.encoding in DECODABLE

    def __str__(self) -> str:
        """The rtpmap form, ``ENCODING/RATE/CHANNELS``."""
        return f"{self.encoding}/{self.clock_rate_hz}/{self.channels}"


_CANONICAL = {n.upper(): n for n in (
    "PCMU", "PCMA", "G722", "L8", "L16", "L24", "opus", "telephone-event", "CN", "GSM", "G723",
    "G729", "DVI4", "LPC", "QCELP", "MPA", "G728", "CelB", "JPEG", "nv", "H261", "MPV", "MP2T",
    "H263", "AMR", "AMR-WB", "red", "speex", "iLBC", "G726-32", "EVS", "VP8", "H264")}

#: Encodings that :func:`validator.rtp.decode` decodes: the sample-based codecs of
#: :mod:`validator.codecs`, and G722 and opus through PyAV.
DECODABLE = frozenset(SAMPLE_BYTES) | {"G722", "opus"}

#: Static payload types, RFC 3551 table 4 (audio and video), as tshark's clock table.
STATIC_PAYLOAD_TYPES: dict[int, PayloadFormat] = {
    0: PayloadFormat("PCMU", 8000), 3: PayloadFormat("GSM", 8000),
    4: PayloadFormat("G723", 8000), 5: PayloadFormat("DVI4", 8000),
    6: PayloadFormat("DVI4", 16000), 7: PayloadFormat("LPC", 8000),
    8: PayloadFormat("PCMA", 8000), 9: PayloadFormat("G722", 8000),
    10: PayloadFormat("L16", 44100, 2), 11: PayloadFormat("L16", 44100, 1),
    12: PayloadFormat("QCELP", 8000), 13: PayloadFormat("CN", 8000),
    14: PayloadFormat("MPA", 90000), 15: PayloadFormat("G728", 8000),
    16: PayloadFormat("DVI4", 11025), 17: PayloadFormat("DVI4", 22050),
    18: PayloadFormat("G729", 8000), 19: PayloadFormat("CN", 8000),
    25: PayloadFormat("CelB", 90000), 26: PayloadFormat("JPEG", 90000),
    28: PayloadFormat("nv", 90000), 31: PayloadFormat("H261", 90000),
    32: PayloadFormat("MPV", 90000), 33: PayloadFormat("MP2T", 90000),
    34: PayloadFormat("H263", 90000),
}
#: Comfort noise: 13 (RFC 3389) and the old 19 (tshark's PT_CN_OLD).
CN_PAYLOAD_TYPES = frozenset({13, 19})

_RTPMAP = re.compile(r"^\s*([A-Za-z0-9_.+-]+)\s*/\s*(\d+)\s*(?:/\s*(\d+)\s*)?$")


def parse_rtpmap(text: str) -> PayloadFormat:
    """Parse ``encoding/clock_rate[/channels]`` (the part of ``a=rtpmap`` after the PT).

    Parameters
    ----------
    text : str
        For example ``"L24/48000/2"``, ``"PCMU/8000"``, ``"opus/48000/2"``.

    Returns
    -------
    PayloadFormat

    Raises
    ------
    CaptureError
        The text does not have that form, or the rate or channel count is 0.
    """
    m = _RTPMAP.match(text)
    if not m:
        raise CaptureError(f"bad payload format {text!r}: expected ENCODING/CLOCK_RATE"
                           "[/CHANNELS], e.g. 'L24/48000/2'")
    name = _CANONICAL.get(m.group(1).upper(), m.group(1))
    rate = int(m.group(2))
    channels = int(m.group(3)) if m.group(3) else 1
    if rate <= 0 or rate > 10_000_000 or not 0 < channels <= 64:
        raise CaptureError(f"bad payload format {text!r}: clock rate must be > 0 Hz and "
                           "channels 1..64")
    return PayloadFormat(name, rate, channels)


def parse_payload_type_option(text: str) -> tuple[int, PayloadFormat]:
    """Parse a ``--payload-type`` value such as ``97=L24/48000/2``.

    Parameters
    ----------
    text : str
        ``PT=ENCODING/CLOCK_RATE[/CHANNELS]`` with PT in 0..127.

    Returns
    -------
    (int, PayloadFormat)

    Raises
    ------
    CaptureError
        Malformed text or a payload type outside 0..127.
    """
    pt_text, sep, fmt = text.partition("=")
    try:
        pt = int(pt_text)
    except ValueError:
        pt = -1
    if not sep or not 0 <= pt <= 127:
        raise CaptureError(f"bad payload type mapping {text!r}: expected PT=ENCODING/RATE"
                           "[/CHANNELS] with PT 0..127, e.g. '97=L24/48000/2'")
    return pt, parse_rtpmap(fmt)
