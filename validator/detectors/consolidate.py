"""One fault, one event: fold the side effects of a fault into its main event.

A concealed or attenuated loss often leaves a little residual on either side
of the dropout, and a level dip a little waveform error at its edges. Those
are the same fault seen by two detectors. Per channel, dropouts that overlap
or lie within ``merge_s`` of each other (a fill into a noise floor near half an
LSB, read both as a dropout into the noise and as runs of digital zeros inside
it; the dropout detector merges its own spans by the same 5 ms) become the
longest of them; a glitch or level event within ``gap_s`` of a dropout or
silence is folded into it, and a glitch within ``gap_s`` of a level event is
folded into that. A splice (the receiver cut or inserted audio there) is an
edit of its own and is never folded into another.
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
                merge_s: float = 0.005, edits: Sequence[Event] = ()) -> list[Event]:
    """Fold secondary events into the main event of the same fault.

    Parameters
    ----------
    events : list of Event
    gap_s : float
        Events closer than this (s) belong to the same fault.
    merge_s : float
        Dropouts closer than this (s) are one dropout.
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
    edit_ids = {id(e) for e in edits}
    out = _join_close(list(events), "dropout", merge_s, edit_ids)
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


def _join_close(events: list[Event], kind: str, gap_s: float,
                edit_ids: set[int]) -> list[Event]:
    """Events of type ``kind`` on one channel within ``gap_s`` become the longest of them."""

    def spans(e: Event) -> bool:  # a splice is an edit of its own
        return e.type == kind and e.end_sample > e.start_sample and id(e) not in edit_ids

    out = [e for e in events if not spans(e)]
    by_channel: dict[int, list[Event]] = {}
    for e in events:
        if spans(e):
            by_channel.setdefault(e.channel, []).append(e)
    for evs in by_channel.values():
        evs.sort(key=lambda e: (e.start_sample, e.end_sample))
        group = [evs[0]]
        for e in evs[1:]:
            if e.start_s <= max(g.end_s for g in group) + gap_s:
                group.append(e)
            else:
                out.append(group[0] if len(group) == 1 else _longest_spanning(group))
                group = [e]
        out.append(group[0] if len(group) == 1 else _longest_spanning(group))
    return out


def _longest_spanning(group: list[Event]) -> Event:
    """The longest event of ``group``, spanning them all, its description saying so."""
    m = max(group, key=lambda e: (e.end_sample - e.start_sample, -e.start_sample))
    start = min(e.start_sample for e in group)
    end = max(e.end_sample for e in group)
    fs = m.end_sample / m.end_s if m.end_s > 0 else 1.0
    d = (end - start) / fs
    k = len(group) - 1
    text = (f"{m.description}; with {k} side effect{'s' if k > 1 else ''} of the same "
            f"fault, {d * 1000:.1f} ms in all{packet_note(d)}")
    return replace(m, start_sample=start, end_sample=end, start_s=start / fs, end_s=end / fs,
                   description=text)
