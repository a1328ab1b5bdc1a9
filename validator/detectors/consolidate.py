"""One fault, one event: fold the side effects of a fault into its main event.

A concealed or attenuated loss often leaves a little residual on either side
of the dropout, and a level dip a little waveform error at its edges. Those
are the same fault seen by two detectors. Per channel, a glitch or level
event within ``gap_s`` of a dropout or silence is folded into it, and a
glitch within ``gap_s`` of a level event is folded into that. A splice (the
receiver cut or inserted audio there) is an edit of its own and is never
folded into another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from validator.detectors.common import packet_note
from validator.result import Event

#: Which event types absorb which, strongest first.
ABSORBS = {
    "silence": ("dropout", "level", "glitch"),
    "dropout": ("level", "glitch"),
    "level": ("glitch",),
}


def consolidate(events: list[Event], *, gap_s: float = 0.010,
                edits: Sequence[Event] = ()) -> list[Event]:
    """Fold secondary events into the main event of the same fault.

    Parameters
    ----------
    events : list of Event
    gap_s : float
        Events closer than this (s) belong to the same fault.
    edits : sequence of Event
        The receiver's splices among ``events``: edits of their own, never
        folded into another event (an insert spans the inserted samples, so
        its length does not tell; a receiver may cut every 1.5 ms).

    Returns
    -------
    list of Event
        Sorted by start time; absorbed events are gone, the main event spans
        them all and its description says how many it absorbed.
    """
    out = list(events)
    edit_ids = {id(e) for e in edits}
    for main_type, weaker in ABSORBS.items():
        mains = [e for e in out if e.type == main_type]
        if not mains:
            continue
        keep: list[Event] = []
        absorbed: dict[int, list[Event]] = {}
        for e in out:
            host = None
            if e.type in weaker and e.end_sample > e.start_sample and id(e) not in edit_ids:
                for i, m in enumerate(mains):
                    if (m.channel == e.channel and e.start_s <= m.end_s + gap_s
                            and e.end_s >= m.start_s - gap_s):
                        host = i
                        break
            if host is None:
                keep.append(e)
            else:
                absorbed.setdefault(host, []).append(e)
        for i, side in absorbed.items():
            m = mains[i]
            start = min([m.start_sample] + [e.start_sample for e in side])
            end = max([m.end_sample] + [e.end_sample for e in side])
            fs = m.end_sample / m.end_s if m.end_s > 0 else 1.0
            d = (end - start) / fs
            k = len(side)
            text = (f"{m.description}; with {k} side effect{'s' if k > 1 else ''} of the same "
                    f"fault, {d * 1000:.1f} ms in all{packet_note(d)}")
            keep[keep.index(m)] = replace(m, start_sample=start, end_sample=end,
                                          start_s=start / fs, end_s=end / fs, description=text)
        out = keep
    out.sort(key=lambda e: (e.start_s, e.channel, e.type))
    return out
