"""Batch runs on real worker processes: a process pool and a Dask LocalCluster.

One manifest of 19 small captures (0.25 s chirp marker + 1 s of 997 Hz at
8 kHz): clean ones, faults injected with :mod:`validator.impair` (zero-fill,
repeated and faded packets, a click, a gain error, near-silence, clipping, a
skip; noise, mu-law and a delay that must pass), a capture judged by a lenient
profile, one against a tone spec, and three broken inputs (a missing file, a
text file named .wav, a capture at another sample rate). It is validated with
``workers=1``, ``workers=2`` and on a ``LocalCluster(n_workers=2,
processes=True, threads_per_worker=1)``, and the results must agree field for
field apart from the volatile ones (``generated_at``, ``elapsed_s``, the tool
version).
"""

from __future__ import annotations

import copy
import csv
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from validator import impair
from validator.batch import load_manifest, run_batch
from validator.batch.worker import run_job
from validator.cli import main
from validator.signals import tone, write_wav

#: Process pools, a Dask cluster, subprocess CLIs and headless Chromium: all slow
#: (``python -m pytest -m "not slow"`` leaves this file out).
pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
XSD = HERE / "data" / "junit-jenkins.xsd"
FS = 8000
XSS = "<script>document.title='pwned'</script>"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: (received, reference, profile, device, codec, network, expected status, failed check)
ROWS = [
    ("captures/clean/*.wav", "refs/ref.wav", "", "phoneA", "pcmu", "lan", "pass", None),
    ("captures/loss/zero20.wav", "refs/ref.wav", "", "phoneA", "pcmu", "lossy", "fail",
     "dropout_events"),
    ("captures/loss/zero5.wav", "refs/ref.wav", "", "phoneA", "opus", "lossy", "fail",
     "dropout_events"),
    ("captures/loss/repeat.wav", "refs/ref.wav", "", "phoneB", "pcmu", "lossy", "fail",
     "glitch_events"),
    ("captures/loss/fade.wav", "refs/ref.wav", "", "phoneB", "opus", "lossy", "fail", None),
    ("captures/click.wav", "refs/ref.wav", "", XSS, "opus", "lan", "fail", "glitch_events"),
    ("captures/gain.wav", "refs/ref.wav", "", "phoneB", "pcmu", "lan", "fail",
     "gain_error_ch0"),
    ("captures/noise30.wav", "refs/ref.wav", "", "phoneA", "opus", "noisy", "pass", None),
    ("captures/mulaw.wav", "refs/ref.wav", "", "phoneA", "pcmu", "lan", "pass", None),
    ("captures/silence.wav", "refs/ref.wav", "", "phoneB", "opus", "lan", "fail",
     "silence_events"),
    ("captures/clip.wav", "refs/ref.wav", "", "phoneB", "pcmu", "lan", "fail",
     "clipping_events"),
    ("captures/delayed.wav", "refs/ref.wav", "", "phoneA", "opus", "wan", "pass", None),
    ("captures/skip.wav", "refs/ref.wav", "", "phoneB", "opus", "lossy", "fail", None),
    ("captures/loss/zero20.wav", "refs/ref.wav", "profiles/lenient.toml", "phoneA", "pcmu",
     "lossy", "pass", None),
    ("captures/puretone.wav", "sine:997", "", "phoneA", "pcmu", "lan", "pass", None),
    ("captures/missing.wav", "refs/ref.wav", "", "phoneC", "pcmu", "lan", "error",
     "no such file"),
    ("captures/notaudio.wav", "refs/ref.wav", "", "phoneC", "opus", "lan", "error",
     "not a readable audio file"),
    ("captures/rate16k.wav", "refs/ref.wav", "", "phoneC", "pcmu", "lan", "error",
     "sample rate 16000 Hz differs"),
]
#: Faults by capture, ``validator.impair`` function and arguments (None: a clean copy).
FAULTS = {
    "clean/phoneA": None, "clean/phoneB": None,
    "loss/zero20": ("zero_fill", {"start_s": 0.6, "duration_s": 0.02}),
    "loss/zero5": ("zero_fill", {"start_s": 0.9, "duration_s": 0.005}),
    "loss/repeat": ("repeat_packet", {"start_s": 0.7}),
    "loss/fade": ("fade_packet", {"start_s": 0.8}),
    "click": ("click", {"at_s": 0.75}),
    "gain": ("gain", {"gain_db": -3.0}),
    "noise30": ("add_noise", {"snr_db": 30.0, "seed": 7}),
    "mulaw": ("mu_law_round_trip", {}),
    "silence": ("near_silence", {"start_s": 0.5, "duration_s": 0.3}),
    "clip": ("hard_clip", {"gain_db": 12.0}),
    "delayed": ("delay", {"delay_s": 0.05}),
    "skip": ("skip", {"start_s": 0.7, "duration_s": 0.02}),
}


