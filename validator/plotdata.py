"""Data for the report's plots, decimated: level traces, envelopes, spectra, event zooms.

Measurement, not rendering: the HTML renderer draws what this returns and
computes nothing itself. Everything is decimated here so that the report of an
hour-long capture stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from validator.align.channels import ChannelAlignments
from validator.detectors.common import power_dbfs
from validator.detectors.features import Features
from validator.detectors.metrics import blackmanharris
from validator.io.audio import AudioSource
from validator.result import ChannelPlot, Event, EventZoom, PlotData, Trace

if TYPE_CHECKING:  # pragma: no cover
    from validator.detectors.blocks import Summary

#: Context shown either side of a zoomed event, s.
ZOOM_PAD_S = 0.005
#: Longest zoom window, s.
ZOOM_MAX_S = 0.15
#: Points at most per zoomed trace.
ZOOM_POINTS = 2000


class TraceSums:
    """Level traces for plots, summed block by block: received, expected and residual power.

    Frames are grouped by ``per`` (at least 10 ms, at most ``max_points``
    groups over the capture), and each group's mean power becomes one point.

    Parameters
    ----------
    n_frames : int
        Frames in the whole capture.
    channels : int
    frame_s : float
        Frame length, s.
    max_points : int
        Points per trace at most.
    """

    def __init__(self, n_frames: int, channels: int, frame_s: float, *,
                 max_points: int = 4000) -> None:
        self.per = max(10, -(-n_frames // max_points))
        self.n_groups = n_frames // self.per
        self.frame_s = frame_s
        self.sums = np.zeros((channels, 3, self.n_groups))

    def block_sums(self, feats: Features, ch: int, *, frame0: int = 0,
                   core_frames: tuple[int, int] | None = None) -> np.ndarray:
        """Channel ``ch``'s sums of frames ``core_frames`` of ``feats``, shape (3, groups).

        Capture frame ``frame0`` is frame 0 of ``feats``; add the result to
        ``sums[ch]`` (blocks in order).
        """
        cf = feats.channels[ch]
        f0, f1 = core_frames or (0, feats.n_frames)
        groups = (np.arange(f0, f1) + frame0) // self.per
        keep = groups < self.n_groups
        return np.stack([np.bincount(groups[keep], p[f0:f1][keep].astype(np.float64),
                                     minlength=self.n_groups)
                         for p in (cf.p_y, cf.p_x, cf.p_e)])

    def trace(self, ch: int) -> Trace:
        """The channel's decimated level trace (dBFS; residual in dB re full scale)."""
        if self.n_groups == 0:
            return Trace(ch, self.per * self.frame_s, (), (), ())

        def agg(row: int) -> tuple[float, ...]:
            return round_values(power_dbfs(self.sums[ch, row] / self.per), 2)

        return Trace(ch, self.per * self.frame_s, agg(0), agg(1), agg(2))


