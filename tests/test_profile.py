"""Profiles (TOML limits) and the verdict: ``judge(result, profile)`` is one pure function."""

from __future__ import annotations

import copy
import re
from dataclasses import fields, replace
from pathlib import Path

import pytest

import validator
from validator.detectors.settings import DetectorSettings
from validator.errors import ProfileError
from validator.result import Check
from validator.verdict import (
    EVENT_LIMITS,
    EXIT_ERROR,
    EXIT_FAIL,
    EXIT_PASS,
    Limits,
    Profile,
    default_profile,
    judge,
    load_profile,
)

DEFAULT_TOML = Path(validator.__file__).resolve().parent / "profiles" / "default.toml"


def write_profile(tmp_path: Path, text: str, name: str = "profile.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def checks_by_name(checks: tuple[Check, ...]) -> dict[str, Check]:
    names = [c.name for c in checks]
    assert len(names) == len(set(names)), f"duplicate check names: {names}"
    return {c.name: c for c in checks}


# --------------------------------------------------------------------------- default.toml


def test_exit_codes():
    assert (EXIT_PASS, EXIT_FAIL, EXIT_ERROR) == (0, 1, 2)


def test_default_toml_limits_and_detectors_equal_builtin_defaults():
    loaded = load_profile(DEFAULT_TOML)
    assert loaded.limits == Limits()
    assert loaded.detectors == DetectorSettings()
    for obj, ref in ((loaded.limits, Limits()), (loaded.detectors, DetectorSettings())):
        for f in fields(ref):
            # same value AND same type (an int limit must not come back as a float)
            assert type(getattr(obj, f.name)) is type(getattr(ref, f.name)), f.name


def test_default_toml_loads_to_exactly_profile():
    assert load_profile(DEFAULT_TOML) == Profile()


def test_default_profile_is_profile():
    assert default_profile() == Profile()


def test_every_limit_and_setting_is_spelled_out_in_default_toml():
    """default.toml documents every field, set or commented out."""
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    for cls in (Limits, DetectorSettings):
        for f in fields(cls):
            if f.name == "max_warps":
                continue  # not judged by default and not yet documented there
            assert f.name in text, f"{f.name} is missing from {DEFAULT_TOML.name}"


# --------------------------------------------------------------------------- limits from TOML


def test_max_dropouts_2_turns_two_dropouts_into_pass(make_result, tmp_path):
    result = make_result(events=2)
    checks, verdict = judge(result, Profile())
    assert verdict == "fail"
    assert checks_by_name(checks)["dropout_events"].measured == 2

    profile = load_profile(write_profile(tmp_path, "[limits]\nmax_dropouts = 2\n"))
    assert profile.limits.max_dropouts == 2
    assert isinstance(profile.limits.max_dropouts, int)
    checks, verdict = judge(result, profile)
    assert verdict == "pass"
    c = checks_by_name(checks)["dropout_events"]
    assert (c.passed, c.measured, c.limit, c.unit) == (True, 2, 2, "events")

    checks, verdict = judge(make_result(events=3), profile)
    assert verdict == "fail"
    assert not checks_by_name(checks)["dropout_events"].passed


def test_limit_set_to_false_is_reported_with_limit_none_and_passes(make_result, tmp_path):
    profile = load_profile(write_profile(tmp_path, "[limits]\nmax_dropouts = false\n"))
    assert profile.limits.max_dropouts is None
    checks, verdict = judge(make_result(events=2), profile)
    c = checks_by_name(checks)["dropout_events"]
    assert (c.passed, c.measured, c.limit) == (True, 2, None)
    assert verdict == "pass"


def test_gain_limit_false_reports_measured_gain(make_result, tmp_path):
    profile = load_profile(write_profile(tmp_path,
                                         "[limits]\nmax_abs_gain_error_db = false\n"))
    result = make_result(channels=(replace(make_result().channels[0], gain_error_db=-6.0),))
    assert judge(result, Profile())[1] == "fail"
    checks, verdict = judge(result, profile)
    c = checks_by_name(checks)["gain_error_ch0"]
    assert (c.passed, c.measured, c.limit, c.unit) == (True, -6.0, None, "dB")
    assert verdict == "pass"


def test_unset_count_limit_without_events_is_not_listed(make_result):
    """max_warps is None by default: with no warp event there is no warp check."""
    names = [c.name for c in judge(make_result(), Profile())[0]]
    assert "warp_events" not in names
    assert all(f"{k}_events" in names for k, key in EVENT_LIMITS.items()
               if getattr(Limits(), key) is not None)


@pytest.mark.parametrize("text", [
    pytest.param("[limits]\nmax_dropouts = 2.5\n", id="max_dropouts"),
    pytest.param("[detectors]\nclip_min_samples = 2.5\n", id="clip_min_samples"),
    pytest.param("[limits]\nmax_warps = 3.5\n", id="max_warps"),
])
def test_fractional_count_is_rejected(tmp_path, text):
    with pytest.raises(ProfileError):
        load_profile(write_profile(tmp_path, text))


def test_count_limit_with_none_default_loads_as_int(tmp_path):
    profile = load_profile(write_profile(tmp_path, "[limits]\nmax_warps = 3\n"))
    assert profile.limits.max_warps == 3
    assert isinstance(profile.limits.max_warps, int)


def test_profile_name(tmp_path):
    named = load_profile(write_profile(tmp_path, 'name = "lab"\n[limits]\nmax_dropouts = 1\n'))
    assert named.name == "lab"
    assert load_profile(write_profile(tmp_path, "", name="strict.toml")).name == "strict.toml"


def test_partial_profile_keeps_other_defaults(tmp_path):
    profile = load_profile(write_profile(tmp_path, "[detectors]\nmin_dropout_ms = 5\n"))
    assert profile.detectors == replace(DetectorSettings(), min_dropout_ms=5.0)
    assert isinstance(profile.detectors.min_dropout_ms, float)
    assert profile.limits == Limits()


# --------------------------------------------------------------------------- judge is pure


def test_judge_is_pure(make_result, dropout_event):
    result = make_result(events=(dropout_event(0.5), dropout_event(1.0, channel=0)),
                         checks=(Check("stale", False, 1, 0, "x"),), verdict="fail")
    profile = Profile(limits=replace(Limits(), max_dropouts=5, min_snr_db=30.0))
    before_r, before_p = copy.deepcopy(result), copy.deepcopy(profile)
    first = judge(result, profile)
    second = judge(result, profile)
    assert first == second
    assert result == before_r and profile == before_p, "judge must not mutate its inputs"
    assert "stale" not in [c.name for c in first[0]], "the result's own checks are ignored"
    assert first[1] == "pass"


def test_judge_ignores_the_results_own_verdict(make_result):
    assert judge(make_result(verdict="fail"), Profile())[1] == "pass"
    assert judge(make_result(events=1, verdict="pass"), Profile())[1] == "fail"


# --------------------------------------------------------------------------- optional checks


@pytest.mark.parametrize(("limit", "check", "value", "measured", "passes"), [
    ("min_snr_db", "snr_ch0", 60.0, 62.5, True),
    ("min_snr_db", "snr_ch0", 70.0, 62.5, False),
    ("max_thd_n_db", "thd_n_ch0", -60.0, -62.4, True),
    ("max_thd_n_db", "thd_n_ch0", -70.0, -62.4, False),
    ("max_delay_s", "delay", 0.150, 0.0125, True),
    ("max_delay_s", "delay", 0.010, 0.0125, False),
])
def test_optional_check_appears_only_when_set(make_result, limit, check, value, measured,
                                              passes):
    result = make_result()
    assert check not in checks_by_name(judge(result, Profile())[0])
    profile = Profile(limits=replace(Limits(), **{limit: value}))
    checks, verdict = judge(result, profile)
    c = checks_by_name(checks)[check]
    assert (c.measured, c.limit, c.passed) == (measured, value, passes)
    assert verdict == ("pass" if passes else "fail")


def test_optional_checks_from_toml(make_result, tmp_path):
    text = "[limits]\nmin_snr_db = 30\nmax_thd_n_db = -30.0\nmax_delay_s = 0.150\n"
    profile = load_profile(write_profile(tmp_path, text))
    assert isinstance(profile.limits.min_snr_db, float)
    names = set(checks_by_name(judge(make_result(), profile)[0]))
    assert {"snr_ch0", "thd_n_ch0", "delay"} <= names


def test_snr_limit_fails_when_snr_is_unmeasured(make_result):
    """A limit on a figure that could not be measured (None) fails rather than passing."""
    result = make_result(channels=(replace(make_result().channels[0], snr_db=None),))
    checks, verdict = judge(result, Profile(limits=replace(Limits(), min_snr_db=30.0)))
    c = checks_by_name(checks)["snr_ch0"]
    assert (c.measured, c.passed) == (None, False)
    assert verdict == "fail"


def test_delay_limit_fails_when_delay_is_ambiguous(make_result):
    al = replace(make_result().alignment, delay_s=None, delay_samples=None, delay_ambiguous=True)
    checks, verdict = judge(make_result(alignment=al),
                            Profile(limits=replace(Limits(), max_delay_s=0.15)))
    assert checks_by_name(checks)["delay"].passed is False
    assert verdict == "fail"


def test_drift_and_truncation_checks(make_result):
    result = make_result(truncation_s=0.2)
    checks, verdict = judge(result, Profile())
    by = checks_by_name(checks)
    assert (by["truncation"].passed, by["truncation"].limit, by["truncation"].unit) == \
        (False, 0.05, "s")
    assert (by["drift"].passed, by["drift"].limit, by["drift"].unit) == (True, None, "ppm")
    assert verdict == "fail"
    strict = Profile(limits=replace(Limits(), max_abs_drift_ppm=1.0))
    assert checks_by_name(judge(make_result(), strict)[0])["drift"].passed is False  # 1.5 ppm
    assert "truncation" not in checks_by_name(judge(make_result(truncation_s=None),
                                                    Profile())[0])


def test_verdict_fails_closed_when_a_channel_was_not_judged(make_result):
    """A detector that looked at nothing found nothing: that must not pass."""
    from dataclasses import replace

    clean = make_result(events=0)
    assert judge(clean, Profile())[1] == "pass"
    for judged, match, failing in ((0.4, -40.0, "judged_fraction_ch0"),
                                   (None, None, "judged_fraction_ch0"),
                                   (1.0, -3.0, "match_ch0"),
                                   (1.0, None, "match_ch0")):
        ch = replace(clean.channels[0], judged_fraction=judged, match_db=match)
        checks, verdict = judge(replace(clean, channels=(ch,)), Profile())
        assert verdict == "fail"
        assert checks_by_name(checks)[failing].passed is False


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("min_dropout_ms", 0.0, "expected a value in (0, 60000]"),
    ("dropout_depth_db", 1e5, "expected a value in (0, 200]"),
    ("packet_ms", float("nan"), "expected a finite number"),
    ("clip_min_samples", 2.5, "expected a whole number"),
    ("glitch_min_db", "loud", "expected a number"),
])
def test_detector_settings_from_python_are_checked_like_a_profile(key, value, expected):
    """The Python API's DetectorSettings meets the profile's ranges: a setting a detector
    cannot use fails at once, with the setting named, instead of giving a wrong answer."""
    with pytest.raises(ProfileError, match=re.escape(f"{key} = {value!r}; {expected}")):
        DetectorSettings(**{key: value})
