"""Batch validation without worker processes: manifests, the summary, the renderers,
one job run in this process, the resume key, and the command line's defaults.

The runs on a process pool and a Dask cluster are in ``tests/test_batch_run.py``.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import sys
from pathlib import Path

import pytest

from validator.batch import (
    CaptureOutcome,
    Job,
    exit_code_of,
    jobs_from_patterns,
    load_manifest,
    run_batch,
    summarize,
)
from validator.batch import cli as batch_cli
from validator.batch.render import render_index, render_text
from validator.batch.state import FileHasher, job_key, load_state
from validator.batch.worker import make_payload, run_job
from validator.cli import build_parser, main
from validator.defaults import DEFAULT_MAX_DELAY_S, DEFAULT_MAX_ZOOMS, DEFAULT_OUTPUT_DIR
from validator.errors import BatchError, MissingDependencyError, ValidatorError
from validator.report.json_report import to_dict
from validator.signals import tone, write_wav

FS = 8000
STAMP = "2026-01-02T03:04:05+00:00"


@pytest.fixture
def pair(tmp_path):
    """A reference and a clean capture of it (997 Hz, 0.5 s, chirp marker, 8 kHz)."""
    y = tone(997, sample_rate_hz=FS, duration_s=0.5, marker="chirp")
    (tmp_path / "refs").mkdir()
    (tmp_path / "caps" / "sub").mkdir(parents=True)
    ref = write_wav(tmp_path / "refs" / "ref.wav", y, FS)
    for name in ("b.wav", "a.wav", "sub/c.wav"):
        write_wav(tmp_path / "caps" / name, y, FS)
    return tmp_path, ref


# --------------------------------------------------------------------------- manifests


def test_csv_manifest_paths_are_relative_to_its_folder(pair, monkeypatch, tmp_path_factory):
    root, ref = pair
    (root / "batch.csv").write_text(
        "received,reference,profile,ssrc,Device,codec\n"
        "# a comment line\n"
        "caps/a.wav,refs/ref.wav,,,phoneA,pcmu\n"
        "\n"
        "caps/b.wav,sine:997,prof.toml,0x1234,phoneB,\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    jobs = load_manifest(root / "batch.csv")
    assert [j.name for j in jobs] == ["001-a", "002-b"]
    assert jobs[0].received == str(root.resolve() / "caps" / "a.wav")
    assert jobs[0].reference == str(root.resolve() / "refs" / "ref.wav")
    assert jobs[0].profile is None and jobs[0].ssrc is None
    assert jobs[0].tags == (("Device", "phoneA"), ("codec", "pcmu"))
    # a tone spec is not a path; an empty cell is "not given"
    assert jobs[1].reference == "sine:997"
    assert jobs[1].profile == str(root.resolve() / "prof.toml")
    assert jobs[1].ssrc == "0x1234"
    assert jobs[1].tags == (("Device", "phoneB"),)


def test_glob_expands_sorted_and_names_stay_unique(pair):
    root, _ = pair
    (root / "m.csv").write_text("received,reference\ncaps/**/*.wav,refs/ref.wav\n"
                                "caps/a.wav,refs/ref.wav\n", encoding="utf-8")
    jobs = load_manifest(root / "m.csv")
    assert [Path(j.received).relative_to(root.resolve()).as_posix() for j in jobs] == \
        ["caps/a.wav", "caps/b.wav", "caps/sub/c.wav", "caps/a.wav"]
    assert [j.name for j in jobs] == ["001-a", "002-b", "003-c", "004-a"]
    assert len({j.name for j in jobs}) == len(jobs)


def test_glob_matching_nothing_is_an_error_entry_not_a_failure_of_the_batch(pair):
    root, _ = pair
    (root / "m.csv").write_text("received,reference\ncaps/a.wav,refs/ref.wav\n"
                                "nothing/*.wav,refs/ref.wav\n", encoding="utf-8")
    jobs = load_manifest(root / "m.csv")
    assert jobs[0].error is None
    assert jobs[1].error is not None and "no file matches" in jobs[1].error
    assert "line 3" in jobs[1].error


def test_toml_manifest_with_defaults_and_tags_table(pair):
    root, _ = pair
    (root / "m.toml").write_text(
        '[defaults]\nreference = "refs/ref.wav"\nnetwork = "lan"\n\n'
        '[[jobs]]\nreceived = "caps/a.wav"\ndevice = "phoneA"\nfirmware = 12\n\n'
        '[[jobs]]\nreceived = "caps/b.wav"\nreference = "sine:997"\n'
        'tags = { device = "phoneB", network = "wan" }\n', encoding="utf-8")
    jobs = load_manifest(root / "m.toml")
    assert jobs[0].reference.endswith("ref.wav")
    assert jobs[0].tag_dict == {"network": "lan", "device": "phoneA", "firmware": "12"}
    assert jobs[1].reference == "sine:997"
    assert jobs[1].tag_dict == {"network": "wan", "device": "phoneB"}


@pytest.mark.parametrize("shape", ["list", "table"])
def test_json_manifest(pair, shape):
    root, _ = pair
    entries = [{"received": "caps/a.wav", "reference": "refs/ref.wav", "codec": "opus"}]
    doc = entries if shape == "list" else {"jobs": entries}
    (root / "m.json").write_text(json.dumps(doc), encoding="utf-8")
    (job,) = load_manifest(root / "m.json")
    assert job.tag_dict == {"codec": "opus"} and job.received.endswith("a.wav")


def test_command_line_reference_and_tags_fill_in_only_what_a_manifest_lacks(pair):
    root, _ = pair
    (root / "m.csv").write_text("received,reference,device\ncaps/a.wav,,x\n"
                                "caps/b.wav,sine:1000,\n", encoding="utf-8")
    jobs = load_manifest(root / "m.csv", reference="sine:997", tags={"device": "cli",
                                                                     "lab": "3"})
    assert [j.reference for j in jobs] == ["sine:997", "sine:1000"]
    assert jobs[0].tag_dict == {"device": "x", "lab": "3"}
    assert jobs[1].tag_dict == {"device": "cli", "lab": "3"}


@pytest.mark.parametrize("name, text, match", [
    ("m.csv", "", "empty manifest"),
    ("m.csv", "path,reference\na.wav,r.wav\n", "no 'received' column"),
    ("m.csv", "received\na.wav\n", "no 'reference' value"),
    ("m.csv", "received,reference\n", "lists no capture"),
    ("m.csv", "received,reference\na.wav,r.wav,extra\n", "3 cells"),
    ("m.csv", "received,reference,Received\na,b,c\n", "repeated column"),
    ("m.toml", "[[jobs]\n", "not valid TOML"),
    ("m.toml", "[[jobs]]\nreceived = 'a.wav'\nreference = 'r.wav'\nx = [1, 2]\n",
     "single value"),
    ("m.toml", "[[jobs]]\nreceived = 3.5\nreference = 'r.wav'\n", "must be text"),
    ("m.json", '{"captures": []}', "unknown key"),
    ("m.json", '"text"', "expected a table"),
    ("m.yaml", "received: a.wav\n", "unknown manifest type"),
])
def test_malformed_manifest_raises_batch_error(tmp_path, name, text, match):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(BatchError, match=match) as info:
        load_manifest(tmp_path / name)
    assert isinstance(info.value, ValidatorError) and "\n" not in str(info.value)


def test_missing_manifest_raises_batch_error(tmp_path):
    with pytest.raises(BatchError, match="cannot read manifest"):
        load_manifest(tmp_path / "nope.csv")


def test_jobs_from_patterns(pair, monkeypatch):
    root, _ = pair
    monkeypatch.chdir(root)
    jobs = jobs_from_patterns(["caps/*.wav"], "refs/ref.wav", tags={"lab": "1"})
    assert [j.name for j in jobs] == ["001-a", "002-b"]
    assert all(j.reference == str(root.resolve() / "refs" / "ref.wav") for j in jobs)
    assert jobs[0].tags == (("lab", "1"),)
    with pytest.raises(BatchError, match="no file matches"):
        jobs_from_patterns(["none/*.wav"], "sine:997")
    with pytest.raises(BatchError, match="no capture given"):
        jobs_from_patterns([], "sine:997")


# --------------------------------------------------------------------------- one job here


def _payload(job, run_dir, **kwargs):
    kw = dict(run_dir=run_dir, generated_at=STAMP, max_delay_s=10.0, max_zooms=5, html=True)
    kw.update(kwargs)
    return make_payload(job, **kw)


def test_run_job_writes_reports_into_a_visible_run_folder(pair):
    root, ref = pair
    (root / "run" / "captures").mkdir(parents=True)
    job = Job(1, "001-a", str(root / "caps" / "a.wav"), str(ref), tags=(("d", "x"),))
    out = run_job(_payload(job, root / "run"))
    assert out["status"] == "pass" and out["error"] is None and out["texts"] == {}
    assert out["reports"] == {"json": "captures/001-a.json", "html": "captures/001-a.html",
                              "xml": "captures/001-a.xml"}
    on_disk = json.loads((root / "run" / "captures" / "001-a.json").read_text())
    assert "traces" in on_disk and "traces" not in out["document"]
    on_disk.pop("traces")
    assert on_disk == out["document"]
    assert out["document"]["generated_at"] == STAMP
    assert out["peak_rss_mb"] is None or out["peak_rss_mb"] > 10
    # small: no arrays, a few kB of JSON
    assert len(json.dumps(out)) < 20_000


def test_run_job_hands_reports_back_when_the_run_folder_is_not_visible(pair):
    root, ref = pair
    job = Job(1, "001-a", str(root / "caps" / "a.wav"), str(ref))
    out = run_job(_payload(job, root / "not-here", html=False))
    assert set(out["texts"]) == {"json", "xml"} and not (root / "not-here").exists()
    assert out["reports"] == {"json": "captures/001-a.json", "xml": "captures/001-a.xml"}


def test_shipped_bytes_are_validated_under_their_original_names(pair):
    root, ref = pair
    received = root / "caps" / "a.wav"
    job = Job(1, "001-a", "/shared/nowhere/a.wav", "/shared/nowhere/ref.wav")
    out = run_job(_payload(job, root / "x", shipped={"received": received.read_bytes(),
                                                     "reference": ref.read_bytes()}))
    assert out["status"] == "pass"
    assert out["document"]["input"]["received"] == "/shared/nowhere/a.wav"
    assert out["document"]["input"]["reference"] == "/shared/nowhere/ref.wav"
    bad = Job(2, "002-t", "/shared/nowhere/t.wav", "/shared/nowhere/ref.wav")
    out = run_job(_payload(bad, root / "x", shipped={"received": b"not audio",
                                                     "reference": ref.read_bytes()}))
    assert out["status"] == "error" and out["error"].startswith("/shared/nowhere/t.wav: ")
    assert "audio-validator-job" not in out["error"]


def test_unreadable_capture_is_an_error_outcome_with_the_one_line_message(pair):
    root, ref = pair
    (root / "t.wav").write_text("text\n")
    for path, kind in ((root / "missing.wav", "AudioFormatError"),
                       (root / "t.wav", "AudioFormatError")):
        out = run_job(_payload(Job(1, "001-x", str(path), str(ref)), root / "r"))
        assert out["status"] == "error" and out["document"] is None
        assert out["error_type"] == kind and out["error"].startswith(str(path))
        assert "\n" not in out["error"] and out["traceback"] is None


# --------------------------------------------------------------------------- resume key


def test_resume_key_follows_contents_not_mtime(pair):
    root, ref = pair
    cap = root / "caps" / "a.wav"
    job = Job(1, "001-a", str(cap), str(ref))
    opts = {"max_delay_s": 10.0}
    k1 = job_key(job, FileHasher(), opts)
    assert k1 is not None and k1["profile_sha256"] == "default"
    os.utime(cap, (1, 1))
    assert job_key(job, FileHasher(), opts) == k1
    data = bytearray(cap.read_bytes())
    data[-2:] = b"\x01\x00"
    cap.write_bytes(bytes(data))
    k2 = job_key(job, FileHasher(), opts)
    assert k2 is not None and k2["received_sha256"] != k1["received_sha256"]
    assert k2["reference_sha256"] == k1["reference_sha256"]
    assert job_key(job, FileHasher(), {"max_delay_s": 5.0}) != k2
    assert job_key(Job(1, "x", str(root / "gone.wav"), str(ref)), FileHasher(), opts) is None
    spec = job_key(Job(1, "x", str(cap), "sine:997"), FileHasher(), opts)
    assert spec is not None and spec["reference_sha256"] == "spec:sine:997"


def test_corrupt_state_raises_batch_error(tmp_path):
    assert load_state(tmp_path)["jobs"] == {}
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(BatchError, match="cannot read the run state"):
        load_state(tmp_path)
    (tmp_path / "state.json").write_text('{"schema_version": 99, "jobs": {}}')
    with pytest.raises(BatchError, match="schema version"):
        load_state(tmp_path)


# --------------------------------------------------------------------------- summary


def _outcome(make_result, index, status, *, tags=(), events=0, gain=-0.002, snr=62.5,
             error=None):
    from validator.result import ChannelMetrics, Check

    job = Job(index, f"{index:03d}-c{index}", f"/caps/c{index}.wav", "/refs/r.wav",
              tags=tuple(tags))
    if status in ("error", "not_run"):
        return CaptureOutcome(job, status, error=error, error_type="AudioFormatError"
                              if error else None, attempts=1 if error else 0)
    ch = ChannelMetrics(0, -13.0, -10.0, -13.0, gain, 997.0, 0.0, snr, -60.0, 0.0)
    checks = (Check("dropout_events", events == 0, events, 0, "events"),
              Check("gain_error_ch0", abs(gain) <= 1, gain, 1.0, "dB"))
    doc = to_dict(make_result(events=events, channels=(ch,), checks=checks, verdict=status),
                  generated_at=STAMP, include_traces=False)
    return CaptureOutcome(job, status, document=doc,
                          reports=(("json", f"captures/{job.name}.json"),
                                   ("html", f"captures/{job.name}.html")),
                          attempts=1, worker="h:1", peak_rss_mb=100.0 + index, wall_s=0.5)


def test_summary_counts_tags_worst_and_histograms(make_result):
    outs = [
        _outcome(make_result, 1, "pass", tags=[("device", "A"), ("codec", "pcmu")]),
        _outcome(make_result, 2, "fail", tags=[("device", "A"), ("codec", "opus")], events=3),
        _outcome(make_result, 3, "fail", tags=[("device", "B"), ("codec", "pcmu")], gain=-6.0,
                 snr=20.0, events=1),
        _outcome(make_result, 4, "error", tags=[("device", "B"), ("codec", "opus")],
                 error="/caps/c4.wav: no such file"),
    ]
    s = summarize(outs, run_name="r", run_dir="/out/r", backend="process pool", workers=2,
                  wall_s=2.0, generated_at=STAMP)
    assert s["counts"] == {"total": 4, "pass": 1, "fail": 2, "error": 1, "not_run": 0,
                           "ran": 4, "resumed": 0}
    assert s["verdict"] == "error" and s["exit_code"] == 2
    assert s["tag_keys"] == ["device", "codec"]
    assert s["by_tag"]["device"]["A"] == {"total": 2, "pass": 1, "fail": 1, "error": 0,
                                          "not_run": 0}
    (pair,) = s["by_tag_pair"]
    assert (pair["rows"], pair["columns"]) == ("device", "codec")
    assert pair["row_values"] == ["A", "B"] and pair["column_values"] == ["opus", "pcmu"]
    assert pair["cells"][1][0]["error"] == 1 and pair["cells"][0][1]["pass"] == 1
    assert [c["name"] for c in s["worst"]["min_snr_db"]["captures"]] == \
        ["003-c3", "001-c1", "002-c2"]
    assert [c["name"] for c in s["worst"]["events"]["captures"]] == ["002-c2", "003-c3"]
    assert s["worst"]["max_abs_gain_error_db"]["captures"][0] == {
        "name": "003-c3", "value": 6.0, "status": "fail", "html": "captures/003-c3.html"}
    assert s["failures"]["checks"] == {"dropout_events": 2, "gain_error": 1}
    assert s["failures"]["events"] == {"dropout": {"events": 4, "captures": 2}}
    assert s["failures"]["errors"] == {"AudioFormatError": 1}
    assert s["throughput"]["captures_per_s"] == 2.0 and s["throughput"]["audio_s"] == 9.75
    assert s["workers"] == [{"id": "h:1", "captures": 3, "peak_rss_mb": 103.0}]
    json.dumps(s, allow_nan=False)  # plain JSON


@pytest.mark.parametrize("statuses, interrupted, code", [
    (["pass", "pass"], False, 0),
    (["pass", "fail"], False, 1),
    (["fail", "error"], False, 2),
    (["pass", "not_run"], True, 2),
    ([], False, 2),
])
def test_exit_code_of(make_result, statuses, interrupted, code):
    outs = [_outcome(make_result, i + 1, s, error="x" if s == "error" else None)
            for i, s in enumerate(statuses)]
    assert exit_code_of(outs, interrupted=interrupted) == code


def test_index_escapes_tag_values_paths_and_messages(make_result):
    evil = "<script>alert('x')</script>"
    outs = [_outcome(make_result, 1, "pass", tags=[("device", evil), ("co<b>dec", "a&b")]),
            _outcome(make_result, 2, "error", tags=[("device", "ok")],
                     error=f"/caps/{evil}.wav: no such file")]
    s = summarize(outs, run_name="r", run_dir="/r", backend="process pool", workers=1,
                  wall_s=1.0, generated_at=STAMP)
    page = render_index(s)
    assert "<script>alert" not in page and "<b>dec" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "co&lt;b&gt;dec" in page and "a&amp;b" in page
    assert page.count("<script>") == 1  # the page's own script only
    text = render_text(s, report_paths=["r/index.html"])
    assert text.splitlines()[0] == "ERROR: 2 captures: 1 pass, 0 fail, 1 could not be validated"
    assert text.rstrip().endswith("report: r/index.html")


# --------------------------------------------------------------------------- command line


def test_cli_defaults_equal_library_defaults():
    sig = inspect.signature(run_batch).parameters
    args = build_parser().parse_args(["batch", "m.csv"])
    assert args.output_dir == sig["output_dir"].default == DEFAULT_OUTPUT_DIR
    assert args.max_delay == sig["max_delay_s"].default == DEFAULT_MAX_DELAY_S
    assert args.max_zooms == sig["max_zooms"].default == DEFAULT_MAX_ZOOMS
    assert args.ship_inputs == sig["ship_inputs"].default
    assert args.jobs is None and sig["workers"].default is None  # both: os.cpu_count()
    assert (not args.no_html) is sig["html"].default
    assert args.resume is sig["resume"].default is False
    from validator.pipeline import validate
    assert DEFAULT_MAX_DELAY_S == inspect.signature(validate).parameters["max_delay_s"].default
    assert DEFAULT_MAX_ZOOMS == inspect.signature(validate).parameters["zoom_events"].default


@pytest.mark.parametrize("argv, message", [
    (["batch"], "nothing to validate"),
    (["batch", "m.csv", "--received", "x.wav"], "not both"),
    (["batch", "--received", "x.wav"], "needs --reference"),
    (["batch", "--received", "none/*.wav", "--reference", "sine:997"], "no file matches"),
    (["batch", "missing.csv"], "cannot read manifest"),
    (["batch", "m.csv", "--jobs", "0"], "expected a whole number >= 1"),
    (["batch", "m.csv", "--dask", "--scheduler", "tcp://x:1"], "not allowed with"),
])
def test_cli_usage_errors_exit_2_with_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_dask_backend_without_dask_names_the_extra(pair, monkeypatch, capsys):
    root, ref = pair
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    jobs = [Job(1, "001-a", str(root / "caps" / "a.wav"), str(ref))]
    with pytest.raises(MissingDependencyError, match=r"audio-stream-validator\[dask\]"):
        run_batch(jobs, output_dir=root / "out", scheduler="local", workers=1)
    assert main(["batch", "--received", str(root / "caps" / "a.wav"), "--reference", str(ref),
                 "--dask", "--output-dir", str(root / "out")]) == 2
    assert "pip install 'audio-stream-validator[dask]'" in capsys.readouterr().err


def test_run_batch_rejects_bad_arguments(pair):
    root, ref = pair
    jobs = [Job(1, "001-a", str(root / "caps" / "a.wav"), str(ref))]
    with pytest.raises(BatchError, match="empty"):
        run_batch([], output_dir=root)
    with pytest.raises(BatchError, match="workers"):
        run_batch(jobs, output_dir=root, workers=0)
    with pytest.raises(BatchError, match="ship_inputs"):
        run_batch(jobs, output_dir=root, ship_inputs="sometimes")
    with pytest.raises(BatchError, match="run name"):
        run_batch(jobs, output_dir=root, run_name="../up")
    with pytest.raises(BatchError, match="no earlier run"):
        run_batch(jobs, output_dir=root / "empty", resume=True)
    with pytest.raises(BatchError, match="unique"):
        run_batch(jobs * 2, output_dir=root)


def test_progress_line_draws_counts_and_eta_and_erases_itself():
    from validator.batch import ProgressInfo

    stream = io.StringIO()
    line = batch_cli.ProgressLine(stream)
    line(ProgressInfo(done=0, total=20, passed=0, failed=0, errored=0, resumed=0,
                      elapsed_s=0.0, eta_s=None))
    line.t_last = 0.0
    line(ProgressInfo(done=5, total=20, passed=3, failed=1, errored=1, resumed=2,
                      elapsed_s=10.0, eta_s=75.0))
    text = stream.getvalue()
    assert "batch 0/20" in text and "ETA --" in text
    assert "\r  batch 5/20  pass 3  fail 1  error 1  resumed 2  ETA 1m15s" in text
    line.close()
    assert stream.getvalue().endswith("\r")


def test_no_wall_time_gives_no_rate(make_result):
    out = _outcome(make_result, 1, "pass")
    s = summarize([out], run_name="r", run_dir="/r", backend="b", workers=1, wall_s=0.0,
                  generated_at=STAMP)
    assert s["throughput"]["captures_per_s"] is None
    assert s["throughput"]["audio_s_per_s"] is None
    json.dumps(s, allow_nan=False)


def test_batch_takes_the_payload_type_and_port_a_capture_without_sdp_needs(tmp_path, capsys):
    """The error for a capture without SDP says "give --payload-type": batch takes it too."""
    import numpy as np

    from validator.rtp.synth import encode_packets, rtp_datagrams, write_capture

    fs = 48000
    y = np.round(0.5 * np.sin(2 * np.pi * 997 * np.arange(fs) / fs) * 2**23) / 2**23
    dg = rtp_datagrams(encode_packets(y[:, None], "L24/48000/1", samples_per_packet=48),
                       payload_type=97, ts_step=48, ptime_ns=1_000_000, ssrc=0x5EED)
    (tmp_path / "caps").mkdir()
    cap = write_capture(tmp_path / "caps" / "aes67.pcap",
                        [d for k, d in enumerate(dg) if k != 500])  # packet 500 lost: 0.5 s
    ref = write_wav(tmp_path / "ref.wav", y, fs, bit_depth=24)
    base = ["batch", "--received", str(cap), "--reference", str(ref), "--jobs", "1",
            "--no-progress", "--no-html", "--output-dir", str(tmp_path / "out")]
    assert main([*base, "--run-name", "plain"]) == 2
    assert "unknown payload type 97" in capsys.readouterr().out
    assert main([*base, "--run-name", "given", "--payload-type", "97=L24/48000/1",
                 "--port", "5004"]) == 1
    (report,) = (tmp_path / "out" / "given" / "captures").glob("*.json")
    doc = json.loads(report.read_text())
    assert doc["verdict"] == "fail"
    (stream,) = doc["rtp"]["streams"]
    assert stream["lost"] == 1
    (gap,) = [e for e in doc["events"] if e["type"] == "dropout"]
    assert gap["start_s"] == pytest.approx(0.5, abs=0.0005)
    assert gap["duration_s"] == pytest.approx(0.001, abs=0.0002)
    # the resume key holds them: a run without them is not "unchanged"
    state = load_state(tmp_path / "out" / "given")
    (entry,) = state["jobs"].values()
    assert entry["key"]["options"]["payload_types"] == {"97": "L24/48000/1"}
    assert entry["key"]["options"]["port"] == 5004
