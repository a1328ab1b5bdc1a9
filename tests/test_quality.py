"""Full-reference quality (ViSQOL v3, PESQ) on the validator's alignment: validator.quality.

The truth is always made here: a loss pattern we chose (real FFmpeg codecs
through PyAV, ``tests/tools/packet_codec.py``), a delay / drift / splice we
applied with a known alignment model, silence we wrote. Tests that run a
metric skip with a reason when the ``quality`` extra is missing; ViSQOL's
first call compiles its Numba kernels, so tests that run it are ``slow``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from validator.align.track import AlignmentModel, aligned_reference
from validator.errors import MissingDependencyError, ProfileError, QualityError
from validator.io.audio import ArraySource
from validator.quality import parse_metrics, requested_metrics, score_aligned
from validator.quality.warp import (
    _resampled,
    covered_fraction,
    received_on_reference,
    received_position,
)
from validator.result import QualityResult, QualityScore, QualityWindow
from validator.verdict import Limits, Profile, judge, load_profile

ROOT = Path(__file__).resolve().parents[1]
SPEECH_16K = ROOT / "reference_signals" / "speech" / "speech_en_harvard_16k_16bit_mono.wav"
SPEECH_48K = ROOT / "reference_signals" / "speech" / "speech_en_harvard_48k_16bit_mono.wav"
sys.path.insert(0, str(ROOT / "tests" / "tools"))

HAVE_PESQ = importlib.util.find_spec("pesq") is not None
HAVE_VISQOL = (importlib.util.find_spec("visqol") is not None
               and importlib.util.find_spec("ai_edge_litert") is not None)
HAVE_AV = importlib.util.find_spec("av") is not None
needs_pesq = pytest.mark.skipif(not HAVE_PESQ, reason="the quality extra (pesq) is not "
                                "installed: pip install '.[quality]'")
needs_quality = pytest.mark.skipif(not (HAVE_PESQ and HAVE_VISQOL), reason="the quality extra "
                                   "(visqol-python[lattice], pesq) is not installed: "
                                   "pip install '.[quality]'")
needs_av = pytest.mark.skipif(not HAVE_AV, reason="PyAV (the codecs extra) is not installed")


@pytest.fixture(scope="module")
def speech16() -> np.ndarray:
    x, fs = sf.read(SPEECH_16K, dtype="float64")
    assert fs == 16000
    return x


# --------------------------------------------------------------------------- metric names


def test_parse_metrics_gives_canonical_specs_visqol_first():
    assert parse_metrics("pesq, VisQOL") == ("visqol:speech", "pesq:auto")
    assert parse_metrics(["visqol:audio", "pesq:nb"]) == ("visqol:audio", "pesq:nb")
    assert parse_metrics("") == ()
    assert parse_metrics("pesq,pesq") == ("pesq:auto",)


@pytest.mark.parametrize("bad, match", [("polqa", "unknown quality metric 'polqa'"),
                                        ("pesq:swb", "pesq has no mode 'swb'"),
                                        ("pesq:nb,pesq:wb", "asked for twice")])
def test_parse_metrics_rejects_bad_names(bad, match):
    with pytest.raises(QualityError, match=match):
        parse_metrics(bad)


def test_profile_quality_list_and_min_mos_lqo(tmp_path):
    p = tmp_path / "q.toml"
    p.write_text('quality = ["visqol", "pesq:wb"]\n[limits]\nmin_mos_lqo = 3.5\n')
    prof = load_profile(p)
    assert prof.quality == ("visqol:speech", "pesq:wb")
    assert prof.limits.min_mos_lqo == 3.5
    p.write_text('quality = ["mos"]\n')
    with pytest.raises(ProfileError, match="unknown quality metric 'mos'"):
        load_profile(p)
    p.write_text('quality = "visqol"\n')
    with pytest.raises(ProfileError, match="expected a list"):
        load_profile(p)


def test_default_profile_judges_no_mos():
    assert Limits().min_mos_lqo is None
    assert Profile().quality == ()
    text = (ROOT / "validator" / "profiles" / "default.toml").read_text()
    assert "# min_mos_lqo" in text and "# quality = " in text


# --------------------------------------------------------------------------- missing extra


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pesq", None)  # import pesq -> ImportError
    with pytest.raises(MissingDependencyError, match=r"\[quality\]"):
        requested_metrics("pesq")
    assert requested_metrics(None) == ()  # nothing asked: nothing imported


def test_cli_missing_extra_is_one_line_exit_2(monkeypatch, tmp_path, capsys, speech16):
    from validator.cli import main

    monkeypatch.setitem(sys.modules, "visqol", None)
    sf.write(tmp_path / "ref.wav", speech16[:16000], 16000)
    code = main(["validate", str(tmp_path / "ref.wav"), "-r", str(tmp_path / "ref.wav"),
                 "--quality", "visqol", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "pip install 'audio-stream-validator[quality]'" in err
    assert not list(tmp_path.glob("*.json"))


def test_cli_rejects_an_unknown_metric(capsys):
    from validator.cli import main

    assert main(["validate", "a.wav", "-r", "b.wav", "--quality", "visqal"]) == 2
    assert "unknown quality metric 'visqal'" in capsys.readouterr().err


# --------------------------------------------------------------------------- warping


def _model(**kw) -> AlignmentModel:
    base = dict(offsets=(0.0,), breaks=(), drift_ppm=0.0, gains=(1.0,))
    base.update(kw)
    return AlignmentModel(**base)  # type: ignore[arg-type]


@pytest.fixture
def noise_ref(rng) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    # 3 s at 16 kHz, band-limited to 0.3 fs (the sinc interpolator's -80 dB band is 0.4 fs)
    return 0.1 * sosfilt(butter(10, 0.6, output="sos"), rng.standard_normal(48000))


def test_warp_undoes_delay_drift_and_a_skip(noise_ref):
    fs = 16000
    # received: 0.25 s late, 80 ppm slow, and 0.1 s of reference skipped at received 1.5 s
    skip = 1600
    model = _model(offsets=(4000.37, 4000.37 - skip), breaks=(24000,), drift_ppm=80.0)
    ref = ArraySource(noise_ref, fs)
    n_rec = 52000
    rec = ArraySource(aligned_reference(ref, model, 0, n_rec, channels=1), fs)
    back = received_on_reference(rec, model, 0, 0, len(noise_ref))
    # where the received carries the reference, the warp gives it back (band-limited sinc)
    scale = 1 + 80e-6
    k_skip0 = int(np.ceil((24000 - 4000.37) / scale))  # first reference sample skipped
    inside = np.r_[100:k_skip0 - 100, k_skip0 + skip + 100:len(noise_ref) - 100]
    err = back[inside] - noise_ref[inside]
    assert 10 * np.log10(np.mean(err ** 2) / np.mean(noise_ref[inside] ** 2)) < -50
    # the skipped reference audio reads as silence, and counts as missing
    assert np.all(back[k_skip0 + 5:k_skip0 + skip - 5] == 0.0)
    assert covered_fraction(model, n_rec, len(noise_ref)) == pytest.approx(
        1 - skip / len(noise_ref), abs=2e-4)
    # reference times map to where they are heard
    assert received_position(model, n_rec, 0.0) == pytest.approx(4000.37, abs=1e-6)
    assert received_position(model, n_rec, 30000) == pytest.approx(30000 * scale + 4000.37
                                                                    - skip, abs=1e-6)
    assert received_position(model, n_rec, k_skip0 + 50) == 24000  # inside the skip: the splice


def test_warp_blocks_equal_one_whole_signal_resample(monkeypatch, rng):
    from scipy.signal import resample_poly

    import validator.quality.warp as warp

    x = rng.standard_normal(30011)
    monkeypatch.setattr(warp, "BLOCK", 4096)
    for fs, fs_out in ((48000, 16000), (8000, 16000), (44100, 16000), (16000, 16000)):
        got = _resampled(lambda a, b: x[a:b], len(x), fs, fs_out)
        g = np.gcd(fs, fs_out)
        want = resample_poly(x, fs_out // g, fs // g) if fs != fs_out else x
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)


# --------------------------------------------------------------------------- not computed


def test_silent_or_short_spans_are_not_computed_with_a_reason(speech16):
    # refusals come before any metric runs: no number, a reason
    q = score_aligned(speech16, np.zeros_like(speech16), 16000, "pesq:wb") if HAVE_PESQ \
        else None
    if q is not None:
        assert q.pesq is not None and q.pesq.mos_lqo is None
        assert "received audio is silent" in q.pesq.reason
    if not HAVE_PESQ:
        pytest.skip("the quality extra (pesq) is not installed: pip install '.[quality]'")
    q = score_aligned(np.zeros(32000), np.zeros(32000), 16000, "pesq")
    assert q.pesq.mos_lqo is None and "reference is silent" in q.pesq.reason
    q = score_aligned(speech16[8000:17600], speech16[8000:17600], 16000, "pesq")
    assert q.pesq.mos_lqo is None and "too short: 0.60 s" in q.pesq.reason
    # a long reference with one short burst of sound: too little active signal
    x = np.zeros(48000)
    x[16000:20000] = speech16[40000:44000]
    q = score_aligned(x, x, 16000, "pesq")
    assert q.pesq.mos_lqo is None and "active signal" in q.pesq.reason


@needs_pesq
def test_pesq_no_utterance_is_a_reason_not_a_number(monkeypatch, speech16):
    import pesq

    def no_utterance(*args, **kwargs):
        raise pesq.NoUtterancesError(b"No utterances detected")

    monkeypatch.setattr(pesq, "pesq", no_utterance)
    q = score_aligned(speech16, speech16, 16000, "pesq")
    assert q.pesq.mos_lqo is None and q.pesq.reason == "no utterance detected (PESQ found no " \
        "speech)"


@needs_quality
def test_visqol_nan_is_a_reason_not_a_number(monkeypatch, speech16):
    import validator.quality.fullref as fullref

    class Nan:
        def measure_from_arrays(self, *args):
            return type("R", (), {"moslqo": float("nan")})()

    monkeypatch.setattr(fullref, "_visqol_api", lambda mode: Nan())
    q = score_aligned(speech16, speech16, 16000, "visqol")
    assert q.visqol.mos_lqo is None and "NaN" in q.visqol.reason


# --------------------------------------------------------------------------- verdict


def _q(visqol=4.2, pesq=None, reason=None) -> QualityResult:
    return QualityResult(
        visqol=QualityScore("visqol", "speech", 16000, visqol, reason, 10.0),
        pesq=None if pesq is None else QualityScore("pesq", "wb", 16000, pesq, None, 10.0),
        windows=(QualityWindow(0.0065, 8.0065, 0.0, 8.0, 4.1, None,
                               (("pesq", "no utterance detected"),)),))


def test_min_mos_lqo_judges_each_score(make_result):
    prof = Profile(limits=Limits(min_mos_lqo=3.5))
    checks, verdict = judge(make_result(quality=_q(4.2, 3.1)), prof)
    by = {c.name: c for c in checks}
    assert by["mos_lqo_visqol"].passed and by["mos_lqo_visqol"].measured == 4.2
    assert not by["mos_lqo_pesq"].passed and by["mos_lqo_pesq"].unit == "MOS"
    assert verdict == "fail"


def test_min_mos_lqo_fails_closed_when_not_computed_or_not_asked(make_result):
    prof = Profile(limits=Limits(min_mos_lqo=3.0))
    checks, verdict = judge(make_result(quality=_q(None, reason="too short: 0.60 s")), prof)
    c = next(c for c in checks if c.name == "mos_lqo_visqol")
    assert not c.passed and c.measured is None and "too short" in c.description
    assert "fails closed" in c.description and verdict == "fail"
    checks, verdict = judge(make_result(), prof)
    c = next(c for c in checks if c.name == "mos_lqo")
    assert not c.passed and "--quality" in c.description and verdict == "fail"


def test_scores_without_a_limit_are_reported_not_judged(make_result):
    checks, verdict = judge(make_result(quality=_q(None, reason="the reference is silent")),
                            Profile())
    c = next(c for c in checks if c.name == "mos_lqo_visqol")
    assert c.passed and c.limit is None and verdict == "pass"
    assert not [c for c in judge(make_result(), Profile())[0] if "mos" in c.name]


# --------------------------------------------------------------------------- reports


def test_json_quality_section_is_the_contract(make_result):
    from validator.report.json_report import SCHEMA_VERSION, to_dict

    doc = to_dict(make_result(quality=_q(4.12, 3.87)), generated_at="x")
    assert SCHEMA_VERSION == 1
    q = doc["quality"]
    assert q["visqol"] == {"mos_lqo": 4.12, "mode": "speech", "sample_rate_hz": 16000,
                           "reason": None, "scored_s": 10.0}
    assert q["pesq"]["mos_lqo"] == 3.87 and q["pesq"]["mode"] == "wb"
    assert q["windows"] == [{"start_s": 0.0065, "end_s": 8.0065, "reference_start_s": 0.0,
                             "reference_end_s": 8.0, "visqol": 4.1, "pesq": None,
                             "not_computed": {"pesq": "no utterance detected"}}]
    assert "quality" not in to_dict(make_result(), generated_at="x")
    json.dumps(doc, allow_nan=False)


def test_terminal_shows_the_scores_and_reasons(make_result):
    from validator.report.terminal import render_terminal

    text = render_terminal(make_result(quality=_q(None, 3.87, reason="the reference is silent")))
    assert "ViSQOL v3 speech (16 kHz)" in text and "not computed: the reference is silent" in text
    assert "PESQ wb (16 kHz)" in text and "MOS-LQO 3.87" in text


@pytest.mark.slow
def test_html_has_a_quality_section_with_the_window_plot(make_result):
    from validator.report.html import render_html

    r = make_result(quality=_q(None, 3.87, reason="the reference is silent"))
    page = render_html(r, generated_at="x")
    assert 'id="quality"' in page and 'id="quality-plot"' in page
    assert "not computed" in page and "3.87" in page
    assert 'id="quality"' not in render_html(make_result(), generated_at="x")


def test_batch_summary_has_mos_per_tag_and_worst(make_result):
    from validator.batch.manifest import Job
    from validator.batch.result import CaptureOutcome
    from validator.batch.summary import summarize
    from validator.report.json_report import to_dict

    outs = []
    for i, (codec, v, p) in enumerate([("pcmu", 4.4, 3.9), ("pcmu", 4.0, None),
                                       ("opus", 3.1, 2.2)], start=1):
        q = _q(v, p) if p is not None else QualityResult(
            visqol=QualityScore("visqol", "speech", 16000, v, None, 10.0),
            pesq=QualityScore("pesq", "wb", 16000, None, "no utterance detected", 10.0))
        doc = to_dict(make_result(quality=q), generated_at="x", include_traces=False)
        job = Job(i, f"{i:03d}-c{i}", f"/c{i}.wav", "/r.wav", tags=(("codec", codec),))
        outs.append(CaptureOutcome(job, "pass", document=doc, attempts=1))
    s = summarize(outs, run_name="r", run_dir="/x", backend="process pool", workers=1,
                  wall_s=1.0, generated_at="x")
    assert s["mos"]["metrics"] == ["mos_lqo_visqol", "mos_lqo_pesq"]
    pcmu = s["mos"]["by_tag"]["codec"]["pcmu"]
    assert pcmu["mos_lqo_visqol"]["n"] == 2 and pcmu["mos_lqo_visqol"]["median"] == 4.2
    assert pcmu["mos_lqo_pesq"] == {"n": 1, "not_computed": 1, "mean": 3.9, "min": 3.9,
                                    "p25": 3.9, "median": 3.9, "p75": 3.9, "max": 3.9}
    assert [c["name"] for c in s["worst"]["mos_lqo_visqol"]["captures"]][0] == "003-c3"
    from validator.batch.render import render_index, render_text

    assert "MOS-LQO: ViSQOL median 4.00" in render_text(s)
    assert 'id="mos"' in render_index(s)


def test_batch_summary_without_quality_is_unchanged(make_result):
    from validator.batch.summary import capture_metrics

    m = capture_metrics({"channels": [], "events": [], "checks": []})
    assert m["mos_lqo_visqol"] is None and m["quality_not_computed"] == []


# --------------------------------------------------------------------------- with the metrics


@pytest.mark.slow
@needs_quality
def test_speech_reference_against_itself_scores_high(speech16):
    from validator import validate

    r = validate(speech16, speech16, sample_rate_hz=16000, quality="visqol,pesq")
    q = r.quality
    assert q.visqol.mos_lqo > 4.4 and q.pesq.mos_lqo > 4.4
    assert q.visqol.mode == "speech" and q.pesq.mode == "wb" and q.covered_fraction == 1.0
    # 14.4 s: windows at 0, 4 and one ending at the end, all scored
    assert [w.reference_start_s for w in q.windows] == [0.0, 4.0, pytest.approx(6.428, abs=1e-3)]
    assert all(w.visqol > 4.3 and w.pesq > 4.3 for w in q.windows)


def _pcmu_received(x8: np.ndarray, loss_pct: float, seed: int) -> np.ndarray:
    from packet_codec import decode, encode, loss_pattern

    enc = encode("pcmu", x8)
    return decode(enc, loss_pattern(len(enc.packets), loss_pct, "random",
                                    np.random.default_rng(seed)))


@pytest.mark.slow
@needs_quality
@needs_av
def test_scores_fall_as_loss_rises(speech16):
    from scipy.signal import resample_poly

    from validator import validate

    x8 = resample_poly(speech16, 1, 2)
    scores = {}
    for pct in (0.0, 3.0, 10.0):
        y = _pcmu_received(x8, pct, seed=3)
        q = validate(y, x8, sample_rate_hz=8000, quality="visqol,pesq").quality
        scores[pct] = (q.visqol.mos_lqo, q.pesq.mos_lqo)
        assert q.pesq.mode == "nb" and q.pesq.sample_rate_hz == 8000
    v = [scores[p][0] for p in (0.0, 3.0, 10.0)]
    p = [scores[p][1] for p in (0.0, 3.0, 10.0)]
    assert v[0] > v[1] + 0.05 > v[2] + 0.1, scores
    assert p[0] > p[1] + 0.3 > p[2] + 0.5, scores


@pytest.mark.slow
@needs_quality
def test_delayed_drifted_received_still_scores(speech16):
    from validator import validate

    fs = 16000
    ref = ArraySource(speech16, fs)
    model = _model(offsets=(0.35 * fs + 0.4,), drift_ppm=120.0)
    y = aligned_reference(ref, model, 0, len(speech16) + fs, channels=1)[:, 0]
    r = validate(y, speech16, sample_rate_hz=fs, quality="visqol,pesq")
    assert r.alignment.delay_s == pytest.approx(0.35, abs=1e-3)
    q = r.quality
    clean = score_aligned(speech16, speech16, fs, "visqol,pesq")
    assert q.visqol.mos_lqo > clean.visqol.mos_lqo - 0.1, (q, clean)
    assert q.pesq.mos_lqo > clean.pesq.mos_lqo - 0.1, (q, clean)
    # the windows say where they lie in the received file: 0.35 s later, stretched
    w = q.windows[1]
    assert w.start_s == pytest.approx(4.0 * (1 + 120e-6) + 0.35, abs=1e-3)


@pytest.mark.slow
@pytest.mark.real
@needs_quality
@pytest.mark.parametrize("case, pesq_mode", [("speech_pcmu_loss3pct", "nb"),
                                             ("opus_plc_speech", "wb")])
def test_real_speech_captures_get_scores(shared_real, case, pesq_mode):
    from validator import validate

    d = shared_real / case
    r = validate(d / "received.wav", d / "reference.wav", quality="visqol,pesq")
    q = r.quality
    assert q.pesq.mode == pesq_mode
    assert 3.0 < q.visqol.mos_lqo < 4.6 and 1.5 < q.pesq.mos_lqo < 4.0, q
    clean = validate(d / "reference.wav", d / "reference.wav", quality="visqol,pesq").quality
    assert q.visqol.mos_lqo < clean.visqol.mos_lqo and q.pesq.mos_lqo < clean.pesq.mos_lqo - 0.5
    assert q.windows and all(w.visqol is not None for w in q.windows)
    if case == "opus_plc_speech":  # the 312-sample Opus lag shows in where the windows lie
        assert q.windows[0].start_s == pytest.approx(312 / 48000, abs=2e-4)


@pytest.mark.slow
@needs_quality
def test_cli_writes_quality_to_json(tmp_path, speech16, capsys):
    from validator.cli import main

    sf.write(tmp_path / "ref.wav", speech16, 16000, subtype="PCM_16")
    code = main(["validate", str(tmp_path / "ref.wav"), "-r", str(tmp_path / "ref.wav"),
                 "--quality", "pesq", "--output-dir", str(tmp_path), "--no-html",
                 "--no-junit"])
    out = capsys.readouterr().out
    assert code == 0 and "PESQ wb (16 kHz)" in out
    doc = json.loads((tmp_path / "ref.json").read_text())
    assert doc["quality"]["pesq"]["mos_lqo"] > 4.4 and "visqol" not in doc["quality"]


# --------------------------------------------------------------------------- speech reference


def test_speech_reference_files_are_documented():
    readme = (SPEECH_16K.parent / "README.md").read_text()
    for path, fs in ((SPEECH_16K, 16000), (SPEECH_48K, 48000)):
        info = sf.info(str(path))
        assert info.samplerate == fs and info.channels == 1 and info.subtype == "PCM_16"
        assert path.name in readme
    assert "espeak-ng -v en-us -s 150" in readme and "GPL" in readme


@pytest.mark.slow
def test_speech_reference_rebuilds_bit_identically(tmp_path):
    import hashlib

    from validator.signals.speech import build_speech, espeak_version

    if espeak_version() != "1.51":
        pytest.skip(f"espeak-ng 1.51 made the shipped files; this is {espeak_version()}")
    readme = (SPEECH_16K.parent / "README.md").read_text()
    for name, path in build_speech(tmp_path).items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in readme
        assert digest == hashlib.sha256((SPEECH_16K.parent / name).read_bytes()).hexdigest()


@pytest.mark.slow
@needs_pesq
def test_batch_quality_end_to_end(tmp_path, speech16):
    from validator.batch import jobs_from_patterns, run_batch

    sf.write(tmp_path / "ref.wav", speech16, 16000, subtype="PCM_16")
    y = speech16.copy()
    for k in range(1, 14):  # a zero-filled 20 ms packet every second
        y[k * 16000:k * 16000 + 320] = 0.0
    sf.write(tmp_path / "rx_loss.wav", y, 16000, subtype="PCM_16")
    sf.write(tmp_path / "rx_clean.wav", speech16, 16000, subtype="PCM_16")
    jobs = jobs_from_patterns([str(tmp_path / "rx_*.wav")], str(tmp_path / "ref.wav"),
                              tags={"codec": "l16"})
    res = run_batch(jobs, output_dir=tmp_path / "out", run_name="q", workers=1,
                    quality="pesq", html=False)
    s = res.summary
    assert s["mos"]["metrics"] == ["mos_lqo_pesq"]
    st = s["mos"]["by_tag"]["codec"]["l16"]["mos_lqo_pesq"]
    assert st["n"] == 2 and st["not_computed"] == 0 and st["max"] > 4.4
    worst = s["worst"]["mos_lqo_pesq"]["captures"]
    assert worst[0]["name"].endswith("rx_loss") and worst[0]["value"] < worst[1]["value"]
