"""Helpers shared by the detectors: dB conversions, runs, spans, packet-time wording."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from validator.result import Event, EventType

#: Floor for levels of digital silence, dB.
MIN_DB = -120.0
#: Packet times worth naming in descriptions, most common first (s).
PACKET_TIMES_S = (0.02, 0.03, 0.01, 0.005, 0.001)


def power_dbfs(p: np.ndarray | float) -> np.ndarray:
    """Level in AES17 dBFS of a mean square ``p`` (a full-scale sine has p = 0.5)."""
    return 10.0 * np.log10(np.maximum(2.0 * np.asarray(p, dtype=np.float64), 1e-12))


def dbfs_power(level_dbfs: float) -> float:
    """Mean square of a signal at ``level_dbfs`` (AES17)."""
    return 0.5 * 10.0 ** (level_dbfs / 10.0)


def ratio_db(num: float, den: float) -> float:
    """``10*log10(num/den)`` clamped to [MIN_DB, +120]."""
    if den <= 0:
        return 120.0 if num > 0 else 0.0
    if num <= 0:
        return MIN_DB
    return float(np.clip(10.0 * np.log10(num / den), MIN_DB, 120.0))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index runs where ``mask`` is True."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(),
                    strict=True))


def merge_spans(spans: list[tuple[int, int]], *, gap: int = 0) -> list[tuple[int, int]]:
    """Union of ``[start, end)`` spans, joining spans closer than ``gap``."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def span_mask(spans: list[tuple[int, int]], n_frames: int, frame_len: int, *,
              pad_frames: int = 0) -> np.ndarray:
    """Frames touched by sample spans, widened by ``pad_frames`` on each side."""
    m = np.zeros(n_frames, dtype=bool)
    for s, e in spans:
        a = max(s // frame_len - pad_frames, 0)
        b = min(-(-max(e, s + 1) // frame_len) + pad_frames, n_frames)
        m[a:b] = True
    return m


def packet_note(duration_s: float) -> str:
    """Say when a duration is a whole number of usual packet times (1-30 ms)."""
    for pt in PACKET_TIMES_S:
        k = round(duration_s / pt)
        if 1 <= k <= 50 and abs(duration_s - k * pt) <= max(0.06 * pt, 0.0004):
            return f" ({k} x {pt * 1000:g} ms packet{'s' if k > 1 else ''})"
    return ""


@dataclass(frozen=True)
class Frames:
    """What a detector needs to turn sample spans into events."""

    sample_rate_hz: int
    frame_len: int
    channel: int

    def event(self, kind: EventType, start: int, end: int, level_db: float, text: str) -> Event:
        """Build an event from a ``[start, end)`` sample span."""
        fs = self.sample_rate_hz
        return Event(type=kind, channel=self.channel, start_s=start / fs, end_s=end / fs,
                     level_db=round(float(level_db), 2), description=text,
                     start_sample=int(start), end_sample=int(end))
