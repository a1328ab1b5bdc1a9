"""Profiles (limits in TOML) and the verdict: one pure function of result and profile.

Exit codes of the command-line tool are named here: :data:`EXIT_PASS` (0),
:data:`EXIT_FAIL` (1) and :data:`EXIT_ERROR` (2, could not run).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields
from typing import Any

from validator.detectors.settings import DetectorSettings, setting_problem
from validator.errors import ProfileError
from validator.result import Check, ValidationResult

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_ERROR = 2

#: Event type -> name of its count limit.
EVENT_LIMITS = {
    "dropout": "max_dropouts",
    "glitch": "max_glitches",
    "level": "max_level_events",
    "clipping": "max_clipping",
    "silence": "max_silence",
    "warp": "max_warps",
}


@dataclass(frozen=True)
class Limits:
    """Pass/fail limits. ``None`` means "report, do not judge".

    Attributes
    ----------
    max_dropouts, max_glitches, max_level_events, max_clipping, max_silence, max_warps : int or None
        Largest number of events of each type that still passes (per file, all channels).
    max_abs_gain_error_db : float or None
        Largest |received - reference level| per channel, dB.
    max_truncation_s : float or None
        Largest amount of reference audio missing at the received file's start and end, s.
    max_abs_drift_ppm : float or None
        Largest |clock drift|, ppm (not judged by default).
    min_snr_db : float or None
        Smallest SNR per channel, dB.
    max_thd_n_db : float or None
        Largest THD+N per channel, dB.
    max_delay_s : float or None
        Largest delay (latency), s.
    max_polarity_inversions : int or None
        Largest number of channels received upside down.
    min_judged_fraction : float or None
        Smallest share (0..1) of the reference's energy, per channel, that the
        detectors must have judged: below it the tool could not look, and the
        verdict fails closed instead of passing unseen audio.
    max_channel_map_errors : int or None
        Largest number of received channels that carry another reference
        channel than their own (swapped wiring).
    max_match_db : float or None
        Largest residual after alignment relative to the received level, per
        channel, dB: above it received and reference do not match (the wrong
        file or another channel's signal read 0 to -1 dB, a misalignment of
        speech by a few samples -1 to -4 dB). The default, -4 dB, passes clean
        low-rate speech codecs, whose waveform error is -6 to -11 dB (Speex,
        Opus at 8-12 kbit/s, AAC at 24 kbit/s); noise in the received audio
        is judged by ``min_snr_db``.
    min_mos_cqe : float or None
        Smallest E-model MOS-CQE (ITU-T G.107 Annex B, 1 to 4.5) of the
        validated RTP stream (not judged by default). A stream that cannot be
        rated (a codec without G.113 values, an audio file instead of a
        capture) fails the check: the tool cannot judge, so it fails closed.
    min_mos_lqo : float or None
        Smallest whole-capture MOS-LQO (ViSQOL and PESQ, each judged) that
        still passes. A score that could not be computed, or none asked for
        (``--quality``, ``quality = [...]``), fails closed.
    """

    max_dropouts: int | None = 0
    max_glitches: int | None = 0
    max_level_events: int | None = 0
    max_clipping: int | None = 0
    max_silence: int | None = 0
    max_warps: int | None = None
    max_abs_gain_error_db: float | None = 1.0
    max_truncation_s: float | None = 0.05
    max_abs_drift_ppm: float | None = None
    min_snr_db: float | None = None
    max_thd_n_db: float | None = None
    max_delay_s: float | None = None
    max_polarity_inversions: int | None = 0
    min_judged_fraction: float | None = 0.9
    max_match_db: float | None = -4.0
    max_channel_map_errors: int | None = 0
    min_mos_cqe: float | None = None
    min_mos_lqo: float | None = None


@dataclass(frozen=True)
class Profile:
    """A validation profile: limits, detector settings and the quality metrics to compute.

    ``quality`` holds canonical metric specs (``"visqol:speech"``,
    ``"pesq:auto"``; :func:`validator.quality.parse_metrics`), empty for none.
    """

    limits: Limits = field(default_factory=Limits)
    detectors: DetectorSettings = field(default_factory=DetectorSettings)
    name: str = "default"
    quality: tuple[str, ...] = ()


def default_profile() -> Profile:
    """The built-in profile (same values as ``validator/profiles/default.toml``)."""
    return Profile()


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read a TOML profile.

    Parameters
    ----------
    path : str or Path
        A TOML file with optional ``[limits]`` and ``[detectors]`` tables. Keys
        left out keep their defaults; a key set to ``false`` disables a limit.
        A top-level ``quality = ["visqol", "pesq"]`` (before the tables)
        asks for those quality scores.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        If the file cannot be read, is not UTF-8 TOML, or names an unknown key,
        a value of the wrong type, a NaN or infinite value, a detector
        setting outside its range (:data:`validator.detectors.settings.RANGES`)
        or an unknown quality metric.
    """
    # (here: the default profile, every run's, needs no TOML parser)
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:  # tomllib decodes UTF-8 before parsing
        raise ProfileError(f"{path}: not valid TOML (not UTF-8 text: {exc.reason} at byte "
                           f"{exc.start})") from exc
    unknown = set(data) - {"limits", "detectors", "name", "quality"}
    if unknown:
        raise ProfileError(f"{path}: unknown table(s) {sorted(unknown)!r}; expected "
                           "[limits] and [detectors]")
    quality = _quality(data.get("quality", []), path)
    for table in ("limits", "detectors"):
        if not isinstance(data.get(table, {}), dict):
            raise ProfileError(f"{path}: {table!r} must be a table ([{table}]), "
                               f"got {data[table]!r}")
    limits = _build(Limits, data.get("limits", {}), path, "limits")
    detectors = _build(DetectorSettings, data.get("detectors", {}), path, "detectors")
    return Profile(limits, detectors, str(data.get("name", os.path.basename(str(path)))),
                   quality)


