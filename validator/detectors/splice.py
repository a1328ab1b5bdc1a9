"""Events where the receiver skipped or inserted audio (the timeline moved).

The alignment (:mod:`validator.align.track`) splits the received file into
segments where the delay jumps. A jump that a dropout next to it does not
already explain is reported here: a ``dropout`` of zero length on the received
timeline where reference audio was skipped (its length in the description), or
a ``glitch`` spanning audio the receiver inserted.
"""

from __future__ import annotations

from collections.abc import Sequence

from validator.align.phase import min_step_samples
from validator.align.track import AlignmentModel
from validator.detectors.features import Features
from validator.result import Event

#: A splice this close to a dropout is the dropout's fill of the wrong length, s (splices
#: are placed to the sample, at the end of a receiver's zero fill; a cut 10 ms before a
#: fill is an edit of its own).
SPLICE_NEAR_S = 0.002


def splice_events(model: AlignmentModel, feats: Features, events: list[Event], *,
                  channels: Sequence[int] | None = None) -> list[Event]:
    """Dropouts where the receiver skipped audio; glitches where it inserted some.

    Parameters
    ----------
    model : AlignmentModel
        Its ``breaks`` and ``offsets`` give where and by how much the delay jumps.
    feats : Features
    events : list of Event
        Events found so far: a splice within ``SPLICE_NEAR_S`` of a dropout or
        silence is that dropout's fill of the wrong length, not a new event.
    channels : sequence of int, optional
        The channels that ``model`` aligns (default: all).

    Returns
    -------
    list of Event
        One per channel and splice. For a steady tone the skipped length is
        known only modulo its period, and the description says so.
    """
    out = []
    fs = feats.sample_rate_hz
    for i, b in enumerate(model.breaks):
        jump = model.offsets[i] - model.offsets[i + 1]  # > 0: reference audio skipped
        tol = int(SPLICE_NEAR_S * fs)
        near = [e for e in events if e.type in ("dropout", "silence")
                and (channels is None or e.channel in channels)
                and e.start_sample - tol <= b <= e.end_sample + tol]
        if near:
            continue  # a fill of slightly wrong length: the dropout already says it
        if abs(jump) < 0.5 and not model.ambiguous_breaks[i]:
            continue  # not a whole sample: no receiver moves audio by a fraction
        if model.period_samples and abs(jump) < min_step_samples(model.period_samples):
            continue  # in a steady tone any step is a cut (known modulo the period), but one
            # this small is the track's own noise
        amb = ""
        if model.ambiguous_breaks[i]:
            amb = ("; the reference is a steady tone, so the length is known only modulo "
                   f"its period ({model.period_samples or 0:.2f} samples)")
        for ch in (range(len(feats.channels)) if channels is None else channels):
            if jump > 0:
                out.append(Event("dropout", ch, b / fs, b / fs, -120.0,
                                 f"receiver skipped {jump:.1f} samples ({jump / fs * 1000:.2f} ms)"
                                 f" of audio here: the timeline shrinks{amb}", b, b))
            else:
                out.append(Event("glitch", ch, b / fs, (b - jump) / fs, 0.0,
                                 f"receiver inserted {-jump:.1f} samples "
                                 f"({-jump / fs * 1000:.2f} ms) here: the timeline grows{amb}",
                                 b, int(b - jump)))
    return out


