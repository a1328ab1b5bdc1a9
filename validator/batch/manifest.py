"""Batch manifests: which captures to validate, against what, with which tags.

A manifest is a CSV, TOML or JSON file with one entry per job. Reserved keys
(case-insensitive in CSV headers):

``received``
    The capture: an audio file, a pcap/pcapng, or a glob pattern (``*``,
    ``?``, ``[...]``, ``**``) that expands into one job per matching file,
    sorted by path.
``reference``
    A reference audio file or a tone spec such as ``sine:997``.
``profile``
    Optional TOML profile of limits.
``ssrc``
    Optional RTP stream of a capture (``0x1234ABCD`` or decimal).

Every other key is a free-form **tag** (device, codec, firmware, network
profile...), kept as text and used to group the summary. Relative paths are
relative to the manifest's folder. In CSV an empty cell is "not given"; in
TOML and JSON a ``defaults`` table gives values every job lacks, and a
``tags`` table may hold the tags::

    # batch.toml
    [defaults]
    reference = "refs/sine_997hz_48k_marker.wav"
    profile = "profiles/intercom.toml"

    [[jobs]]
    received = "captures/phoneA/*.wav"
    device = "phoneA"
    codec = "pcmu"

    [[jobs]]
    received = "captures/gw.pcap"
    ssrc = "0x6AB0D18B"
    tags = { device = "gateway", codec = "opus" }

JSON takes the same shape (``{"defaults": {...}, "jobs": [...]}``) or a bare
list of job objects.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from validator.errors import BatchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RESERVED_KEYS", "Job", "jobs_from_patterns", "load_manifest"]

#: Keys of a manifest entry that are not tags.
RESERVED_KEYS = ("received", "reference", "profile", "ssrc")
#: Characters that make a ``received`` value a glob pattern.
_GLOB_CHARS = re.compile(r"[*?\[]")
#: Characters kept in report file names; anything else becomes ``_``.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Longest stem kept in a report file name.
_MAX_STEM = 80


@dataclass(frozen=True)
class Job:
    """One capture of a batch, ready to validate.

    Attributes
    ----------
    index : int
        Position in the batch, from 1, after glob expansion.
    name : str
        ``<index>-<stem>`` with the index zero-padded (``007-phoneA``): unique
        in the batch even when stems repeat; the per-capture reports are
        ``<name>.json``, ``.html`` and ``.xml``.
    received : str
        Absolute path of the capture (audio file or pcap).
    reference : str
        Absolute path of the reference file, or a tone spec (``sine:997``).
    profile : str or None
        Absolute path of a TOML profile; None for the default profile.
    ssrc : str or None
        RTP stream of a capture, as given.
    tags : tuple of (str, str)
        Free-form tags in manifest order, e.g. ``(("device", "phoneA"),)``.
    error : str or None
        A problem found while reading the manifest that makes this job an
        error entry without running (a glob that matches no file).
    """

    index: int
    name: str
    received: str
    reference: str
    profile: str | None = None
    ssrc: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    error: str | None = None

    @property
    def tag_dict(self) -> dict[str, str]:
        """The tags as a dict."""
        return dict(self.tags)


@dataclass(frozen=True)
class _Entry:
    """One manifest entry before glob expansion (paths already resolved)."""

    received: str
    reference: str
    profile: str | None
    ssrc: str | None
    tags: tuple[tuple[str, str], ...]
    where: str


def load_manifest(path: str | os.PathLike[str], *, reference: str | None = None,
                  profile: str | os.PathLike[str] | None = None,
                  tags: Mapping[str, str] | None = None) -> list[Job]:
    """Read a manifest and expand it into jobs.

    Parameters
    ----------
    path : str or Path
        A ``.csv``, ``.toml`` or ``.json`` manifest (see the module docstring).
    reference : str, optional
        Reference for entries that give none (neither in the entry nor in the
        manifest's ``defaults``): a path relative to the current folder, or a
        tone spec.
    profile : str or Path, optional
        Profile for entries that give none, relative to the current folder.
    tags : mapping of str to str, optional
        Tags added to every job (an entry's own tag of the same name wins).

    Returns
    -------
    list of Job
        In manifest order; a glob entry contributes its matches sorted by path.

    Raises
    ------
    BatchError
        The file cannot be read or parsed, has an unknown extension, an entry
        has no ``received`` or no reference, a value has the wrong type, or
        the manifest holds no entry.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".toml", ".json"):
        raise BatchError(f"{str(p)!r}: unknown manifest type {suffix or '(none)'!r}; "
                         "expected .csv, .toml or .json")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise BatchError(f"{p}: cannot read manifest ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchError(f"{p}: manifest is not UTF-8 text ({exc.reason} at byte "
                         f"{exc.start})") from exc
    if suffix == ".csv":
        defaults: dict[str, Any] = {}
        rows = _csv_rows(text, p)
    else:
        defaults, rows = _structured_rows(text, p, suffix)
    base = p.resolve().parent
    fallback: dict[str, Any] = {}
    if reference is not None:
        fallback["reference"] = _resolve_reference(str(reference), Path.cwd())
    if profile is not None:
        fallback["profile"] = str(Path(profile).resolve())
    default_entry = _normalise(defaults, f"{p}: [defaults]", base)
    entries = []
    for where, row in rows:
        entry = _normalise(row, where, base)
        merged = {**fallback, **{k: v for k, v in default_entry.items() if k != "tags"},
                  **{k: v for k, v in entry.items() if k != "tags"}}
        merged_tags = {**dict(tags or {}), **default_entry.get("tags", {}),
                       **entry.get("tags", {})}
        if not merged.get("received"):
            raise BatchError(f"{where}: no 'received' value (the capture to validate)")
        if not merged.get("reference"):
            raise BatchError(f"{where}: no 'reference' value; give one in the entry, in "
                             "[defaults] or with --reference")
        entries.append(_Entry(merged["received"], merged["reference"], merged.get("profile"),
                              merged.get("ssrc"), tuple(merged_tags.items()), where))
    if not entries:
        raise BatchError(f"{p}: the manifest lists no capture")
    return _expand(entries)


def jobs_from_patterns(patterns: Iterable[str], reference: str, *,
                       profile: str | os.PathLike[str] | None = None, ssrc: str | None = None,
                       tags: Mapping[str, str] | None = None) -> list[Job]:
    """Jobs for captures given by path or glob pattern, all against one reference.

    Parameters
    ----------
    patterns : iterable of str
        Capture paths or glob patterns, relative to the current folder.
    reference : str
        Reference file (relative to the current folder) or tone spec.
    profile : str or Path, optional
        TOML profile for every job.
    ssrc : str, optional
        RTP stream for every capture.
    tags : mapping of str to str, optional
        Tags of every job.

    Returns
    -------
    list of Job

    Raises
    ------
    BatchError
        No pattern given, or a pattern matches no file.
    """
    cwd = Path.cwd()
    patterns = list(patterns)
    if not patterns:
        raise BatchError("no capture given: pass a manifest or --received PATTERN")
    entries = []
    for pat in patterns:
        received = str(_resolve(pat, cwd))
        if _GLOB_CHARS.search(pat) and not _matches(received):
            raise BatchError(f"--received {pat!r}: no file matches")
        entries.append(_Entry(received, _resolve_reference(reference, cwd),
                              str(Path(profile).resolve()) if profile is not None else None,
                              ssrc, tuple((tags or {}).items()), f"--received {pat!r}"))
    return _expand(entries)


def _csv_rows(text: str, path: Path) -> list[tuple[str, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows = []
    start = 1  # the line the next row starts on (a quoted cell may span lines)
    while True:
        lineno = start
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            what = ("a quoted cell is not closed (a '\"' without its closing '\"')"
                    if "end of data" in str(exc) else str(exc))
            raise BatchError(f"{path}: line {lineno}: malformed CSV: {what}") from exc
        start = reader.line_num + 1
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            if not any(h.lower() == "received" for h in header):
                raise BatchError(f"{path}: line {lineno}: the header has no 'received' column "
                                 f"(got {header!r})")
            seen = [h.lower() for h in header if h]
            dup = sorted({h for h in seen if seen.count(h) > 1})
            if dup:
                raise BatchError(f"{path}: line {lineno}: repeated column(s) {dup!r}")
            continue
        if len(cells) > len(header):
            raise BatchError(f"{path}: line {lineno}: {len(cells)} cells but the header has "
                             f"{len(header)} columns")
        row = {h: c.strip() for h, c in zip(header, cells, strict=False) if h and c.strip()}
        rows.append((f"{path}: line {lineno}", row))
    if header is None:
        raise BatchError(f"{path}: empty manifest (expected a header row with a 'received' "
                         "column)")
    return rows


def _structured_rows(text: str, path: Path,
                     suffix: str) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    try:
        data: Any = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if suffix == ".toml" else "JSON"
        raise BatchError(f"{path}: not valid {kind} ({exc})") from exc
    if isinstance(data, list):
        data = {"jobs": data}
    if not isinstance(data, dict):
        raise BatchError(f"{path}: expected a table with 'jobs' (and optional 'defaults') or a "
                         f"list of jobs, got {type(data).__name__}")
    unknown = set(data) - {"jobs", "job", "defaults"}
    if unknown:
        raise BatchError(f"{path}: unknown key(s) {sorted(unknown)!r} at the top level; "
                         "expected 'jobs' and 'defaults'")
    jobs = data.get("jobs", data.get("job", []))
    defaults = data.get("defaults", {})
    if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
        raise BatchError(f"{path}: 'jobs' must be a list of tables, got {jobs!r:.80}")
    if not isinstance(defaults, dict):
        raise BatchError(f"{path}: 'defaults' must be a table, got {defaults!r:.80}")
    return defaults, [(f"{path}: job {i}", j) for i, j in enumerate(jobs, start=1)]


def _normalise(row: Mapping[str, Any], where: str, base: Path) -> dict[str, Any]:
    """Reserved keys resolved against ``base``; everything else into ``tags`` (as text)."""
    out: dict[str, Any] = {}
    tags: dict[str, str] = {}
    for key, value in row.items():
        k = key.strip()
        low = k.lower()
        if low == "tags":
            if not isinstance(value, dict):
                raise BatchError(f"{where}: 'tags' must be a table, got {value!r:.80}")
            for tk, tv in value.items():
                tags[str(tk)] = _tag_value(tv, where, str(tk))
            continue
        if low in RESERVED_KEYS:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise BatchError(f"{where}: {k!r} must be text, got {value!r:.80}")
            text = str(value).strip()
            if not text:
                continue
            if low == "received":
                out[low] = str(_resolve(text, base))
            elif low == "reference":
                out[low] = _resolve_reference(text, base)
            elif low == "profile":
                out[low] = str(_resolve(text, base))
            else:
                out[low] = text
            continue
        tags[k] = _tag_value(value, where, k)
    if tags:
        out["tags"] = tags
    return out


def _tag_value(value: Any, where: str, key: str) -> str:
    if isinstance(value, dict | list):
        raise BatchError(f"{where}: tag {key!r} must be a single value, got {value!r:.80}")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _resolve(text: str, base: Path) -> Path:
    p = Path(os.path.expanduser(text))
    return p if p.is_absolute() else base / p


def _resolve_reference(text: str, base: Path) -> str:
    from validator.io.audio import parse_tone_spec

    return text if parse_tone_spec(text) is not None else str(_resolve(text, base))


def _matches(pattern: str) -> list[str]:
    return sorted(m for m in glob.glob(pattern, recursive=True) if os.path.isfile(m))


def _stem(path: str) -> str:
    stem = _UNSAFE.sub("_", Path(path).stem).strip("._")[:_MAX_STEM]
    return stem or "capture"


def _expand(entries: Sequence[_Entry]) -> list[Job]:
    """Expand glob entries and number the jobs."""
    flat: list[tuple[_Entry, str, str | None]] = []
    for e in entries:
        if _GLOB_CHARS.search(e.received):
            found = _matches(e.received)
            if not found:
                flat.append((e, e.received, f"{e.where}: no file matches {e.received!r}"))
            flat.extend((e, m, None) for m in found)
        else:
            flat.append((e, e.received, None))
    width = max(3, len(str(len(flat))))
    return [Job(index=i, name=f"{i:0{width}d}-{_stem(received)}", received=received,
                reference=e.reference, profile=e.profile, ssrc=e.ssrc, tags=e.tags, error=err)
            for i, (e, received, err) in enumerate(flat, start=1)]
