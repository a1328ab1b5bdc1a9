"""Names of the quality metrics a user can ask for, parsed without importing them.

``--quality visqol,pesq`` on the command line and ``quality = ["visqol", "pesq"]``
in a profile both go through :func:`parse_metrics`, which imports nothing
heavy: the metrics themselves load only when a score is computed.
"""

from __future__ import annotations

from collections.abc import Iterable

from validator.errors import QualityError

__all__ = ["METRICS", "MODES", "QUALITY_EXTRA", "parse_metrics", "split_metric"]

#: Metric name -> the modes it accepts (the first is the default; ``auto``
#: picks PESQ's band from the capture's sample rate).
MODES: dict[str, tuple[str, ...]] = {
    "visqol": ("speech", "audio"),
    "pesq": ("auto", "wb", "nb"),
}
METRICS: tuple[str, ...] = tuple(MODES)
#: What to install for the metrics.
QUALITY_EXTRA = "pip install 'audio-stream-validator[quality]'"


def split_metric(spec: str) -> tuple[str, str]:
    """``"visqol:audio"`` -> ``("visqol", "audio")`` (a spec from :func:`parse_metrics`)."""
    name, _, mode = spec.partition(":")
    return name, mode or MODES[name][0]


def parse_metrics(specs: str | Iterable[str], *, where: str = "--quality") -> tuple[str, ...]:
    """Canonical metric specs from user text.

    Parameters
    ----------
    specs : str or iterable of str
        ``"visqol,pesq"`` or ``["visqol", "pesq:nb"]``. Each item is
        ``NAME[:MODE]``: ``visqol`` (``speech``, the default, or ``audio``),
        ``pesq`` (``auto``, the default: ``wb`` at 16 kHz and above, ``nb``
        below; or ``wb`` / ``nb``). Case and spaces do not matter.
    where : str
        Where the specs came from, for the message (``"--quality"``, a profile path).

    Returns
    -------
    tuple of str
        ``"name:mode"`` per metric, ViSQOL first, each metric once; empty for
        an empty request.

    Raises
    ------
    QualityError
        An unknown metric or mode, or a metric named twice with different modes.
    """
    items = specs.split(",") if isinstance(specs, str) else list(specs)
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str):
            raise QualityError(f"{where}: quality metric {item!r} is not a name; expected "
                               f"one of {', '.join(METRICS)}")
        text = item.strip().lower()
        if not text:
            continue
        name, _, mode = text.partition(":")
        name, mode = name.strip(), mode.strip()
        if name not in MODES:
            raise QualityError(f"{where}: unknown quality metric {item.strip()!r}; expected "
                               f"one of {', '.join(METRICS)} (e.g. visqol,pesq)")
        mode = mode or MODES[name][0]
        if mode not in MODES[name]:
            raise QualityError(f"{where}: {name} has no mode {mode!r}; expected one of "
                               f"{', '.join(MODES[name])}")
        if name in out and out[name] != mode:
            raise QualityError(f"{where}: {name} is asked for twice, as {out[name]!r} and "
                               f"{mode!r}")
        out[name] = mode
    return tuple(f"{n}:{out[n]}" for n in METRICS if n in out)
