"""Bad input, every case twice: through the Python API and through the CLI.

The API must raise the right :class:`~validator.errors.ValidatorError`
subclass with a message that names the offending file (or value). The CLI
must return 2 and print exactly one line on stderr, starting with
``audio-validator: error:``, naming the same thing, with no traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from validator.cli import main
from validator.errors import (
    AudioFormatError,
    InputMismatchError,
    ProfileError,
    SignalSpecError,
    ValidatorError,
)
from validator.pipeline import MIN_DURATION_S, validate
from validator.verdict import EXIT_ERROR, EXIT_FAIL, load_profile

FS = 8000
PREFIX = "audio-validator: error:"


@dataclass
class Inputs:
    """What one bad-input case feeds the validator."""

    received: Path | str
    reference: Path | str
    profile: Path | None = None
    #: Substrings the message must contain (file names, rates, ...).
    mention: tuple[str, ...] = ()
    extra_argv: tuple[str, ...] = field(default=())


@dataclass
class Ctx:
    """The fixtures a case builder draws on."""

    tmp_path: Path
    write_wav: Callable[..., Path]
    tone_8k: np.ndarray
    rng: np.random.Generator
    marker_tone: Callable[..., np.ndarray]


# --------------------------------------------------------------------------- case builders


def _pair(ctx: Ctx) -> tuple[Path, Path]:
    rec = ctx.write_wav("received.wav", ctx.tone_8k, FS)
    return rec, ctx.write_wav("reference.wav", ctx.tone_8k, FS)


def missing_received(ctx: Ctx) -> Inputs:
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    rec = ctx.tmp_path / "no_such_capture.wav"
    return Inputs(rec, ref, mention=(rec.name,))


def missing_reference(ctx: Ctx) -> Inputs:
    rec = ctx.write_wav("received.wav", ctx.tone_8k, FS)
    ref = ctx.tmp_path / "no_such_reference.wav"
    return Inputs(rec, ref, mention=(ref.name,))


def empty_file(ctx: Ctx) -> Inputs:
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    rec = ctx.tmp_path / "empty.wav"
    rec.write_bytes(b"")
    return Inputs(rec, ref, mention=(rec.name, "empty"))


def text_as_wav(ctx: Ctx) -> Inputs:
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    rec = ctx.tmp_path / "notes.wav"
    rec.write_text("this is a text file, not audio\n" * 20, encoding="utf-8")
    return Inputs(rec, ref, mention=(rec.name,))


def random_bytes_as_wav(ctx: Ctx) -> Inputs:
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    rec = ctx.tmp_path / "garbage.wav"
    rec.write_bytes(ctx.rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes())
    return Inputs(rec, ref, mention=(rec.name,))


def nan_samples(ctx: Ctx) -> Inputs:
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    y = ctx.tone_8k.astype(np.float32)
    y[4321, 0] = np.nan
    rec = ctx.write_wav("nan.wav", y, FS, subtype="FLOAT")
    return Inputs(rec, ref, mention=(rec.name, "NaN"))


def nan_in_reference(ctx: Ctx) -> Inputs:
    rec = ctx.write_wav("received.wav", ctx.tone_8k, FS)
    y = ctx.tone_8k.astype(np.float32)
    y[100, 0] = np.nan
    ref = ctx.write_wav("nan_reference.wav", y, FS, subtype="FLOAT")
    return Inputs(rec, ref, mention=(ref.name, "NaN"))


def inf_samples(ctx: Ctx) -> Inputs:
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    y = ctx.tone_8k.astype(np.float32)
    y[5000, 0] = -np.inf
    rec = ctx.write_wav("inf.wav", y, FS, subtype="FLOAT")
    return Inputs(rec, ref, mention=(rec.name, "infinite", "sample 5000"))


def huge_float_samples(ctx: Ctx) -> Inputs:
    """Finite but absurd float samples (1e30): refused before any numerics (was OverflowError)."""
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    y = ctx.tone_8k.astype(np.float32)
    y[4000:4100, 0] = 1e30
    rec = ctx.write_wav("huge.wav", y, FS, subtype="FLOAT")
    return Inputs(rec, ref, mention=(rec.name, "sample 4000", "1e+30", "1000"))


def integer_codes_as_float(ctx: Ctx) -> Inputs:
    """A float file holding 16-bit codes (16384.0 for half scale) in the reference."""
    rec = ctx.write_wav("received.wav", ctx.tone_8k, FS)
    y = (ctx.tone_8k * 32768.0).astype(np.float32)
    ref = ctx.write_wav("codes_reference.wav", y, FS, subtype="FLOAT")
    return Inputs(rec, ref, mention=(ref.name, "integer codes"))


def mismatched_rates(ctx: Ctx) -> Inputs:
    rec = ctx.write_wav("received_16k.wav", ctx.marker_tone(16000, 1.0), 16000)
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    return Inputs(rec, ref, mention=(rec.name, "16000", "8000"))


def stereo_ref_three_channel_received(ctx: Ctx) -> Inputs:
    rec = ctx.write_wav("received_3ch.wav", np.repeat(ctx.tone_8k, 3, axis=1), FS)
    ref = ctx.write_wav("reference_2ch.wav", np.repeat(ctx.tone_8k, 2, axis=1), FS)
    return Inputs(rec, ref, mention=(rec.name, ref.name, "3 channel", "has 2"))


def too_short_capture(ctx: Ctx) -> Inputs:
    n = int(MIN_DURATION_S * FS) - 1  # 49.875 ms
    rec = ctx.write_wav("short.wav", ctx.tone_8k[:n], FS)
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    return Inputs(rec, ref, mention=(rec.name, "50 ms"))


def bad_tone_spec(ctx: Ctx) -> Inputs:
    rec = ctx.write_wav("received.wav", ctx.tone_8k, FS)
    return Inputs(rec, "sine:abc", mention=("sine:abc",))


def tone_spec_above_nyquist(ctx: Ctx) -> Inputs:
    rec = ctx.write_wav("received.wav", ctx.tone_8k, FS)
    return Inputs(rec, "sine:5000", mention=(rec.name, "5000", "Nyquist"))


def _profile(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "profile.toml"
    p.write_text(text, encoding="utf-8")
    return p


def profile_unknown_key(ctx: Ctx) -> Inputs:
    rec, ref = _pair(ctx)
    p = _profile(ctx.tmp_path, "[limits]\nmax_dropout = 2\n")  # typo of max_dropouts
    return Inputs(rec, ref, profile=p, mention=(p.name, "max_dropout"))


def profile_unknown_table(ctx: Ctx) -> Inputs:
    rec, ref = _pair(ctx)
    p = _profile(ctx.tmp_path, "[limit]\nmax_dropouts = 2\n")
    return Inputs(rec, ref, profile=p, mention=(p.name, "limit"))


def profile_not_toml(ctx: Ctx) -> Inputs:
    rec, ref = _pair(ctx)
    p = _profile(ctx.tmp_path, "max_dropouts: 2\n[limits\n")
    return Inputs(rec, ref, profile=p, mention=(p.name, "TOML"))


def profile_wrong_type(ctx: Ctx) -> Inputs:
    rec, ref = _pair(ctx)
    p = _profile(ctx.tmp_path, '[limits]\nmax_dropouts = "two"\n')
    return Inputs(rec, ref, profile=p, mention=(p.name, "max_dropouts", "two"))


def profile_bool_true(ctx: Ctx) -> Inputs:
    rec, ref = _pair(ctx)
    p = _profile(ctx.tmp_path, "[limits]\nmax_dropouts = true\n")
    return Inputs(rec, ref, profile=p, mention=(p.name, "max_dropouts"))


def profile_disable_detector(ctx: Ctx) -> Inputs:
    rec, ref = _pair(ctx)
    p = _profile(ctx.tmp_path, "[detectors]\nmin_dropout_ms = false\n")
    return Inputs(rec, ref, profile=p, mention=(p.name, "min_dropout_ms"))


def profile_missing(ctx: Ctx) -> Inputs:
    rec, ref = _pair(ctx)
    return Inputs(rec, ref, profile=ctx.tmp_path / "no_such_profile.toml",
                  mention=("no_such_profile.toml",))


def profile_limits_not_a_table(ctx: Ctx) -> Inputs:
    rec, ref = _pair(ctx)
    p = _profile(ctx.tmp_path, "limits = 3\n")
    return Inputs(rec, ref, profile=p, mention=(p.name, "limits"))


def truncated_wav(ctx: Ctx) -> Inputs:
    ref = ctx.write_wav("reference.wav", ctx.tone_8k, FS)
    full = ctx.write_wav("full.wav", ctx.tone_8k, FS)
    data = full.read_bytes()
    rec = ctx.tmp_path / "truncated.wav"
    rec.write_bytes(data[: len(data) // 2])  # header still promises every frame
    return Inputs(rec, ref, mention=(rec.name, "truncated"))


def mono_reference_stereo_received(ctx: Ctx) -> Inputs:
    rec = ctx.write_wav("received_stereo.wav", np.repeat(ctx.tone_8k, 2, axis=1), FS)
    ref = ctx.write_wav("reference_mono.wav", ctx.tone_8k, FS)
    return Inputs(rec, ref)


#: (builder, expected error class); every case must also give exit 2 on the CLI.
CASES = [
    pytest.param(missing_received, AudioFormatError, id="missing_received"),
    pytest.param(missing_reference, AudioFormatError, id="missing_reference"),
    pytest.param(empty_file, AudioFormatError, id="empty_file"),
    pytest.param(truncated_wav, AudioFormatError, id="truncated_wav"),
    pytest.param(text_as_wav, AudioFormatError, id="text_as_wav"),
    pytest.param(random_bytes_as_wav, AudioFormatError, id="random_bytes_as_wav"),
    pytest.param(nan_samples, AudioFormatError, id="nan_samples"),
    pytest.param(nan_in_reference, AudioFormatError, id="nan_in_reference"),
    pytest.param(inf_samples, AudioFormatError, id="inf_samples"),
    pytest.param(huge_float_samples, AudioFormatError, id="huge_float_samples"),
    pytest.param(integer_codes_as_float, AudioFormatError, id="integer_codes_as_float"),
    pytest.param(mismatched_rates, InputMismatchError, id="mismatched_rates"),
    pytest.param(stereo_ref_three_channel_received, InputMismatchError,
                 id="stereo_ref_three_channel_received"),
    pytest.param(too_short_capture, AudioFormatError, id="too_short_capture"),
    pytest.param(bad_tone_spec, SignalSpecError, id="bad_tone_spec"),
    pytest.param(tone_spec_above_nyquist, InputMismatchError, id="tone_spec_above_nyquist"),
    pytest.param(profile_unknown_key, ProfileError, id="profile_unknown_key"),
    pytest.param(profile_unknown_table, ProfileError, id="profile_unknown_table"),
    pytest.param(profile_not_toml, ProfileError, id="profile_not_toml"),
    pytest.param(profile_wrong_type, ProfileError, id="profile_wrong_type"),
    pytest.param(profile_bool_true, ProfileError, id="profile_bool_true"),
    pytest.param(profile_disable_detector, ProfileError, id="profile_disable_detector"),
    pytest.param(profile_missing, ProfileError, id="profile_missing"),
    pytest.param(profile_limits_not_a_table, ProfileError, id="profile_limits_not_a_table"),
]


@pytest.fixture
def ctx(tmp_path, write_wav, tone_8k, rng, marker_tone) -> Ctx:
    return Ctx(tmp_path, write_wav, tone_8k, rng, marker_tone)


def _api(inputs: Inputs):
    profile = load_profile(inputs.profile) if inputs.profile is not None else None
    return validate(inputs.received, inputs.reference, profile=profile)


def _argv(inputs: Inputs, tmp_path: Path) -> list[str]:
    argv = ["validate", str(inputs.received), "--reference", str(inputs.reference),
            "--output-dir", str(tmp_path / "reports"), "--no-progress"]
    if inputs.profile is not None:
        argv += ["--profile", str(inputs.profile)]
    return argv + list(inputs.extra_argv)


def assert_one_line_error(err: str, *mention: str) -> str:
    """stderr is exactly one line ``audio-validator: error: ...`` naming everything in mention."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith(PREFIX), lines[0]
    for m in mention:
        assert m in lines[0], f"{m!r} not in {lines[0]!r}"
    return lines[0]


