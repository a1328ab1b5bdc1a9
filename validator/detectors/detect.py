"""All detectors of one capture, in order, and the events they agree on.

:func:`detect_events` runs, per channel, silence, dropouts, level changes,
glitches and clipping (each on the frames the ones before have not already
explained), then takes a sample-level second look at short glitches (a
dropout into noise, :mod:`validator.detectors.refine`), adds the receiver's
splices (:mod:`validator.detectors.splice`) and folds the side effects of
one fault into its main event (:mod:`validator.detectors.consolidate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from validator.align.channels import ChannelAlignments
from validator.detectors.activity import Activity
from validator.detectors.clipping import detect_clipping
from validator.detectors.common import Frames, span_mask
from validator.detectors.concealment import (
    begins_on_grid,
    detect_concealment,
    grid_offset,
    packet_samples,
    rise_db,
)
from validator.detectors.consolidate import consolidate
from validator.detectors.dropout import detect_dropouts
from validator.detectors.features import ChannelFeatures, Features
from validator.detectors.glitch import detect_glitches, residual_floor
from validator.detectors.level import detect_level_changes
from validator.detectors.refine import gap_in_noise, reference_silent, surely_not_silent
from validator.detectors.settings import DetectorSettings
from validator.detectors.silence import detect_silence
from validator.detectors.splice import splice_events
from validator.io.audio import AudioSource
from validator.result import Event

#: Glitches up to this long get a sample-level look for a dropout into the noise, s.
REFINE_MAX_S = 0.2
#: Samples read either side of a glitch for that look, s.
REFINE_MARGIN_S = 0.02
#: At most this many glitches are looked at again (the rest keep their frame-level span).
MAX_REFINED = 2000
#: Concealments whose starts place the packet grid to the sample (per channel, at most).
MAX_GRID_SAMPLES = 200


def detect_events(received: AudioSource, aligns: ChannelAlignments, feats: Features,
                  acts: Sequence[Activity], settings: DetectorSettings, *,
                  covered: np.ndarray | None = None,
                  tonal: Sequence[float | None] | None = None) -> list[Event]:
    """Every event of one capture, on the received timeline.

    Parameters
    ----------
    received : AudioSource
        The received audio (read again for the sample-level second look).
    aligns : ChannelAlignments
        Each channel's alignment to its reference channel.
    feats : Features
        The 1 ms frame features of the one streaming pass (not modified).
    acts : sequence of Activity
        Each channel's activity (:func:`~validator.detectors.activity.measure_activity`).
    settings : DetectorSettings
    covered : np.ndarray, shape=(n_frames,), bool, optional
        Frames that may be judged (default ``feats.covered``).
    tonal : sequence of float or None, optional
        Each channel's reference tone, Hz (None: not a steady tone). Concealed
        packets are sought only on channels whose reference is not a steady
        tone: on a tone the glitch detector sees a concealment's phase or
        level jump to the sample, and a packet grid adds nothing.

    Returns
    -------
    list of Event
        Sorted by start time, then channel.
    """
    covered = feats.covered if covered is None else covered
    events: list[Event] = []
    concealed: list[Event] = []
    for ch, cf in enumerate(feats.channels):
        steady = tonal is not None and tonal[ch] is not None
        found, conc = _detect_channel(cf, acts[ch], feats, ch, settings, covered,
                                      by_sound=not steady)
        events.extend(found)
        if steady:
            continue
        concealed.extend(_on_sample_grid(conc, received, aligns, feats,
                                         packet_samples(settings, feats.sample_rate_hz)))
    events = _refine_glitches(events, received, aligns, feats, settings)
    splices: list[Event] = []
    for ch, m in enumerate(aligns.models):
        splices.extend(splice_events(m, feats, events, channels=(ch,)))
    return consolidate(events + splices + concealed, edits=splices, concealed=concealed)


def _detect_channel(cf: ChannelFeatures, act: Activity, feats: Features, ch: int,
                    settings: DetectorSettings, covered: np.ndarray, *, by_sound: bool = False
                    ) -> tuple[list[Event], list[Event]]:
    """Silence, dropouts, level changes, glitches and clipping of one channel; concealments.

    Returns the events of the first five detectors, and the concealed packets
    (on the grid to the frame) apart. ``by_sound`` (not for a steady tone):
    the glitch floor also follows the codec's error on the sound around
    each frame (:func:`~validator.detectors.glitch.local_floor`),
    spans that keep the waveform are the codec's, and a frame-level dropout
    must have the waveform matched beside it
    (:func:`~validator.detectors.dropout.matched_beside`).
    """
    fr = Frames(feats.sample_rate_hz, feats.frame_len, ch)
    n_frames, flen = feats.n_frames, feats.frame_len
    # one block of a long capture: every detector's residual floor is the capture's curve at
    # each frame's level, whatever frames it leaves out, so it is computed once
    floor = None if act.floor_curve is None else residual_floor(cf, act, ~covered)
    silence = detect_silence(cf, act, fr, settings)
    sil_mask = span_mask([(e.start_sample, e.end_sample) for e in silence], n_frames, flen)
    dropouts = [e for e in detect_dropouts(cf, act, fr, settings, by_sound=by_sound,
                                           floor=floor)
                if not sil_mask[e.start_sample // flen:-(-e.end_sample // flen)].any()]
    spans = [(e.start_sample, e.end_sample) for e in silence + dropouts]
    excl = span_mask(spans, n_frames, flen, pad_frames=2)
    level = detect_level_changes(cf, act, fr, settings, excl, floor=floor)
    spans += [(e.start_sample, e.end_sample) for e in level]
    excl = span_mask(spans, n_frames, flen, pad_frames=2)
    glitches = detect_glitches(cf, act, fr, settings, excl | ~covered, by_sound=by_sound,
                               floor=floor)
    clipping = detect_clipping(cf, fr, settings)
    # frames that hold digital zeros are the receiver's own record of a loss (a dropout):
    # a concealment is judged on the rest
    zeros = span_mask(list(cf.zero_runs), n_frames, flen)
    act_c = replace(act, active=act.active & covered & ~zeros & ~sil_mask)
    concealed = detect_concealment(cf, act_c, fr, settings,
                                   residual_floor(cf, act_c, sil_mask) if floor is None
                                   else floor)
    return silence + dropouts + level + glitches + clipping, concealed


def _on_sample_grid(concealed: list[Event], rec: AudioSource, aligns: ChannelAlignments,
                    feats: Features, packet_samples: int) -> list[Event]:
    """Concealments of one channel moved onto their packet grid placed to the sample.

    The residual rises sharply where a concealment begins (measured on Opus:
    from -10 to +1 dB re signal within 0.5 ms). Samples are read around
    each start (half a packet either side); the one offset that all starts
    share is found by :func:`~validator.detectors.concealment.grid_offset`
    from at most :data:`MAX_GRID_SAMPLES` of them, and a concealment whose
    own sharpest rise is not on the grid line is dropped
    (:func:`~validator.detectors.concealment.begins_on_grid`): a fault that
    begins inside a packet, such as a gap, is left to the other detectors.
    """
    if not concealed:
        return []
    flen, ch, fs = feats.frame_len, concealed[0].channel, feats.sample_rate_hz
    reach = max(packet_samples // 2, flen)
    rises: list[np.ndarray | None] = []
    for e in concealed:
        a, b = e.start_sample - reach - flen, e.start_sample + reach + flen
        if a < 0 or b > rec.frames:
            rises.append(None)
            continue
        rises.append(rise_db(rec.read(a, b - a)[:, ch].astype(np.float64),
                             aligns.expected(ch, a, b), flen, reach))
    dt = grid_offset([r for r in rises if r is not None][:MAX_GRID_SAMPLES], flen)
    out = []
    for e, r in zip(concealed, rises, strict=True):
        if r is not None and not begins_on_grid(r, dt, flen):
            continue
        s, t = max(e.start_sample + dt, 0), min(e.end_sample + dt, feats.n_samples)
        out.append(replace(e, start_sample=s, end_sample=t, start_s=s / fs, end_s=t / fs))
    return out


def _expected_power_floor(feats: Features, e: Event) -> float:
    """A lower bound of the expected signal's mean power over an event's samples.

    The expected power of the frames wholly inside ``[start_sample, end_sample)``
    (``p_x``, full-scale units squared per sample), summed, over the span's
    length; 0 when no frame lies wholly inside.
    """
    flen = feats.frame_len
    f0, f1 = -(-e.start_sample // flen), e.end_sample // flen
    if f1 <= f0:  # (also when the span is empty)
        return 0.0
    px = feats.channels[e.channel].p_x[f0:f1]
    return float(np.sum(px, dtype=np.float64)) * flen / (e.end_sample - e.start_sample)


def _refine_glitches(events: list[Event], rec: AudioSource, aligns: ChannelAlignments,
                     feats: Features, settings: DetectorSettings) -> list[Event]:
    """Second look at short events at the sample level.

    A run of digital zeros where the reference itself is near-silent is no
    dropout and is dropped. Glitches and attenuated dropouts of one channel
    closer than 5 ms form one cluster; if the
    received signal fell to the noise floor inside it (see
    :mod:`validator.detectors.refine`), the cluster's events there become one
    dropout with sample-level edges.
    """
    fs = feats.sample_rate_hz
    margin = int(REFINE_MARGIN_S * fs)
    gap = int(0.005 * fs)

    def candidate(e: Event) -> bool:
        return (e.type == "glitch" or (e.type == "dropout" and e.level_db > -120.0)) \
            and e.duration_s <= REFINE_MAX_S

    out = []
    for e in events:
        if e.type == "dropout" and e.level_db <= -120.0 and e.duration_s <= REFINE_MAX_S \
                and not surely_not_silent(_expected_power_floor(feats, e), settings):
            # (the frames inside the run already show most runs' reference loud: an hour
            # with 1800 zero fills reads none of their samples)
            x = aligns.expected(e.channel, e.start_sample, e.end_sample)
            if reference_silent(x, settings):
                continue  # the reference holds (near-)zeros there too: nothing was lost
        if not candidate(e):
            out.append(e)
    cands = sorted((e for e in events if candidate(e)), key=lambda e: (e.channel, e.start_sample))
    clusters: list[list[Event]] = []
    for e in cands:
        if clusters and clusters[-1][-1].channel == e.channel and \
                e.start_sample <= max(c.end_sample for c in clusters[-1]) + gap:
            clusters[-1].append(e)
        else:
            clusters.append([e])
    for i, cl in enumerate(clusters):
        if i >= MAX_REFINED:
            out.extend(cl)
            continue
        ch = cl[0].channel
        s, t = min(e.start_sample for e in cl), max(e.end_sample for e in cl)
        a, b = s - margin, t + margin
        drop = gap_in_noise(rec.read(a, b - a)[:, ch], aligns.expected(ch, a, b),
                            Frames(fs, feats.frame_len, ch), origin=a, settings=settings,
                            core=(s, t))
        flen = feats.frame_len
        cover = 0 if drop is None else \
            (-(-drop.end_sample // flen) - drop.start_sample // flen) * flen  # frames it touches
        if drop is None or cover < 0.5 * (t - s):
            # no gap, or a gap that is only the tail of a concealment fading out
            out.extend(cl)
            continue
        out.append(drop)
        # keep what lies clearly outside the gap (another fault nearby)
        out.extend(e for e in cl if e.end_sample < drop.start_sample - gap
                   or e.start_sample > drop.end_sample + gap)
    out.sort(key=lambda e: (e.start_s, e.channel, e.type))
    return out