def plot_data(summary: Summary, rec: AudioSource, aligns: ChannelAlignments,
              events: list[Event], tonal: list[float | None], zoom_events: int) -> PlotData:
    """Decimated envelopes, spectra and event zooms for the HTML report.

    Parameters
    ----------
    summary : Summary
        What the detection pass kept: per-channel envelopes (min/max per
        bin) and the received excerpts.
    rec : AudioSource
        The received audio, read again around each zoomed event.
    aligns : ChannelAlignments
        Gives the expected (aligned, gain-matched reference) waveform.
    events : list of Event
        Events on the received timeline; the first ``zoom_events`` are zoomed.
    tonal : list of float or None
        Each channel's reference tone, Hz (None: not a steady tone).
    zoom_events : int
        How many events get a zoomed waveform (received and expected, with
        :data:`ZOOM_PAD_S` either side, at most :data:`ZOOM_MAX_S`).

    Returns
    -------
    PlotData
        Plain numbers only (tuples of float: dBFS envelopes, Hz and dB
        spectra, samples in full-scale units), so that renderers draw
        without computing.
    """
    fs = summary.sample_rate_hz
    excerpts = summary.excerpts
    chans = []
    for ch, env in enumerate(summary.envelopes):
        freqs: tuple[float, ...] = ()
        spec_y: tuple[float, ...] = ()
        spec_x: tuple[float, ...] = ()
        ev = [e for e in events if e.channel == ch]
        clean = [(s, y) for s, y in excerpts
                 if not any(e.start_sample < s + len(y) and e.end_sample > s for e in ev)]
        pick = (clean or excerpts)[len(clean or excerpts) // 2] if excerpts else None
        if pick is not None:
            s, y = pick
            x = aligns.expected(ch, s, s + len(y))
            freqs, spec_y = _spectrum(y[:, ch], fs)
            _, spec_x = _spectrum(x, fs)

        chans.append(ChannelPlot(ch, summary.envelope_bin / fs, round_values(env[0], 5),
                                 round_values(env[1], 5), round_values(env[2], 5),
                                 round_values(env[3], 5), freqs, spec_y, spec_x, tonal[ch]))
    zooms = []
    pad = int(ZOOM_PAD_S * fs)
    longest = int(ZOOM_MAX_S * fs)
    for i, e in enumerate(events[:max(zoom_events, 0)]):
        a = max(e.start_sample - pad, 0)
        b = min(max(e.end_sample, e.start_sample + 1) + pad, a + longest, rec.frames)
        if b <= a:
            continue
        y = rec.read(a, b - a)[:, e.channel]
        x = aligns.expected(e.channel, a, b)
        step = max(1, (b - a) // ZOOM_POINTS)
        zooms.append(EventZoom(i, e.channel, a / fs, step / fs, round_values(y[::step], 5),
                               round_values(x[::step], 5)))
    return PlotData(tuple(chans), tuple(zooms))


def _spectrum(y: np.ndarray, fs: int, *, points: int = 1024) -> tuple[tuple[float, ...],
                                                                       tuple[float, ...]]:
    """Peak-held magnitude spectrum in dB re full scale (Blackman-Harris), at most ``points``."""
    n = len(y)
    win = blackmanharris(n)
    mag = np.abs(np.fft.rfft(y * win)) * 2 / win.sum()
    db = 20 * np.log10(np.maximum(mag, 1e-7))
    f = np.fft.rfftfreq(n, 1 / fs)
    group = max(1, -(-len(db) // points))
    m = len(db) // group * group
    db_g = db[:m].reshape(-1, group).max(axis=1)
    f_g = f[:m].reshape(-1, group)[:, 0]
    return round_values(f_g, 2), round_values(db_g, 2)


def round_values(a: np.ndarray, digits: int) -> tuple[float, ...]:
    """``tuple(round(float(v), digits) for v in a)``, the same floats, vectorised.

    Parameters
    ----------
    a : np.ndarray, shape=(n,), float
    digits : int
        Decimal places, 0 to 15.

    Returns
    -------
    tuple of float

    Notes
    -----
    Python's ``round(x, d)`` is the double nearest to ``x`` rounded to ``d``
    decimals (half to even, on the exact binary value): ``K / 10**d`` with
    ``K`` that integer, a correctly rounded division by an exact power of ten.
    ``K`` is ``rint(x * 10**d)`` unless the product's own rounding may cross a
    half (it lies within a few units in the last place of one), it is too
    large for an exact integer, or ``x`` is not finite: those values, rare,
    go through ``round`` itself. A report holds tens of thousands of plot
    values, and ``round`` costs about a microsecond each.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    scale = 10.0 ** digits
    t = x * scale
    k = np.rint(t)
    out = k / scale
    with np.errstate(invalid="ignore"):
        doubt = ~(np.abs(t) < 2.0 ** 50) | (np.abs(t - k) > 0.5 - 8 * np.spacing(np.abs(t)))
    for i in np.flatnonzero(doubt).tolist():
        out[i] = round(float(x[i]), digits)
    return tuple(out.tolist())
