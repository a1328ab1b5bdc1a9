"""Dropouts: spans where the expected signal is present but the received is not.

Two sources, merged: runs of digital zeros (a receiver's zero-fill, located to
the sample) and frames where the expected signal is gone (attenuated or
noise-filled loss). A frame has lost its signal when its received power falls
at least ``dropout_depth_db`` below the expected level (the Frontline AES
definition: an RMS fall from above a measurement threshold to below a
silence threshold and back), or when its *presence* - the projection of the
received frame on the expected one, ``g = <y, x> / <x, x>`` - falls below
the same depth as an amplitude ratio. A power test alone cannot see a gap that
additive noise fills: at 20 dB SNR the gap is exactly 20 dB down. The
projection is 0 there whatever the noise (FIELD-NOTES, "presence beats power
at the noise floor").
"""

from __future__ import annotations

import numpy as np

from validator.detectors.activity import Activity
from validator.detectors.common import Frames, merge_spans, packet_note, ratio_db, runs
from validator.detectors.features import ChannelFeatures
from validator.detectors.glitch import residual_floor
from validator.detectors.settings import DetectorSettings
from validator.result import Event

#: Attenuated spans closer than this are one dropout, s.
MERGE_S = 0.005
#: The presence test is used where the residual floor lies at least this far below the
#: expected signal, dB (negative).
PRESENCE_FLOOR_DB = -10.0
#: A frame whose expected signal is absent is a dropout only when the received is also at
#: least this much quieter than expected, dB (negative): noise in a gap is as loud as the SNR
#: allows, other content in its place is not quieter.
ABSENT_QUIETER_DB = -7.0


def detect_dropouts(cf: ChannelFeatures, act: Activity, fr: Frames,
                    settings: DetectorSettings) -> list[Event]:
    """Find dropouts on one channel.

    Parameters
    ----------
    cf : ChannelFeatures
        The channel's 1 ms frame powers (``p_y`` received, ``p_x`` expected,
        ``p_e`` residual; float32, shape ``(n_frames,)``, full scale 1.0),
        its projection ``p_yr`` and its sample-exact runs of digital zeros
        (``zero_runs``: ``(start, end)`` received samples).
    act : Activity
        Which frames are judged (``act.active``, bool, shape ``(n_frames,)``).
    fr : Frames
        Sample rate (Hz), frame length (samples) and channel of the events.
    settings : DetectorSettings
        Uses ``min_dropout_ms`` (shortest dropout, ms) and
        ``dropout_depth_db`` (fall below the expected level, dB).

    Returns
    -------
    list of Event
        ``type="dropout"``, sample-exact for zero runs and to the 1 ms frame
        for attenuated or noise-filled loss; ``level_db`` is the received
        level relative to the expected level over the span, dB (-120 for
        digital zeros).

    References
    ----------
    .. [1] The Frontline AES dropout definition (see the module docstring): an
       RMS fall from above a measurement threshold to below a silence
       threshold and back.
    .. [2] The presence projection is a least-squares gain per frame, as in
       IEEE 1057-2017's sine fit (here against the expected waveform).
    """
    fs, flen = fr.sample_rate_hz, fr.frame_len
    n_frames = len(cf.p_y)
    min_len = max(int(np.ceil(settings.min_dropout_ms * fs / 1000.0)), 1)
    zero_spans: list[tuple[int, int]] = []
    for s, e in cf.zero_runs:
        if e - s < min_len:
            continue
        a, b = s // flen, min(-(-e // flen), n_frames)
        # trim ends where the reference itself is quiet (speech edges decode to zeros); a frame
        # the run covers only in part owes its activity partly to samples outside the run, so
        # it goes with its quiet neighbour inside the run (speech ending just before a fill)
        if s % flen and a + 1 < b and not act.active[a + 1]:
            a += 1
        if e % flen and b - 2 > a and not act.active[b - 2]:
            b -= 1
        while a < b and not act.active[a]:
            a += 1
        while b > a and not act.active[b - 1]:
            b -= 1
        s2, e2 = max(s, a * flen), min(e, b * flen)
        if e2 - s2 >= min_len and act.active[a:b].mean() >= 0.5:
            zero_spans.append((s2, e2))
    # the presence test holds only where the waveform is matched well enough to measure it:
    # the residual floor at the frame's level (codec noise, additive noise) at least
    # PRESENCE_FLOOR_DB below the expected signal; a perceptual codec's quiet frames are not
    floor = residual_floor(cf, act, np.zeros(n_frames, dtype=bool))
    with np.errstate(divide="ignore", invalid="ignore"):
        fall = cf.p_y < cf.p_x * 10.0 ** (-settings.dropout_depth_db / 10.0)
        measurable = floor <= cf.p_x * 10.0 ** (PRESENCE_FLOOR_DB / 10.0)
        # absent and quieter: a frame that holds other content at the expected level (a
        # repeated packet of speech) is a glitch, not a dropout
        absent = measurable & (cf.presence() < 10.0 ** (-settings.dropout_depth_db / 20.0)) \
            & (cf.p_y < cf.p_x * 10.0 ** (ABSENT_QUIETER_DB / 10.0))
        deep = act.active & (fall | absent)
    for s, e in zero_spans:  # frames a zero run touches are explained by it, to the sample
        deep[s // flen:-(-e // flen)] = False
    deep_spans = [(a * flen, b * flen) for a, b in runs(deep)]
    # frame-based (attenuated) spans a few ms apart are one event; zero runs are exact
    deep_spans = merge_spans(deep_spans, gap=int(MERGE_S * fs))
    spans = [sp for sp in deep_spans if sp[1] - sp[0] >= min_len]
    events = []
    for s, e in merge_spans(zero_spans + spans, gap=0):
        a, b = s // flen, -(-e // flen)
        lvl = ratio_db(float(cf.p_y[a:b].sum()), float(cf.p_x[a:b].sum()))
        zero = any(zs <= s and ze >= e for zs, ze in zero_spans)
        d = (e - s) / fs
        if zero:
            what = "digital zeros"
        elif lvl > -settings.dropout_depth_db:
            what = f"expected signal absent, noise {lvl:.1f} dB re expected level"
        else:
            what = f"signal {lvl:.1f} dB below expected"
        events.append(fr.event("dropout", s, e, -120.0 if zero else lvl,
                               f"{d * 1000:.1f} ms dropout, {what}{packet_note(d)}"))
    return events