def _quality(value: Any, path: object) -> tuple[str, ...]:
    """The profile's ``quality = [...]`` as canonical metric specs."""
    from validator.errors import QualityError
    from validator.quality.spec import parse_metrics

    if isinstance(value, str) or not isinstance(value, list):
        raise ProfileError(f"{path}: quality = {value!r}; expected a list such as "
                           '["visqol", "pesq"]')
    try:
        return parse_metrics(value, where=f"{path}: quality")
    except QualityError as exc:
        raise ProfileError(str(exc)) from exc


def _build(cls: Any, table: dict[str, Any], path: object, what: str) -> Any:
    names = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in names:
            raise ProfileError(f"{path}: unknown key {key!r} in [{what}]; known: "
                               f"{', '.join(sorted(names))}")
        if value is False:
            if what != "limits":
                raise ProfileError(f"{path}: [{what}] {key} cannot be disabled")
            kwargs[key] = None
            continue
        # a number, finite (TOML has nan and inf), and for a detector setting within its range
        problem = setting_problem(key, value)
        if problem is not None:
            raise ProfileError(f"{path}: [{what}] {problem}")
        if "int" in str(names[key].type):
            if not float(value).is_integer() or value < 0:
                raise ProfileError(f"{path}: [{what}] {key} = {value!r}; expected a whole "
                                   "number >= 0")
            kwargs[key] = int(value)
        else:
            kwargs[key] = float(value)
    return cls(**kwargs)


