"""SDP found inside a capture: SIP bodies (RFC 3261) and SAP announcements (RFC 2974).

An SDP media description (``m=audio PORT RTP/AVP 0 8 97``) with its
connection address (``c=IN IP4 ADDR``) and ``a=rtpmap`` lines (RFC 8866
sections 5.7, 5.14, 6.6) says which endpoint carries RTP and what each
dynamic payload type means. AES67 streams are announced this way over SAP
(UDP port 9875, AES67-2018 annex, RFC 2974).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from validator.errors import CaptureError
from validator.rtp.payload import PayloadFormat, parse_rtpmap

__all__ = ["SAP_PORT", "SIP_PORT", "SdpMedia", "SdpTable", "parse_sap", "parse_sdp", "sip_body"]

SIP_PORT = 5060
SAP_PORT = 9875
_SIP_STARTS = (b"INVITE ", b"SIP/2.0 ", b"ACK ", b"BYE ", b"UPDATE ", b"PRACK ", b"OPTIONS ",
               b"CANCEL ", b"NOTIFY ", b"INFO ", b"REGISTER ", b"SUBSCRIBE ", b"MESSAGE ",
               b"REFER ", b"PUBLISH ")


@dataclass(frozen=True)
class SdpMedia:
    """One ``m=`` section: where RTP flows and what its payload types are.

    Attributes
    ----------
    media : str
        ``audio``, ``video``...
    address : str or None
        Connection address (session or media level ``c=``), without TTL.
    port : int
        RTP port.
    payload_types : tuple of int
        The formats listed on the ``m=`` line.
    formats : dict
        ``{pt: PayloadFormat}`` from ``a=rtpmap`` lines.
    """

    media: str
    address: str | None
    port: int
    payload_types: tuple[int, ...]
    formats: dict[int, PayloadFormat]


def parse_sdp(text: str) -> list[SdpMedia]:
    """Parse the media descriptions of an SDP body.

    Parameters
    ----------
    text : str
        SDP (``v=0`` ...), lines separated by CRLF or LF.

    Returns
    -------
    list of SdpMedia
        One per ``m=`` line; malformed lines are skipped.
    """
    session_addr: str | None = None
    out: list[dict] = []
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        key, value = line[0], line[2:].strip()
        if key == "c":
            parts = value.split()
            addr = parts[2].split("/")[0] if len(parts) >= 3 else None
            if out:
                out[-1]["address"] = addr
            else:
                session_addr = addr
        elif key == "m":
            parts = value.split()
            if len(parts) < 3:
                continue
            try:
                port = int(parts[1].split("/")[0])
            except ValueError:
                continue
            pts = tuple(int(p) for p in parts[3:] if p.isdigit() and int(p) < 128)
            out.append({"media": parts[0], "address": session_addr, "port": port,
                        "payload_types": pts, "formats": {}})
        elif key == "a" and value.startswith("rtpmap:") and out:
            head, _, fmt = value[7:].partition(" ")
            try:
                pt = int(head)
                if 0 <= pt <= 127:
                    out[-1]["formats"][pt] = parse_rtpmap(fmt.strip())
            except (ValueError, CaptureError):
                continue
    return [SdpMedia(**m) for m in out]


def sip_body(payload: bytes) -> str | None:
    """The SDP body of a SIP message carried in one UDP datagram, or None.

    Parameters
    ----------
    payload : bytes
        A UDP payload.

    Returns
    -------
    str or None
        The message body when the datagram is a SIP request or response whose
        body is SDP (a ``v=0`` line after the blank line).
    """
    if not payload.startswith(_SIP_STARTS):
        return None
    head, sep, body = payload.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = payload.partition(b"\n\n")
    if not sep or b"v=0" not in body[:16]:
        return None
    return body.decode("utf-8", "replace")


def parse_sap(payload: bytes) -> str | None:
    """The SDP text of a SAP announcement (RFC 2974 section 3), or None.

    Parameters
    ----------
    payload : bytes
        A UDP payload sent to port 9875.

    Returns
    -------
    str or None
        The SDP, inflated if compressed; None for deletions, encrypted or
        malformed packets.
    """
    if len(payload) < 8 or payload[0] >> 5 != 1:
        return None
    flags = payload[0]
    if flags & 0x04 or flags & 0x02:  # T=1: deletion; E=1: encrypted
        return None
    addr_len = 16 if flags & 0x10 else 4
    pos = 4 + addr_len + 4 * payload[1]
    body = payload[pos:]
    if flags & 0x01:
        try:
            body = zlib.decompress(body)
        except zlib.error:
            return None
    if not body.startswith(b"v=0"):
        mime, sep, rest = body.partition(b"\x00")
        if not sep or mime.strip().lower() != b"application/sdp":
            return None
        body = rest
    return body.decode("utf-8", "replace")


@dataclass
class SdpTable:
    """Payload formats learnt from SDP in a capture, per endpoint and overall.

    Attributes
    ----------
    endpoints : dict
        ``{(address, port): {pt: PayloadFormat}}`` for each announced RTP endpoint.
    media : list of SdpMedia
        Every media description seen, in capture order.
    """

    endpoints: dict[tuple[str | None, int], dict[int, PayloadFormat]] = field(default_factory=dict)
    media: list[SdpMedia] = field(default_factory=list)

    def add(self, text: str) -> None:
        """Add the media descriptions of one SDP body."""
        for m in parse_sdp(text):
            self.media.append(m)
            formats = self.endpoints.setdefault((m.address, m.port), {})
            formats.update(m.formats)

    def announced(self, addr: str, port: int) -> bool:
        """Whether ``addr:port`` was announced as an RTP endpoint (any address if none given)."""
        return (addr, port) in self.endpoints or (None, port) in self.endpoints

    def formats_for(self, src: str, sport: int, dst: str, dport: int
                    ) -> dict[int, PayloadFormat]:
        """Formats for a flow: its destination's SDP, then its source's, then agreed globals."""
        out: dict[int, PayloadFormat] = dict(self.global_formats())
        for key in ((None, sport), (src, sport), (None, dport), (dst, dport)):
            out.update(self.endpoints.get(key, {}))
        return out

    def global_formats(self) -> dict[int, PayloadFormat]:
        """``{pt: format}`` for payload types every SDP in the capture maps the same way."""
        seen: dict[int, PayloadFormat | None] = {}
        for formats in self.endpoints.values():
            for pt, fmt in formats.items():
                seen[pt] = fmt if seen.get(pt, fmt) == fmt else None
        return {pt: f for pt, f in seen.items() if f is not None}