def build_corpus(root: Path) -> Path:
    """Write the captures, the reference, a lenient profile and ``batch.csv`` under ``root``."""
    ref = tone(997, sample_rate_hz=FS, duration_s=1.0, marker="chirp")
    (root / "refs").mkdir(parents=True)
    write_wav(root / "refs" / "ref.wav", ref, FS)
    (root / "profiles").mkdir()
    (root / "profiles" / "lenient.toml").write_text("[limits]\nmax_dropouts = 2\n")
    for name, fault in FAULTS.items():
        path = root / "captures" / f"{name}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        y = ref if fault is None else getattr(impair, fault[0])(ref, FS, **fault[1]).y
        write_wav(path, y, FS)
    write_wav(root / "captures" / "puretone.wav", tone(997, sample_rate_hz=FS,
                                                        duration_s=1.0), FS)
    write_wav(root / "captures" / "rate16k.wav",
              tone(997, sample_rate_hz=16000, duration_s=1.0, marker="chirp"), 16000)
    (root / "captures" / "notaudio.wav").write_text("this is not a RIFF file\n")
    with open(root / "batch.csv", "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["received", "reference", "profile", "device", "codec", "network"])
        out.writerows(row[:6] for row in ROWS)
    return root / "batch.csv"


def expected() -> list[tuple[str, str | None]]:
    """(status, failed check or error text) per job, after the glob's expansion."""
    out = []
    for row in ROWS:
        out += [row[6:]] * (2 if "*" in row[0] else 1)
    return out


def stable(doc: dict) -> dict:
    """A JSON report without its volatile fields."""
    d = copy.deepcopy(doc)
    d.pop("generated_at")
    d.pop("elapsed_s")
    d["tool"].pop("version")
    return d


def stable_suites(path: Path) -> list[str]:
    """The testsuites of a JUnit file, without times, timestamps and the tool version."""
    root = ET.parse(path).getroot()
    for el in root.iter():
        for attr in ("time", "timestamp"):
            el.attrib.pop(attr, None)
        if el.tag == "property" and el.get("name") == "tool_version":
            el.set("value", "")
    return [ET.tostring(s, encoding="unicode") for s in root.iter("testsuite")]


def comparable(result) -> dict[str, tuple]:
    """Everything of a run that must not depend on where it ran."""
    out = {}
    for o in result.outcomes:
        on_disk = None
        if o.report_dict.get("json"):
            on_disk = stable(json.loads((result.run_dir / o.report_dict["json"]).read_text()))
        out[o.job.name] = (o.status, o.error, o.error_type, o.report_dict,
                           stable(o.document) if o.document else None, on_disk)
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def pool1(corpus, out_dir):
    return run_batch(load_manifest(corpus), output_dir=out_dir, run_name="jobs1", workers=1)


@pytest.fixture(scope="module")
def pool2(corpus, out_dir):
    return run_batch(load_manifest(corpus), output_dir=out_dir, run_name="jobs2", workers=2)


@pytest.fixture(scope="module")
def dask_run(corpus, out_dir):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        # ship_inputs="always": the inputs travel as bytes, as to a remote cluster
        return run_batch(load_manifest(corpus), output_dir=out_dir, run_name="dask",
                         scheduler=client, ship_inputs="always")


def test_every_capture_gets_its_verdict_and_the_broken_ones_their_message(pool2):
    got = [(o.status, o.document, o.error) for o in pool2.outcomes]
    assert len(got) == 19
    for (status, doc, error), (want, detail), o in zip(got, expected(), pool2.outcomes,
                                                        strict=True):
        assert status == want, (o.job.name, status, error)
        if want == "error":
            assert detail in error and error.startswith(o.job.received), error
            assert "\n" not in error and doc is None and not o.reports
        else:
            assert doc is not None and doc["verdict"] == want
            failed = [c["name"] for c in doc["checks"] if not c["passed"]]
            assert detail is None or detail in failed, (o.job.name, failed)
            assert set(o.report_dict) == {"json", "html", "xml"}
            assert all((pool2.run_dir / p).is_file() for p in o.report_dict.values())
    assert pool2.exit_code == 2
    assert pool2.summary["counts"] == {"total": 19, "pass": 7, "fail": 9, "error": 3,
                                       "not_run": 0, "ran": 19, "resumed": 0}


def test_repeated_stems_get_unique_report_names(pool2):
    names = [o.job.name for o in pool2.outcomes if o.job.received.endswith("zero20.wav")]
    assert names == ["003-zero20", "015-zero20"]
    docs = [json.loads((pool2.run_dir / "captures" / f"{n}.json").read_text()) for n in names]
    assert [d["verdict"] for d in docs] == ["fail", "pass"]  # the second has the lenient profile


def test_jobs_1_and_jobs_2_give_identical_results(pool1, pool2):
    assert comparable(pool1) == comparable(pool2)
    assert stable_suites(pool1.run_dir / "junit.xml") == stable_suites(pool2.run_dir /
                                                                        "junit.xml")
    assert len(pool1.summary["workers"]) == 1 and len(pool2.summary["workers"]) == 2


def test_dask_local_cluster_gives_results_identical_to_the_pool(pool2, dask_run):
    assert comparable(dask_run) == comparable(pool2)
    assert stable_suites(dask_run.run_dir / "junit.xml") == \
        stable_suites(pool2.run_dir / "junit.xml")
    assert dask_run.summary["run"]["backend"] == "dask client"
    assert dask_run.summary["run"]["workers"] == 2
    assert {w["id"] for w in dask_run.summary["workers"]}.isdisjoint(
        {w["id"] for w in pool2.summary["workers"]})


def test_summary_groups_by_tag_and_ranks_the_worst(pool2):
    s = json.loads((pool2.run_dir / "summary.json").read_text())
    assert s == pool2.summary
    assert s["tag_keys"] == ["device", "codec", "network"]
    assert s["by_tag"]["device"]["phoneC"] == {"total": 3, "pass": 0, "fail": 0, "error": 3,
                                               "not_run": 0}
    assert s["by_tag"]["network"]["lossy"]["fail"] == 5
    assert [(p["rows"], p["columns"]) for p in s["by_tag_pair"]] == [
        ("device", "codec"), ("device", "network"), ("codec", "network")]
    assert s["worst"]["max_abs_gain_error_db"]["captures"][0]["name"] in ("008-gain",
                                                                          "012-clip")
    assert s["worst"]["min_snr_db"]["captures"]
    assert s["failures"]["checks"]["dropout_events"] >= 3
    assert s["failures"]["errors"] == {"AudioFormatError": 2, "InputMismatchError": 1}
    t = s["throughput"]
    audio_s = sum(o.document["input"]["duration_s"] for o in pool2.outcomes if o.document)
    assert t["ran"] == 19 and t["captures_per_s"] > 0
    assert t["audio_s"] == pytest.approx(audio_s, abs=1e-3) and 19 < audio_s < 21
    assert all(w["peak_rss_mb"] is None or 20 < w["peak_rss_mb"] < 1000 for w in s["workers"])


def test_junit_has_one_suite_per_capture_and_follows_the_schema(pool2):
    root = ET.parse(pool2.run_dir / "junit.xml").getroot()
    suites = root.findall("testsuite")
    assert len(suites) == 19
    assert root.get("errors") == "3" and int(root.get("failures")) >= 9
    errors = [s for s in suites if s.get("errors") == "1"]
    assert [e.find("testcase/error").get("type") for e in errors] == [
        "AudioFormatError", "AudioFormatError", "InputMismatchError"]
    props = {p.get("name"): p.get("value") for p in suites[6].iter("property")}
    assert props["tag.device"] == XSS and props["batch_capture"] == "007-click"
    etree = pytest.importorskip("lxml.etree")
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.parse(str(pool2.run_dir / "junit.xml"))
    assert schema.validate(doc), schema.error_log


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium found; install it with 'apt-get install chromium'")


def test_index_html_in_headless_chromium(pool2, tmp_path):
    page = pool2.run_dir / "index.html"
    argv = [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    console = re.findall(r":INFO:CONSOLE[^\]]*\] (.*)", proc.stderr)
    assert console == [], console
    assert 'data-js="ready"' in dom, "the page's script did not run to its end"
    assert 'data-verdict="error"' in dom
    # every capture has its row
    rows = re.findall(r'<tr id="capture-([^"]+)" data-name="([^"]+)" data-status="(\w+)"', dom)
    assert [(r[1], r[2]) for r in rows] == [(o.job.name, o.status) for o in pool2.outcomes]
    # every link leads to a file of the run folder (the per-capture reports, summary, junit)
    hrefs = set(re.findall(r'href="([^"#]+)"', dom))
    assert {f"captures/{o.job.name}.html" for o in pool2.outcomes if o.status != "error"} \
        <= hrefs
    for href in hrefs:
        assert (pool2.run_dir / href).is_file(), href
    linked = (pool2.run_dir / "captures" / "003-zero20.html").read_text()
    assert "zero20.wav" in linked and 'data-verdict="fail"' in linked
    # the tag value <script>...</script> is text, not markup: it ran nowhere
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    assert "<script>document.title" not in dom
    assert re.search(r"<title>[^<]*pwned", dom) is None


def test_resume_validates_only_what_changed(corpus, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(corpus.parent, root)  # relative paths in the manifest follow it
    manifest = root / "batch.csv"
    first = run_batch(load_manifest(manifest), output_dir=tmp_path / "out", run_name="r",
                      workers=2)
    assert first.summary["counts"]["ran"] == 19
    state = json.loads((first.run_dir / "state.json").read_text())
    assert len(state["jobs"]) == 16  # errors are not kept: they are tried again

    second = run_batch(load_manifest(manifest), output_dir=tmp_path / "out", run_name="r",
                       workers=2, resume=True)
    ran = [o.job.name for o in second.outcomes if not o.resumed]
    assert ran == ["017-missing", "018-notaudio", "019-rate16k"]  # nothing validated again
    assert comparable(second) == comparable(first)
    assert second.exit_code == first.exit_code == 2

    os.utime(root / "captures" / "gain.wav", (1e9, 1e9))  # a new mtime, the same bytes
    third = run_batch(load_manifest(manifest), output_dir=tmp_path / "out", workers=2,
                      resume=True)  # no run name: the newest run
    assert third.run_name == "r" and third.summary["counts"]["resumed"] == 16

    write_wav(root / "captures" / "gain.wav",
              impair.gain(tone(997, sample_rate_hz=FS, duration_s=1.0, marker="chirp"), FS,
                          gain_db=-0.5).y, FS)
    fourth = run_batch(load_manifest(manifest), output_dir=tmp_path / "out", run_name="r",
                       workers=2, resume=True)
    ran = [o.job.name for o in fourth.outcomes if not o.resumed]
    assert ran == ["008-gain", "017-missing", "018-notaudio", "019-rate16k"]
    by_name = {o.job.name: o for o in fourth.outcomes}
    assert by_name["008-gain"].status == "pass"  # -0.5 dB is within the 1 dB limit
    assert fourth.summary["counts"]["pass"] == 8


def _small_manifest(corpus: Path, tmp_path: Path, names: list[str]) -> Path:
    m = tmp_path / "m.csv"
    m.write_text("received,reference\n" + "".join(
        f"{corpus.parent / 'captures' / n},{corpus.parent / 'refs' / 'ref.wav'}\n"
        for n in names), encoding="utf-8")
    return m


@pytest.mark.parametrize("names, code", [
    (["clean/phoneA.wav", "mulaw.wav"], 0),
    (["clean/phoneA.wav", "gain.wav"], 1),
    (["gain.wav", "missing.wav"], 2),
])
def test_exit_codes(corpus, tmp_path, capsys, names, code):
    m = _small_manifest(corpus, tmp_path, names)
    assert main(["batch", str(m), "--jobs", "2", "--no-html", "--output-dir",
                 str(tmp_path / "out"), "--run-name", "x"]) == code
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(("PASS", "FAIL", "ERROR")[code])
    assert f"report: {os.path.relpath(tmp_path / 'out' / 'x' / 'index.html')}" in out


def test_cli_received_glob_with_dask_flag_and_progress_line(corpus, tmp_path, monkeypatch,
                                                            capsys):
    pytest.importorskip("distributed")

    class Tty:
        def __init__(self):
            self.text = ""

        def write(self, s):
            self.text += s

        def flush(self):
            pass

        def isatty(self):
            return True

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    code = main(["batch", "--received", str(corpus.parent / "captures" / "clean" / "*.wav"),
                 "--reference", str(corpus.parent / "refs" / "ref.wav"), "--dask",
                 "--jobs", "2", "--tag", "lab=3", "--output-dir", str(tmp_path),
                 "--run-name", "d"])
    assert code == 0
    assert "batch 2/2  pass 2  fail 0  error 0" in tty.text
    out = capsys.readouterr().out
    assert "on dask LocalCluster (2 workers)" in out
    s = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert s["by_tag"] == {"lab": {"3": {"total": 2, "pass": 2, "fail": 0, "error": 0,
                                         "not_run": 0}}}


def crashing_task(payload):
    """A worker task that kills its process for ``crash`` captures, and once for ``flaky``."""
    name = payload["job"]["name"]
    marker = Path(payload["run_dir"]) / f".crashed-{name}"
    if "crash" in name or ("flaky" in name and not marker.exists()):
        marker.write_text("1")
        os.kill(os.getpid(), signal.SIGKILL)
    return run_job(payload)


def test_a_crashed_worker_is_retried_once_then_an_error(corpus, tmp_path):
    caps = tmp_path / "caps"
    caps.mkdir()
    for name in ("a_ok", "b_crash", "c_flaky", "d_ok"):
        shutil.copy(corpus.parent / "captures" / "clean" / "phoneA.wav", caps / f"{name}.wav")
    m = tmp_path / "m.csv"
    m.write_text(f"received,reference\ncaps/*.wav,{corpus.parent / 'refs' / 'ref.wav'}\n")
    result = run_batch(load_manifest(m), output_dir=tmp_path / "out", run_name="c",
                       workers=2, task=crashing_task)
    by = {o.job.name: o for o in result.outcomes}
    crash = by["002-b_crash"]
    assert crash.status == "error" and crash.error_type == "WorkerCrash"
    assert crash.attempts == 2 and "died" in crash.error
    assert crash.error.startswith(str(caps / "b_crash.wav"))
    assert by["003-c_flaky"].status == "pass" and by["003-c_flaky"].attempts == 2
    assert by["001-a_ok"].status == by["004-d_ok"].status == "pass"
    assert result.exit_code == 2


def test_ctrl_c_stops_cleanly_and_keeps_the_reports(corpus, tmp_path):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "validator", "batch", str(corpus), "--jobs", "1",
            "--output-dir", str(out), "--run-name", "int"]
    # Ctrl-C's default action in the child, whatever this process has: a shell ignores SIGINT
    # in the jobs it starts in the background, and the child would inherit that
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.monotonic()
    while len(glob.glob(str(out / "int" / "captures" / "*.json"))) < 3:
        assert proc.poll() is None and time.monotonic() - t0 < 60, "no reports appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert "--resume --run-name int" in stderr
    s = json.loads((out / "int" / "summary.json").read_text())
    assert s["run"]["interrupted"] is True and s["counts"]["not_run"] > 0
    done = [c for c in s["captures"] if c["status"] != "not_run"]
    assert len(done) >= 2  # 3 written, the last one perhaps still on its way to the client
    for c in done:
        for rel in c["reports"].values():
            assert (out / "int" / rel).is_file()
    state = json.loads((out / "int" / "state.json").read_text())
    assert set(state["jobs"]) == {c["name"] for c in done if c["status"] != "error"}
    root = ET.parse(out / "int" / "junit.xml").getroot()
    assert int(root.get("skipped")) == s["counts"]["not_run"]
    assert stdout.startswith("ERROR: 19 captures")
    # the rest, resumed
    result = run_batch(load_manifest(corpus), output_dir=out, run_name="int", workers=2,
                       resume=True)
    assert result.summary["counts"]["not_run"] == 0
    assert result.summary["counts"]["resumed"] == len([c for c in done
                                                       if c["status"] != "error"])
