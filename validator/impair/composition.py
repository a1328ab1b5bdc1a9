"""Composition: several impairments in turn, their truth carried to the final timeline.

Conventions: :mod:`validator.impair.model`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from validator.errors import SignalSpecError
from validator.impair.codec import a_law_round_trip, mu_law_round_trip
from validator.impair.level import (
    add_noise,
    clip,
    dc_offset,
    gain,
    hard_clip,
    invert_polarity,
    near_silence,
    swap_channels,
)
from validator.impair.model import (
    _INT_TOL,
    Fault,
    Impaired,
    _audio,
    _rate,
    _seed,
)
from validator.impair.packet import (
    attenuate,
    click,
    fade_packet,
    packet_loss,
    repeat_packet,
    skip,
    zero_fill,
)
from validator.impair.timing import delay, drift

__all__ = [
    "IMPAIRMENTS",
    "compose",
]


# --------------------------------------------------------------------------- compose

#: Every impairment by name, for :func:`compose` steps and a CLI.
IMPAIRMENTS: Mapping[str, Callable[..., Impaired]] = {
    f.__name__: f
    for f in (
        zero_fill,
        attenuate,
        repeat_packet,
        fade_packet,
        skip,
        packet_loss,
        click,
        clip,
        hard_clip,
        gain,
        near_silence,
        add_noise,
        dc_offset,
        invert_polarity,
        swap_channels,
        delay,
        drift,
        mu_law_round_trip,
        a_law_round_trip,
    )
}


def _position_map(step: Impaired, n_in: int) -> Callable[[float], float]:
    """Map an input-timeline position of one step to its output timeline."""
    splices = sorted(
        (f for f in step.faults if "skipped_samples" in f.detail), key=lambda f: f.start_sample
    )
    delays = [f for f in step.faults if f.kind == "delay"]
    drifts = [f for f in step.faults if f.kind == "drift"]
    if splices:
        removed = 0
        spans = []
        for f in splices:
            u = f.start_sample + removed
            k = int(f.detail["skipped_samples"])
            spans.append((u, u + k))
            removed += k

        def through_skips(p: float) -> float:
            return p - sum(min(max(p - u, 0), v - u) for u, v in spans)

        return through_skips
    if delays:
        d = float(delays[0].detail["delay_samples"])
        return lambda p: p + d
    if drifts:
        r = float(drifts[0].detail["ratio"])
        return lambda p: p * r
    if step.y.shape[0] != n_in:
        raise SignalSpecError(
            "a compose step changed the signal length without a skip, delay or drift fault "
            "describing how; its earlier faults cannot be placed"
        )
    return lambda p: p


def _translate(faults: list[Fault], step: Impaired, n_in: int) -> list[Fault]:
    """Carry earlier faults through one step's timeline and channel changes."""
    n_out = step.y.shape[0]
    fs = step.sample_rate_hz
    pos = _position_map(step, n_in)
    perm: dict[int, int] = {}
    for f in step.faults:
        if f.kind == "channel_swap":
            a, b = f.detail["channels"]
            perm = {a: b, b: a}
    out: list[Fault] = []
    for f in faults:
        a, b = pos(f.start_sample), pos(f.end_sample)
        if f.start_sample == f.end_sample:
            s = e = int(round(a))
            if s > n_out:
                continue
        else:
            s = math.floor(a + _INT_TOL)
            e = min(math.ceil(b - _INT_TOL), n_out)
            if e <= s:
                continue  # skipped or cut away entirely: no longer in the output
        ch = perm.get(f.channel, f.channel) if f.channel is not None else None
        out.append(Fault(f.kind, ch, s, e, s / fs, e / fs, dict(f.detail)))
    return out


def compose(
    y: np.ndarray,
    sample_rate_hz: int,
    steps: Sequence[tuple[Callable[..., Impaired] | str, Mapping[str, Any]]],
    *,
    seed: int = 0,
) -> Impaired:
    """Apply several impairments in turn, keeping all truth on the final timeline.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples, n_channels), float64 in [-1, 1)
        Input audio; not modified.
    sample_rate_hz : int
        Sample rate in Hz.
    steps : sequence of (function or name, kwargs)
        Each step is called as ``function(y, sample_rate_hz, **kwargs)``; a
        name is looked up in :data:`IMPAIRMENTS`. Any callable returning an
        :class:`Impaired` works; one that changes the length must describe it
        with the faults used below.
    seed : int
        Steps that take a ``seed`` and were not given one get a distinct seed
        derived from this one (``np.random.SeedSequence(seed).spawn``).

    Returns
    -------
    Impaired
        The final audio; the faults of all steps in order, each on the final
        timeline.

    Raises
    ------
    AudioFormatError
        Bad ``y``.
    SignalSpecError
        A malformed step, an unknown name, or any error of a step.

    Notes
    -----
    After each step the earlier faults are moved onto its output timeline:
    through deletions (``"skipped_samples"`` in a fault's detail: :func:`skip`
    and ``packet_loss(plc="skip")``) exactly, a fault wholly inside a deleted
    span being dropped; through :func:`delay` by ``+delay_samples``; through
    :func:`drift` by ``x ratio``; spans that land between samples are widened
    to whole samples (floor of the start, ceiling of the end), so they are
    exact for whole-sample delays and within one sample otherwise. A span cut
    off by ``delay(total_s=...)`` is shortened or dropped. :func:`swap_channels`
    renumbers the channels of earlier faults.
    """
    x = _audio(y)
    fs = _rate(sample_rate_hz)
    children = np.random.SeedSequence(_seed(seed)).spawn(len(steps))
    faults: list[Fault] = []
    for i, step in enumerate(steps):
        try:
            fn, kwargs = step
        except (TypeError, ValueError):
            raise SignalSpecError(
                f"step {i} must be a (function, kwargs) pair, got {step!r}"
            ) from None
        if isinstance(fn, str):
            if fn not in IMPAIRMENTS:
                raise SignalSpecError(
                    f"step {i}: unknown impairment {fn!r}; expected one of {sorted(IMPAIRMENTS)!r}"
                )
            fn = IMPAIRMENTS[fn]
        if not callable(fn) or not isinstance(kwargs, Mapping):
            raise SignalSpecError(f"step {i} must be a (function, kwargs) pair, got {step!r}")
        kw = dict(kwargs)
        try:
            takes_seed = "seed" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            takes_seed = False
        if takes_seed and "seed" not in kw:
            kw["seed"] = int(children[i].generate_state(1)[0])
        n_in = x.shape[0]
        try:
            res = fn(x, fs, **kw)
        except TypeError as exc:
            raise SignalSpecError(f"step {i} ({getattr(fn, '__name__', fn)!r}): {exc}") from exc
        if not isinstance(res, Impaired):
            raise SignalSpecError(f"step {i} returned {type(res).__name__!r}, not Impaired")
        faults = _translate(faults, res, n_in)
        faults.extend(res.faults)
        x = res.y
    return Impaired(x, tuple(faults), fs)
