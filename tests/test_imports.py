"""Import hygiene: no exported name can turn into a submodule, and every pcap path works cold.

Python binds ``pkg.sub`` to the attribute ``sub`` of ``pkg`` when the
submodule is first imported. A package that also exports a function called
``sub`` then hands out the module instead, depending on what was imported
before: a crash that the test order can hide. Each path below therefore runs in
a fresh interpreter too.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import validator

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CASE = PROJECT_ROOT / "tests" / "data" / "real_pcmu_loss"
#: The four RTP sequence numbers the proxy dropped in the shipped capture (truth.json).
DROPPED_SEQ = json.loads((CASE / "truth.json").read_text())["dropped_seq"]


def _packages() -> list[str]:
    names = ["validator"]
    for info in pkgutil.walk_packages(validator.__path__, "validator."):
        if info.ispkg:
            names.append(info.name)
    return names


@pytest.mark.parametrize("package", _packages())
def test_no_exported_name_is_also_a_submodule(package: str) -> None:
    pkg = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
    exported = set(getattr(pkg, "__all__", ()))
    assert not exported & submodules, (
        f"{package} exports {sorted(exported & submodules)}, which are also submodules")


def test_rtp_decode_is_the_function_after_its_module_was_imported() -> None:
    import validator.rtp.decoding  # noqa: F401  (the import that used to shadow it)
    from validator.rtp import decode

    assert callable(decode) and decode.__module__ == "validator.rtp.decoding"


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` statement of ``path`` names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the file's package
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_no_module_outside_impair_imports_impair() -> None:
    """Fault injection is a test tool: production code never depends on it."""
    package = PROJECT_ROOT / "validator"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if (package / "impair") in path.parents:
            continue
        hits = sorted(m for m in _imported_modules(path)
                      if m == "validator.impair" or m.startswith("validator.impair."))
        if hits:
            offenders.append(f"{path.relative_to(PROJECT_ROOT)}: {', '.join(hits)}")
    assert not offenders, "modules outside validator/impair import it:\n" + "\n".join(offenders)


def test_the_import_scan_sees_imports_inside_functions() -> None:
    found = _imported_modules(PROJECT_ROOT / "validator" / "rtp" / "listen.py")
    assert "validator.codecs.sizes" in found  # at the top
    assert "validator.codecs.g711_decode_table" in found  # inside _WavSink.__init__


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.slow
def test_cli_validates_the_shipped_pcap_in_a_fresh_process(tmp_path: Path) -> None:
    proc = _run(["-m", "validator", "validate", str(CASE / "received.pcap"), "--reference",
                 str(CASE / "reference.wav"), "--output-dir", str(tmp_path), "--no-html"],
                PROJECT_ROOT)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr  # FAIL: four packets were lost
    doc = json.loads((tmp_path / "received.json").read_text())
    dropouts = [e for e in doc["events"] if e["type"] == "dropout"]
    assert len(dropouts) == len(DROPPED_SEQ)
    assert all(e["cause"] == "network loss" for e in dropouts)
    for e, seq in zip(sorted(dropouts, key=lambda e: e["start_s"]), sorted(DROPPED_SEQ),
                      strict=True):
        assert f"RTP seq {seq} lost" in e["description"]


@pytest.mark.slow
def test_api_validates_the_shipped_pcap_in_a_fresh_process(tmp_path: Path) -> None:
    code = ("import json, sys\n"
            "from validator import validate\n"
            "r = validate(sys.argv[1], sys.argv[2])\n"
            "print(json.dumps([r.passed, sum(e.type == 'dropout' for e in r.events)]))\n")
    proc = _run(["-c", code, str(CASE / "received.pcap"), str(CASE / "reference.wav")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [False, len(DROPPED_SEQ)]


def test_no_module_of_the_package_imports_matplotlib() -> None:
    """The HTML report draws its plots in the browser (vendored uPlot): matplotlib is not a
    runtime dependency, and nothing under validator/ may reach for it."""
    offenders = []
    for path in sorted((PROJECT_ROOT / "validator").rglob("*.py")):
        hits = sorted(m for m in _imported_modules(path)
                      if m == "matplotlib" or m.startswith("matplotlib."))
        if hits:
            offenders.append(f"{path.relative_to(PROJECT_ROOT)}: {', '.join(hits)}")
    assert not offenders, "modules import matplotlib:\n" + "\n".join(offenders)


@pytest.mark.slow
def test_rendering_every_report_does_not_import_matplotlib(tmp_path: Path) -> None:
    """A fresh process validates the shipped capture and renders the JSON, HTML and JUnit
    reports with matplotlib made unimportable: all render, and it was never imported."""
    pytest.importorskip("jinja2")
    code = ("import sys\n"
            "sys.modules['matplotlib'] = None  # importing it now raises ImportError\n"
            "from validator import validate\n"
            "from validator.report import render_html, render_json, render_junit\n"
            "r = validate(sys.argv[1], sys.argv[2])\n"
            "page = render_html(r)\n"
            "render_json(r); render_junit(r)\n"
            "print('plot-data' in page, 'overview-ch0' in page,\n"
            "      sorted(m for m in sys.modules if m.startswith('matplotlib.')))\n")
    proc = _run(["-c", code, str(CASE / "received.wav"), str(CASE / "reference.wav")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True True []"


@pytest.mark.slow
def test_validate_command_imports_no_other_rooms_subcommands(tmp_path: Path) -> None:
    """``validate`` registers only the core subcommands: impair's and batch's modules are
    not imported on its path (a cold start cost), yet ``--help`` still lists them."""
    code = ("import sys\n"
            "from validator.cli import main\n"
            "code = main(['validate', sys.argv[1], '--reference', sys.argv[2], '--output-dir',\n"
            "             sys.argv[3], '--quiet', '--no-html'])\n"
            "print(code, sorted(m for m in sys.modules\n"
            "                   if m.startswith(('validator.impair', 'validator.batch'))))\n")
    proc = _run(["-c", code, str(CASE / "received.wav"), str(CASE / "reference.wav"),
                 str(tmp_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1 []"
    listing = _run(["-m", "validator", "--help"], tmp_path)
    assert all(cmd in listing.stdout for cmd in ("impair", "batch", "rtp", "listen"))


#: Modules a validation of audio files with the default profile does not need: the E-model
#: (a capture's rating, or an E-model option), socket (a capture's addresses), tomllib (a
#: profile file) and numpy.ma (imported by np.median, np.percentile and np.unique on first
#: use; the validation takes its order statistics from validator.orderstats).
NOT_FOR_AUDIO_FILES = ("validator.quality.emodel", "validator.quality.rating",
                       "validator.quality.loss", "socket", "tomllib", "numpy.ma")


@pytest.mark.slow
def test_validating_audio_files_imports_neither_the_emodel_nor_socket(tmp_path: Path) -> None:
    """``validate`` on WAV files, every report written, leaves the E-model's and the
    capture's modules unimported (a cold start cost); a capture still rates its stream."""
    code = ("import sys\n"
            "from validator.cli import main\n"
            "code = main(['validate', sys.argv[1], '--reference', sys.argv[2], '--output-dir',\n"
            "             sys.argv[3], '--quiet'])\n"
            f"print(code, sorted(m for m in sys.modules if m in {NOT_FOR_AUDIO_FILES!r}))\n")
    proc = _run(["-c", code, str(CASE / "received.wav"), str(CASE / "reference.wav"),
                 str(tmp_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "1 []"
