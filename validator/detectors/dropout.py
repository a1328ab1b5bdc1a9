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
from validator.orderstats import median
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


#: Frames either side of a frame-level dropout over which the waveform must be matched (5 ms).
CONTEXT_FRAMES = 5
#: A frame-level dropout at a word's edge (no active frame on one side) this long is judged
#: on the other side alone; a shorter one is not (a codec's onset lag), frames.
EDGE_LONG_FRAMES = 10
#: ... matched: residual at least this far under the expected power there, dB, on each side.
CONTEXT_MATCH_DB = -10.0
#: On speech a frame-level dropout must carry sound: its expected power within this of the
#: loudest expected frame within CONTEXT_FRAMES of it, dB (a voiced sound's trough between
#: two pitch pulses lies 10-20 dB under them, and a codec renders it 7-25 dB low).
TROUGH_DB = 10.0


def matched_beside(cf: ChannelFeatures, act: Activity, start_frame: int, end_frame: int, *,
                   lost: np.ndarray | None = None) -> bool:
    """Whether the waveform is matched next to a frame-level dropout, on both sides.

    A lost span is a fall within audio that the receiver reproduced: on each
    side, over the :data:`CONTEXT_FRAMES` active frames next to it (one frame
    out, which may hold part of the loss), the median residual lies
    :data:`CONTEXT_MATCH_DB` or more under the expected power. A codec's own
    error is not: where it substitutes noise for an unvoiced sound (Opus,
    Speex and GSM at low rates, AAC's noise substitution) or errs in the
    quiet between two syllables, the residual on one side at least is about
    as large as the signal (measured on clean speech through Opus at 8-32
    kbit/s, GSM and MP3: -7 to 0 dB), while a gap in reproduced audio has
    -15 dB (Opus voiced speech) to -40 dB (G.711) beside it. A side with no
    active frame (a word's onset or end) gives no evidence: a span shorter
    than :data:`EDGE_LONG_FRAMES` there is not judged (a codec's onset lag
    measured 1-3 ms, 20-29 dB deep, on clean Opus speech), a longer one is
    judged on its other side.

    Parameters
    ----------
    cf : ChannelFeatures
        Frame powers ``p_e`` and ``p_x``, shape ``(n_frames,)``.
    act : Activity
        ``act.active``: frames whose reference is active.
    start_frame, end_frame : int
        The span's frames ``[start_frame, end_frame)``.
    lost : np.ndarray, shape=(n_frames,), bool, optional
        Frames of the same loss (digital zeros, other fallen frames): they are
        no context and are left out.

    Returns
    -------
    bool
    """
    n = len(cf.p_x)
    sides = []
    # the frame next to the span may hold part of the loss: the context starts one further out
    for a, b in ((max(start_frame - 1 - CONTEXT_FRAMES, 0), max(start_frame - 1, 0)),
                 (min(end_frame + 1, n), min(end_frame + 1 + CONTEXT_FRAMES, n))):
        m = act.active[a:b] & (cf.p_x[a:b] > 0)
        if lost is not None:
            m &= ~lost[a:b]
        if m.any():
            with np.errstate(divide="ignore"):
                r = 10 * np.log10(np.maximum(cf.p_e[a:b][m], 1e-30) / cf.p_x[a:b][m])
            sides.append(float(median(r)))
    if len(sides) < 2 and end_frame - start_frame < EDGE_LONG_FRAMES:
        return False
    return not sides or max(sides) <= CONTEXT_MATCH_DB


def carries_sound(cf: ChannelFeatures, start_frame: int, end_frame: int) -> bool:
    """Whether a span's expected signal is a real part of the sound around it.

    The mean expected power over ``[start_frame, end_frame)`` must lie within
    :data:`TROUGH_DB` of the loudest expected frame within
    :data:`CONTEXT_FRAMES` of the span. The 1 ms frames of voiced speech
    swing 20 dB within a pitch period, and a perceptual codec (Opus at 32
    kbit/s, GSM) renders the troughs 7-25 dB low: the pulses
    beside them mask that, and a loss that matters takes a pulse with it.

    Parameters
    ----------
    cf : ChannelFeatures
        ``p_x``, the expected power per frame, shape ``(n_frames,)``.
    start_frame, end_frame : int

    Returns
    -------
    bool
    """
    px = cf.p_x
    lo, hi = max(start_frame - CONTEXT_FRAMES, 0), min(end_frame + CONTEXT_FRAMES, len(px))
    span = float(px[start_frame:end_frame].astype(np.float64).mean()) if end_frame > start_frame \
        else 0.0
    return span > 0 and span >= float(px[lo:hi].max()) * 10 ** (-TROUGH_DB / 10)


def detect_dropouts(cf: ChannelFeatures, act: Activity, fr: Frames,
                    settings: DetectorSettings, *, by_sound: bool = False,
                    floor: np.ndarray | None = None) -> list[Event]:
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
    by_sound : bool
        The reference changes its kind of sound (speech, music; not a steady
        tone): a frame-level dropout is judged only where the waveform is
        matched beside it (:func:`matched_beside`), since a codec's error on
        such a signal depends on the sound, and where it carries sound, not
        a trough between two pitch pulses (:func:`carries_sound`).
    floor : np.ndarray, shape=(n_frames,), float32, optional
        The residual floor (:func:`~validator.detectors.glitch.residual_floor`),
        when the caller has it already; computed here when None.

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
    if floor is None:
        floor = residual_floor(cf, act, np.zeros(n_frames, dtype=bool))
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = 10.0 ** (-settings.dropout_depth_db / 10.0)
        measurable = floor <= cf.p_x * 10.0 ** (PRESENCE_FLOOR_DB / 10.0)
        # a fall counts where the waveform is matched, or where it goes the depth below the
        # codec's own error at that level: a perceptual codec's quiet frames between
        # syllables err by -5 to 0 dB and fall 20-25 dB in a single frame on their own
        fall = (cf.p_y < cf.p_x * depth) & (measurable | (cf.p_y < floor * depth))
        # absent and quieter: a frame that holds other content at the expected level (a
        # repeated packet of speech) is a glitch, not a dropout
        absent = measurable & (cf.presence() < 10.0 ** (-settings.dropout_depth_db / 20.0)) \
            & (cf.p_y < cf.p_x * 10.0 ** (ABSENT_QUIETER_DB / 10.0))
        deep = act.active & (fall | absent)
    lost = deep.copy()
    for s, e in zero_spans:  # frames a zero run touches are explained by it, to the sample
        deep[s // flen:-(-e // flen)] = False
    for s, e in cf.zero_runs:
        lost[s // flen:-(-e // flen)] = True
    deep_spans = [(a * flen, b * flen) for a, b in runs(deep)]
    # frame-based (attenuated) spans a few ms apart are one event; zero runs are exact
    deep_spans = merge_spans(deep_spans, gap=int(MERGE_S * fs))
    spans = [sp for sp in deep_spans
             if sp[1] - sp[0] >= min_len
             and (not by_sound or (matched_beside(cf, act, sp[0] // flen, sp[1] // flen,
                                                  lost=lost)
                                   and carries_sound(cf, sp[0] // flen, sp[1] // flen)))]
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