def judge(result: ValidationResult, profile: Profile) -> tuple[tuple[Check, ...], str]:
    """The verdict: every check against its limit. A pure function.

    Parameters
    ----------
    result : ValidationResult
        Measurements (its own ``checks`` and ``verdict`` are ignored).
    profile : Profile

    Returns
    -------
    checks : tuple of Check
        One per judged quantity, with measured value, limit and unit; checks
        whose limit is ``None`` are listed with ``limit=None`` and pass.
    verdict : str
        ``"pass"`` when every check passed, else ``"fail"``.
    """
    lim = profile.limits
    checks: list[Check] = []
    for kind, key in EVENT_LIMITS.items():
        n = sum(1 for e in result.events if e.type == kind)
        limit = getattr(lim, key)
        if limit is None and n == 0:
            continue
        checks.append(Check(f"{kind}_events", limit is None or n <= limit, n, limit, "events",
                            f"number of {kind} events"))
    for ch in result.channels:
        if ch.gain_error_db is not None:
            lv = lim.max_abs_gain_error_db
            checks.append(Check(f"gain_error_ch{ch.index}",
                                lv is None or abs(ch.gain_error_db) <= lv,
                                ch.gain_error_db, lv, "dB",
                                "received minus reference level (limit on the magnitude)"))
        if lim.min_snr_db is not None:
            ok = ch.snr_db is not None and ch.snr_db >= lim.min_snr_db
            checks.append(Check(f"snr_ch{ch.index}", ok, ch.snr_db, lim.min_snr_db, "dB",
                                "signal-to-noise ratio (lower limit)"))
        if lim.max_thd_n_db is not None:
            ok = ch.thd_n_db is not None and ch.thd_n_db <= lim.max_thd_n_db
            checks.append(Check(f"thd_n_ch{ch.index}", ok, ch.thd_n_db, lim.max_thd_n_db, "dB",
                                "THD+N relative to the fundamental"))
    for ch in result.channels:
        lv = lim.min_judged_fraction
        if lv is not None or ch.judged_fraction is not None:
            ok = lv is None or (ch.judged_fraction is not None and ch.judged_fraction >= lv)
            checks.append(Check(f"judged_fraction_ch{ch.index}", ok, ch.judged_fraction, lv,
                                "ratio", "share of the reference the detectors judged (lower "
                                "limit; none: nothing to judge)"))
        lv = lim.max_match_db
        if lv is not None or ch.match_db is not None:
            ok = lv is None or (ch.match_db is not None and ch.match_db <= lv)
            checks.append(Check(f"match_ch{ch.index}", ok, ch.match_db, lv, "dB",
                                "residual after alignment re received level (none: too little "
                                "judged to tell)"))
    if any(ch.gain_error_db is not None for ch in result.channels):
        inv = sum(1 for ch in result.channels if ch.polarity_inverted)
        lv = lim.max_polarity_inversions
        checks.append(Check("polarity_inversions", lv is None or inv <= lv, inv, lv, "channels",
                            "channels received upside down"))
    al = result.alignment
    if len(al.channel_map) > 1 and any(al.channel_map):
        wrong = sum(1 for i, j in enumerate(al.channel_map) if i != j)
        lv = lim.max_channel_map_errors
        checks.append(Check("channel_map", lv is None or wrong <= lv, wrong, lv, "channels",
                            "received channels carrying another reference channel (map "
                            + ", ".join(f"{i}<-{j}" for i, j in enumerate(al.channel_map))
                            + ")"))
    checks.append(Check("drift", lim.max_abs_drift_ppm is None
                        or abs(al.drift_ppm) <= lim.max_abs_drift_ppm,
                        al.drift_ppm, lim.max_abs_drift_ppm, "ppm",
                        "clock drift (limit on the magnitude)"))
    if lim.max_delay_s is not None:
        ok = al.delay_s is not None and al.delay_s <= lim.max_delay_s
        checks.append(Check("delay", ok, al.delay_s, lim.max_delay_s, "s", "delay (latency)"))
    checks.extend(_quality_checks(result, lim.min_mos_lqo))
    if lim.min_mos_cqe is not None:
        checks.append(_mos_cqe_check(result, lim.min_mos_cqe))
    if result.truncation_s is not None:
        lv = lim.max_truncation_s
        checks.append(Check("truncation", lv is None or result.truncation_s <= lv,
                            result.truncation_s, lv, "s",
                            "reference audio missing at the received file's start or end"))
    verdict = "pass" if all(c.passed for c in checks) else "fail"
    return tuple(checks), verdict


#: How each quality metric is named in the checks.
_QUALITY_LABELS = {"visqol": "ViSQOL v3", "pesq": "PESQ"}


def _quality_checks(result: ValidationResult, limit: float | None) -> list[Check]:
    """``mos_lqo_<metric>`` per score: judged against ``min_mos_lqo``, failing closed."""
    q = result.quality
    if q is None or not q.scores:
        if limit is None:
            return []
        return [Check("mos_lqo", False, None, limit, "MOS",
                      "min_mos_lqo is set but no quality score was computed: ask for one with "
                      "--quality visqol,pesq or quality = [...] in the profile")]
    out = []
    for s in q.scores:
        what = f"{_QUALITY_LABELS.get(s.metric, s.metric)} {s.mode} MOS-LQO (lower limit)"
        if s.mos_lqo is None:
            out.append(Check(f"mos_lqo_{s.metric}", limit is None, None, limit, "MOS",
                             f"{what}: not computed, {s.reason}"
                             + ("; fails closed" if limit is not None else "")))
        else:
            out.append(Check(f"mos_lqo_{s.metric}", limit is None or s.mos_lqo >= limit,
                             s.mos_lqo, limit, "MOS", what))
    return out


def _mos_cqe_check(result: ValidationResult, limit: float) -> Check:
    """``mos_cqe``: the validated stream's E-model MOS-CQE against its lower limit; fail closed."""
    ratings = getattr(result.rtp, "emodel", ()) if result.rtp is not None else ()
    rating = ratings[0] if ratings else None
    if rating is None:
        why = ("the input is not an RTP capture: there is no network stream to rate"
               if result.rtp is None else "the stream was not rated")
        return Check("mos_cqe", False, None, limit, "MOS",
                     f"E-model MOS-CQE (lower limit): cannot judge, {why} (fails closed)")
    if not rating.rated:
        return Check("mos_cqe", False, None, limit, "MOS",
                     f"E-model MOS-CQE (lower limit): cannot judge, the stream is not rated: "
                     f"{rating.not_rated_reason} (fails closed)")
    return Check("mos_cqe", rating.mos_cqe >= limit, round(rating.mos_cqe, 3), limit, "MOS",
                 f"E-model MOS-CQE of the RTP stream (lower limit; R {rating.r_factor:.1f})")
