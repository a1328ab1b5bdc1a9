"""Real codecs packet by packet with lost packets, for the quality tests and benchmark.

Encoders and decoders are FFmpeg's, through PyAV (the ``codecs`` extra):
PCMU (``pcm_mulaw``, 8 kHz), G.722 (``g722``, 16 kHz) and Opus (``libopus``,
48 kHz, 32 kbit/s VoIP), each in 20 ms packets. A receiver's handling of a
lost packet is modelled the way the real receivers in ``../shared/real`` do it:

- PCMU and G.722: zero-fill. The lost packet's 20 ms become digital zeros
  and the decoder never sees it, so G.722's ADPCM state is stale for the next
  packets (the 20-60 ms error tail a real receiver shows).
- Opus: decoder PLC. The lost packet is replaced by its TOC byte alone, which
  libopus decodes as a lost frame (RFC 6716 section 4.3: a frame of length 0
  or 1 means "lost"), so the decoder conceals it and keeps its timeline.

The loss patterns are the truth: which packets were dropped is known here,
never taken from the validator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: codec -> (FFmpeg codec name, sample rate Hz, receiver behaviour)
CODECS: dict[str, tuple[str, int, str]] = {
    "pcmu": ("pcm_mulaw", 8000, "zero-fill"),
    "g722": ("g722", 16000, "zero-fill"),
    "opus": ("libopus", 48000, "PLC"),
}
PACKET_S = 0.02


@dataclass(frozen=True)
class Encoded:
    """A signal encoded in 20 ms packets."""

    codec: str
    sample_rate_hz: int
    packets: tuple[bytes, ...]
    n_samples: int


def _av():
    import av  # the codecs extra

    return av


def encode(codec: str, x: np.ndarray) -> Encoded:
    """Encode ``x`` (shape (n,), float in [-1, 1), at the codec's rate) in 20 ms packets."""
    av = _av()
    name, fs, _ = CODECS[codec]
    n = int(PACKET_S * fs)
    pcm = (np.clip(x, -1.0, 32767 / 32768) * 32768).round().astype(np.int16)
    pcm = np.concatenate([pcm, np.zeros(-len(pcm) % n, dtype=np.int16)])
    enc = av.CodecContext.create(name, "w")
    enc.sample_rate = fs
    enc.layout = "mono"
    enc.format = "s16"
    if codec == "opus":
        enc.bit_rate = 32000
        enc.options = {"frame_duration": "20", "application": "voip"}
    enc.open()
    out: list[bytes] = []
    for i in range(0, len(pcm), n):
        fr = av.AudioFrame.from_ndarray(pcm[None, i:i + n], format="s16", layout="mono")
        fr.sample_rate = fs
        fr.pts = i
        out += [bytes(p) for p in enc.encode(fr)]
    out += [bytes(p) for p in enc.encode(None)]
    if codec == "g722":  # the encoder may group frames: cut its byte stream into 20 ms packets
        data = b"".join(out)
        out = [data[i:i + n // 2] for i in range(0, len(data), n // 2)]
    return Encoded(codec, fs, tuple(out), len(x))


def _to_float(frame) -> np.ndarray:
    a = frame.to_ndarray().reshape(-1)
    if a.dtype == np.int16:
        return a.astype(np.float64) / 32768.0
    return a.astype(np.float64)


def decode(enc: Encoded, lost: np.ndarray) -> np.ndarray:
    """Decode with the packets where ``lost`` is True missing (zero-fill or PLC, see above).

    Returns
    -------
    np.ndarray, shape=(n,), float64
        The receiver's output at the codec's rate (Opus: it lags by the
        encoder's pre-skip, as an RTP receiver does).
    """
    av = _av()
    name, fs, how = CODECS[enc.codec]
    n = int(PACKET_S * fs)
    dec = av.CodecContext.create(name, "r")
    dec.sample_rate = fs
    dec.layout = "mono"
    dec.open()
    parts: list[np.ndarray] = []
    for k, p in enumerate(enc.packets):
        is_lost = k < len(lost) and bool(lost[k])
        if is_lost and how == "zero-fill":
            parts.append(np.zeros(n))
            continue
        pkt = av.Packet(p[:1] if is_lost else p)
        pkt.pts = k * n
        got = [_to_float(f) for f in dec.decode(pkt)]
        parts.append(np.concatenate(got) if got else np.zeros(0))
    return np.concatenate(parts)


def loss_pattern(n_packets: int, loss_pct: float, kind: str, rng: np.random.Generator, *,
                 mean_burst: float = 3.0) -> np.ndarray:
    """Which packets are lost: ``"random"`` (Bernoulli) or ``"bursty"`` (2-state Gilbert).

    Bursty: q = 1 / mean_burst (bad -> good), p = rate * q / (1 - rate)
    (good -> bad), so the long-run loss rate is ``loss_pct`` and bursts
    last ``mean_burst`` packets on average. The first and last 5 packets are
    never lost (the reference's silent lead-in and tail).
    """
    rate = loss_pct / 100.0
    lost = np.zeros(n_packets, dtype=bool)
    if rate <= 0:
        return lost
    if kind == "random":
        lost = rng.random(n_packets) < rate
    elif kind == "bursty":
        q = 1.0 / mean_burst
        p = rate * q / (1.0 - rate)
        state = rng.random() < rate
        u = rng.random(n_packets)
        for i in range(n_packets):
            lost[i] = state
            state = (u[i] >= q) if state else (u[i] < p)
    else:
        raise ValueError(f"unknown loss pattern {kind!r}")
    lost[:5] = lost[-5:] = False
    return lost


def burst_ratio(lost: np.ndarray) -> float:
    """G.107 BurstR of a loss pattern: 1 / (p + q) from its transition counts (1 for random)."""
    a, b = lost[:-1], lost[1:]
    n0, n1 = int(np.sum(~a)), int(np.sum(a))
    if n0 == 0 or n1 == 0:
        return 1.0
    p = np.sum(~a & b) / n0
    q = np.sum(a & ~b) / n1
    return float(1.0 / (p + q)) if p + q > 0 else 1.0