# --------------------------------------------------------------------------- the two routes


@pytest.mark.parametrize(("builder", "error"), CASES)
def test_api_raises(builder, error, ctx):
    inputs = builder(ctx)
    with pytest.raises(error) as info:
        _api(inputs)
    assert isinstance(info.value, ValidatorError)
    msg = str(info.value)
    assert "\n" not in msg
    for m in inputs.mention:
        assert m in msg, f"{m!r} not in {msg!r}"


@pytest.mark.parametrize(("builder", "error"), CASES)
def test_cli_exit_2(builder, error, ctx, tmp_path, capsys):
    inputs = builder(ctx)
    rc = main(_argv(inputs, tmp_path))
    out, err = capsys.readouterr()
    assert rc == EXIT_ERROR, f"exit {rc}; stdout {out!r}; stderr {err!r}"
    assert out == ""
    assert_one_line_error(err, *inputs.mention)
    assert not (tmp_path / "reports").exists(), "no report may be written when it cannot run"


def test_api_error_keeps_its_cause(ctx):
    """A wrapped libsndfile error stays reachable as ``__cause__`` (raise ... from exc)."""
    inputs = text_as_wav(ctx)
    with pytest.raises(AudioFormatError) as info:
        _api(inputs)
    assert info.value.__cause__ is not None


