"""One fault, one event: fold the side effects of a fault into its main event.

A concealed or attenuated loss often leaves a little residual on either side
of the dropout, and a level dip a little waveform error at its edges. Those
are the same fault seen by two detectors. Per channel, dropouts that overlap,
or lie within ``merge_s`` of each other when they are not both runs of digital
zeros (a fill into a noise floor near half an LSB, read both as a dropout into
the noise and as runs of digital zeros inside it; the dropout detector merges
its own power-based spans by the same 5 ms), become the longest of them. Two
runs of digital zeros apart are two fills (two lost 1 ms packets 3 ms apart).
A glitch or level event within ``gap_s`` of a dropout or
silence is folded into it, and a glitch within ``gap_s`` of a level event is
folded into that. A splice (the receiver cut or inserted audio there) is an
edit of its own and is never folded into another.

A concealed packet (:mod:`validator.detectors.concealment`) comes first: the
dropouts into the concealment's fade, the glitches and the level dips that lie
within it and the decoder's recovery after it (:data:`RECOVERY_S`) are its
side effects and are folded into it, which keeps its span on the packet grid.
Where the receiver wrote digital zeros, or near-silence, over half a concealed
packet or more, or where a dropout spans it, that record of the loss stands and
the concealment is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from validator.detectors.common import packet_note
from validator.result import Event

#: A decoder's recovery after a concealed packet: up to this long after it, s (Opus stays
#: 12-18 dB low for up to 45 ms after a concealed loss on a speech onset).
RECOVERY_S = 0.045
#: A dropout that spans a concealed packet to within this, s, stands for it.
EDGE_S = 0.001
#: Which event types a concealed packet absorbs.
CONCEALMENT_ABSORBS = ("dropout", "level", "glitch")

#: Which event types absorb which, strongest first.
ABSORBS = {
    "silence": ("dropout", "level", "glitch"),
    "dropout": ("level", "glitch"),
    "level": ("glitch",),
}


def consolidate(events: list[Event], *, gap_s: float = 0.010,
                merge_s: float = 0.005, edits: Sequence[Event] = (),
                concealed: Sequence[Event] = ()) -> list[Event]:
    """Fold secondary events into the main event of the same fault.

    Parameters
    ----------
    events : list of Event
    gap_s : float
        Events closer than this (s) belong to the same fault.
    merge_s : float
        Dropouts closer than this (s) are one dropout, unless both are runs of
        digital zeros (``level_db`` -120).
    edits : sequence of Event
        The receiver's splices among ``events``: edits of their own, never
        folded into another event (an insert spans the inserted samples, so
        its length does not tell; a receiver may cut every 1.5 ms).
    concealed : sequence of Event
        The concealed packets among ``events``: they absorb the side effects
        within them and their recovery, keep their span, and are never folded
        into another event.

    Returns
    -------
    list of Event
        Sorted by start time; absorbed events are gone, the main event spans
        them all and its description says how many it absorbed.
    """
    events, concealed = _fold_into_concealed(list(events), concealed, tol_s=gap_s)
    edit_ids = {id(e) for e in edits} | {id(e) for e in concealed}
    out = _join_close(events, "dropout", merge_s, edit_ids)
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
    """Join close dropouts of one channel into the longest of them.

    Events of type ``kind`` that overlap, or lie within ``gap_s`` and are not
    both digital zeros (level -120 dB), are one event.
    """

    def spans(e: Event) -> bool:  # a splice is an edit of its own
        return e.type == kind and e.end_sample > e.start_sample and id(e) not in edit_ids

    out = [e for e in events if not spans(e)]
    by_channel: dict[int, list[Event]] = {}
    for e in events:
        if spans(e):
            by_channel.setdefault(e.channel, []).append(e)
    for evs in by_channel.values():
        evs.sort(key=lambda e: (e.start_sample, e.end_sample))
        groups: list[list[Event]] = []
        for e in evs:
            linked = [g for g in groups[-8:] if _close(g, e, gap_s)]
            for g in linked[1:]:
                linked[0].extend(g)
            if len(linked) > 1:  # (else no group goes: a pass over all of them per event
                # is quadratic in a capture with thousands of dropouts)
                groups = [g for g in groups if not any(g is h for h in linked[1:])]
            if linked:
                linked[0].append(e)
            else:
                groups.append([e])
        out.extend(g[0] if len(g) == 1 else _longest_spanning(g) for g in groups)
    return out


def _close(group: list[Event], e: Event, gap_s: float) -> bool:
    """``e`` overlaps ``group``, or lies within ``gap_s`` and not both are digital zeros."""
    end_s = max(g.end_s for g in group)
    if e.start_s < end_s:
        return True
    zeros = e.level_db <= -120.0 and all(g.level_db <= -120.0 for g in group)
    return not zeros and e.start_s <= end_s + gap_s


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


def _fold_into_concealed(events: list[Event], concealed: Sequence[Event], *,
                         tol_s: float) -> tuple[list[Event], list[Event]]:
    """Fold each concealed packet's side effects into it; drop those the receiver zeroed.

    Digital zeros (a dropout at -120 dB) or a silence over half a
    concealment or more, or a dropout that spans it (to within
    :data:`EDGE_S`; the received audio is absent there, and the dropout's
    edges are the samples where it went), remove the concealment. Otherwise
    a dropout (not of
    digital zeros: those stand as the receiver's record), level or glitch
    event of the same channel is absorbed when it ends no earlier than
    ``tol_s`` before the concealment and no later than :data:`RECOVERY_S`
    after it, and starts no earlier than ``tol_s`` or the concealment's own
    length before it (the 16 ms frames of the glitch test spread a span by
    up to that much). The concealment keeps its span and its description
    counts what it absorbed.

    Returns the events (the concealments kept among them) and those concealments.
    """
    if not concealed:
        return events, []
    conc_ids = {id(c) for c in concealed}
    others = [e for e in events if id(e) not in conc_ids]
    gone: set[int] = set()
    out_conc: list[Event] = []
    for c in concealed:
        zeroed = sum(max(0, min(e.end_sample, c.end_sample) - max(e.start_sample, c.start_sample))
                     for e in others if e.channel == c.channel and (
                         e.type == "silence" or (e.type == "dropout" and e.level_db <= -120.0)))
        if 2 * zeroed >= c.end_sample - c.start_sample:
            continue  # the receiver's own record of the loss
        if any(e.channel == c.channel and e.type == "dropout"
               and e.start_s <= c.start_s + EDGE_S and e.end_s >= c.end_s - EDGE_S
               for e in others):
            continue  # a dropout spans it: the packet's audio is absent, to the sample
        side = [e for e in others if e.channel == c.channel and e.type in CONCEALMENT_ABSORBS
                and e.end_sample > e.start_sample and id(e) not in gone
                and not (e.type == "dropout" and e.level_db <= -120.0)
                and e.start_s >= c.start_s - max(tol_s, c.end_s - c.start_s)
                and e.end_s >= c.start_s - tol_s and e.end_s <= c.end_s + RECOVERY_S]
        gone.update(id(e) for e in side)
        if side:
            k = len(side)
            c = replace(c, description=f"{c.description}; with {k} side effect"
                                       f"{'s' if k > 1 else ''} of the same fault (the "
                                       "concealment and the decoder's recovery) folded in")
        out_conc.append(c)
    return [e for e in others if id(e) not in gone] + out_conc, out_conc