# --------------------------------------------------------------------------- cases with a verdict


def test_reference_longer_than_capture_fails_on_truncation(tmp_path, write_wav, marker_tone,
                                                           capsys):
    """10 s reference, capture = its first 2 s: no crash, a FAIL verdict on the truncation check.

    The code does not refuse this pair (exit 2); it validates the 2 s it has
    and fails the ``truncation`` check with the missing duration, saying so
    in a note.
    """
    ref_y = marker_tone(FS, 10.0)
    ref = write_wav("reference_10s.wav", ref_y, FS)
    rec = write_wav("received_2s.wav", ref_y[: 2 * FS], FS)
    missing_s = (ref_y.shape[0] - 2 * FS) / FS  # 8.25 s (marker and gap included)

    result = validate(rec, ref)
    assert result.verdict == "fail"
    checks = {c.name: c for c in result.checks}
    assert not checks["truncation"].passed
    assert checks["truncation"].measured == pytest.approx(missing_s, abs=0.01)
    assert checks["truncation"].unit == "s"
    failed = [c.name for c in result.checks if not c.passed]
    assert failed == ["truncation"], f"only truncation should fail, got {failed}"
    assert result.events == ()
    assert any("lacks" in n and f"{missing_s:.3f}" in n for n in result.notes), result.notes

    rc = main(["validate", str(rec), "-r", str(ref), "--output-dir", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert rc == EXIT_FAIL
    assert err == ""
    assert out.startswith("FAIL")
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("truncation"))
    assert "FAIL" in line and f"{missing_s:.3f}" in line


def test_mono_reference_is_broadcast_api(ctx):
    """A mono reference is compared with every channel of a stereo capture."""
    inputs = mono_reference_stereo_received(ctx)
    result = validate(inputs.received, inputs.reference)
    assert result.verdict == "pass", [c for c in result.checks if not c.passed]
    assert result.input.channels == 2
    assert [c.index for c in result.channels] == [0, 1]
    assert result.events == ()
    for ch in result.channels:
        assert ch.gain_error_db == pytest.approx(0.0, abs=0.1)
        assert ch.frequency_hz == pytest.approx(997.0, abs=0.01)


def test_mono_reference_is_broadcast_cli(ctx, tmp_path, capsys):
    inputs = mono_reference_stereo_received(ctx)
    rc = main(_argv(inputs, tmp_path))
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert err == ""
    assert out.startswith("PASS")


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("argv", [
    pytest.param(["validate", "rec.wav", "-r", "ref.wav", "--bogus"], id="unknown_option"),
    pytest.param(["--bogus"], id="unknown_top_level_option"),
    pytest.param([], id="no_command"),
])
def test_cli_usage_error(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == EXIT_ERROR
    assert out == ""
    assert_one_line_error(err)


@pytest.mark.parametrize("argv, mention", [
    pytest.param(["validate", "rec.wav", "-r", "ref.wav", "--max-delay", "abc"],
                 ("--max-delay", "'abc'"), id="bad_option_value"),
    pytest.param(["validate", "rec.wav"], ("--reference",), id="missing_reference_option"),
    pytest.param(["validate", "rec.wav", "-r", "ref.wav", "--max-zooms", "-5"],
                 ("--max-zooms", "'-5'", ">= 0"), id="negative_max_zooms"),
    pytest.param(["validate", "rec.wav", "-r", "ref.wav", "--max-events", "-1"],
                 ("--max-events", "'-1'"), id="negative_max_events"),
    pytest.param(["validate", "rec.wav", "-r", "ref.wav", "--max-delay", "nan"],
                 ("--max-delay", "'nan'"), id="nan_max_delay"),
    pytest.param(["validate", "rec.wav", "-r", "ref.wav", "--port", "0"],
                 ("--port", "'0'", "1..65535"), id="port_zero"),
    pytest.param(["batch", "m.csv", "--max-zooms", "-5"], ("--max-zooms", "'-5'"),
                 id="batch_negative_max_zooms"),
])
def test_cli_subcommand_usage_error_prefix(argv, mention, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    assert rc == EXIT_ERROR
    assert_one_line_error(err, *mention)


# --------------------------------------------------------------------------- writing reports


def _report_argv(ctx: Ctx, *extra: str) -> list[str]:
    rec, ref = _pair(ctx)
    return ["validate", str(rec), "--reference", str(ref), "--no-progress", *extra]


def test_one_unwritable_report_writes_none_and_still_prints_the_verdict(ctx, tmp_path,
                                                                        capsys):
    """--json a/x.json --html a/x.html --junit <under a file>/x.xml: no x.json, no x.html."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be\n", encoding="utf-8")
    out_dir = tmp_path / "a"
    junit = blocker / "x.xml"
    rc = main(_report_argv(ctx, "--json", str(out_dir / "x.json"), "--html",
                           str(out_dir / "x.html"), "--junit", str(junit)))
    out, err = capsys.readouterr()
    assert rc == EXIT_ERROR
    assert out.startswith("PASS"), out  # the verdict is known and printed
    line = assert_one_line_error(err, str(junit), "blocker is a file, not a folder")
    assert "no report was written" in line
    assert not (out_dir / "x.json").exists() and not (out_dir / "x.html").exists()
    assert not out_dir.exists() or list(out_dir.iterdir()) == []  # no temporary file left


def test_output_dir_that_is_a_file(ctx, tmp_path, capsys):
    blocker = tmp_path / "reports.txt"
    blocker.write_text("not a folder\n", encoding="utf-8")
    rc = main(_report_argv(ctx, "--output-dir", str(blocker), "--quiet"))
    out, err = capsys.readouterr()
    assert rc == EXIT_ERROR
    assert out == "PASS\n"
    assert_one_line_error(err, str(blocker), "is a file, not a folder")
    assert "File exists" not in err


def test_write_error_names_the_users_path_not_the_temporary_file(ctx, tmp_path, capsys,
                                                                 monkeypatch):
    """os.replace fails (as on a read-only mount): the message names x.json, not .x.json.*.tmp."""
    import os

    real_replace = os.replace

    def refuse(src, dst):
        if str(dst).endswith(".json"):
            raise PermissionError(13, "Permission denied", str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse)
    target = tmp_path / "out" / "x.json"
    rc = main(_report_argv(ctx, "--json", str(target), "--no-html", "--no-junit"))
    err = capsys.readouterr().err
    assert rc == EXIT_ERROR
    line = assert_one_line_error(err, str(target), "Permission denied")
    assert ".tmp" not in line
    assert list((tmp_path / "out").iterdir()) == []


def test_a_report_path_that_is_a_folder(ctx, tmp_path, capsys):
    folder = tmp_path / "x.json"
    folder.mkdir()
    rc = main(_report_argv(ctx, "--json", str(folder), "--no-html", "--no-junit"))
    assert rc == EXIT_ERROR
    assert_one_line_error(capsys.readouterr().err, str(folder), "is a folder")


# --------------------------------------------------------------------------- other commands


def test_generate_names_the_flags_not_the_api_parameters(tmp_path, capsys):
    rc = main(["generate", "tone", str(tmp_path / "t.wav"), "--freq", "30000"])
    line = assert_one_line_error(capsys.readouterr().err, "--freq", "30000", "--rate=48000")
    assert rc == EXIT_ERROR
    assert "frequencies_hz" not in line and "sample_rate_hz" not in line
    assert not (tmp_path / "t.wav").exists()


def test_csv_manifest_with_an_unterminated_quote(tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_text('received,reference\n"a.wav,ref.wav\n', encoding="utf-8")
    rc = main(["batch", str(manifest), "--output-dir", str(tmp_path / "out"), "--no-progress"])
    assert rc == EXIT_ERROR
    line = assert_one_line_error(capsys.readouterr().err, "m.csv", "line 2", "quoted cell")
    assert "reference" not in line.split("m.csv", 1)[1]  # not the old "no 'reference' value"


class _ClosedPipe:
    """A stdout whose reader has gone: every write raises BrokenPipeError."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_pipe_ends_quietly(ctx, tmp_path, capsys, monkeypatch):
    """``impair ... | head -3``: no "error: : Broken pipe", nothing on stderr, exit 2."""
    import sys

    rec, _ = _pair(ctx)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    rc = main(["impair", str(rec), str(tmp_path / "o.wav"), "--dropout", "0.5:0.01"])
    assert rc == EXIT_ERROR
    assert capsys.readouterr().err == ""
    assert (tmp_path / "o.wav").exists()  # the work was done; only the listing was cut


# --------------------------------------------------------------------------- compressed input

@pytest.mark.slow
def test_m4a_is_decoded_through_ffmpeg(tmp_path):
    """m4a/aac goes through ffmpeg at the file's own sample rate (skipped without ffmpeg)."""
    import shutil
    import subprocess

    from validator.io.audio import open_audio
    from validator.signals import tone, write_wav

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    wav = write_wav(tmp_path / "t.wav", tone(997.0, sample_rate_hz=16000, duration_s=1.0), 16000)
    m4a = tmp_path / "t.m4a"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(wav), "-c:a", "aac",
                    str(m4a)], check=True)
    with open_audio(m4a) as src:
        assert src.sample_rate_hz == 16000
        assert src.channels == 1
        assert abs(src.frames - 16000) < 3000  # AAC priming and padding
        assert str(m4a) in src.name


def test_m4a_without_ffmpeg_names_what_to_install(tmp_path, monkeypatch):
    import shutil

    from validator.errors import MissingDependencyError
    from validator.io.audio import open_audio

    m4a = tmp_path / "t.m4a"
    m4a.write_bytes(b"\0" * 64)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="ffmpeg"):
        open_audio(m4a)


def test_an_internal_error_is_one_line_and_exit_2_never_the_fail_code(ctx, monkeypatch, capsys):
    """A bug (any exception that is not a ValidatorError) must not exit 1, the FAIL code."""
    import validator.pipeline

    def broken(*args, **kwargs):
        raise TypeError("'module' object is not callable")

    monkeypatch.delenv("AUDIO_VALIDATOR_DEBUG", raising=False)
    monkeypatch.setattr(validator.pipeline, "validate", broken)
    rec, ref = _pair(ctx)
    code = main(["validate", str(rec), "--reference", str(ref), "--no-json", "--no-html",
                 "--no-junit"])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error (TypeError" in err and "AUDIO_VALIDATOR_DEBUG" in err
    monkeypatch.setenv("AUDIO_VALIDATOR_DEBUG", "1")
    with pytest.raises(TypeError):
        main(["validate", str(rec), "--reference", str(ref), "--no-json", "--no-html",
              "--no-junit"])
